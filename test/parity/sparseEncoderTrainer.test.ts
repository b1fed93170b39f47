// SparseEncoderTrainer and SpladeLoss against sentence-transformers' own (py/sparse_trainer_ref.py):
// - SpladeLoss's parts (base_loss, document_regularizer_loss, query_regularizer_loss) and the gradient of their
//   sum on given sparse-like embeddings (thresholds and document-only included), computed natively
//   (native()._testing.lossAndGrad) and by sentence-transformers' loss classes: within 1e-5 relative, gradients
//   within 1e-4 of their largest;
// - training: the same random-init BERT SPLADE model (dropout 0, so both runs are deterministic), the same rows,
//   arguments and loss, batches from the same seeded sampler. After training every saved weight agrees within
//   1e-4 (the masked-LM decoder tied to the word embeddings, as transformers ties them) and each logged part of
//   the loss within 1e-4 (sentence-transformers rounds them to 4 digits).
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { Dataset, SparseEncoder, SparseEncoderTrainer, sparseEncoder } from "../../lib/index.js";
import type { Loss } from "../../lib/losses/Loss.js";
import { native } from "../../lib/native.js";
import type { NativeTensorData } from "../../types/native.js";
import { gaussian } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";
import { NEGATIVES, POSITIVES, QUERIES, compareTrained, safetensorsWeights } from "../helpers/trainerParity.js";

const BUILD = fileURLToPath(new URL("../fixtures/sparse_encoder_model.py", import.meta.url));
const REF = fileURLToPath(new URL("py/sparse_trainer_ref.py", import.meta.url));
const WEIGHT_TOL = 1e-4;
const L = sparseEncoder.losses;

/** A teacher's scores of each row's positive and two negatives. */
const TEACHER_SCORES = QUERIES.map((_, i) => [6 + (i % 3), 1 + (i % 4) / 2, (i % 5) / 2 - 1]);

interface Ref {
  log_history: Record<string, number>[];
  weights: Record<string, number[]>;
}

interface PyLoss {
  inner: string;
  options?: Record<string, unknown>;
  splade: Record<string, unknown>;
}

let dir: string;
let folder: string;

beforeAll(async () => {
  dir = await tempDir("sbert-sparse-trainer-");
  folder = join(dir, "splade");
  await runPython(BUILD, {
    dir: folder,
    arch: "bert",
    seed: 13,
    corpus: [...QUERIES, ...POSITIVES],
    vocab_size: 300,
    init_std: 0.05,
    config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
  });
}, 240_000);

async function savedWeights(model: SparseEncoder, where: string): Promise<Map<string, Float32Array>> {
  await model.save(where);
  return safetensorsWeights(join(where, "model.safetensors"));
}

// ---------------------------------------------------------------- SpladeLoss's parts on given embeddings

/** relu of a gaussian, shifted so that about `active` of the values are positive: sparse-like rows. */
function sparseRows(seed: number, key: string, rows: number, cols: number, shift: number): NativeTensorData {
  const g = gaussian(seed, key, rows * cols);
  // A different shift per row gives rows with different numbers of active values (for the thresholds).
  const data = Float32Array.from(g, (v, i) => Math.max(0, v - shift - 0.4 * Math.floor(i / cols)));
  return { data, shape: [rows, cols] };
}

const toMatrix = (t: NativeTensorData) => Array.from({ length: t.shape[0]! }, (_, i) => Array.from(t.data.subarray(i * t.shape[1]!, (i + 1) * t.shape[1]!)));

interface TermsCase {
  name: string;
  columns: number;
  labels?: number[];
  loss: (m: SparseEncoder) => Loss;
  py: PyLoss;
}

