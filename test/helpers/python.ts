import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The Python of the reference environment scripts/setup.cjs made (sentence-transformers, transformers, torch,
 * numpy, scipy: scripts/python-env.json), as it recorded it in build/python.json. `SBERT_TEST_PYTHON` overrides it.
 */
export const PYTHON = process.env.SBERT_TEST_PYTHON ?? recordedPython();

function recordedPython(): string {
  const record = fileURLToPath(new URL("../../build/python.json", import.meta.url));
  try {
    return (JSON.parse(readFileSync(record, "utf8")) as { python: string }).python;
  } catch {
    throw new Error(`${record} is missing: run \`node scripts/setup.cjs --test\` (npm test does) to make the Python reference environment`);
  }
}

/**
 * Runs `script` (a path) with `args`, writes `input` as JSON to its stdin and parses its stdout as JSON.
 * A non-zero exit rejects with the script's stderr.
 */
export function runPython<T = unknown>(script: string, input: unknown, args: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`${PYTHON} ${script} exited with ${code}:\n${Buffer.concat(err).toString()}`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(out).toString()) as T);
      } catch (e) {
        reject(new Error(`${script} printed no JSON: ${(e as Error).message}\n${Buffer.concat(err).toString()}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}
