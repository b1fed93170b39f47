/**
 * Clients for the reference engines, each in its own process: Python PyTorch eager (bench/engine.py, JSON
 * lines over stdio) and onnxruntime-node (bench/ortWorker.ts, IPC). Both receive the token batches sbert-node
 * built, so every engine computes exactly the same padded batches. The Python process also runs
 * sentence-transformers' own model.encode, which takes the strings and tokenizes them itself.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";

import type { SentenceTransformer } from "../lib/index.js";
import { BENCH_DIR, PYTHON, REPO_ROOT, type PlainBatch, type Timing, type TimingPlan } from "./common.js";

interface Reply {
  id?: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class PythonEngine {
  private readonly child: ChildProcess;
  private readonly waiting: ((r: Reply) => void)[] = [];
  private stderr = "";

  constructor() {
    this.child = spawn(PYTHON, [join(BENCH_DIR, "engine.py")], { stdio: ["pipe", "pipe", "pipe"], cwd: REPO_ROOT });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const next = this.waiting.shift();
      if (next) next(JSON.parse(line) as Reply);
    });
    this.child.stderr!.on("data", (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000);
    });
    this.child.on("exit", (code) => {
      for (const w of this.waiting.splice(0)) w({ ok: false, error: `engine.py exited with ${code}\n${this.stderr}` });
    });
  }

  /** Requests are answered in order, one line each. */
  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push((r) => (r.ok ? resolve(r.result as T) : reject(new Error(`engine.py ${cmd}: ${r.error}`))));
      this.child.stdin!.write(JSON.stringify({ cmd, ...args }) + "\n");
    });
  }

  /** `threads`: torch.set_num_threads for this call only (default: the engines' count). */
  time(key: string, batches: PlainBatch[], warmup: PlainBatch[], plan: TimingPlan, perItem = false, threads?: number): Promise<Timing> {
    return this.call<Timing>("time", { key, batches, warmup, plan, perItem, threads });
  }

  /**
   * sentence-transformers' model.encode on the strings (its tokenization included) under the same timing rule;
   * the model must have been loaded with "st_load" under `key`.
   */
  stTime(key: string, texts: string[], warmTexts: string[], batchSize: number, plan: TimingPlan, perItem = false): Promise<Timing> {
    return this.call<Timing>("st_time", { key, texts, warmTexts, batchSize, plan, perItem });
  }

  /** Resolves once the process has exited (so its CPU time is counted as this process's children's). */
  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.stdin!.end();
    });
  }
}

export class OrtEngine {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  readonly ready: Promise<{ version: string }>;

  constructor() {
    this.child = fork(join(BENCH_DIR, "ortWorker.ts"), [], {
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      cwd: REPO_ROOT,
    });
    let onReady: (v: { version: string }) => void = () => {};
    this.ready = new Promise((r) => (onReady = r));
    this.child.on("message", (m: Reply & { ready?: boolean; version?: string }) => {
      if (m.ready) return onReady({ version: m.version ?? "?" });
      const p = this.pending.get(m.id!);
      this.pending.delete(m.id!);
      p?.(m);
    });
    this.child.on("exit", (code) => {
      for (const p of this.pending.values()) p({ ok: false, error: `ortWorker exited with ${code}` });
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, (r) => (r.ok ? resolve(r.result as T) : reject(new Error(`ortWorker ${cmd}: ${r.error}`))));
      this.child.send({ id, cmd, ...args });
    });
  }

  time(key: string, batches: PlainBatch[], warmup: PlainBatch[], plan: TimingPlan, perItem = false): Promise<Timing> {
    return this.call<Timing>("time", { key, batches, warmup, plan, perItem });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.disconnect();
    });
  }
}

// ---------------------------------------------------------------- batches as sbert-node forms them

function textLength(t: string): number {
  return t.length;
}

/** encode's order: longest text first (by characters), ties by position. */
export function encodeOrder(texts: string[]): number[] {
  return texts.map((_, i) => i).sort((a, b) => textLength(texts[b]!) - textLength(texts[a]!) || a - b);
}

/** The token batches `model.encode(texts, {batchSize})` runs, in order, with the text indices of each. */
export function encodeBatches(model: SentenceTransformer, texts: string[], batchSize: number): { batches: PlainBatch[]; indices: number[][] } {
  const order = encodeOrder(texts);
  const batches: PlainBatch[] = [];
  const indices: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    const t = model.tokenize(idx.map((i) => texts[i]!));
    batches.push({ ids: Array.from(t.inputIds), mask: Array.from(t.attentionMask), types: Array.from(t.tokenTypeIds), B: t.batchSize, L: t.seqLength });
    indices.push(idx);
  }
  return { batches, indices };
}
