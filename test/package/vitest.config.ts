// The npm package suite (`npm run test:package`): packs the package and installs it into an empty project,
// which compiles the addon from source (minutes), so it runs apart from `npm test`.
import { fileURLToPath } from "node:url";

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/package/pack.test.ts"],
    testTimeout: 1_200_000,
    hookTimeout: 300_000,
    pool: "forks",
    reporters: ["default", "./test/summaryReporter.ts"],
  },
});
