/**
 * Worker processes that encode for a SentenceTransformer, as sentence-transformers' start_multi_process_pool /
 * encode(pool=...) / stop_multi_process_pool. Each worker loads the model from a folder on its own device; a
 * call's texts go out in chunks, each to the next worker with room, and come back as one Float32Array per
 * chunk, put back in input order.
 */
import { type ChildProcess, fork } from "node:child_process";
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { SbertError } from "../errors.js";
import type { LinearPrecision } from "../SentenceTransformer.js";
import type { TextInput } from "../tokenization/Tokenizer.js";
import type { FromWorker, WorkerEncodeOptions, WorkerInit } from "./protocol.js";

export interface MultiProcessPoolOptions {
  /**
   * How many worker processes. Default: one per CUDA device when there are any, else four (at most one per core),
   * or as many as `threadsPerProcess` leaves cores for.
   */
  processes?: number;
  /** A device per worker ("cpu", "cuda:0", ...); sets the number of workers. Default: see `processes`. */
  targetDevices?: string[];
  /**
   * Cores each worker uses: it runs that many encode batches side by side, one thread each. Default: the cores
   * divided evenly among the workers, so that the workers together do not ask for more cores than there are.
   */
  threadsPerProcess?: number;
}

export interface PoolPlan {
  devices: string[];
  threadsPerProcess: number;
}

const OP_START = "SentenceTransformer.startMultiProcessPool";
const OP_ENCODE = "SentenceTransformer.encode";
// Chunks sent ahead to a worker: it starts the next one as soon as it sends a result back.
const CHUNKS_IN_FLIGHT = 2;
const KILL_AFTER_MS = 5000;

function checkCount(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value < 1)) {
    throw new RangeError(`startMultiProcessPool: ${name} must be a positive integer, got ${String(value)}`);
  }
}

/** The workers' devices and threads for `options` on a machine with `cores` cores and `cudaDevices` CUDA devices. */
export function planPool(options: MultiProcessPoolOptions, machine: { cores: number; cudaDevices: number }): PoolPlan {
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new TypeError("startMultiProcessPool: options must be an object (or left out)");
  const { processes, targetDevices, threadsPerProcess } = options;
  checkCount("processes", processes);
  checkCount("threadsPerProcess", threadsPerProcess);
  const cores = Math.max(1, machine.cores);
  const cuda = (i: number): string => `cuda:${i % machine.cudaDevices}`;
  let devices: string[];
  if (targetDevices !== undefined) {
    if (!Array.isArray(targetDevices) || targetDevices.length === 0 || targetDevices.some((d) => typeof d !== "string" || d === "")) {
      throw new TypeError("startMultiProcessPool: targetDevices must be a non-empty array of device names (\"cpu\", \"cuda:0\", ...)");
    }
    if (processes !== undefined && processes !== targetDevices.length) {
      throw new RangeError(`startMultiProcessPool: processes (${processes}) must equal the number of targetDevices (${targetDevices.length}) when both are given`);
    }
    devices = [...targetDevices];
  } else if (processes !== undefined) {
    devices = Array.from({ length: processes }, (_, i) => (machine.cudaDevices > 0 ? cuda(i) : "cpu"));
  } else if (machine.cudaDevices > 0) {
    devices = Array.from({ length: machine.cudaDevices }, (_, i) => cuda(i));
  } else {
    const n = threadsPerProcess !== undefined ? Math.max(1, Math.floor(cores / threadsPerProcess)) : Math.min(4, cores);
    devices = Array.from({ length: n }, () => "cpu");
  }
  return { devices, threadsPerProcess: threadsPerProcess ?? Math.max(1, Math.floor(cores / devices.length)) };
}

/** Texts per chunk when encode is not told: a tenth of each worker's share, at most 5000 (sentence-transformers' rule). */
export function defaultChunkSize(texts: number, processes: number): number {
  return Math.max(1, Math.min(Math.ceil(texts / processes / 10), 5000));
}

