import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { DataLoader, MultiProcessPool, SbertError, SentenceTransformer, losses } from "../../lib/index.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";
import { topicExamples, topicModel, topicPairs } from "../helpers/topics.js";

/** The live (or unreaped) child processes of this process, from /proc. */
function childPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === process.pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

// 400 texts of two lengths over the topic vocabulary, no two alike in order.
const pairs = topicPairs(400, 11);
const TEXTS = pairs.s1.map((s, i) => (i % 3 === 0 ? `${s} ${pairs.s2[i]}` : s));

let model: SentenceTransformer;
let pool: MultiProcessPool;
let childrenBefore: number[];

beforeAll(async () => {
  childrenBefore = childPids();
  model = await topicModel({ seed: 5 });
  pool = await model.startMultiProcessPool({ processes: 2 });
});

afterAll(async () => {
  await pool?.close();
  model?.dispose();
});

describe("encode with a multi-process pool", () => {
  test("two worker processes, built in memory: a temporary folder, one thread each on this machine's split", () => {
    expect(pool.processes).toHaveLength(2);
    expect(pool.processes.map((p) => p.device)).toEqual(["cpu", "cpu"]);
    for (const p of pool.processes) {
      expect(p.pid).not.toBe(process.pid);
      expect(running(p.pid)).toBe(true);
    }
    expect(childPids()).toEqual(expect.arrayContaining(pool.processes.map((p) => p.pid)));
    expect(existsSync(join(pool.modelFolder, "modules.json"))).toBe(true);
    expect(pool.threadsPerProcess).toBeGreaterThanOrEqual(1);
    expect(pool.alive).toBe(true);
  });

  test("a few hundred texts: input order and the in-process values", async () => {
    const local = await model.encode(TEXTS);
    const viaPool = await model.encode(TEXTS, { pool });
    expect(viaPool).toHaveLength(TEXTS.length);
    for (const e of viaPool) {
      expect(e).toBeInstanceOf(Float32Array);
      expect(e).toHaveLength(32);
    }
    expect(maxAbsDiffAll(viaPool, local)).toBeLessThanOrEqual(1e-6);
    // Neighbouring rows differ, so a row out of place would show.
    expect(maxAbsDiffAll([viaPool[1]!], [local[2]!])).toBeGreaterThan(1e-3);

    const small = await model.encode(TEXTS, { pool, chunkSize: 7, batchSize: 5 });
    expect(maxAbsDiffAll(small, local)).toBeLessThanOrEqual(1e-6);
    const one = await model.encode(TEXTS[3]!, { pool });
    expect(one).toBeInstanceOf(Float32Array);
    expect(maxAbsDiffAll([one], [local[3]!])).toBeLessThanOrEqual(1e-6);
    expect(await model.encode([], { pool })).toEqual([]);
  });

  test("normalizeEmbeddings, truncateDim, prompt and promptName as in process", async () => {
    const cases = [
      { normalizeEmbeddings: true },
      { truncateDim: 12 },
      { truncateDim: 12, normalizeEmbeddings: true },
      { prompt: "t2a0 il " },
    ];
    for (const options of cases) {
      const local = await model.encode(TEXTS, options);
      const viaPool = await model.encode(TEXTS, { ...options, pool });
      expect(viaPool[0]).toHaveLength(options.truncateDim ?? 32);
      expect(maxAbsDiffAll(viaPool, local)).toBeLessThanOrEqual(1e-6);
    }
    const norms = (await model.encode(TEXTS.slice(0, 20), { pool, normalizeEmbeddings: true })).map((e) => Math.hypot(...e));
    for (const n of norms) expect(n).toBeCloseTo(1, 5);

    // Prompts are this model's, as they are now: the workers loaded none of them.
    model.prompts = { topic: "t4b1 la " };
    model.defaultPromptName = "topic";
    try {
      const plain = await model.encode(TEXTS, { prompt: "" });
      const local = await model.encode(TEXTS);
      const viaPool = await model.encode(TEXTS, { pool });
      expect(maxAbsDiffAll(viaPool, local)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiffAll(viaPool, plain)).toBeGreaterThan(1e-3);
      expect(maxAbsDiffAll(await model.encode(TEXTS, { pool, promptName: "topic" }), local)).toBeLessThanOrEqual(1e-6);
    } finally {
      model.prompts = {};
      model.defaultPromptName = undefined;
    }
  });

  test("int8, uint8 and binary precision: quantized over the whole call, as in process", async () => {
    const floatsLocal = await model.encode(TEXTS);
    const floatsPool = await model.encode(TEXTS, { pool, chunkSize: 10 });
    // Equal floats give equal codes; floats within 1e-6 may still cross a rounding boundary by one step.
    const step = maxAbsDiffAll(floatsPool, floatsLocal) === 0 ? 0 : 1;
    for (const precision of ["int8", "uint8", "binary"] as const) {
      const local = await model.encode(TEXTS, { precision });
      const viaPool = await model.encode(TEXTS, { pool, precision, chunkSize: 10 });
      expect(viaPool[0]).toBeInstanceOf(precision === "uint8" ? Uint8Array : Int8Array);
      expect(viaPool[0]).toHaveLength(precision === "binary" ? 4 : 32);
      if (step === 0) expect(viaPool.map((e) => Array.from(e))).toEqual(local.map((e) => Array.from(e)));
      else if (precision !== "binary") expect(maxAbsDiffAll(viaPool, local)).toBeLessThanOrEqual(step);
    }
  });

  test("calls side by side share the workers and each gets its own rows", async () => {
    const a = TEXTS.slice(0, 150);
    const b = TEXTS.slice(150);
    const [ea, eb] = await Promise.all([model.encode(a, { pool, chunkSize: 9 }), model.encode(b, { pool, chunkSize: 13, normalizeEmbeddings: true })]);
    expect(maxAbsDiffAll(ea, await model.encode(a))).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiffAll(eb, await model.encode(b, { normalizeEmbeddings: true }))).toBeLessThanOrEqual(1e-6);
  });

  test("bad arguments are refused before any work", async () => {
    await expect(model.startMultiProcessPool({ processes: 0 })).rejects.toThrow(RangeError);
    await expect(model.startMultiProcessPool({ targetDevices: ["cpu"], processes: 2 })).rejects.toThrow(/processes \(2\) must equal the number of targetDevices \(1\)/);
    await expect(model.encode(TEXTS, { pool, outputValue: "token_embeddings" } as never)).rejects.toMatchObject({ code: "ERR_INPUT", message: /sentence embeddings only/ });
    await expect(model.encode(TEXTS, { pool, chunkSize: 0 })).rejects.toThrow(/chunkSize must be a positive integer/);
    await expect(model.encode(TEXTS, { pool: {} as MultiProcessPool })).rejects.toThrow(/pool must be a pool from startMultiProcessPool/);
    const other = await topicModel({ seed: 6 });
    try {
      await expect(other.encode(TEXTS, { pool })).rejects.toMatchObject({ code: "ERR_INPUT", message: /started by another model/ });
    } finally {
      other.dispose();
    }
  });
});