const TERMS_CASES: TermsCase[] = [
  {
    name: "SparseMultipleNegativesRankingLoss with a hard negative, both regularizers",
    columns: 3,
    loss: (m) => new L.SpladeLoss(m, new L.SparseMultipleNegativesRankingLoss(m), { documentRegularizerWeight: 0.03, queryRegularizerWeight: 0.05 }),
    py: { inner: "SparseMultipleNegativesRankingLoss", splade: { document_regularizer_weight: 0.03, query_regularizer_weight: 0.05 } },
  },
  {
    name: "thresholds on both regularizers (rows with few active values left out)",
    columns: 2,
    loss: (m) =>
      new L.SpladeLoss(m, new L.SparseMultipleNegativesRankingLoss(m, { scale: 2 }), {
        documentRegularizerWeight: 0.1,
        queryRegularizerWeight: 0.2,
        documentRegularizerThreshold: 12,
        queryRegularizerThreshold: 9,
      }),
    py: {
      inner: "SparseMultipleNegativesRankingLoss",
      options: { scale: 2 },
      splade: { document_regularizer_weight: 0.1, query_regularizer_weight: 0.2, document_regularizer_threshold: 12, query_regularizer_threshold: 9 },
    },
  },
  {
    name: "SparseCoSENTLoss with every column a document",
    columns: 2,
    labels: [0.1, 0.9, 0.4, 0.7, 0.2, 0.5],
    loss: (m) => new L.SpladeLoss(m, new L.SparseCoSENTLoss(m), { documentRegularizerWeight: 0.07, useDocumentRegularizerOnly: true }),
    py: { inner: "SparseCoSENTLoss", splade: { document_regularizer_weight: 0.07, use_document_regularizer_only: true } },
  },
  {
    name: "SparseMarginless document term only (no query weight)",
    columns: 2,
    loss: (m) => new L.SpladeLoss(m, new L.SparseMultipleNegativesRankingLoss(m), { documentRegularizerWeight: 0.04 }),
    py: { inner: "SparseMultipleNegativesRankingLoss", splade: { document_regularizer_weight: 0.04 } },
  },
];

