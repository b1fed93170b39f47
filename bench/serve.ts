/**
 * HTTP serving throughput: `sbert-node serve` (lib/cli/serve.ts) in its own process on 127.0.0.1 with the MiniLM
 * folder, driven from this process by 1, 8 and 64 concurrent clients (node:http, keep-alive), each sending
 * requests of 1–16 sentences (seeded sizes, the corpus' sentences in order) to /v1/embeddings back to back for a
 * fixed time; requests/s, texts/s and per-request latency.
 *
 * Against in-process `model.encode` on the same requests at the batch composition the server's micro-batcher
 * forms when `clients` requests are queued: their texts in arrival order, cut into encode calls of at most
 * --max-batch-size texts, one call at a time (the batcher runs one); a request's latency there is the time until
 * the call holding its last text returns, counted from when the group started. In-process has no HTTP, JSON or
 * batching wait, and no clients sharing the CPU with it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { join } from "node:path";

import type { SentenceTransformer } from "../lib/index.js";
import { fmt, fmtRatio, log, maxAbsDiff, percentile, ratio, REPO_ROOT, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { rng } from "./models.js";

export const SERVE_CLIENTS = [1, 8, 64];
/** The shape the server runs (the brief of the serving measurement: the small model). */
const SERVE_MODEL: ModelName = "minilm";
/** The server's defaults, passed explicitly so the in-process side can follow them. */
const MAX_BATCH_SIZE = 64;
const MAX_WAIT_MS = 5;
const MAX_TEXTS_PER_REQUEST = 16;
const REQUEST_SEED = 1616;
const REQUEST_COUNT = 512;

export interface LoadRun {
  requests: number;
  texts: number;
  seconds: number;
  requestsPerSecond: number;
  textsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Texts/s of every round, best included. */
  rounds: number[];
}

export interface ServeLevel {
  clients: number;
  server: LoadRun;
  inProcess: LoadRun;
  /** Mean texts per forward pass the server ran in its best round (from /health). */
  serverTextsPerBatch: number;
}

export interface ServeResult {
  model: ModelName;
  maxBatchSize: number;
  maxWaitMs: number;
  textsPerRequest: [number, number];
  /** The server's embeddings of the first requests against model.encode in process on the same texts. */
  agreement: { requests: number; maxAbsDiff: number };
  levels: ServeLevel[];
}

/** Seeded requests of 1–16 texts, the corpus' sentences taken in order. */
function makeRequests(sentences: string[]): string[][] {
  const rand = rng(REQUEST_SEED);
  let next = 0;
  return Array.from({ length: REQUEST_COUNT }, () =>
    Array.from({ length: 1 + Math.floor(rand() * MAX_TEXTS_PER_REQUEST) }, () => sentences[next++ % sentences.length]!),
  );
}

type RoundRun = Omit<LoadRun, "rounds">;

