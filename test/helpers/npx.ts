import { spawn } from "node:child_process";
import { delimiter, dirname } from "node:path";

import { ROOT } from "./cli.js";

/** Runs `npx ARGS` in the repository root, as the README tells users to, offline; resolves to its exit code and output. */
export function npx(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", args, {
      cwd: ROOT,
      env: {
        ...process.env,
        // The Node running this suite runs the command too (npx and its node come first on PATH).
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
        // A runner missing from node_modules fails here instead of being downloaded.
        npm_config_offline: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}
