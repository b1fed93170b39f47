// CrossEncoderTrainer against sentence-transformers' CrossEncoderTrainer (py/ce_trainer_ref.py): the same random-init
// BERT cross-encoder (dropout 0, so both runs are deterministic), the same rows, arguments and loss; both take their
// batches from the same seeded sampler. After training, every weight of the saved model (Hugging Face keys) agrees
// within 1e-4 and the logged losses within 1e-4 relative. Also: CrossEncoder.fit against sentence-transformers'
// CrossEncoder.fit, resume, and the best model from checkpoints.
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { CrossEncoderCorrelationEvaluator } from "../../lib/crossEncoder/evaluation/index.js";
import { CrossEncoder, CrossEncoderTrainer, DataLoader, Dataset, InputExample, crossEncoder } from "../../lib/index.js";
import type { CrossEncoderLoss } from "../../lib/crossEncoder/losses/index.js";
import { runPython } from "../helpers/python.js";
import { NEGATIVES, POSITIVES, QUERIES, compareTrained, safetensorsWeights } from "../helpers/trainerParity.js";
import { tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/cross_encoder_model.py", import.meta.url));
const REF = fileURLToPath(new URL("py/ce_trainer_ref.py", import.meta.url));
const WEIGHT_TOL = 1e-4;
const L = crossEncoder.losses;

const DOC_LISTS = QUERIES.map((_, i) => [POSITIVES[i]!, NEGATIVES[i]!, POSITIVES[(i + 3) % 12]!].slice(0, 2 + (i % 2)));
const GRADES = QUERIES.map((_, i) => [2, 0, 1].slice(0, 2 + (i % 2)));

interface Ref {
  log_history: Record<string, number>[];
  weights: Record<string, number[]>;
}

interface FitRef extends Ref {
  evaluations: [string | null, number, number][];
  calls: [number, number, number][];
  paths: string[];
}

let dir: string;
const folders: Record<number, string> = {};

beforeAll(async () => {
  dir = await tempDir("sbert-ce-trainer-");
  for (const n of [1, 3]) {
    folders[n] = join(dir, `ce${n}`);
    await runPython(BUILD, {
      dir: folders[n],
      arch: "bert",
      seed: 21,
      corpus: [...QUERIES, ...POSITIVES],
      vocab_size: 300,
      num_labels: n,
      layout: "hf",
      config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
    });
  }
}, 240_000);

async function savedWeights(model: CrossEncoder, where: string): Promise<Map<string, Float32Array>> {
  await model.save(where, { createModelCard: false });
  return safetensorsWeights(join(where, "model.safetensors"));
}

interface Case {
  name: string;
  numLabels: 1 | 3;
  columns: Record<string, unknown[]>;
  loss: (m: CrossEncoder) => CrossEncoderLoss;
  pyLoss: { loss: string; options?: Record<string, unknown> };
  args: Record<string, unknown>;
}

// AdamW eps 1e-5, not 1e-8: the attention key biases have an exactly zero gradient (softmax ignores a shift of a
// row's scores), and with eps 1e-8 AdamW turns their float32 noise into moves of ~lr on either side
// (test/parity/training.test.ts says more).
const BASE_ARGS = { perDeviceTrainBatchSize: 4, learningRate: 1e-3, seed: 7, loggingSteps: 1, adamEpsilon: 1e-5 };
const PY_ARGS = { per_device_train_batch_size: 4, learning_rate: 1e-3, seed: 7, logging_steps: 1, adam_epsilon: 1e-5 };

const CASES: Case[] = [
  {
    name: "BinaryCrossEntropyLoss, gradient accumulation 2, warmup ratio, linear schedule, weight decay",
    numLabels: 1,
    columns: { query: QUERIES, passage: POSITIVES, label: QUERIES.map((_, i) => (i % 3 === 0 ? 0 : 1)) },
    loss: (m) => new L.BinaryCrossEntropyLoss(m),
    pyLoss: { loss: "BinaryCrossEntropyLoss" },
    args: { numTrainEpochs: 2, gradientAccumulationSteps: 2, warmupRatio: 0.25, weightDecay: 0.01, lrSchedulerType: "linear" },
  },
  {
    name: "CrossEntropyLoss, 3 labels",
    numLabels: 3,
    columns: { premise: QUERIES, hypothesis: NEGATIVES, label: QUERIES.map((_, i) => i % 3) },
    loss: (m) => new L.CrossEntropyLoss(m),
    pyLoss: { loss: "CrossEntropyLoss" },
    args: { maxSteps: 3 },
  },
  {
    name: "MultipleNegativesRankingLoss with a hard negative, every in-batch negative",
    numLabels: 1,
    columns: { query: QUERIES, positive: POSITIVES, negative: NEGATIVES },
    loss: (m) => new L.MultipleNegativesRankingLoss(m, { numNegatives: null }),
    pyLoss: { loss: "MultipleNegativesRankingLoss", options: { num_negatives: null } },
    args: { maxSteps: 3 },
  },
  {
    name: "CachedMultipleNegativesRankingLoss (gradient cache in mini-batches of 3)",
    numLabels: 1,
    columns: { query: QUERIES, positive: POSITIVES },
    loss: (m) => new L.CachedMultipleNegativesRankingLoss(m, { numNegatives: null, miniBatchSize: 3 }),
    pyLoss: { loss: "CachedMultipleNegativesRankingLoss", options: { num_negatives: null, mini_batch_size: 3 } },
    args: { maxSteps: 3 },
  },
  {
    name: "MarginMSELoss",
    numLabels: 1,
    columns: { query: QUERIES, positive: POSITIVES, negative: NEGATIVES, score: QUERIES.map((_, i) => 1 + (i % 4) * 0.5) },
    loss: (m) => new L.MarginMSELoss(m),
    pyLoss: { loss: "MarginMSELoss" },
    args: { maxSteps: 3 },
  },
  {
    name: "ListNetLoss over lists of 2 and 3 documents",
    numLabels: 1,
    columns: { query: QUERIES, docs: DOC_LISTS, labels: GRADES },
    loss: (m) => new L.ListNetLoss(m),
    pyLoss: { loss: "ListNetLoss" },
    args: { maxSteps: 3 },
  },
  {
    name: "LambdaLoss",
    numLabels: 1,
    columns: { query: QUERIES, docs: DOC_LISTS, labels: GRADES },
    loss: (m) => new L.LambdaLoss(m),
    pyLoss: { loss: "LambdaLoss" },
    args: { maxSteps: 3 },
  },
];

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

describe("CrossEncoderTrainer against sentence-transformers' CrossEncoderTrainer", () => {
  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const pyArgs = { ...PY_ARGS, ...Object.fromEntries(Object.entries(c.args).map(([k, v]) => [k === "numTrainEpochs" ? "num_train_epochs" : snake(k), v])) };
      const refP = runPython<Ref>(REF, { folder: folders[c.numLabels], dataset: c.columns, loss: c.pyLoss, args: pyArgs });
      const model = await CrossEncoder.load(folders[c.numLabels]!);
      const before = await savedWeights(model, join(dir, `before${i}`));
      const trainer = new CrossEncoderTrainer({
        model,
        args: { outputDir: join(dir, `run${i}`), ...BASE_ARGS, ...c.args, saveStrategy: "no", disableTqdm: true },
        trainDataset: Dataset.fromColumns(c.columns),
        loss: c.loss(model),
      });
      await trainer.train();
      const ours = await savedWeights(model, join(dir, `after${i}`));
      const ref = await refP;
      const { worst, moved, missing } = compareTrained(ours, ref.weights, before);
      expect(missing, "keys the reference lacks").toEqual([]);
      expect(ours.size).toBe(Object.keys(ref.weights).length);
      // Training moved the weights well beyond the tolerance, and both runs moved them alike.
      expect(moved).toBeGreaterThan(10 * WEIGHT_TOL);
      expect(worst, `max weight difference ${worst.toExponential(2)}, max change ${moved.toExponential(2)}`).toBeLessThanOrEqual(WEIGHT_TOL);
      const losses = (h: Record<string, number>[]) => h.filter((e) => "loss" in e).map((e) => e["loss"]!);
      const pyLosses = losses(ref.log_history);
      const ourLosses = losses(trainer.state.log_history as Record<string, number>[]);
      expect(ourLosses.length).toBe(pyLosses.length);
      ourLosses.forEach((l, k) => expect(Math.abs(l - pyLosses[k]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(pyLosses[k]!))));
      model.dispose();
    }, 240_000);
  });
});

