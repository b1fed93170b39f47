/**
 * Runs the compiled `sbert-node` command (node dist/cli/main.js), as users run it. The build must be current:
 * `assertBuilt` fails with a clear message when dist/ is missing or older than lib/. Every process started here
 * is killed when the test file ends, whatever happened.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll } from "vitest";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = join(ROOT, "dist", "cli", "main.js");

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(full));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

/** Throws unless every lib/**.ts has a dist/**.js at least as new. */
export function assertBuilt(): void {
  const hint = "build it first: npx tsc -p tsconfig.json";
  if (!existsSync(CLI)) throw new Error(`${relative(ROOT, CLI)} does not exist; ${hint}`);
  const lib = join(ROOT, "lib");
  for (const ts of tsFiles(lib)) {
    const js = join(ROOT, "dist", relative(lib, ts)).replace(/\.ts$/, ".js");
    if (!existsSync(js)) throw new Error(`dist is out of date: ${relative(ROOT, js)} is missing; ${hint}`);
    if (statSync(js).mtimeMs < statSync(ts).mtimeMs) throw new Error(`dist is out of date: ${relative(ROOT, ts)} is newer than its build; ${hint}`);
  }
}

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  live.clear();
}
afterAll(killAll);
process.on("exit", killAll);

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** stdout as UTF-8. */
  out: string;
}

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs the CLI to completion (killed after `timeoutMs`, default 60 s, which then rejects). */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on("data", (b: Buffer) => out.push(b));
  child.stderr!.on("data", (b: Buffer) => err.push(b));
  child.stdin!.on("error", () => {});
  child.stdin!.end(options.input ?? "");
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`sbert-node ${args.join(" ")} did not finish within ${timeoutMs} ms\nstderr: ${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const stdout = Buffer.concat(out);
      res({ code, signal, stdout, out: stdout.toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the first match of `re` in stderr; rejects if the process ends or `timeoutMs` passes first. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts the CLI in the background (for `serve`, or to signal a running command). */
export function startCli(args: string[], options: Omit<RunOptions, "input" | "timeoutMs"> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let err = "";
  let out = "";
  const listeners = new Set<() => void>();
  child.stderr!.on("data", (b: Buffer) => {
    err += b.toString("utf8");
    for (const l of listeners) l();
  });
  child.stdout!.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on("close", (code, signal) => {
      live.delete(child);
      res({ code, signal });
      for (const l of listeners) l();
    });
  });
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitForStderr(re, timeoutMs = 30_000) {
      return new Promise((res, rej) => {
        const check = (): void => {
          const m = re.exec(err);
          if (m) return done(() => res(m));
          if (child.exitCode !== null || child.signalCode !== null) {
            return done(() => rej(new Error(`the process exited (${child.exitCode ?? child.signalCode}) before printing ${re}\nstderr: ${err}`)));
          }
        };
        const timer = setTimeout(() => done(() => rej(new Error(`no ${re} on stderr within ${timeoutMs} ms\nstderr: ${err}`))), timeoutMs);
        const done = (f: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Resolves with `p`, or rejects after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

/** A parsed .npy file (version 1.0/2.0, C order, the three dtypes sbert-node writes). */
export function parseNpy(buf: Buffer): { descr: string; shape: number[]; data: Float32Array | Int8Array | Uint8Array } {
  if (buf.subarray(0, 6).toString("latin1") !== "\x93NUMPY") throw new Error("not an npy file");
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1]!;
  if (!/'fortran_order':\s*False/.test(header)) throw new Error("fortran order");
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(header)![1]!
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = buf.subarray(start + headerLen);
  const copy = new Uint8Array(body).buffer;
  const data = descr === "<f4" ? new Float32Array(copy) : descr === "|i1" ? new Int8Array(copy) : new Uint8Array(copy);
  return { descr, shape, data };
}

/**
 * Runs `npx ARGS` in the repository, as a user runs an example (`npx tsx examples/…`): with the Node that runs this
 * suite first on PATH, and offline (a runner missing from node_modules fails here instead of being downloaded).
 * Resolves to the exit code and stdout and stderr together.
 */
export function npx(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", args, {
      cwd: ROOT,
      env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, npm_config_offline: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (b) => (out += b));
    child.stderr!.on("data", (b) => (out += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}
