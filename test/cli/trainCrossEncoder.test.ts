import { existsSync } from "node:fs";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, type CrossEncoderPair } from "../../lib/crossEncoder/CrossEncoder.js";
import { CrossEncoderTrainer } from "../../lib/crossEncoder/CrossEncoderTrainer.js";
import * as evaluation from "../../lib/crossEncoder/evaluation/index.js";
import * as ceLosses from "../../lib/crossEncoder/losses/index.js";
import { CROSS_ENCODER_LOSS_NAMES } from "../../lib/cli/specs.js";
import { Dataset } from "../../lib/datasets/Dataset.js";
import { seededRandom } from "../../lib/internal/random.js";
import type { SentenceTransformerTrainingArgumentsInit } from "../../lib/SentenceTransformerTrainingArguments.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { assertBuilt, runCli, startCli, within } from "../helpers/cli.js";
import { maxAbsDiff, tempDir } from "../helpers/tmp.js";

// Topics from the fixture vocabulary; a pair is relevant when both sides come from the same topic.
const TOPICS: [string[], string[]][] = [
  [["gatto", "gatti", "cane", "cani"], ["cat", "cats", "dog", "dogs"]],
  [["sole", "pioggia", "neve", "freddo"], ["sun", "rain", "snow", "cold"]],
  [["roma", "milano", "napoli", "torino"], ["firenze", "venezia", "paris", "london"]],
  [["pane", "vino", "pasta", "pizza"], ["caffè", "food", "water", "mangiare"]],
  [["libro", "libri", "leggere", "scrivere"], ["book", "books", "read", "reading"]],
];
const FILLERS = ["il", "la", "un", "di", "che", "e", "the", "of", "and"];

function sentence(random: () => number, words: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < 3; i++) out.push(words[Math.floor(random() * words.length)]!);
  out.splice(Math.floor(random() * out.length), 0, FILLERS[Math.floor(random() * FILLERS.length)]!);
  return out.join(" ");
}

function otherTopic(random: () => number, a: number): number {
  return (a + 1 + Math.floor(random() * (TOPICS.length - 1))) % TOPICS.length;
}

/** Labelled pairs: 1 for the same topic, 0 otherwise (half of each). */
function pairs(n: number, seed: number): { s1: string; s2: string; same: number }[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(random() * TOPICS.length);
    const same = random() < 0.5;
    return { s1: sentence(random, TOPICS[a]![0]), s2: sentence(random, TOPICS[same ? a : otherTopic(random, a)]![1]), same: same ? 1 : 0 };
  });
}

/** Listwise rows: a query, four documents (the first of its topic), their relevance. */
function lists(n: number, seed: number): { query: string; docs: string[]; labels: number[] }[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(random() * TOPICS.length);
    const docs = [sentence(random, TOPICS[a]![1]), ...[0, 1, 2].map(() => sentence(random, TOPICS[otherTopic(random, a)]![1]))];
    return { query: sentence(random, TOPICS[a]![0]), docs, labels: [1, 0, 0, 0] };
  });
}

/** Reranking samples: a query, its positive, three negatives. */
function rerankSamples(n: number, seed: number): { query: string; positive: string; negative: string[] }[] {
  return lists(n, seed).map((r) => ({ query: r.query, positive: r.docs[0]!, negative: r.docs.slice(1) }));
}

// Made while the file is collected, so that its removal after the file is registered.
const root = await tempDir("sbert-cli-train-ce-");
const ceDir = join(root, "ce");
const train = pairs(48, 11);
const dev = pairs(40, 12);
const listTrain = lists(24, 13);
const rerankDev = rerankSamples(16, 14);
const probe: CrossEncoderPair[] = dev.slice(0, 20).map((p) => [p.s1, p.s2]);
let baseScores: number[];