describe("CrossEncoder.fit (the pre-v4 API)", () => {
  test("the same weights as sentence-transformers' CrossEncoder.fit; the evaluator runs at evaluationSteps and epoch ends, the best model is saved, the callback sees each step evaluation's score", async () => {
    const labels = QUERIES.map((_, i) => (i % 3 === 0 ? 0 : 1));
    const examples = QUERIES.map((q, i) => new InputExample({ texts: [q, POSITIVES[i]!], label: labels[i]! }));
    const fitOptions = { epochs: 2, scheduler: "constantlr", warmupSteps: 0, optimizerParams: { lr: 1e-3, eps: 1e-5 }, weightDecay: 0.01, activationFct: "sigmoid" };
    const refP = runPython<Ref>(REF, {
      folder: folders[1],
      dataset: { sentence_0: QUERIES, sentence_1: POSITIVES, label: labels },
      batch_size: 4,
      fit: { epochs: 2, scheduler: "constantlr", warmup_steps: 0, optimizer_params: { lr: 1e-3, eps: 1e-5 }, weight_decay: 0.01, activation_fct: "sigmoid" },
    });
    const model = await CrossEncoder.load(folders[1]!);
    const evaluator = new CrossEncoderCorrelationEvaluator(
      QUERIES.map((q, i) => [q, NEGATIVES[i]!] as [string, string]),
      QUERIES.map((_, i) => (i % 4) / 3),
      { name: "held" },
    );
    const seen: [number, number, number][] = [];
    const outputPath = join(dir, "fit-best");
    await model.fit(new DataLoader(examples, { batchSize: 4 }), {
      ...fitOptions,
      evaluator,
      evaluationSteps: 2,
      outputPath,
      checkpointPath: join(dir, "fit-log"),
      showProgressBar: false,
      callback: (score, epoch, steps) => void seen.push([score, epoch, steps]),
    });
    // 3 steps per epoch: evaluations at steps 2, 4, 6 reach the callback; those at the ends of both epochs (steps 3
    // and 6) only write the evaluator's CSV, as in sentence-transformers.
    expect(seen.map((s) => s[2])).toEqual([2, 4, 6]);
    const best = Math.max(...seen.map((s) => s[0]));
    const saved = await CrossEncoder.load(outputPath);
    // model.evaluate runs the evaluator and writes its CSV where asked.
    const evalDir = join(dir, "fit-eval");
    expect((await saved.evaluate(evaluator, evalDir))[evaluator.primaryMetric]).toBeCloseTo(best, 6);
    expect((await readdir(evalDir)).filter((f) => f.endsWith(".csv"))).toHaveLength(1);
    // With a checkpointPath, the trainer's log and the step evaluations' CSV go there.
    expect((await readdir(join(dir, "fit-log"), { recursive: true })).sort()).toEqual(["eval", "eval/CrossEncoderCorrelationEvaluator_held_results.csv", "trainer_log.jsonl"]);
    saved.dispose();
    const ours = await savedWeights(model, join(dir, "fit-after"));
    const ref = await refP;
    let worst = 0;
    for (const [name, data] of ours) data.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ref.weights[name]![j]!))));
    expect(worst).toBeLessThanOrEqual(WEIGHT_TOL);
    model.dispose();
  }, 240_000);
});