describe("a model loaded from a folder", () => {
  test("the workers load that folder, with the model's linear precision; close() leaves the folder", async () => {
    const root = await tempDir("sbert-mp-");
    const dir = join(root, "model");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, dense: { outFeatures: 24 }, normalize: true });
    const loaded = await SentenceTransformer.load(dir);
    const texts = Array.from({ length: 120 }, (_, i) => `${SENTENCES[i % SENTENCES.length]} ${"ancora ".repeat(i % 5)}${i}`);
    try {
      const floats = await loaded.encode(texts);
      loaded.maxSeqLength = 8;
      const short = await loaded.encode(texts);
      loaded.quantize("int8");
      // int8 inputs are quantized per batch: one text per batch on both sides, so that the batches are the same.
      const local = await loaded.encode(texts, { batchSize: 1 });
      expect(maxAbsDiffAll(local, short)).toBeGreaterThan(1e-4);
      expect(maxAbsDiffAll(short, floats)).toBeGreaterThan(1e-4);

      const p = await loaded.startMultiProcessPool({ processes: 2, threadsPerProcess: 1 });
      try {
        expect(p.modelFolder).toBe(resolve(dir));
        expect(p.threadsPerProcess).toBe(1);
        const viaPool = await loaded.encode(texts, { pool: p, chunkSize: 1 });
        expect(viaPool[0]).toHaveLength(24);
        expect(maxAbsDiffAll(viaPool, local)).toBeLessThanOrEqual(1e-6);
      } finally {
        await loaded.stopMultiProcessPool(p);
      }
      expect(existsSync(join(dir, "modules.json"))).toBe(true);
      for (const proc of p.processes) expect(running(proc.pid)).toBe(false);
    } finally {
      loaded.dispose();
    }
  });
});

describe("a model trained since it was loaded", () => {
  test("the workers load a temporary save of the trained weights, removed by close()", async () => {
    const root = await tempDir("sbert-mp-trained-");
    const dir = join(root, "model");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] } });
    const trained = await SentenceTransformer.load(dir);
    try {
      const before = await trained.encode(TEXTS);
      await trained.fit({
        trainObjectives: [[new DataLoader(topicExamples(topicPairs(16, 2)), { batchSize: 8 }), new losses.CosineSimilarityLoss(trained)]],
        epochs: 1,
        warmupSteps: 0,
        optimizerParams: { lr: 1e-2 },
        showProgressBar: false,
      });
      const local = await trained.encode(TEXTS);
      expect(maxAbsDiffAll(local, before)).toBeGreaterThan(1e-4);
      const p = await trained.startMultiProcessPool({ processes: 2 });
      try {
        expect(p.modelFolder).not.toBe(resolve(dir));
        expect(maxAbsDiffAll(await trained.encode(TEXTS, { pool: p }), local)).toBeLessThanOrEqual(1e-6);
      } finally {
        await p.close();
      }
      expect(existsSync(p.modelFolder)).toBe(false);
      expect(existsSync(join(dir, "modules.json"))).toBe(true);
    } finally {
      trained.dispose();
    }
  });
});

