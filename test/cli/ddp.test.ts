// Distributed data parallel: `sbert-node train --nproc-per-node 2` against one process training on batches twice
// as large over the same data order, a rank killed mid-run, and a group whose peer never comes.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { beforeAll, describe, expect, test } from "vitest";

import { Dataset, SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses } from "../../lib/index.js";
import { shardBatches } from "../../lib/distributed.js";
import { native } from "../../lib/native.js";
import { assertBuilt, ROOT, runCli, startCli, within } from "../helpers/cli.js";
import { freePort, runProcess } from "../helpers/run.js";
import { tempDir } from "../helpers/tmp.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeDropoutFreeTinyBert, safetensorsWeights, sentences } from "../helpers/trainerParity.js";

const available = native().distributedAvailable();

let root: string;


/**
 * The largest difference between two trained models and the largest change training made. Attention key biases are
 * left out: their gradient is zero in exact arithmetic (a softmax over keys ignores what every key's score shares),
 * so AdamW moves them by rounding noise, which differs between any two summation orders.
 */
async function compareModels(a: string, b: string, before = join(root, "base")): Promise<{ worst: number; moved: number }> {
  const [x, y, base] = await Promise.all([a, b, before].map((d) => safetensorsWeights(join(d, "model.safetensors"))));
  let worst = 0;
  let moved = 0;
  for (const [key, v] of x) {
    if (key.endsWith("attention.self.key.bias")) continue;
    const w = y.get(key)!;
    const o = base.get(key)!;
    for (let i = 0; i < v.length; i++) {
      worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
      moved = Math.max(moved, Math.abs(v[i]! - o[i]!));
    }
  }
  return { worst, moved };
}

const config = (train: string, loss: Record<string, unknown>, batchSize: number, out: string, epochs = 2) =>
  JSON.stringify({
    model: "base",
    pooling: "mean",
    train: { path: train, columns: train === "scored.jsonl" ? { texts: ["s1", "s2"], label: "score" } : { texts: ["anchor", "positive"] } },
    loss,
    fit: { outputPath: out, epochs, batchSize, lr: 1e-3, scheduler: "ConstantLR", warmupSteps: 0, seed: 5 },
  });

beforeAll(async () => {
  assertBuilt();
  root = await tempDir("sbert-ddp-");
  await makeDropoutFreeTinyBert(join(root, "base"), { seed: 3 });
  const a = sentences(64, 1);
  const b = sentences(64, 2);
  await writeFile(join(root, "scored.jsonl"), a.map((s, i) => JSON.stringify({ s1: s, s2: b[i], score: (i % 5) / 4 })).join("\n"));
  const q = sentences(64, 11);
  const p = sentences(64, 12);
  await writeFile(join(root, "pairs.jsonl"), q.map((s, i) => JSON.stringify({ anchor: s, positive: p[i] })).join("\n"));
  // A reranker without dropout, and (s1, s2, same) rows for it.
  await makeCrossEncoderFolder(join(root, "ce"), { bert: { seed: 4 } });
  const ceConfig = JSON.parse(await readFile(join(root, "ce", "config.json"), "utf8")) as Record<string, unknown>;
  Object.assign(ceConfig, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 });
  await writeFile(join(root, "ce", "config.json"), JSON.stringify(ceConfig, null, 2));
  const c1 = sentences(64, 21);
  const c2 = sentences(64, 22);
  await writeFile(join(root, "ce.jsonl"), c1.map((s, i) => JSON.stringify({ s1: s, s2: c2[i], same: i % 3 === 0 ? 1 : 0 })).join("\n"));
});

test("a rank's share of an epoch: every W-th batch, topped up from the start so that every rank makes as many steps", () => {
  const batches = [0, 1, 2, 3, 4];
  expect(shardBatches(batches, 0, 2)).toEqual([0, 2, 4]);
  expect(shardBatches(batches, 1, 2)).toEqual([1, 3, 0]);
  expect(shardBatches(batches, 2, 3)).toEqual([2, 0]);
  expect(shardBatches(batches, 0, 1)).toEqual(batches);
});