beforeAll(async () => {
  assertBuilt();
  await makeCrossEncoderFolder(ceDir, { numLabels: 1 });
  await makeCrossEncoderFolder(join(root, "three"), { numLabels: 3 });
  await makeSentenceTransformerFolder(join(root, "bi"), { pooling: { modes: ["mean"] } });
  await writeFile(join(root, "train.csv"), `s1,s2,same\n${train.map((p) => `${p.s1},${p.s2},${p.same}`).join("\n")}\n`);
  await writeFile(join(root, "dev.csv"), `s1,s2,same\n${dev.map((p) => `${p.s1},${p.s2},${p.same}`).join("\n")}\n`);
  await writeFile(join(root, "lists.jsonl"), listTrain.map((r) => JSON.stringify(r)).join("\n"));
  await writeFile(join(root, "rerank.jsonl"), rerankDev.map((r) => JSON.stringify(r)).join("\n"));
  const base = await CrossEncoder.load(ceDir);
  baseScores = (await base.predict(probe)) as number[];
  base.dispose();
});

/** The library's run the CLI should reproduce: CrossEncoderTrainer on the base model with these arguments. */
async function apiScores(
  loadOptions: { maxLength?: number },
  columns: Record<string, unknown[]>,
  loss: (m: CrossEncoder) => ceLosses.CrossEncoderLoss,
  args: SentenceTransformerTrainingArgumentsInit,
  pairsToScore: CrossEncoderPair[],
): Promise<number[]> {
  const model = await CrossEncoder.load(ceDir, loadOptions);
  try {
    const trainer = new CrossEncoderTrainer({ model, args: { saveStrategy: "no", disableTqdm: true, ...args }, trainDataset: Dataset.fromColumns(columns), loss: loss(model) });
    await trainer.train();
    return (await model.predict(pairsToScore)) as number[];
  } finally {
    model.dispose();
  }
}

const bceConfig = (over: Record<string, unknown> = {}) => ({
  modelType: "cross-encoder",
  model: { path: "ce", maxLength: 32 },
  train: { path: "train.csv", columns: { texts: ["s1", "s2"], label: "same" } },
  loss: { name: "BinaryCrossEntropyLoss", posWeight: 1.5 },
  evaluator: {
    type: "CrossEncoderClassificationEvaluator",
    path: "dev.csv",
    columns: { sentences1: "s1", sentences2: "s2", label: "same" },
    name: "dev",
  },
  fit: { epochs: 2, batchSize: 8, lr: 2e-3, evaluationSteps: 3, saveBestModel: false, outputPath: "out-bce", seed: 5 },
  ...over,
});

