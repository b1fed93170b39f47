// `sbert-node train` with modelType: sparse-encoder and `sbert-node evaluate` with the sparse evaluators, on a
// random-init SPLADE folder (test/fixtures/sparse_encoder_model.py).
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SPARSE_ENCODER_LOSS_NAMES } from "../../lib/cli/specs.js";
import { seededRandom } from "../../lib/internal/random.js";
import { Loss } from "../../lib/losses/Loss.js";
import { SparseEmbeddingSimilarityEvaluator, SparseInformationRetrievalEvaluator } from "../../lib/sparseEncoder/evaluation/index.js";
import * as sparseLosses from "../../lib/sparseEncoder/losses/index.js";
import { SparseEncoder } from "../../lib/sparseEncoder/SparseEncoder.js";
import { SparseEncoderTrainer } from "../../lib/sparseEncoder/SparseEncoderTrainer.js";
import { Dataset } from "../../lib/datasets/Dataset.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { assertBuilt, runCli } from "../helpers/cli.js";
import { runPython } from "../helpers/python.js";
import { maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/sparse_encoder_model.py", import.meta.url));
const TOPICS = [
  ["gatto", "cane", "cat", "dog", "animali"],
  ["sole", "pioggia", "neve", "rain", "snow"],
  ["roma", "milano", "napoli", "paris", "london"],
  ["pane", "vino", "pasta", "pizza", "food"],
];
const FILLERS = ["il", "la", "un", "di", "che", "e", "the", "of"];

function sentence(random: () => number, words: string[]): string {
  const pick = (w: string[]) => w[Math.floor(random() * w.length)]!;
  return [pick(FILLERS), pick(words), pick(FILLERS), pick(words)].join(" ");
}

/** Rows of a query, a positive of its topic and a negative of another topic. */
function triples(n: number, seed: number): { query: string; positive: string; negative: string }[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(random() * TOPICS.length);
    const b = (a + 1 + Math.floor(random() * (TOPICS.length - 1))) % TOPICS.length;
    return { query: sentence(random, TOPICS[a]!), positive: sentence(random, TOPICS[a]!), negative: sentence(random, TOPICS[b]!) };
  });
}

const root = await tempDir("sbert-cli-train-sparse-");
const train = triples(24, 21);
const dev = triples(12, 22);
const sts = triples(16, 23).flatMap((t) => [
  { sentence1: t.query, sentence2: t.positive, score: 0.9 },
  { sentence1: t.query, sentence2: t.negative, score: 0.1 },
]);
const probe = dev.map((t) => t.query);