describe.skipIf(!available)("distributed data parallel (Gloo on 127.0.0.1)", () => {
  async function train(name: string, body: string, extra: string[] = []): Promise<{ summary: Record<string, unknown>; stderr: string }> {
    const file = join(root, `${name}.json`);
    await writeFile(file, body);
    const r = await runCli(["train", file, "-q", ...extra], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.out.trim().split("\n");
    // Rank 0 alone reports.
    expect(lines).toHaveLength(1);
    return { summary: JSON.parse(lines[0]!) as Record<string, unknown>, stderr: r.stderr };
  }

  test("2 processes × batch 8 train to the weights of 1 process × batch 16 on the same data order", async () => {
    const one = await train("cos16", config("scored.jsonl", { name: "CosineSimilarityLoss" }, 16, "cos16"));
    const port = await freePort();
    const two = await train("cos8x2", config("scored.jsonl", { name: "CosineSimilarityLoss" }, 8, "cos8x2"), ["--nproc-per-node", "2", "--master-port", String(port)]);
    expect(two.stderr).toContain("rank 1 done, 8 steps");
    expect(two.summary["globalStep"]).toBe(one.summary["globalStep"]);
    // The logged loss is the mean over the ranks: the mean over the full batch.
    expect(two.summary["trainingLoss"] as number).toBeCloseTo(one.summary["trainingLoss"] as number, 6);
    const { worst, moved } = await compareModels(join(root, "cos16"), join(root, "cos8x2"));
    expect(moved).toBeGreaterThan(1e-3);
    expect(worst).toBeLessThan(1e-5);
  });

  test("(Cached)MultipleNegativesRankingLoss with gatherAcrossDevices sees every rank's candidates: the full batch's loss and weights", async () => {
    const mnrl = { name: "MultipleNegativesRankingLoss" };
    const one = await train("mnrl16", config("pairs.jsonl", mnrl, 16, "mnrl16"));
    const gathered = await train("mnrl8g", config("pairs.jsonl", { ...mnrl, gatherAcrossDevices: true }, 8, "mnrl8g"), ["--nproc-per-node", "2", "--master-port", String(await freePort())]);
    const local = await train("mnrl8", config("pairs.jsonl", mnrl, 8, "mnrl8"), ["--nproc-per-node", "2", "--master-port", String(await freePort())]);
    expect(gathered.summary["trainingLoss"] as number).toBeCloseTo(one.summary["trainingLoss"] as number, 6);
    const same = await compareModels(join(root, "mnrl16"), join(root, "mnrl8g"));
    expect(same.moved).toBeGreaterThan(1e-3);
    expect(same.worst).toBeLessThan(1e-5);
    // The gradient cache (mini-batches of 3) gathers its cached embeddings the same way.
    const cached = await train("cmnrl8g", config("pairs.jsonl", { name: "CachedMultipleNegativesRankingLoss", miniBatchSize: 3, gatherAcrossDevices: true }, 8, "cmnrl8g"), [
      "--nproc-per-node",
      "2",
      "--master-port",
      String(await freePort()),
    ]);
    expect(cached.summary["trainingLoss"] as number).toBeCloseTo(one.summary["trainingLoss"] as number, 6);
    expect((await compareModels(join(root, "mnrl16"), join(root, "cmnrl8g"))).worst).toBeLessThan(1e-5);
    // Without gathering each rank has 8 candidates, not 16: a different loss and different weights.
    expect(Math.abs((local.summary["trainingLoss"] as number) - (one.summary["trainingLoss"] as number))).toBeGreaterThan(0.1);
    expect((await compareModels(join(root, "mnrl16"), join(root, "mnrl8"))).worst).toBeGreaterThan(1e-4);
  });

  test("a cross-encoder (CrossEncoderTrainer under the CLI): 2 processes × batch 8 train as 1 × 16, one pass over the data per epoch", async () => {
    const ce = (batchSize: number, out: string) =>
      JSON.stringify({
        modelType: "cross-encoder",
        model: { path: "ce", maxLength: 32 },
        train: { path: "ce.jsonl", columns: { texts: ["s1", "s2"], label: "same" } },
        loss: { name: "BinaryCrossEntropyLoss" },
        fit: { epochs: 2, batchSize, lr: 1e-3, scheduler: "ConstantLR", warmupSteps: 0, outputPath: out, seed: 5 },
      });
    const one = await train("ce16", ce(16, "ce16"));
    const two = await train("ce8x2", ce(8, "ce8x2"), ["--nproc-per-node", "2", "--master-port", String(await freePort())]);
    expect(two.summary["globalStep"]).toBe(8);
    expect(two.summary["trainingLoss"] as number).toBeCloseTo(one.summary["trainingLoss"] as number, 6);
    const { worst, moved } = await compareModels(join(root, "ce16"), join(root, "ce8x2"), join(root, "ce"));
    expect(moved).toBeGreaterThan(1e-3);
    expect(worst).toBeLessThan(1e-5);
  });

  /** test/helpers/ddpRank.ts in `ranks` processes (or one without the variables); rank 0's output. */
  async function trainerRun(ranks: number, spec: Record<string, unknown>): Promise<{ globalStep: number; trainingLoss: number; communicationSeconds?: number }> {
    const port = String(await freePort());
    const results = await Promise.all(
      Array.from({ length: ranks }, (_, r) =>
        runProcess(process.execPath, ["--import", "tsx", join(ROOT, "test", "helpers", "ddpRank.ts"), JSON.stringify(spec)], {
          cwd: ROOT,
          env: { ...process.env, OMP_NUM_THREADS: "1", ...(ranks > 1 && { RANK: String(r), WORLD_SIZE: String(ranks), MASTER_ADDR: "127.0.0.1", MASTER_PORT: port }) },
        }),
      ),
    );
    for (const r of results) expect(r.code, r.out).toBe(0);
    expect(results.slice(1).every((r) => r.stdout.trim() === "")).toBe(true);
    return JSON.parse(results[0]!.stdout.trim()) as { globalStep: number; trainingLoss: number; communicationSeconds?: number };
  }

  test("the trainer API: 2 ranks × batch 4 × gradient accumulation 2 train as 1 × 16, and a 2-rank checkpoint resumes in 1 process to the same end", async () => {
    const common = { maxSteps: 4, learningRate: 1e-3, lrSchedulerType: "constant", seed: 5 };
    const model = join(root, "base");
    const data = join(root, "scored.jsonl");
    const two = await trainerRun(2, {
      model,
      data,
      args: { ...common, outputDir: join(root, "api2"), perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, saveStrategy: "steps", saveSteps: 2 },
      save: join(root, "api2-final"),
    });
    expect(two.globalStep).toBe(4);
    expect(two.communicationSeconds).toBeGreaterThanOrEqual(0);
    const one = await trainerRun(1, { model, data, args: { ...common, outputDir: join(root, "api1"), perDeviceTrainBatchSize: 16, saveStrategy: "no" }, save: join(root, "api1-final") });
    expect(one.communicationSeconds).toBeUndefined();
    expect(two.trainingLoss).toBeCloseTo(one.trainingLoss, 6);
    const same = await compareModels(join(root, "api1-final"), join(root, "api2-final"));
    expect(same.moved).toBeGreaterThan(1e-3);
    expect(same.worst).toBeLessThan(1e-5);
    // Steps 3 and 4 again, in one process from the 2-rank run's checkpoint-2: the same batches, the same end.
    const resumed = await trainerRun(1, {
      model,
      data,
      args: { ...common, outputDir: join(root, "api-resumed"), perDeviceTrainBatchSize: 16, saveStrategy: "no" },
      resume: join(root, "api2", "checkpoint-2"),
      save: join(root, "api-resumed-final"),
    });
    expect(resumed.globalStep).toBe(4);
    expect((await compareModels(join(root, "api2-final"), join(root, "api-resumed-final"))).worst).toBeLessThan(1e-5);
  });

  test("a rank killed mid-run makes the other stop with an error naming the collective, and the launcher exit non-zero", async () => {
    const file = join(root, "long.json");
    await writeFile(file, config("scored.jsonl", { name: "CosineSimilarityLoss" }, 8, "long", 100000));
    const port = String(await freePort());
    // Newer Gloo reports a closed peer at once; older Gloo (Debian's libtorch 1.13) only when the timeout runs out.
    const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: port, OMP_NUM_THREADS: "1", SBERT_NODE_DDP_TIMEOUT: "5" });
    const rank0 = startCli(["train", file, "-q"], { env: env(0) });
    const rank1 = startCli(["train", file, "-q"], { env: env(1) });
    await rank1.waitForStderr(/train: starting/, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    rank1.kill("SIGKILL");
    const { code } = await within(rank0.exited, 30_000, "rank 0 stopping after rank 1 died");
    expect(code).not.toBe(0);
    expect(rank0.stderr()).toMatch(/distributed training, rank 0 of 2: .* failed \(another rank stopped/);

    const launched = startCli(["train", file, "-q", "--nproc-per-node", "2", "--master-port", String(await freePort()), "--ddp-timeout", "5"], {});
    await launched.waitForStderr(/train: starting/, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    launched.kill("SIGTERM");
    const end = await within(launched.exited, 30_000, "the launcher stopping its ranks");
    expect(end.code).not.toBe(0);
  });

  test("a group whose other rank never joins fails after ddpTimeout instead of waiting forever", async () => {
    const model = await SentenceTransformer.load(join(root, "base"));
    try {
      const trainer = new SentenceTransformerTrainer({
        model,
        args: new SentenceTransformerTrainingArguments({
          outputDir: join(root, "lonely"),
          ddp: { rank: 0, worldSize: 2, masterPort: await freePort() },
          ddpTimeout: 2,
          disableTqdm: true,
        }),
        trainDataset: Dataset.fromColumns({ a: ["x y", "y z"], b: ["y z", "x y"] }),
        loss: new losses.MultipleNegativesRankingLoss(model),
      });
      expect(trainer.isWorldProcessZero).toBe(true);
      const started = Date.now();
      await expect(trainer.train()).rejects.toThrow(/rank 0 of 2: joining the group at 127\.0\.0\.1:\d+ failed/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      model.dispose();
    }
  });
});

describe("distributed options", () => {
  test("bad ddp arguments and torchrun variables are refused by name", async () => {
    expect(() => new SentenceTransformerTrainingArguments({ ddp: { rank: 2, worldSize: 2 } })).toThrow(/ddp\.rank must be an integer in \[0, 1\]/);
    expect(() => new SentenceTransformerTrainingArguments({ ddp: { rank: 0, worldSize: 2, port: 1 } as never })).toThrow(/ddp\.port is not an option/);
    expect(() => new SentenceTransformerTrainingArguments({ ddpBackend: "nccl" as never })).toThrow(/"nccl" is not built/);
    expect(() => new SentenceTransformerTrainingArguments({ ddpTimeout: 0 })).toThrow(/ddpTimeout must be/);
    const savedTimeout = process.env["SBERT_NODE_DDP_TIMEOUT"];
    try {
      process.env["SBERT_NODE_DDP_TIMEOUT"] = "7";
      expect(new SentenceTransformerTrainingArguments({}).ddpTimeout).toBe(7);
      expect(new SentenceTransformerTrainingArguments({ ddpTimeout: 3 }).ddpTimeout).toBe(3);
      process.env["SBERT_NODE_DDP_TIMEOUT"] = "soon";
      expect(() => new SentenceTransformerTrainingArguments({})).toThrow(/ddpTimeout \(from SBERT_NODE_DDP_TIMEOUT\) must be a number of seconds > 0, got NaN/);
    } finally {
      if (savedTimeout === undefined) delete process.env["SBERT_NODE_DDP_TIMEOUT"];
      else process.env["SBERT_NODE_DDP_TIMEOUT"] = savedTimeout;
    }
    const model = await SentenceTransformer.load(join(root, "base"));
    try {
      expect(() => new losses.MultipleNegativesSymmetricRankingLoss(model, { gatherAcrossDevices: true })).toThrow(
        /gatherAcrossDevices is taken by MultipleNegativesRankingLoss and CachedMultipleNegativesRankingLoss alone/,
      );
    } finally {
      model.dispose();
    }
    const other = await SentenceTransformer.load(join(root, "base"));
    const trainer = new SentenceTransformerTrainer({
      model: other,
      args: new SentenceTransformerTrainingArguments({ outputDir: join(root, "env"), ddp: true }),
      trainDataset: Dataset.fromColumns({ a: ["x"], b: ["y"] }),
      loss: new losses.MultipleNegativesRankingLoss(other),
    });
    const saved = { ...process.env };
    try {
      delete process.env["WORLD_SIZE"];
      expect(() => trainer.distributed()).toThrow(/ddp is true but WORLD_SIZE is not set/);
      Object.assign(process.env, { WORLD_SIZE: "2", RANK: "x" });
      expect(() => trainer.distributed()).toThrow(/RANK must be an integer >= 0, got "x"/);
      Object.assign(process.env, { RANK: "1", MASTER_PORT: "2345" });
      expect(trainer.distributed()).toEqual({ rank: 1, worldSize: 2, masterAddr: "127.0.0.1", masterPort: 2345 });
      expect(trainer.isWorldProcessZero).toBe(false);
    } finally {
      for (const k of ["WORLD_SIZE", "RANK", "MASTER_PORT"]) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
      other.dispose();
    }
  });

  test("the launcher's flags need --nproc-per-node", async () => {
    const r = await runCli(["train", join(root, "cos16.json"), "--master-port", "1234"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--master-port needs --nproc-per-node");
  });
});