/** The worker module next to this one, and how to run it: from TypeScript sources it needs tsx's loader. */
function workerEntry(): { path: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const path = join(dirname(here), `worker${ext}`);
  if (ext !== ".ts") return { path, execArgv: [] };
  let loader: string;
  try {
    loader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  } catch (e) {
    throw new SbertError("ERR_WORKER", "running from the TypeScript sources, the workers need tsx (npm install tsx), or use the built package (dist/)", { op: OP_START, cause: e });
  }
  return { path, execArgv: ["--import", loader] };
}

// Temporary folders of pools still open: a program that ends without closing its pools leaves none behind (the
// workers end on their own when the parent's channel closes).
const openFolders = new Set<string>();
let exitHook = false;

function keepUntilExit(folder: string): void {
  openFolders.add(folder);
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const f of openFolders) rmSync(f, { recursive: true, force: true });
  });
}

interface Call {
  rows: Float32Array[];
  remaining: number;
  settled: boolean;
  resolve(rows: Float32Array[]): void;
  reject(e: unknown): void;
  onChunk: (() => void) | undefined;
}

interface Task {
  id: number;
  call: Call;
  offset: number;
  texts: TextInput[];
  options: WorkerEncodeOptions;
}

interface Worker {
  index: number;
  device: string;
  child: ChildProcess;
  inFlight: Map<number, Task>;
  exited: Promise<void>;
}

/** What a pool loads in its workers. @internal */
export interface PoolSource {
  /** The model the pool encodes for: encode refuses a pool of another model. */
  owner: object;
  folder: string;
  /** A folder of the pool's own, removed when the pool ends. */
  temporary: string | undefined;
  precision: LinearPrecision;
  maxSeqLength: number;
}

export interface PoolProcess {
  readonly pid: number;
  readonly device: string;
}

/**
 * Worker processes started by `model.startMultiProcessPool()`, for `model.encode(texts, { pool })`. End it with
 * `close()` (or `model.stopMultiProcessPool(pool)`). A worker that dies fails the pool: pending and later encodes
 * reject with an SbertError (`ERR_WORKER`) naming it, and the other workers are stopped.
 */
export class MultiProcessPool {
  /** The worker processes, in order. */
  readonly processes: readonly PoolProcess[];
  readonly targetDevices: readonly string[];
  readonly threadsPerProcess: number;
  /** The folder the workers loaded the model from (a temporary one, removed when the pool ends, for a model built or changed in memory). */
  readonly modelFolder: string;
  /** @internal */
  readonly owner: object;
  private readonly workers: Worker[];
  private readonly temporary: string | undefined;
  private queue: Task[] = [];
  private nextId = 0;
  /** Why the pool stopped, when a worker was lost. */
  private failure: string | undefined;
  private stopping: Promise<void> | undefined;
  private removing: Promise<void> | undefined;

  private constructor(source: PoolSource, plan: PoolPlan, workers: Worker[]) {
    this.owner = source.owner;
    this.modelFolder = source.folder;
    this.temporary = source.temporary;
    this.targetDevices = plan.devices;
    this.threadsPerProcess = plan.threadsPerProcess;
    this.workers = workers;
    this.processes = workers.map((w) => ({ pid: w.child.pid!, device: w.device }));
  }

  /** Starts the workers and resolves once every one has loaded the model. @internal */
  static async start(source: PoolSource, plan: PoolPlan): Promise<MultiProcessPool> {
    const workers: Worker[] = [];
    try {
      const entry = workerEntry();
      for (const [index, device] of plan.devices.entries()) {
        const child = fork(entry.path, [], {
          execArgv: entry.execArgv,
          serialization: "advanced",
          // A worker's output is diagnostics: to stderr, so that it never mixes with a program's results on stdout.
          stdio: ["ignore", 2, 2, "ipc"],
          // Sizes the worker's libuv pool, which bounds the encode batches its addon runs side by side.
          env: { ...process.env, UV_THREADPOOL_SIZE: String(plan.threadsPerProcess) },
        });
        workers.push({ index, device, child, inFlight: new Map(), exited: exitOf(child) });
      }
      await Promise.all(workers.map((w) => MultiProcessPool.ready(w, source, plan)));
    } catch (e) {
      for (const w of workers) w.child.kill("SIGKILL");
      await Promise.all(workers.map((w) => w.exited));
      if (source.temporary !== undefined) await rm(source.temporary, { recursive: true, force: true });
      throw e;
    }
    if (source.temporary !== undefined) keepUntilExit(source.temporary);
    const pool = new MultiProcessPool(source, plan, workers);
    for (const w of workers) pool.watch(w);
    pool.updateRefs();
    return pool;
  }