function summaryOf(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

beforeAll(async () => {
  assertBuilt();
  const corpus = [...triples(300, 1).flatMap((t) => [t.query, t.positive, t.negative])];
  await runPython(BUILD, { dir: join(root, "splade"), arch: "bert", seed: 3, corpus, vocab_size: 200, pooling_strategy: "max", bias_shift: -1 });
  await makeSentenceTransformerFolder(join(root, "bi"), { pooling: { modes: ["mean"] } });
  await writeFile(join(root, "train.jsonl"), train.map((r) => JSON.stringify({ anchor: r.query, positive: r.positive })).join("\n"));
  await writeFile(join(root, "ir.jsonl"), dev.map((r) => JSON.stringify(r)).join("\n"));
  await writeFile(join(root, "sts.csv"), `sentence1,sentence2,score\n${sts.map((r) => `${r.sentence1},${r.sentence2},${r.score}`).join("\n")}\n`);
}, 300_000);

const spladeConfig = (over: Record<string, unknown> = {}) => ({
  modelType: "sparse-encoder",
  model: { path: "splade", maxSeqLength: 24 },
  train: { path: "train.jsonl" },
  loss: { name: "SpladeLoss", loss: { name: "SparseMultipleNegativesRankingLoss", scale: 10 }, documentRegularizerWeight: 0.003, queryRegularizerWeight: 0.005 },
  evaluator: { type: "SparseInformationRetrievalEvaluator", path: "ir.jsonl", name: "dev" },
  fit: { epochs: 2, batchSize: 6, lr: 3e-3, evaluationSteps: 2, saveBestModel: false, outputPath: "out", seed: 5 },
  ...over,
});

describe("sbert-node train with modelType: sparse-encoder", () => {
  test("the config's losses are the classes of sparseEncoder.losses that train (FlopsLoss is SpladeLoss's regularizer)", () => {
    const classes = Object.entries(sparseLosses)
      .filter(([k, v]) => typeof v === "function" && v.prototype instanceof Loss && k !== "FlopsLoss")
      .map(([k]) => k);
    expect([...SPARSE_ENCODER_LOSS_NAMES].sort()).toEqual(classes.sort());
  });

  test("SpladeLoss over SparseMultipleNegativesRankingLoss from a YAML config with the IR evaluator: trains, evaluates, saves a SparseEncoder", async () => {
    const yaml = `
modelType: sparse-encoder
model: {path: splade, maxSeqLength: 24}
train: {path: train.jsonl}
loss:
  name: SpladeLoss
  loss: {name: SparseMultipleNegativesRankingLoss, scale: 10}
  documentRegularizerWeight: 0.003
  queryRegularizerWeight: 0.005
evaluator: {type: SparseInformationRetrievalEvaluator, path: ir.jsonl, name: dev}
fit: {epochs: 2, batchSize: 6, lr: 0.003, evaluationSteps: 2, saveBestModel: false, outputPath: out, seed: 5}
`;
    await writeFile(join(root, "splade.yaml"), yaml);
    const r = await runCli(["train", join(root, "splade.yaml"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/train: splade \(sparse encoder, vocabulary \d+, max length 24, cpu\); 24 examples, SpladeLoss; 2 epoch\(s\) × 4 steps of 6/);
    expect(r.stderr.match(/^eval: epoch 1 step [24]: dev_dot_accuracy@1=/gm)).toHaveLength(2);
    const summary = summaryOf(r.out);
    expect(summary["globalStep"]).toBe(8);
    expect(summary["primaryMetric"]).toBe("dev_dot_ndcg@10");
    const metrics = summary["metrics"] as Record<string, number>;
    expect(metrics["dev_query_active_dims"]).toBeGreaterThan(0);
    expect(metrics["dev_avg_flops"]).toBeGreaterThan(0);
    const csv = await readFile(join(root, "out", "eval", "Information-Retrieval_evaluation_dev_results.csv"), "utf8");
    expect(csv.split("\r\n")[0]).toMatch(/,query_active_dims,query_sparsity_ratio,corpus_active_dims,corpus_sparsity_ratio,avg_flops$/);
    // Evaluations at steps 2 and 4 and at the end of each epoch.
    expect(csv.split("\r\n").filter(Boolean)).toHaveLength(7);

    const base = await SparseEncoder.load(join(root, "splade"));
    const trained = await SparseEncoder.load(join(root, "out"));
    try {
      const before = await base.encode(probe, { convertToSparseTensor: false });
      const after = await trained.encode(probe, { convertToSparseTensor: false });
      expect(after[0]!.length).toBe(trained.getSentenceEmbeddingDimension());
      expect(maxAbsDiff(after.flatMap((e) => [...e]), before.flatMap((e) => [...e]))).toBeGreaterThan(1e-3);
      // The last metrics the CLI reported are the saved model's.
      const lib = await new SparseEvaluatorsForDev(dev).ir.evaluate(trained);
      for (const [k, v] of Object.entries(lib)) expect(metrics[k], k).toBeCloseTo(v, 5);

      // The same run through SparseEncoderTrainer: 8 steps, warmup ceil(0.1 × 8), linear schedule.
      const api = await SparseEncoder.load(join(root, "splade"));
      try {
        api.maxSeqLength = 24;
        const loss = new sparseLosses.SpladeLoss(api, new sparseLosses.SparseMultipleNegativesRankingLoss(api, { scale: 10 }), {
          documentRegularizerWeight: 0.003,
          queryRegularizerWeight: 0.005,
        });
        const args = { outputDir: join(root, "api"), saveStrategy: "no" as const, disableTqdm: true, numTrainEpochs: 2, perDeviceTrainBatchSize: 6, learningRate: 3e-3 };
        const trainer = new SparseEncoderTrainer({
          model: api,
          args: { ...args, weightDecay: 0.01, warmupSteps: 1, lrSchedulerType: "linear", seed: 5 },
          trainDataset: Dataset.fromColumns({ anchor: train.map((r) => r.query), positive: train.map((r) => r.positive) }),
          loss,
        });
        await trainer.train();
        const viaApi = await api.encode(probe, { convertToSparseTensor: false });
        expect(maxAbsDiff(after.flatMap((e) => [...e]), viaApi.flatMap((e) => [...e]))).toBeLessThan(1e-4);
      } finally {
        api.dispose();
      }
    } finally {
      base.dispose();
      trained.dispose();
    }
  }, 300_000);

  test("--dry-run: the default loss (SpladeLoss over SparseMultipleNegativesRankingLoss) and SparseMSELoss alone", async () => {
    const a = join(root, "dry-default.json");
    await writeFile(a, JSON.stringify(spladeConfig({ loss: undefined, evaluator: undefined, fit: { outputPath: "never", batchSize: 8 } })));
    const r = await runCli(["train", a, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, examples: 24, loss: "SpladeLoss", stepsPerEpoch: 3, evaluator: null });
    expect(existsSync(join(root, "never"))).toBe(false);
  });

  test.each([
    ["an inner loss alone", { loss: "SparseCoSENTLoss" }, /config: loss\.name: SparseCoSENTLoss does not train alone: wrap it, as \{name: SpladeLoss, loss: \{name: SparseCoSENTLoss\}/],
    ["SpladeLoss without its document weight", { loss: { name: "SpladeLoss", loss: "SparseMultipleNegativesRankingLoss" } }, /config: loss\.documentRegularizerWeight: is required/],
    ["SpladeLoss without an inner loss", { loss: { name: "SpladeLoss", documentRegularizerWeight: 1e-3 } }, /config: loss\.loss: is required/],
    ["SpladeLoss over a bi-encoder loss", { loss: { name: "SpladeLoss", loss: "CoSENTLoss", documentRegularizerWeight: 1e-3 } }, /config: loss\.loss\.name: CoSENTLoss is a loss of sentence-transformer models, but modelType is sparse-encoder/],
    ["a bad SpladeLoss option", { loss: { name: "SpladeLoss", loss: "SparseMultipleNegativesRankingLoss", documentRegularizerWeight: -1 } }, /config: loss: SpladeLoss: documentRegularizerWeight/],
    ["an unknown SpladeLoss option", { loss: { name: "SpladeLoss", loss: "SparseMultipleNegativesRankingLoss", documentRegularizerWeight: 1e-3, lambdaD: 1 } }, /config: loss\.lambdaD: unknown field/],
    ["a bi-encoder evaluator", { evaluator: { type: "EmbeddingSimilarityEvaluator", path: "sts.csv" } }, /config: evaluator\.type: EmbeddingSimilarityEvaluator evaluates sentence-transformer models, but modelType is sparse-encoder; its evaluators are: SparseEmbeddingSimilarityEvaluator, SparseInformationRetrievalEvaluator, SparseBinaryClassificationEvaluator, SparseTripletEvaluator/],
    ["a bad maxActiveDims", { evaluator: { type: "SparseEmbeddingSimilarityEvaluator", path: "sts.csv", maxActiveDims: 0 } }, /config: evaluator\.maxActiveDims/],
    ["a pooling field", { pooling: "mean" }, /config: pooling: is a field of sentence-transformer models, but modelType is sparse-encoder; its model fields are: maxSeqLength, device/],
    ["a bi-encoder folder", { model: "bi" }, /config: model: bi does not load as a SparseEncoder/],
    ["shuffle off", { fit: { outputPath: "x", shuffle: false } }, /config: fit\.shuffle: false is not available for sparse encoders/],
    ["a missing text column", { train: { path: "train.jsonl", columns: { texts: ["anchor", "query"] } } }, /config: train\.columns\.texts\[1\]: no column 'query'/],
  ])("a config with %s exits 2 naming the field", async (_what, over, message) => {
    const config = join(root, `bad-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(config, JSON.stringify(spladeConfig(over as Record<string, unknown>)));
    const r = await runCli(["train", config, "--dry-run"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

/** The library's evaluators on the dev data, as the CLI builds them from ir.jsonl and sts.csv. */
class SparseEvaluatorsForDev {
  readonly ir: SparseInformationRetrievalEvaluator;
  constructor(rows: { query: string; positive: string; negative: string }[], options: { maxActiveDims?: number; name?: string } = { name: "dev" }) {
    const queries = new Map<string, string>();
    const docs = new Map<string, string>();
    const id = (m: Map<string, string>, p: string, t: string) => (m.has(t) ? m.get(t)! : (m.set(t, `${p}${m.size}`), m.get(t)!));
    const relevant: Record<string, string[]> = {};
    rows.forEach((r) => (relevant[id(queries, "q", r.query)] ??= []).push(id(docs, "d", r.positive)));
    rows.forEach((r) => id(docs, "d", r.negative));
    const flip = (m: Map<string, string>) => Object.fromEntries([...m].map(([t, i]) => [i, t]));
    this.ir = new SparseInformationRetrievalEvaluator(flip(queries), flip(docs), relevant, { ...options, writeCsv: false });
  }
}

describe("sbert-node evaluate with a SparseEncoder", () => {
  let model: SparseEncoder;
  beforeAll(async () => {
    model = await SparseEncoder.load(join(root, "splade"));
  });
  afterAll(() => model?.dispose());

  test("the default evaluator (SparseEmbeddingSimilarityEvaluator) prints the library's metrics with the sparsity statistics", async () => {
    const r = await runCli(["evaluate", join(root, "splade"), "--dataset", join(root, "sts.csv"), "--name", "sts"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.out) as { evaluator: string; rows: number; primaryMetric: string; metrics: Record<string, number> };
    expect(out.evaluator).toBe("SparseEmbeddingSimilarityEvaluator");
    expect(out.rows).toBe(32);
    const lib = new SparseEmbeddingSimilarityEvaluator(
      sts.map((s) => s.sentence1),
      sts.map((s) => s.sentence2),
      sts.map((s) => s.score),
      { name: "sts", writeCsv: false },
    );
    const expected = await lib.evaluate(model);
    expect(out.primaryMetric).toBe("sts_spearman_dot");
    expect(Object.keys(out.metrics)).toEqual(["sts_pearson_dot", "sts_spearman_dot", "sts_active_dims", "sts_sparsity_ratio"]);
    for (const [k, v] of Object.entries(expected)) expect(out.metrics[k], k).toBeCloseTo(v, 6);

    const cut = await runCli(["evaluate", join(root, "splade"), "--dataset", join(root, "sts.csv"), "--max-active-dims", "3", "--output-path", join(root, "eval-out")]);
    expect(cut.code, cut.stderr).toBe(0);
    expect((JSON.parse(cut.out) as { metrics: Record<string, number> }).metrics["active_dims"]).toBeLessThanOrEqual(3);
    const csv = await readFile(join(root, "eval-out", "similarity_evaluation_results.csv"), "utf8");
    expect(csv.split("\r\n")[0]).toBe("epoch,steps,active_dims,sparsity_ratio,dot_pearson,dot_spearman,active_dims,sparsity_ratio");
  });

  test("a config file (SparseInformationRetrievalEvaluator with maxActiveDims) gives the library's metrics", async () => {
    await writeFile(join(root, "ir-eval.yaml"), "type: SparseInformationRetrievalEvaluator\npath: ir.jsonl\nmaxActiveDims: 10\n");
    const r = await runCli(["evaluate", join(root, "splade"), join(root, "ir-eval.yaml")], { cwd: "/" });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.out) as { primaryMetric: string; metrics: Record<string, number> };
    const expected = await new SparseEvaluatorsForDev(dev, { maxActiveDims: 10 }).ir.evaluate(model);
    expect(out.primaryMetric).toBe("dot_ndcg@10");
    expect(Object.keys(out.metrics)).toEqual(Object.keys(expected));
    for (const [k, v] of Object.entries(expected)) expect(out.metrics[k], k).toBeCloseTo(v, 6);
    expect(out.metrics["query_active_dims"]).toBeLessThanOrEqual(10);
  });

  test("an evaluator for another kind of model, or a flag of another evaluator, exits 2", async () => {
    const a = await runCli(["evaluate", join(root, "splade"), "--type", "EmbeddingSimilarityEvaluator", "--dataset", join(root, "sts.csv")]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/EmbeddingSimilarityEvaluator evaluates SentenceTransformers \(bi-encoders\), but .* is a SparseEncoder/);
    const b = await runCli(["evaluate", join(root, "bi"), "--type", "SparseEmbeddingSimilarityEvaluator", "--dataset", join(root, "sts.csv")]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/SparseEmbeddingSimilarityEvaluator evaluates SparseEncoders \(sparse models such as SPLADE\), but .* is a SentenceTransformer/);
    const c = await runCli(["evaluate", join(root, "splade"), "--dataset", join(root, "sts.csv"), "--at-k", "3"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--at-k does not apply to SparseEmbeddingSimilarityEvaluator/);
  });
});