function summaryOf(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

describe("sbert-node train with modelType: cross-encoder", () => {
  test("the config's losses are the classes of crossEncoder.losses", () => {
    const classes = Object.entries(ceLosses)
      .filter(([k, v]) => typeof v === "function" && v.prototype instanceof ceLosses.CrossEncoderLoss && !["ListwiseLoss", "PairLoss"].includes(k))
      .map(([k]) => k);
    expect([...CROSS_ENCODER_LOSS_NAMES].sort()).toEqual(classes.sort());
  });

  test("BinaryCrossEntropyLoss from CSV with an evaluator: trains, evaluates, saves; the same run through CrossEncoderTrainer scores alike", async () => {
    const config = join(root, "bce.json");
    await writeFile(config, JSON.stringify(bceConfig(), null, 2));
    const r = await runCli(["train", config, "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/train: ce \(cross-encoder, 1 label\(s\), max length 32, cpu\); 48 examples, BinaryCrossEntropyLoss; 2 epoch\(s\) × 6 steps of 8, warmup 2; evaluator CrossEncoderClassificationEvaluator on 40 rows/);
    // Every 3 steps of an epoch and at each epoch's end.
    expect(r.stderr.match(/^eval: epoch 1 step [36]: dev_accuracy=/gm)).toHaveLength(2);
    expect(r.stderr.match(/^eval: epoch \d end: dev_accuracy=/gm)).toHaveLength(2);
    const summary = summaryOf(r.out);
    expect(summary["globalStep"]).toBe(12);
    expect(summary["primaryMetric"]).toBe("dev_average_precision");
    expect(typeof summary["bestScore"]).toBe("number");
    expect(existsSync(join(root, "out-bce", "eval", "CrossEncoderClassificationEvaluator_dev_results.csv"))).toBe(true);

    const trained = await CrossEncoder.load(join(root, "out-bce"));
    try {
      expect(trained.maxLength).toBe(32);
      const scores = (await trained.predict(probe)) as number[];
      expect(maxAbsDiff(scores, baseScores)).toBeGreaterThan(1e-2);
      // The last metrics the CLI reported are the saved (final) model's.
      const lib = new evaluation.CrossEncoderClassificationEvaluator(
        dev.map((p) => [p.s1, p.s2]),
        dev.map((p) => p.same),
        { name: "dev", writeCsv: false },
      );
      const metrics = summary["metrics"] as Record<string, number>;
      for (const [k, v] of Object.entries(await lib.evaluate(trained))) expect(metrics[k], k).toBeCloseTo(v, 5);

      const api = await apiScores(
        { maxLength: 32 },
        { s1: train.map((p) => p.s1), s2: train.map((p) => p.s2), label: train.map((p) => p.same) },
        (m) => new ceLosses.BinaryCrossEntropyLoss(m, { posWeight: 1.5 }),
        { outputDir: join(root, "api-bce"), numTrainEpochs: 2, perDeviceTrainBatchSize: 8, learningRate: 2e-3, weightDecay: 0.01, warmupSteps: 2, lrSchedulerType: "linear", seed: 5 },
        probe,
      );
      expect(maxAbsDiff(scores, api)).toBeLessThan(1e-5);
    } finally {
      trained.dispose();
    }
  });

  test("ListNetLoss from JSONL (query, documents list, labels list) with checkpoints; the same run through CrossEncoderTrainer scores alike", async () => {
    const yaml = `
modelType: cross-encoder
model: ce
train:
  path: lists.jsonl
  columns:
    texts: [query, docs]
    label: labels
loss:
  name: ListNetLoss
fit:
  epochs: 3
  batchSize: 4
  lr: 0.002
  warmupSteps: 1
  scheduler: WarmupCosine
  outputPath: out-listnet
  checkpointPath: ckpt-listnet
  checkpointSaveSteps: 5
  checkpointSaveTotalLimit: 2
  seed: 3
`;
    await writeFile(join(root, "listnet.yaml"), yaml);
    const r = await runCli(["train", join(root, "listnet.yaml"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/24 examples, ListNetLoss; 3 epoch\(s\) × 6 steps of 4, warmup 1/);
    const summary = summaryOf(r.out);
    expect(summary["globalStep"]).toBe(18);
    expect(summary["bestScore"]).toBeNull();
    // Every 5 steps and at the end, the last two kept.
    expect((await readdir(join(root, "ckpt-listnet"))).filter((n) => n.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-15", "checkpoint-18"]);

    const rankPairs: CrossEncoderPair[] = listTrain.slice(0, 6).flatMap((row) => row.docs.map((d): CrossEncoderPair => [row.query, d]));
    const base = await CrossEncoder.load(ceDir);
    const before = (await base.predict(rankPairs)) as number[];
    base.dispose();
    const trained = await CrossEncoder.load(join(root, "out-listnet"));
    const after = (await trained.predict(rankPairs)) as number[];
    trained.dispose();
    expect(maxAbsDiff(after, before)).toBeGreaterThan(1e-2);

    const api = await apiScores(
      {},
      { query: listTrain.map((r) => r.query), docs: listTrain.map((r) => r.docs), labels: listTrain.map((r) => r.labels) },
      (m) => new ceLosses.ListNetLoss(m),
      { outputDir: join(root, "api-listnet"), numTrainEpochs: 3, perDeviceTrainBatchSize: 4, learningRate: 2e-3, weightDecay: 0.01, warmupSteps: 1, lrSchedulerType: "cosine", seed: 3 },
      rankPairs,
    );
    expect(maxAbsDiff(after, api)).toBeLessThan(1e-5);
  });

  test("LambdaLoss with a CrossEncoderRerankingEvaluator: the best model by its NDCG is the one saved", async () => {
    const yaml = `
modelType: cross-encoder
model: ce
train: {path: lists.jsonl, columns: {texts: [query, docs], label: labels}}
loss: {name: LambdaLoss, weightingScheme: LambdaRankScheme, k: 3, sigma: 2}
evaluator: {type: CrossEncoderRerankingEvaluator, path: rerank.jsonl, atK: 3, name: dev}
fit: {epochs: 4, batchSize: 4, lr: 0.003, evaluationSteps: 2, outputPath: out-lambda, seed: 21}
`;
    await writeFile(join(root, "lambda.yaml"), yaml);
    const r = await runCli(["train", join(root, "lambda.yaml"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const printed = [...r.stderr.matchAll(/^eval: epoch \d (?:step \d+|end): .*dev_ndcg@3=([\d.]+)/gm)].map((m) => Number(m[1]));
    // Steps 2, 4, 6 and the end of each of the 4 epochs.
    expect(printed).toHaveLength(16);
    // The score moves during training, so that the best is not simply the first or the last.
    expect(new Set(printed).size).toBeGreaterThan(2);
    const summary = summaryOf(r.out);
    expect(summary["primaryMetric"]).toBe("dev_ndcg@3");
    const best = summary["bestScore"] as number;
    expect(best).toBeCloseTo(Math.max(...printed), 3);
    const saved = await CrossEncoder.load(join(root, "out-lambda"));
    try {
      const lib = new evaluation.CrossEncoderRerankingEvaluator(rerankDev, { atK: 3, name: "dev", writeCsv: false });
      expect((await lib.evaluate(saved))["dev_ndcg@3"]).toBeCloseTo(best, 5);
    } finally {
      saved.dispose();
    }
  });

  test("SIGINT stops after the current step with a checkpoint (exit 130); resuming from it ends where an uninterrupted run ends", async () => {
    const long = (outputPath: string, checkpointPath: string, resume = false) =>
      bceConfig({
        evaluator: undefined,
        fit: { epochs: 60, batchSize: 4, lr: 1e-3, outputPath, checkpointPath, checkpointSaveSteps: 0, seed: 9, ...(resume && { resumeFromCheckpoint: true }) },
      });
    await writeFile(join(root, "long.json"), JSON.stringify(long("out-long", "ckpt-long")));
    const p = startCli(["train", join(root, "long.json"), "--quiet"]);
    await p.waitForStderr(/train: starting/, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    p.kill("SIGINT");
    const { code } = await within(p.exited, 60_000, "stopping after SIGINT");
    expect(code, p.stderr()).toBe(130);
    expect(p.stderr()).toMatch(/SIGINT: stopping after the current step and writing a checkpoint/);
    const cps = (await readdir(join(root, "ckpt-long"))).filter((n) => n.startsWith("checkpoint-"));
    expect(cps).toHaveLength(1);
    expect(p.stderr()).toContain(`checkpoint at ${join(root, "ckpt-long", cps[0]!)}`);
    const state = JSON.parse(await readFile(join(root, "ckpt-long", cps[0]!, "trainer_state.json"), "utf8")) as { global_step: number };
    expect(cps[0]).toBe(`checkpoint-${state.global_step}`);
    expect(state.global_step).toBeLessThan(60 * 12);
    expect(existsSync(join(root, "out-long"))).toBe(false);

    await writeFile(join(root, "resume.json"), JSON.stringify(long("out-long", "ckpt-long", true)));
    const resumed = await runCli(["train", join(root, "resume.json"), "--quiet"], { timeoutMs: 300_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`train: starting, resuming from ${join(root, "ckpt-long", cps[0]!)}`);
    expect(summaryOf(resumed.out)["globalStep"]).toBe(60 * 12);
    await writeFile(join(root, "whole.json"), JSON.stringify(long("out-whole", "ckpt-whole")));
    const whole = await runCli(["train", join(root, "whole.json"), "--quiet"], { timeoutMs: 300_000 });
    expect(whole.code, whole.stderr).toBe(0);
    const a = await CrossEncoder.load(join(root, "out-long"));
    const b = await CrossEncoder.load(join(root, "out-whole"));
    try {
      expect(maxAbsDiff((await a.predict(probe)) as number[], (await b.predict(probe)) as number[])).toBeLessThan(1e-5);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test("--dry-run: the default loss follows the label count, and nothing is written", async () => {
    const one = join(root, "dry-one.json");
    await writeFile(one, JSON.stringify(bceConfig({ loss: undefined, evaluator: undefined, fit: { outputPath: "never-one", batchSize: 16 } })));
    const a = await runCli(["train", one, "--dry-run"]);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.out)).toMatchObject({ ok: true, examples: 48, loss: "BinaryCrossEntropyLoss", stepsPerEpoch: 3, epochs: 1, warmupSteps: 1, evaluator: null });

    await writeFile(join(root, "classes.csv"), `a,b,label\n${train.map((p, i) => `${p.s1},${p.s2},${i % 3}`).join("\n")}\n`);
    const three = join(root, "dry-three.yaml");
    await writeFile(three, "modelType: cross-encoder\nmodel: {path: three, numLabels: 3}\ntrain: {path: classes.csv}\nfit: {outputPath: never-three, stepsPerEpoch: 2, epochs: 4}\n");
    const b = await runCli(["train", three, "--dry-run"]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.out)).toMatchObject({ ok: true, examples: 48, loss: "CrossEntropyLoss", stepsPerEpoch: 2, epochs: 4, warmupSteps: 1 });
    expect(existsSync(join(root, "never-one"))).toBe(false);
    expect(existsSync(join(root, "never-three"))).toBe(false);
  });

  test.each([
    ["an unknown loss", { loss: { name: "BinaryCrossEntropy" } }, /config: loss\.name: must be one of BinaryCrossEntropyLoss, .*got "BinaryCrossEntropy" \(did you mean 'BinaryCrossEntropyLoss'\?\)/],
    ["a bi-encoder-only loss", { loss: "CoSENTLoss" }, /config: loss\.name: CoSENTLoss is a loss of sentence-transformer models, but modelType is cross-encoder; its losses are: BinaryCrossEntropyLoss/],
    ["an option of another loss", { loss: { name: "BinaryCrossEntropyLoss", scale: 20 } }, /config: loss\.scale: unknown field.*known fields: name, activationFn, posWeight/],
    ["a bad loss option value", { loss: { name: "LambdaLoss", weightingScheme: "NDCG" } }, /config: loss: LambdaLoss: weightingScheme must be one of NDCGLoss1Scheme/],
    ["a one-label loss on a three-label model", { model: "three" }, /config: loss: BinaryCrossEntropyLoss needs a model with 1 output label, but the model has 3/],
    ["a label count the model does not have", { model: { path: "ce", numLabels: 2 } }, /config: model\.numLabels: is 2, but the model at ce has 1 label\(s\)/],
    ["a sentence-transformer model field", { maxSeqLength: 32 }, /config: maxSeqLength: is a field of sentence-transformer and sparse-encoder models, but modelType is cross-encoder; its model fields are: maxLength, numLabels, device/],
    ["a bi-encoder folder", { model: "bi" }, /config: model: bi is not a cross-encoder/],
    ["an unknown model type", { modelType: "reranker" }, /config: modelType: must be one of sentence-transformer, cross-encoder, sparse-encoder, got "reranker"/],
    ["a missing text column", { train: { path: "train.csv", columns: { texts: ["s1", "s3"], label: "same" } } }, /config: train\.columns\.texts\[1\]: no column 's3'; the dataset's columns are: s1, s2, same/],
    ["a missing label column", { train: { path: "train.csv", columns: { texts: ["s1", "s2"] } } }, /config: train\.columns\.label: BinaryCrossEntropyLoss needs a label column/],
    ["a listwise loss given three text columns", { loss: "ListNetLoss", train: { path: "train.csv", columns: { texts: ["s1", "s2", "s1"], label: "same" } } }, /config: train\.columns\.texts: ListNetLoss takes 2 text columns, got 3/],
    ["a bi-encoder evaluator", { evaluator: { type: "EmbeddingSimilarityEvaluator", path: "dev.csv" } }, /config: evaluator\.type: EmbeddingSimilarityEvaluator evaluates sentence-transformer models, but modelType is cross-encoder; its evaluators are: CrossEncoderCorrelationEvaluator, CrossEncoderClassificationEvaluator, CrossEncoderRerankingEvaluator/],
    ["an unknown evaluator type", { evaluator: { type: "CrossEncoderRankingEvaluator", path: "dev.csv" } }, /config: evaluator\.type: must be one of .*got "CrossEncoderRankingEvaluator" \(did you mean 'CrossEncoderRerankingEvaluator'\?\)/],
    ["a missing evaluator column", { evaluator: { type: "CrossEncoderCorrelationEvaluator", path: "dev.csv", columns: { sentences1: "s1", sentences2: "s2" } } }, /config: evaluator\.columns\.score \(default 'score'\): no column 'score'/],
    ["shuffle off", { fit: { outputPath: "x", shuffle: false } }, /config: fit\.shuffle: false is not available for cross-encoders/],
  ])("a config with %s exits 2 naming the field", async (_what, over, message) => {
    const config = join(root, `bad-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(config, JSON.stringify(bceConfig(over as Record<string, unknown>)));
    const r = await runCli(["train", config, "--dry-run"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("sbert-node train without modelType (a SentenceTransformer)", () => {
  const biConfig = (over: Record<string, unknown>) => ({
    model: "bi",
    train: { path: "train.csv", columns: { texts: ["s1", "s2"], label: "same" } },
    loss: "ContrastiveLoss",
    fit: { outputPath: "never-bi" },
    ...over,
  });
  test.each([
    ["a cross-encoder loss", { loss: "BinaryCrossEntropyLoss" }, /config: loss\.name: BinaryCrossEntropyLoss is a loss of cross-encoder models, but modelType is sentence-transformer/],
    ["a cross-encoder evaluator", { evaluator: { type: "CrossEncoderCorrelationEvaluator", path: "dev.csv" } }, /config: evaluator\.type: CrossEncoderCorrelationEvaluator evaluates cross-encoder models, but modelType is sentence-transformer/],
    ["a cross-encoder model field", { model: { path: "bi", numLabels: 1 } }, /config: model\.numLabels: is a field of cross-encoder models, but modelType is sentence-transformer/],
  ])("a config with %s exits 2 naming the field", async (_what, over, message) => {
    const config = join(root, `bad-bi-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(config, JSON.stringify(biConfig(over)));
    const r = await runCli(["train", config, "--dry-run"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test("--dry-run of the same config without those still passes", async () => {
    const config = join(root, "bi-ok.json");
    await writeFile(config, JSON.stringify(biConfig({})));
    const r = await runCli(["train", config, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, examples: 48, loss: "ContrastiveLoss" });
  });
});

describe("sbert-node evaluate with a cross-encoder", () => {
  let model: CrossEncoder;
  beforeAll(async () => {
    // The model the BCE test saved, or the base model when that test did not run.
    model = await CrossEncoder.load(existsSync(join(root, "out-bce")) ? join(root, "out-bce") : ceDir);
  });
  afterAll(() => model?.dispose());
  const modelDir = () => (existsSync(join(root, "out-bce")) ? join(root, "out-bce") : ceDir);

  test("a YAML config (CrossEncoderClassificationEvaluator): the metrics equal the library's evaluator", async () => {
    await writeFile(join(root, "ce-eval.yaml"), "evaluator:\n  type: CrossEncoderClassificationEvaluator\n  path: dev.csv\n  columns: {sentences1: s1, sentences2: s2, label: same}\n");
    const r = await runCli(["evaluate", modelDir(), join(root, "ce-eval.yaml")], { cwd: "/" });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.out) as { evaluator: string; rows: number; primaryMetric: string; metrics: Record<string, number> };
    expect(out.evaluator).toBe("CrossEncoderClassificationEvaluator");
    expect(out.rows).toBe(40);
    const lib = new evaluation.CrossEncoderClassificationEvaluator(
      dev.map((p) => [p.s1, p.s2]),
      dev.map((p) => p.same),
      { writeCsv: false },
    );
    const expected = await lib.evaluate(model);
    expect(out.primaryMetric).toBe(lib.primaryMetric);
    expect(Object.keys(out.metrics).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expect(out.metrics[k], k).toBeCloseTo(v, 6);
  });

  test("flags (CrossEncoderRerankingEvaluator, --at-k) and the default type (CrossEncoderCorrelationEvaluator) give the library's metrics", async () => {
    const r = await runCli(["evaluate", modelDir(), "--type", "CrossEncoderRerankingEvaluator", "--dataset", join(root, "rerank.jsonl"), "--at-k", "3", "--name", "dev"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.out) as { primaryMetric: string; metrics: Record<string, number> };
    const lib = new evaluation.CrossEncoderRerankingEvaluator(rerankDev, { atK: 3, name: "dev", writeCsv: false });
    const expected = await lib.evaluate(model);
    expect(out.primaryMetric).toBe("dev_ndcg@3");
    expect(Object.keys(out.metrics).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expect(out.metrics[k], k).toBeCloseTo(v, 6);

    const c = await runCli(["evaluate", modelDir(), "--dataset", join(root, "dev.csv"), "--sentences1-column", "s1", "--sentences2-column", "s2", "--score-column", "same"]);
    expect(c.code, c.stderr).toBe(0);
    const corr = JSON.parse(c.out) as { evaluator: string; metrics: Record<string, number> };
    expect(corr.evaluator).toBe("CrossEncoderCorrelationEvaluator");
    const libCorr = new evaluation.CrossEncoderCorrelationEvaluator(
      dev.map((p) => [p.s1, p.s2]),
      dev.map((p) => p.same),
      { writeCsv: false },
    );
    for (const [k, v] of Object.entries(await libCorr.evaluate(model))) expect(corr.metrics[k], k).toBeCloseTo(v, 6);
  });

  test("an evaluator for the other kind of model, or a flag of another evaluator, exits 2", async () => {
    const a = await runCli(["evaluate", modelDir(), "--type", "EmbeddingSimilarityEvaluator", "--dataset", join(root, "dev.csv")]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/EmbeddingSimilarityEvaluator evaluates SentenceTransformers \(bi-encoders\), but .* is a cross-encoder/);
    const b = await runCli(["evaluate", join(root, "bi"), "--type", "CrossEncoderCorrelationEvaluator", "--dataset", join(root, "dev.csv")]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/CrossEncoderCorrelationEvaluator evaluates cross-encoders, but .* is a SentenceTransformer/);
    const c = await runCli(["evaluate", modelDir(), "--type", "CrossEncoderCorrelationEvaluator", "--dataset", join(root, "dev.csv"), "--similarity", "cosine"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--similarity does not apply to CrossEncoderCorrelationEvaluator/);
  });
});