describe("ending a pool", () => {
  test("a worker killed mid-encode rejects the encode at once with ERR_WORKER naming it; the pool stops the rest and removes its folder", async () => {
    const p = await model.startMultiProcessPool({ processes: 2 });
    const many = Array.from({ length: 20 }, () => TEXTS).flat();
    const started = Date.now();
    const pending = model.encode(many, { pool: p, chunkSize: 4 });
    const victim = p.processes[1]!;
    process.kill(victim.pid, "SIGKILL");
    const error = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SbertError);
    expect(error).toMatchObject({ code: "ERR_WORKER" });
    expect((error as Error).message).toBe(
      `SentenceTransformer.encode: worker 1 (pid ${victim.pid}, cpu) was killed by SIGKILL; the pool stopped its other workers`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(p.alive).toBe(false);
    expect(await until(() => p.processes.every((x) => !running(x.pid)), 5000)).toBe(true);
    expect(await until(() => !existsSync(p.modelFolder), 5000)).toBe(true);
    // Later calls say why, and close() still resolves.
    await expect(model.encode(TEXTS, { pool: p })).rejects.toMatchObject({ code: "ERR_WORKER", message: /worker 1 .* was killed by SIGKILL/ });
    await p.close();
  });

  test("close(): pending encodes reject with ERR_DISPOSED; no child process and no temporary folder remain", async () => {
    const p = await model.startMultiProcessPool({ processes: 2, threadsPerProcess: 1 });
    const folder = p.modelFolder;
    expect(existsSync(folder)).toBe(true);
    const pending = model.encode(Array.from({ length: 10 }, () => TEXTS).flat(), { pool: p, chunkSize: 4 });
    const closed = p.close();
    await expect(pending).rejects.toMatchObject({ code: "ERR_DISPOSED" });
    await closed;
    expect(p.close()).toBe(closed);
    for (const x of p.processes) expect(running(x.pid)).toBe(false);
    expect(existsSync(folder)).toBe(false);
    await expect(model.encode(TEXTS, { pool: p })).rejects.toMatchObject({ code: "ERR_DISPOSED", message: /the pool was closed/ });

    await pool.close();
    expect(childPids()).toEqual(childrenBefore);
    expect(existsSync(pool.modelFolder)).toBe(false);
  });
});

describe("starting and leaving a pool", () => {
  test("a worker that cannot load the model fails the start with its error; nothing is left running", async () => {
    const before = childPids();
    const error = await model.startMultiProcessPool({ targetDevices: ["cpu", "nodevice:0"] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SbertError);
    expect((error as Error).message).toMatch(/^SentenceTransformer\.startMultiProcessPool: worker 1 \(pid \d+, nodevice:0\) could not load \/.*sbert-node-pool-[^/]+\/model: .*nodevice/);
    expect(childPids()).toEqual(before);
    const folder = /could not load (\S+)\/model:/.exec((error as Error).message)![1]!;
    expect(existsSync(folder)).toBe(false);
  });

  test("a program that never closes its pool still ends, and so do its workers; its temporary folder goes", async () => {
    const dir = await tempDir("sbert-mp-forget-");
    const script = join(dir, "forget.mts");
    const lib = pathToFileURL(resolve("test/helpers/topics.ts")).href;
    await writeFile(
      script,
      [
        `import { topicModel } from ${JSON.stringify(lib)};`,
        "const model = await topicModel();",
        "const pool = await model.startMultiProcessPool({ processes: 2 });",
        'const rows = await model.encode(["t0a1 il t0a2", "t1a1 la"], { pool });',
        "console.log(JSON.stringify({ pids: pool.processes.map((p) => p.pid), folder: pool.modelFolder, rows: rows.length }));",
      ].join("\n"),
    );
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const child = spawn(process.execPath, ["--import", tsx, script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const [code] = (await Promise.race([once(child, "exit"), new Promise((_, rej) => setTimeout(() => rej(new Error("the program did not end")), 60_000))])) as [number];
    expect(code).toBe(0);
    const report = JSON.parse(out) as { pids: number[]; folder: string; rows: number };
    expect(report.rows).toBe(2);
    expect(await until(() => report.pids.every((p) => !running(p)), 5000)).toBe(true);
    expect(existsSync(report.folder)).toBe(false);
  });
});