  private static ready(w: Worker, source: PoolSource, plan: PoolPlan): Promise<void> {
    const init: WorkerInit = {
      type: "init",
      folder: source.folder,
      device: w.device,
      threads: plan.threadsPerProcess,
      precision: source.precision,
      maxSeqLength: source.maxSeqLength,
    };
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        w.child.off("message", onMessage);
        w.child.off("exit", onExit);
        w.child.off("error", onError);
      };
      const onMessage = (m: FromWorker): void => {
        done();
        if (m.type === "ready") resolve();
        else reject(new SbertError(m.type === "error" ? (m.code ?? "ERR_WORKER") : "ERR_WORKER", `${describe(w)} could not load ${source.folder}: ${m.type === "error" ? m.message : "unexpected answer"}`, { op: OP_START }));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        done();
        reject(new SbertError("ERR_WORKER", `${describe(w)} ${howItEnded(code, signal)} while loading the model`, { op: OP_START }));
      };
      const onError = (e: Error): void => {
        done();
        reject(new SbertError("ERR_WORKER", `${describe(w)} could not be started: ${e.message}`, { op: OP_START, cause: e }));
      };
      w.child.on("message", onMessage);
      w.child.on("exit", onExit);
      w.child.on("error", onError);
      w.child.send(init);
    });
  }

  private watch(w: Worker): void {
    if (w.child.exitCode !== null || w.child.signalCode !== null) {
      this.fail(`${describe(w)} ${howItEnded(w.child.exitCode, w.child.signalCode)}; the pool stopped its other workers`);
      return;
    }
    w.child.on("message", (m: FromWorker) => this.onMessage(w, m));
    w.child.on("exit", (code, signal) => {
      if (this.stopping === undefined) this.fail(`${describe(w)} ${howItEnded(code, signal)}; the pool stopped its other workers`);
    });
    w.child.on("error", (e) => {
      if (this.stopping === undefined) this.fail(`${describe(w)}: ${e.message}`);
    });
  }

  private onMessage(w: Worker, m: FromWorker): void {
    if (m.type === "ready") return;
    const task = m.id === undefined ? undefined : w.inFlight.get(m.id);
    if (task === undefined) return;
    w.inFlight.delete(task.id);
    const call = task.call;
    if (!call.settled) {
      if (m.type === "error") {
        this.settle(call, new SbertError(m.code ?? "ERR_WORKER", `${describe(w)}: ${m.message}`, { op: OP_ENCODE }));
      } else if (m.data.length !== task.texts.length * m.dim) {
        this.settle(call, new SbertError("ERR_WORKER", `${describe(w)} sent ${m.data.length} values for ${task.texts.length} texts of dimension ${m.dim}`, { op: OP_ENCODE }));
      } else {
        for (let r = 0; r < task.texts.length; r++) call.rows[task.offset + r] = m.data.subarray(r * m.dim, (r + 1) * m.dim);
        call.onChunk?.();
        if (--call.remaining === 0) this.settle(call);
      }
    }
    this.dispatch();
  }

  /**
   * Encodes `texts` in chunks of `chunkSize` across the workers; one float32 embedding per text, in input order.
   * `onChunk` is called as each chunk comes back. @internal
   */
  encode(texts: TextInput[], options: WorkerEncodeOptions, chunkSize: number, onChunk?: () => void): Promise<Float32Array[]> {
    if (this.failure !== undefined) return Promise.reject(new SbertError("ERR_WORKER", this.failure, { op: OP_ENCODE }));
    if (this.stopping !== undefined) return Promise.reject(new SbertError("ERR_DISPOSED", "the pool was closed", { op: OP_ENCODE }));
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise<Float32Array[]>((resolve, reject) => {
      const call: Call = { rows: new Array(texts.length), remaining: 0, settled: false, resolve, reject, onChunk };
      for (let offset = 0; offset < texts.length; offset += chunkSize) {
        this.queue.push({ id: this.nextId++, call, offset, texts: texts.slice(offset, offset + chunkSize), options });
        call.remaining++;
      }
      this.dispatch();
    });
  }

  /** Sends queued chunks to the workers with the fewest chunks in flight. */
  private dispatch(): void {
    this.queue = this.queue.filter((t) => !t.call.settled);
    while (this.queue.length > 0 && this.failure === undefined && this.stopping === undefined) {
      const w = this.workers.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
      if (w.inFlight.size >= CHUNKS_IN_FLIGHT) break;
      const task = this.queue.shift()!;
      w.inFlight.set(task.id, task);
      w.child.send({ type: "encode", id: task.id, texts: task.texts, options: task.options });
    }
    this.updateRefs();
  }

  private settle(call: Call, error?: unknown): void {
    if (call.settled) return;
    call.settled = true;
    if (error === undefined) call.resolve(call.rows);
    else call.reject(error);
  }

  private settleAll(error: SbertError): void {
    for (const t of this.queue) this.settle(t.call, error);
    this.queue = [];
    for (const w of this.workers) {
      for (const t of w.inFlight.values()) this.settle(t.call, error);
      w.inFlight.clear();
    }
  }

  /** Workers keep the process alive only while they have work: an idle pool never holds up the program's exit. */
  private updateRefs(): void {
    const busy = this.queue.length > 0 || this.workers.some((w) => w.inFlight.size > 0);
    for (const w of this.workers) {
      const channel = w.child.channel as { ref(): void; unref(): void } | null | undefined;
      if (busy) {
        w.child.ref();
        channel?.ref();
      } else {
        w.child.unref();
        channel?.unref();
      }
    }
  }

  private fail(why: string): void {
    if (this.failure !== undefined) return;
    this.failure = why;
    this.settleAll(new SbertError("ERR_WORKER", why, { op: OP_ENCODE }));
    for (const w of this.workers) w.child.kill("SIGKILL");
    this.removing ??= this.removeTemporary();
  }

  private async removeTemporary(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.exited));
    if (this.temporary !== undefined) {
      await rm(this.temporary, { recursive: true, force: true });
      openFolders.delete(this.temporary);
    }
  }

  /** Whether the pool can still encode (not closed, no worker lost). */
  get alive(): boolean {
    return this.failure === undefined && this.stopping === undefined;
  }

  /** Ends the workers (pending encodes reject with ERR_DISPOSED) and removes the pool's temporary folder. */
  close(): Promise<void> {
    this.stopping ??= (async () => {
      this.settleAll(new SbertError("ERR_DISPOSED", "the pool was closed", { op: OP_ENCODE }));
      for (const w of this.workers) {
        // Held until their exit is seen, so that awaiting close() at the end of a program returns.
        w.child.ref();
        w.child.kill("SIGTERM");
      }
      const timer = setTimeout(() => {
        for (const w of this.workers) w.child.kill("SIGKILL");
      }, KILL_AFTER_MS);
      try {
        await Promise.all(this.workers.map((w) => w.exited));
      } finally {
        clearTimeout(timer);
      }
      await (this.removing ??= this.removeTemporary());
    })();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Resolves when the process has ended, or never started. */
function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.on("error", () => {
      if (child.pid === undefined) resolve();
    });
  });
}

function describe(w: Worker): string {
  return `worker ${w.index} (pid ${w.child.pid ?? "none"}, ${w.device})`;
}

function howItEnded(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
}