// CrossEncoder.fit against sentence-transformers' CrossEncoder.fit, both run in an empty working directory of their
// own (with "prefill" files written first): 12 examples in batches of 5 make 3 trainer steps an epoch but a schedule
// of 2 full batches an epoch, so the weights agree only when the schedule decays over fit's step count. Compared:
// every weight, the evaluator's calls (output path, epoch, steps), the callback's, and the folders and landmark files
// (saved models, CSVs, trainer logs) fit leaves behind.
describe("CrossEncoder.fit against sentence-transformers' CrossEncoder.fit", () => {
  const FIT_TOL = 1e-5;
  const observed: string[] = [];
  const EVAL_PAIRS = QUERIES.map((q, i) => [q, NEGATIVES[i]!] as [string, string]);
  const EVAL_SCORES = QUERIES.map((_, i) => (i % 4) / 3);

  interface FitCase {
    numLabels: 1 | 3;
    labels: number[];
    evaluator: boolean;
    prefill?: string[];
    fit: Record<string, unknown>;
  }

  async function paths(root: string): Promise<string[]> {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.map((e) => relative(root, join(e.parentPath, e.name)) + (e.isDirectory() ? "/" : "")).sort();
  }
  // Folders, and the files whose place matters: saved models (their config.json), CSVs, trainer logs, the prefilled
  // files. (The layouts of a saved model differ: sentence-transformers 6 writes modules.json, sbert-node the layout
  // of sentence-transformers 4 to 5.3.)
  const landmarks = (list: string[]) => list.filter((f) => f.endsWith("/") || /(^|\/)(config\.json|[^/]+\.csv|[^/]+\.jsonl|taken\.txt)$/.test(f)).sort();

  async function expectFitParity(name: string, c: FitCase): Promise<void> {
    const refP = runPython<FitRef>(REF, {
      folder: folders[c.numLabels],
      dataset: { sentence_0: QUERIES, sentence_1: POSITIVES, label: c.labels },
      batch_size: 5,
      fit: Object.fromEntries(Object.entries(c.fit).map(([k, v]) => [snake(k), v])),
      ...(c.evaluator && { evaluator: { pairs: EVAL_PAIRS, scores: EVAL_SCORES, name: "held" } }),
      prefill: c.prefill ?? [],
    });
    const model = await CrossEncoder.load(folders[c.numLabels]!);
    const before = await savedWeights(model, join(dir, `fit-before-${name}`));
    const work = join(dir, `fit-work-${name}`);
    await mkdir(work, { recursive: true });
    for (const f of c.prefill ?? []) {
      await mkdir(join(work, dirname(f)), { recursive: true });
      await writeFile(join(work, f), "taken\n");
    }
    const evaluations: [string | null, number, number][] = [];
    const calls: [number, number, number][] = [];
    const evaluator = new CrossEncoderCorrelationEvaluator(EVAL_PAIRS, EVAL_SCORES, { name: "held" });
    const evaluate = evaluator.evaluate.bind(evaluator);
    evaluator.evaluate = (m, o = {}) => {
      evaluations.push([o.outputPath ?? null, o.epoch ?? -1, o.steps ?? -1]);
      return evaluate(m, o);
    };
    const cwd = process.cwd();
    process.chdir(work);
    try {
      await model.fit(new DataLoader(QUERIES.map((q, i) => new InputExample({ texts: [q, POSITIVES[i]!], label: c.labels[i]! })), { batchSize: 5 }), {
        ...c.fit,
        ...(c.evaluator && { evaluator, callback: (score: number, epoch: number, steps: number) => void calls.push([score, epoch, steps]) }),
        showProgressBar: false,
      });
    } finally {
      process.chdir(cwd);
    }
    const ours = await savedWeights(model, join(dir, `fit-after-${name}`));
    const ref = await refP;

    const written = landmarks(await paths(work));
    expect(written).toEqual(landmarks(ref.paths));
    expect(evaluations.map(([p, e, s]) => [p, s])).toEqual(ref.evaluations.map(([p, e, s]) => [p, s]));
    evaluations.forEach(([, e], i) => expect(e).toBeCloseTo(ref.evaluations[i]![1], 9));
    expect(calls.map(([, , s]) => s)).toEqual(ref.calls.map(([, , s]) => s));
    calls.forEach(([score, e], i) => {
      expect(e).toBeCloseTo(ref.calls[i]![1], 9);
      expect(Math.abs(score - ref.calls[i]![0])).toBeLessThanOrEqual(1e-4);
    });
    const { worst, moved, missing } = compareTrained(ours, ref.weights, before);
    expect(missing, "keys the reference lacks").toEqual([]);
    observed.push(
      `${name}: ${evaluations.length} evaluator calls, ${calls.length} callbacks, weights within ${worst.toExponential(2)} (max change ${moved.toExponential(2)}); ` +
        `written (as Python): ${written.join(", ") || "nothing"}`,
    );
    expect(moved).toBeGreaterThan(100 * FIT_TOL);
    expect(worst, `max weight difference ${worst.toExponential(2)}`).toBeLessThanOrEqual(FIT_TOL);
    model.dispose();
  }

  test("WarmupLinear over 2 epochs: the evaluator every 2 steps and at epoch ends, the best model to outputPath, step CSVs under checkpoints/model_1 (checkpoints/model is taken)", async () => {
    await expectFitParity("linear", {
      numLabels: 1,
      labels: QUERIES.map((_, i) => (i % 3 === 0 ? 0 : 1)),
      evaluator: true,
      prefill: ["checkpoints/model/taken.txt"],
      fit: { epochs: 2, warmupSteps: 1, optimizerParams: { lr: 1e-3, eps: 1e-5 }, evaluationSteps: 2, outputPath: "best", activationFct: "sigmoid" },
    });
  }, 240_000);

  test("3 labels, WarmupCosine, no evaluator: outputPath gets nothing, no trainer log is written", async () => {
    await expectFitParity("cosine", {
      numLabels: 3,
      labels: QUERIES.map((_, i) => i % 3),
      evaluator: false,
      fit: { epochs: 2, scheduler: "WarmupCosine", warmupSteps: 1, weightDecay: 0.05, optimizerParams: { lr: 2e-3, eps: 1e-5 }, outputPath: "out" },
    });
  }, 240_000);

  test("report", () => {
    console.log(`CrossEncoder.fit parity (tolerance ${FIT_TOL}):\n  ${observed.join("\n  ")}`);
  });
});