describe("SpladeLoss's parts against sentence-transformers' SpladeLoss and FlopsLoss", () => {
  test("each part and the gradient of their sum, per case", async () => {
    const model = await SparseEncoder.load(folder);
    const inputs = TERMS_CASES.map((c, i) => ({
      embeddings: Array.from({ length: c.columns }, (_, k) => sparseRows(40 + i, `c${k}`, 6, 24, 0.2 + 0.1 * k)),
      labels: c.labels === undefined ? null : { data: Float32Array.from(c.labels), shape: [c.labels.length] },
    }));
    const ref = await runPython<{ terms: Record<string, number>; loss: number; grads: number[][][] }[]>(REF, {
      folder,
      terms: TERMS_CASES.map((c, i) => ({ embeddings: inputs[i]!.embeddings.map(toMatrix), labels: c.labels ?? null, loss: c.py })),
    });
    TERMS_CASES.forEach((c, i) => {
      const ours = native()._testing.lossAndGrad(c.loss(model).nativeSpec(), inputs[i]!.embeddings, inputs[i]!.labels, null);
      const r = ref[i]!;
      expect(Object.keys(ours.terms ?? {}).sort(), c.name).toEqual(Object.keys(r.terms).sort());
      for (const [k, v] of Object.entries(r.terms)) expect(Math.abs(ours.terms![k]! - v), `${c.name}: ${k}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
      expect(Math.abs(ours.loss - r.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(r.loss)));
      r.grads.forEach((g, col) => {
        const flat = g.flat();
        const scale = Math.max(...flat.map(Math.abs));
        const mine = ours.grads[col]!.data;
        const worst = Math.max(...flat.map((v, j) => Math.abs(v - mine[j]!)));
        expect(worst, `${c.name}: column ${col} gradient`).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-6));
      });
    });
    // The thresholds case leaves some rows out: its regularizers differ from the same loss without thresholds.
    const plain = native()._testing.lossAndGrad(
      new L.SpladeLoss(model, new L.SparseMultipleNegativesRankingLoss(model, { scale: 2 }), { documentRegularizerWeight: 0.1, queryRegularizerWeight: 0.2 }).nativeSpec(),
      inputs[1]!.embeddings,
      null,
      null,
    );
    expect(Math.abs(plain.terms!["document_regularizer_loss"]! - ref[1]!.terms["document_regularizer_loss"]!)).toBeGreaterThan(1e-4);
    model.dispose();
  }, 240_000);
});

// ---------------------------------------------------------------- training

interface Case {
  name: string;
  columns: Record<string, unknown[]>;
  /** undefined: the trainer's default loss */
  loss?: (m: SparseEncoder) => Loss;
  pyLoss?: PyLoss;
  callback?: { schedulerType: "linear" | "quadratic"; warmupRatio: number };
  args: Record<string, unknown>;
}

// AdamW eps 1e-5, not 1e-8: the attention key biases have an exactly zero gradient, whose float32 noise AdamW
// would otherwise turn into moves of ~lr (test/parity/training.test.ts says more).
const BASE_ARGS = { perDeviceTrainBatchSize: 4, learningRate: 1e-3, seed: 7, loggingSteps: 1, adamEpsilon: 1e-5 };
const PY_ARGS = { per_device_train_batch_size: 4, learning_rate: 1e-3, seed: 7, logging_steps: 1, adam_epsilon: 1e-5 };

const CASES: Case[] = [
  {
    name: "SpladeLoss over SparseMultipleNegativesRankingLoss with a hard negative: gradient accumulation 2, warmup ratio, linear schedule, weight decay; the default weight schedule",
    columns: { query: QUERIES, positive: POSITIVES, negative: NEGATIVES },
    loss: (m) => new L.SpladeLoss(m, new L.SparseMultipleNegativesRankingLoss(m), { documentRegularizerWeight: 3e-3, queryRegularizerWeight: 5e-3 }),
    pyLoss: { inner: "SparseMultipleNegativesRankingLoss", splade: { document_regularizer_weight: 3e-3, query_regularizer_weight: 5e-3 } },
    args: { numTrainEpochs: 3, gradientAccumulationSteps: 2, warmupRatio: 0.25, weightDecay: 0.01, lrSchedulerType: "linear" },
  },
  {
    name: "SpladeLoss over SparseCoSENTLoss, documents only, a linear weight schedule over half the run",
    columns: { a: QUERIES, b: NEGATIVES, score: QUERIES.map((_, i) => (i % 4) / 3) },
    loss: (m) => new L.SpladeLoss(m, new L.SparseCoSENTLoss(m), { documentRegularizerWeight: 1e-2, useDocumentRegularizerOnly: true }),
    pyLoss: { inner: "SparseCoSENTLoss", splade: { document_regularizer_weight: 1e-2, use_document_regularizer_only: true } },
    callback: { schedulerType: "linear", warmupRatio: 0.5 },
    args: { maxSteps: 6 },
  },
  {
    name: "SpladeLoss over SparseDistillKLDivLoss (temperature 2): two negatives, a teacher's three scores per row",
    columns: { query: QUERIES, positive: POSITIVES, negative_1: NEGATIVES, negative_2: [...NEGATIVES.slice(3), ...NEGATIVES.slice(0, 3)], label: TEACHER_SCORES },
    loss: (m) => new L.SpladeLoss(m, new L.SparseDistillKLDivLoss(m), { documentRegularizerWeight: 3e-3, queryRegularizerWeight: 5e-3 }),
    pyLoss: { inner: "SparseDistillKLDivLoss", splade: { document_regularizer_weight: 3e-3, query_regularizer_weight: 5e-3 } },
    args: { maxSteps: 4 },
  },
  {
    name: "SpladeLoss over SparseMarginMSELoss: two negatives, the teacher's margins per row",
    columns: { query: QUERIES, positive: POSITIVES, negative_1: NEGATIVES, negative_2: [...NEGATIVES.slice(3), ...NEGATIVES.slice(0, 3)], label: TEACHER_SCORES.map(([p, a, b]) => [p! - a!, p! - b!]) },
    loss: (m) => new L.SpladeLoss(m, new L.SparseMarginMSELoss(m), { documentRegularizerWeight: 3e-3 }),
    pyLoss: { inner: "SparseMarginMSELoss", splade: { document_regularizer_weight: 3e-3 } },
    args: { maxSteps: 4 },
  },
  {
    name: "the default loss (SpladeLoss over SparseMultipleNegativesRankingLoss, weights 3e-5 and 5e-5)",
    columns: { query: QUERIES, positive: POSITIVES },
    args: { maxSteps: 3 },
  },
];

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const PARTS = ["loss", "base_loss", "document_regularizer_loss", "query_regularizer_loss"];

describe("SparseEncoderTrainer against sentence-transformers' SparseEncoderTrainer", () => {
  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const pyArgs = { ...PY_ARGS, ...Object.fromEntries(Object.entries(c.args).map(([k, v]) => [k === "numTrainEpochs" ? "num_train_epochs" : snake(k), v])) };
      const pyCallback = c.callback && { scheduler_type: c.callback.schedulerType, warmup_ratio: c.callback.warmupRatio };
      const refP = runPython<Ref>(REF, { folder, dataset: c.columns, loss: c.pyLoss ?? null, args: pyArgs, ...(pyCallback && { callback: pyCallback }) });
      const model = await SparseEncoder.load(folder);
      const before = await savedWeights(model, join(dir, `before${i}`));
      const loss = c.loss?.(model);
      const weightLogs: Record<string, number>[] = [];
      const trainer = new SparseEncoderTrainer({
        model,
        args: { outputDir: join(dir, `run${i}`), ...BASE_ARGS, ...c.args, saveStrategy: "no", disableTqdm: true },
        trainDataset: Dataset.fromColumns(c.columns),
        ...(loss && { loss }),
        callbacks: [
          ...(c.callback && loss instanceof L.SpladeLoss ? [new sparseEncoder.SpladeRegularizerWeightSchedulerCallback(loss, c.callback)] : []),
          { onLog: ({ logs }) => void weightLogs.push({ ...logs }) },
        ],
      });
      await trainer.train();
      const ours = await savedWeights(model, join(dir, `after${i}`));
      const ref = await refP;
      const { worst, moved, missing } = compareTrained(ours, ref.weights, before);
      expect(missing, "keys the reference lacks").toEqual([]);
      expect(ours.size).toBe(Object.keys(ref.weights).length);
      expect(moved).toBeGreaterThan(10 * WEIGHT_TOL);
      expect(worst, `max weight difference ${worst.toExponential(2)}, max change ${moved.toExponential(2)}`).toBeLessThanOrEqual(WEIGHT_TOL);
      // Every logged part of the loss, step by step.
      const steps = (h: Record<string, number>[]) => h.filter((e) => "loss" in e);
      const pySteps = steps(ref.log_history);
      const ourSteps = steps(trainer.state.log_history as Record<string, number>[]);
      expect(ourSteps.length).toBe(pySteps.length);
      pySteps.forEach((p, k) => {
        const parts = PARTS.filter((name) => name in p);
        expect(parts.length).toBeGreaterThan(2);
        for (const name of parts) expect(Math.abs(ourSteps[k]![name]! - p[name]!), `step ${k + 1}: ${name}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(p[name]!)));
        expect(Object.keys(ourSteps[k]!).filter((n) => PARTS.includes(n)).sort()).toEqual(parts.sort());
      });
      // The callback's weights as each log saw them: 0 at the first step, the full value after the warmup.
      const trained = weightLogs.filter((l) => "loss" in l);
      expect(trained[0]!["document_regularizer_weight"]).toBe(0);
      const full = (loss as InstanceType<typeof L.SpladeLoss> | undefined)?.documentRegularizerWeight ?? 3e-5;
      expect(trained[trained.length - 1]!["document_regularizer_weight"]).toBeCloseTo(full, 12);
      model.dispose();
    }, 300_000);
  });
});