function summarize(latencies: number[], texts: number, seconds: number): RoundRun {
  return {
    requests: latencies.length,
    texts,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    textsPerSecond: texts / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/** The round with the most texts/s, with every round's texts/s. */
function best<T>(runs: T[], run: (x: T) => RoundRun): T & { rounds: number[] } {
  const top = runs.reduce((a, b) => (run(b).textsPerSecond > run(a).textsPerSecond ? b : a));
  return { ...top, rounds: runs.map((x) => run(x).textsPerSecond) };
}

// ---------------------------------------------------------------- the server process

/**
 * `sbert-node serve` run from lib/ through tsx, as bench/child.ts is. Killed when stopped, and also if this process
 * exits or is interrupted (SIGINT, SIGTERM) while it runs.
 */
class ServeProcess {
  private stderr = "";
  private readonly exited: Promise<void>;
  private readonly killNow = (): void => {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  };
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.killNow();
    // This listener was the only one (once): the signal's default action ends the process as it would have.
    process.kill(process.pid, sig);
  };

  private constructor(private readonly child: ChildProcess) {
    process.once("exit", this.killNow);
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
    child.stderr!.on("data", (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  static async start(dir: string, threads: number): Promise<{ server: ServeProcess; url: string }> {
    const args = ["serve", dir, "--host", "127.0.0.1", "--port", "0", "--model-id", SERVE_MODEL, "--threads", String(threads)];
    args.push("--max-batch-size", String(MAX_BATCH_SIZE), "--max-wait-ms", String(MAX_WAIT_MS));
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "lib", "cli", "main.ts"), ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const server = new ServeProcess(child);
    try {
      const url = await server.listening(120_000);
      return { server, url };
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  private listening(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`sbert-node serve printed no address within ${timeoutMs / 1000} s; stderr:\n${this.stderr}`)), timeoutMs);
      const check = (): void => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(this.stderr);
        if (m) done(m[1]!);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        done(new Error(`sbert-node serve exited (${code ?? signal}) before listening; stderr:\n${this.stderr}`));
      const done = (r: string | Error): void => {
        clearTimeout(timer);
        this.child.stderr!.off("data", check);
        this.child.off("exit", onExit);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.child.stderr!.on("data", check);
      this.child.once("exit", onExit);
      check();
    });
  }

  /** SIGTERM (the server finishes requests in progress and exits), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(this.killNow, 15_000);
      await this.exited;
      clearTimeout(timer);
    }
    process.off("exit", this.killNow);
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}

// ---------------------------------------------------------------- clients

function decodeBase64Floats(s: string): Float32Array {
  return new Float32Array(new Uint8Array(Buffer.from(s, "base64")).buffer);
}

/** One HTTP request; resolves to the parsed JSON body, rejects on a status other than 200. */
function httpJson<T>(agent: Agent, url: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = data === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(data) };
    const req = request(url, { method: data === undefined ? "GET" : "POST", agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) return reject(new Error(`${data === undefined ? "GET" : "POST"} ${url}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`));
        try {
          resolve(JSON.parse(text) as T);
        } catch (e) {
          reject(new Error(`${url}: the response is not JSON (${(e as Error).message}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** The embeddings of `texts` from /v1/embeddings (base64, as OpenAI's clients ask by default). */
async function embed(agent: Agent, url: string, texts: string[]): Promise<Float32Array[]> {
  const r = await httpJson<{ data: { embedding: string }[] }>(agent, `${url}/v1/embeddings`, { input: texts, encoding_format: "base64" });
  return r.data.map((d) => decodeBase64Floats(d.embedding));
}

async function batching(agent: Agent, url: string): Promise<{ texts: number; batches: number }> {
  return (await httpJson<{ batching: { texts: number; batches: number } }>(agent, `${url}/health`)).batching;
}

/** `clients` loops, each sending the next request as soon as its last one is answered, until `budgetS` has passed. */
async function driveServer(url: string, requests: string[][], clients: number, budgetS: number): Promise<{ run: RoundRun; textsPerBatch: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  try {
    let cursor = 0;
    const take = () => requests[cursor++ % requests.length]!;
    // Untimed: one request per client opens the connections and warms the server.
    await Promise.all(Array.from({ length: clients }, () => embed(agent, url, take())));
    cursor = 0;
    const before = await batching(agent, url);
    const latencies: number[] = [];
    let texts = 0;
    const t0 = performance.now();
    const client = async (): Promise<void> => {
      while ((performance.now() - t0) / 1000 < budgetS) {
        const r = take();
        const s = performance.now();
        await embed(agent, url, r);
        latencies.push(performance.now() - s);
        texts += r.length;
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    const seconds = (performance.now() - t0) / 1000;
    const after = await batching(agent, url);
    return { run: summarize(latencies, texts, seconds), textsPerBatch: (after.texts - before.texts) / (after.batches - before.batches) };
  } finally {
    agent.destroy();
  }
}

/** The same requests in process: `clients` of them at a time, their texts cut into encode calls of at most MAX_BATCH_SIZE. */
async function driveInProcess(model: SentenceTransformer, requests: string[][], clients: number, budgetS: number): Promise<RoundRun> {
  let cursor = 0;
  const take = () => requests[cursor++ % requests.length]!;
  const group = async (latencies?: number[]): Promise<number> => {
    const reqs = Array.from({ length: clients }, take);
    const texts = reqs.flat();
    const s = performance.now();
    const callDone: number[] = [];
    for (let c = 0; c < texts.length; c += MAX_BATCH_SIZE) {
      await model.encode(texts.slice(c, c + MAX_BATCH_SIZE), { batchSize: MAX_BATCH_SIZE });
      callDone.push(performance.now() - s);
    }
    let end = 0;
    for (const r of reqs) {
      end += r.length;
      latencies?.push(callDone[Math.ceil(end / MAX_BATCH_SIZE) - 1]!);
    }
    return texts.length;
  };
  await group();
  cursor = 0;
  const latencies: number[] = [];
  let texts = 0;
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < budgetS) texts += await group(latencies);
  return summarize(latencies, texts, (performance.now() - t0) / 1000);
}

export async function runServe(ctx: BenchContext): Promise<ServeResult[]> {
  const model = await ctx.sbert(SERVE_MODEL);
  const dir = (await ctx.folder(SERVE_MODEL)).dir;
  const requests = makeRequests(ctx.sentences);
  const rounds = ctx.opts.quick ? 1 : 2;
  const budgetS = (ctx.opts.quick ? 1 : 4) / rounds;
  log(`serve: starting sbert-node serve on ${SERVE_MODEL} (max batch ${MAX_BATCH_SIZE}, max wait ${MAX_WAIT_MS} ms, ${ctx.opts.torchThreads} intra-op thread(s))`);
  const { server, url } = await ServeProcess.start(dir, ctx.opts.torchThreads);
  try {
    const check = requests.slice(0, 8);
    const agent = new Agent({ keepAlive: true });
    let served: Float32Array[][];
    try {
      served = await Promise.all(check.map((r) => embed(agent, url, r)));
    } finally {
      agent.destroy();
    }
    let diff = 0;
    for (const [i, r] of check.entries()) diff = Math.max(diff, maxAbsDiff(served[i]!, await model.encode(r)));
    log(`serve: ${url}; its embeddings of ${check.length} requests against in-process encode: max |Δ| ${diff.toExponential(2)}`);
    const result: ServeResult = {
      model: SERVE_MODEL,
      maxBatchSize: MAX_BATCH_SIZE,
      maxWaitMs: MAX_WAIT_MS,
      textsPerRequest: [1, MAX_TEXTS_PER_REQUEST],
      agreement: { requests: check.length, maxAbsDiff: diff },
      levels: [],
    };
    for (const clients of SERVE_CLIENTS) {
      // Server and in-process take turns; each keeps its best round.
      const serverRuns: { run: RoundRun; textsPerBatch: number }[] = [];
      const localRuns: RoundRun[] = [];
      for (let r = 0; r < rounds; r++) {
        serverRuns.push(await driveServer(url, requests, clients, budgetS));
        localRuns.push(await driveInProcess(model, requests, clients, budgetS));
      }
      const s = best(serverRuns, (x) => x.run);
      const level: ServeLevel = {
        clients,
        server: { ...s.run, rounds: s.rounds },
        inProcess: best(localRuns, (x) => x),
        serverTextsPerBatch: s.textsPerBatch,
      };
      result.levels.push(level);
      const { server: sv, inProcess: ip } = level;
      log(
        `  ${clients} client(s): server ${fmt(sv.requestsPerSecond)} req/s, ${fmt(sv.textsPerSecond)} texts/s, p50 ${fmt(sv.p50Ms, 2)} / p99 ${fmt(sv.p99Ms, 2)} ms ` +
          `(${fmt(level.serverTextsPerBatch)} texts per forward pass); in process ${fmt(ip.textsPerSecond)} texts/s, p50 ${fmt(ip.p50Ms, 2)} / p99 ${fmt(ip.p99Ms, 2)} ms ` +
          `→ ${fmtRatio(ratio(sv.textsPerSecond, ip.textsPerSecond))}`,
      );
    }
    return [result];
  } finally {
    await server.stop();
  }
}