describe("checkpoints", () => {
  test("a run resumed from a checkpoint ends on the same weights; loadBestModelAtEnd reloads the best checkpoint's", async () => {
    const columns = { query: QUERIES, passage: POSITIVES, label: QUERIES.map((_, i) => (i % 3 === 0 ? 0 : 1)) };
    const args = { ...BASE_ARGS, maxSteps: 6, saveStrategy: "steps" as const, saveSteps: 3, disableTqdm: true };
    const full = await CrossEncoder.load(folders[1]!);
    await new CrossEncoderTrainer({ model: full, args: { ...args, outputDir: join(dir, "full") }, trainDataset: Dataset.fromColumns(columns) }).train();
    expect((await readdir(join(dir, "full"))).filter((n) => n.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-3", "checkpoint-6"]);
    const resumed = await CrossEncoder.load(folders[1]!);
    const outputDir = join(dir, "resumed");
    // The first three steps, then a new trainer resumes from checkpoint-3.
    await new CrossEncoderTrainer({ model: resumed, args: { ...args, outputDir, maxSteps: 6 }, trainDataset: Dataset.fromColumns(columns) }).train();
    const again = await CrossEncoder.load(folders[1]!);
    await new CrossEncoderTrainer({ model: again, args: { ...args, outputDir }, trainDataset: Dataset.fromColumns(columns) }).train({ resumeFromCheckpoint: join(outputDir, "checkpoint-3") });
    const a = await savedWeights(full, join(dir, "w-full"));
    const b = await savedWeights(again, join(dir, "w-again"));
    for (const [name, data] of a) expect(Array.from(b.get(name)!), name).toEqual(Array.from(data));
    const pairs: [string, string][] = QUERIES.map((q, i) => [q, POSITIVES[i]!]);

    // Evaluate on the training rows' loss each 2 steps; the lowest eval_loss is the best model.
    const best = await CrossEncoder.load(folders[1]!);
    const bestDir = join(dir, "best");
    const trainer = new CrossEncoderTrainer({
      model: best,
      args: { ...BASE_ARGS, learningRate: 5e-3, maxSteps: 6, evalStrategy: "steps", evalSteps: 2, saveSteps: 2, loadBestModelAtEnd: true, outputDir: bestDir, disableTqdm: true },
      trainDataset: Dataset.fromColumns(columns),
      evalDataset: Dataset.fromColumns(columns),
    });
    await trainer.train();
    const bestCheckpoint = trainer.state.best_model_checkpoint!;
    expect(bestCheckpoint).toMatch(/checkpoint-\d$/);
    // Each checkpoint's model card carries the run: the loss, the data and the logged losses so far.
    const card = await readFile(join(bestCheckpoint, "README.md"), "utf8");
    expect(card).toContain("## Training Details");
    expect(card).toMatch(/Loss: `BinaryCrossEntropyLoss`/);
    expect(card).toContain("### Training Logs");
    const fromCheckpoint = await CrossEncoder.load(bestCheckpoint);
    expect(await best.predict(pairs)).toEqual(await fromCheckpoint.predict(pairs));
    for (const m of [full, resumed, again, best, fromCheckpoint]) m.dispose();
  }, 240_000);

  test("bad inputs are refused naming the row and column", async () => {
    const model = await CrossEncoder.load(folders[1]!);
    const make = (columns: Record<string, unknown[]>, loss?: CrossEncoderLoss) => () => new CrossEncoderTrainer({ model, args: { outputDir: join(dir, "bad") }, trainDataset: Dataset.fromColumns(columns), loss });
    expect(make({ q: ["a", "b"], d: ["c", "d"], label: [1, 2] })).toThrow(/row 1, column 'label'.*\[0, 1\]/);
    expect(make({ q: ["a"], docs: ["not a list"], labels: [[1]] }, new L.ListNetLoss(model))).toThrow(/row 0, column 'docs'.*list of document texts/);
    expect(make({ q: ["a"], d: ["b"], e: ["c"], label: [1] })).toThrow(/3 input column\(s\).*BinaryCrossEntropyLoss takes 2/);
    expect(() => new CrossEncoderTrainer({ model, args: { outputDir: join(dir, "bad"), prompts: "query: " }, trainDataset: Dataset.fromColumns({ q: ["a"], d: ["b"], label: [1] }) })).toThrow(/prompts/);
    model.dispose();
  });
});
