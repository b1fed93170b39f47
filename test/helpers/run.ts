import { spawn } from "node:child_process";

/** Runs `cmd args` to its end without a shell; resolves to its exit code, its stdout, and stdout and stderr as they came. */
export function runProcess(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let out = "";
    child.stdout.on("data", (b) => {
      stdout += b;
      out += b;
    });
    child.stderr.on("data", (b) => (out += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, out }));
  });
}