describe("SparseEncoderTrainer's checks", () => {
  test("a sparse loss alone, a loss of another model and a model that is not a SparseEncoder are refused", async () => {
    const model = await SparseEncoder.load(folder);
    const other = await SparseEncoder.load(folder);
    const data = Dataset.fromColumns({ query: QUERIES.slice(0, 4), positive: POSITIVES.slice(0, 4) });
    const args = { outputDir: join(dir, "checks"), disableTqdm: true };
    expect(() => new SparseEncoderTrainer({ model, args, trainDataset: data, loss: new L.SparseMultipleNegativesRankingLoss(model) })).toThrow(/should not be used alone: wrap it in a SpladeLoss/);
    expect(() => new L.SpladeLoss(model, new L.SparseMultipleNegativesRankingLoss(other), { documentRegularizerWeight: 1 })).toThrow(/built for another model/);
    expect(() => new L.SpladeLoss(model, new L.SparseMultipleNegativesRankingLoss(model), { documentRegularizerWeight: -1 })).toThrow(/documentRegularizerWeight must be a number >= 0/);
    const splade = new L.SpladeLoss(model, new L.SparseMultipleNegativesRankingLoss(model), { documentRegularizerWeight: 1 });
    expect(() => new sparseEncoder.SpladeRegularizerWeightSchedulerCallback(splade, { warmupRatio: 0 })).toThrow(/warmupRatio must be in \(0, 1\]/);
    expect(() => new sparseEncoder.SpladeRegularizerWeightSchedulerCallback(splade, { schedulerType: "cubic" as "linear" })).toThrow(/schedulerType/);
    expect(() => new SparseEncoderTrainer({ model: {} as SparseEncoder, args, trainDataset: data })).toThrow(/model must be a SparseEncoder/);
    // One column is not a query and a document.
    expect(() => new SparseEncoderTrainer({ model, args, trainDataset: Dataset.fromColumns({ text: QUERIES }), loss: splade })).toThrow(/takes 2 or more/);
    model.dispose();
    other.dispose();
  }, 120_000);
});
