import { delimiter, dirname } from "node:path";

import { ROOT } from "./cli.js";
import { runProcess } from "./run.js";

/** Runs `npx ARGS` in the repository root, as the README tells users to, offline; resolves to its exit code and output. */
export async function npx(args: string[]): Promise<{ code: number | null; out: string }> {
  const { code, out } = await runProcess("npx", args, {
    cwd: ROOT,
    env: {
      ...process.env,
      // The Node running this suite runs the command too (npx and its node come first on PATH).
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
      // A runner missing from node_modules fails here instead of being downloaded.
      npm_config_offline: "true",
    },
  });
  return { code, out };
}
