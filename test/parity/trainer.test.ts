// SentenceTransformerTrainer against sentence-transformers' own SentenceTransformerTrainer (py/trainer_ref.py, in
// the reference environment), on a tiny BERT folder with dropout off:
//   batch schedules: the batches of every epoch (dataset, rows) equal those Python's train DataLoader yields, for
//     BATCH_SAMPLER (with and without dataloaderDropLast), NO_DUPLICATES, GROUP_BY_LABEL, and ROUND_ROBIN /
//     PROPORTIONAL over several datasets (with BATCH_SAMPLER and NO_DUPLICATES inside);
//   training: per-step loss, learning rate and gradient norm, and every weight after the run, for CoSENTLoss with
//     gradient accumulation 2 and a warmup fraction, and for two datasets (CoSENTLoss + MultipleNegativesRankingLoss
//     with NO_DUPLICATES, PROPORTIONAL), and for MarginMSELoss on (query, positive, two negatives) rows labelled
//     with a teacher's three scores, and for GISTEmbedLoss / CachedGISTEmbedLoss with a guide model of its own
//     (one sharing the model's tokens, one re-tokenizing the decoded texts at a shorter maximum length); Python runs
//     its default optimizer (torch's fused AdamW) in float32; MegaBatchMarginLoss with its gradient cache; and
//     AdaptiveLayerLoss / Matryoshka2dLoss over every earlier layer (Python draws layers with its own `random`).
// AdamW eps is 1e-5 here for the reason test/parity/training.test.ts gives (float32 noise in near-zero gradients).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { seededRandom } from "../../lib/internal/random.js";
import { BatchSchedule } from "../../lib/sampler.js";
import { Dataset, SentenceTransformer, SentenceTransformerTrainer, losses, type SentenceTransformerTrainingArgumentsInit } from "../../lib/index.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";
import { compareTrained, makeDropoutFreeTinyBert, sentences } from "../helpers/trainerParity.js";

const TRAINER_REF = fileURLToPath(new URL("py/trainer_ref.py", import.meta.url));
const TOL = 1e-5;

let root: string;
let folder: string;
let guideFolder: string;
beforeAll(async () => {
  root = await tempDir("sbert-trainer-parity-");
  folder = join(root, "bert");
  guideFolder = join(root, "guide");
  for (const [dir, seed] of [[folder, 31], [guideFolder, 57]] as const) await makeDropoutFreeTinyBert(dir, { seed });
});

type Columns = Record<string, (string | number | number[])[]>;
type LossName =
  | "CoSENTLoss"
  | "MultipleNegativesRankingLoss"
  | "MarginMSELoss"
  | "GISTEmbedLoss"
  | "CachedGISTEmbedLoss"
  | "MegaBatchMarginLoss"
  | "AdaptiveLayerLoss"
  | "Matryoshka2dLoss";

function pairsData(n: number, seed: number, distinct = n): Columns {
  return { anchor: sentences(n, seed, distinct), positive: sentences(n, seed + 1000) };
}

/** (query, positive, two negatives) rows with a teacher's score of each passage. */
function distillData(n: number, seed: number): Columns {
  const rand = seededRandom(seed + 77);
  const scores = Array.from({ length: n }, () => [4 + 4 * rand(), 4 * rand(), 4 * rand() - 2].map((v) => Math.round(v * 1000) / 1000));
  return { query: sentences(n, seed), positive: sentences(n, seed + 1000), negative_1: sentences(n, seed + 2000), negative_2: sentences(n, seed + 3000), label: scores };
}

function tripletData(n: number, seed: number, negatives = 1): Columns {
  const cols: Columns = { anchor: sentences(n, seed), positive: sentences(n, seed + 1000) };
  for (let k = 0; k < negatives; k++) cols[negatives === 1 ? "negative" : `negative_${k + 1}`] = sentences(n, seed + 2000 + 1000 * k);
  return cols;
}

function stsData(n: number, seed: number): Columns {
  const scores = [0, 0.25, 0.5, 0.75, 1];
  return { sentence1: sentences(n, seed), sentence2: sentences(n, seed + 1000), score: Array.from({ length: n }, (_, i) => scores[(i * 3 + seed) % 5]!) };
}

/** sbert-node's args → Python's keyword arguments. */
function pyArgs(args: SentenceTransformerTrainingArgumentsInit): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}

interface Case {
  datasets: Record<string, Columns>;
  evalDatasets?: Record<string, Columns>;
  losses: Record<string, LossName>;
  args: SentenceTransformerTrainingArgumentsInit;
  /** the loss's options, ours and Python's */
  lossOptions?: { ts: Record<string, unknown>; py: Record<string, unknown> };
  /** prefixes of the Transformer's weight names frozen before training */
  freeze?: string[];
  /** the loss AdaptiveLayerLoss or Matryoshka2dLoss wraps */
  inner?: LossName;
  /** GISTEmbedLoss's guide: the guide folder, optionally with a shorter maximum length (it then tokenizes the texts itself) */
  guide?: { maxSeqLength?: number };
}

async function ourTrainer(model: SentenceTransformer, c: Case): Promise<SentenceTransformerTrainer> {
  if (c.freeze) model.setRequiresGrad((name) => c.freeze!.some((p) => name.startsWith(`0.${p}`)), false);
  const names = Object.keys(c.datasets);
  const data = Object.fromEntries(names.map((n) => [n, Dataset.fromColumns(c.datasets[n]!)]));
  let guide: SentenceTransformer | undefined;
  if (c.guide !== undefined) {
    guide = await SentenceTransformer.load(guideFolder);
    if (c.guide.maxSeqLength !== undefined) guide.maxSeqLength = c.guide.maxSeqLength;
  }
  const options = c.lossOptions?.ts ?? {};
  const make = (name: LossName): losses.Loss =>
    name === "AdaptiveLayerLoss"
      ? new losses.AdaptiveLayerLoss(model, makeInner(c.inner!), options)
      : name === "Matryoshka2dLoss"
        ? new losses.Matryoshka2dLoss(model, makeInner(c.inner!), options as unknown as losses.Matryoshka2dLossOptions)
        : makeInner(name);
  const makeInner = (name: LossName): losses.Loss =>
    name === "CoSENTLoss"
      ? new losses.CoSENTLoss(model)
      : name === "MarginMSELoss"
        ? new losses.MarginMSELoss(model)
        : name === "GISTEmbedLoss"
          ? new losses.GISTEmbedLoss(model, { guide: guide!, ...options })
          : name === "CachedGISTEmbedLoss"
            ? new losses.CachedGISTEmbedLoss(model, { guide: guide!, ...options })
            : name === "MegaBatchMarginLoss"
              ? new losses.MegaBatchMarginLoss(model, options)
              : new losses.MultipleNegativesRankingLoss(model);
  const loss = "*" in c.losses ? make(c.losses["*"]!) : Object.fromEntries(Object.entries(c.losses).map(([n, l]) => [n, make(l)]));
  return new SentenceTransformerTrainer({
    model,
    args: { outputDir: join(root, "out"), saveStrategy: "no", disableTqdm: true, ...c.args },
    trainDataset: names.length === 1 ? data[names[0]!]! : data,
    ...(c.evalDatasets && { evalDataset: Dataset.fromColumns(Object.values(c.evalDatasets)[0]!) }),
    loss,
  });
}

function request(mode: "schedule" | "train", c: Case, extra: object = {}) {
  return {
    mode,
    folder,
    datasets: c.datasets,
    losses: Object.fromEntries(
      Object.entries(c.losses).map(([n, l]) => [
        n,
        {
          loss: l,
          ...(c.lossOptions && { options: c.lossOptions.py }),
          ...(c.inner && { inner: { loss: c.inner } }),
          ...(c.guide && { guide: { folder: guideFolder, ...(c.guide.maxSeqLength !== undefined && { max_seq_length: c.guide.maxSeqLength }) } }),
        },
      ]),
    ),
    ...(c.evalDatasets && { eval_datasets: c.evalDatasets }),
    ...(c.freeze && { freeze: c.freeze }),
    args: pyArgs({ saveStrategy: "no", ...c.args, outputDir: undefined }),
    ...extra,
  };
}

const observed: string[] = [];

describe("batch schedules against sentence-transformers' samplers", () => {
  const single = (columns: Columns, args: SentenceTransformerTrainingArgumentsInit): Case => ({ datasets: { train: columns }, losses: { "*": "MultipleNegativesRankingLoss" }, args });
  const withLabels = (n: number): Columns => ({ ...pairsData(n, 5), label: Array.from({ length: n }, (_, i) => (i * 7) % 4) });
  const CASES: [string, Case][] = [
    ["BATCH_SAMPLER", single(pairsData(13, 1), { perDeviceTrainBatchSize: 4, seed: 42 })],
    ["BATCH_SAMPLER, dataloaderDropLast, seed 7", single(pairsData(13, 1), { perDeviceTrainBatchSize: 4, seed: 7, dataloaderDropLast: true })],
    ["NO_DUPLICATES, repeated anchors", single(pairsData(20, 2, 6), { perDeviceTrainBatchSize: 4, batchSampler: "no_duplicates" })],
    ["NO_DUPLICATES, dataloaderDropLast", single(pairsData(20, 2, 6), { perDeviceTrainBatchSize: 4, batchSampler: "no_duplicates", dataloaderDropLast: true })],
    ["GROUP_BY_LABEL", single(withLabels(22), { perDeviceTrainBatchSize: 4, batchSampler: "group_by_label" })],
    [
      "ROUND_ROBIN, BATCH_SAMPLER",
      { datasets: { a: pairsData(7, 3), b: pairsData(12, 4), c: pairsData(5, 5) }, losses: { "*": "MultipleNegativesRankingLoss" }, args: { perDeviceTrainBatchSize: 2, multiDatasetBatchSampler: "round_robin" } },
    ],
    [
      "PROPORTIONAL, BATCH_SAMPLER",
      { datasets: { a: pairsData(7, 3), b: pairsData(12, 4), c: pairsData(5, 5) }, losses: { "*": "MultipleNegativesRankingLoss" }, args: { perDeviceTrainBatchSize: 3, seed: 3 } },
    ],
    [
      "PROPORTIONAL, NO_DUPLICATES",
      { datasets: { a: pairsData(9, 6, 4), b: pairsData(6, 7, 3) }, losses: { "*": "MultipleNegativesRankingLoss" }, args: { perDeviceTrainBatchSize: 2, batchSampler: "no_duplicates" } },
    ],
    [
      "ROUND_ROBIN, NO_DUPLICATES",
      {
        datasets: { a: pairsData(9, 6, 4), b: pairsData(6, 7, 3) },
        losses: { "*": "MultipleNegativesRankingLoss" },
        args: { perDeviceTrainBatchSize: 2, batchSampler: "no_duplicates", multiDatasetBatchSampler: "round_robin" },
      },
    ],
  ];
  const EPOCHS = 3;

  test.each(CASES)("%s", async (_name, c) => {
    const model = await SentenceTransformer.load(folder);
    const trainer = await ourTrainer(model, c);
    const py = await runPython<{ epochs: [number, number[]][][]; length: number }>(TRAINER_REF, request("schedule", c, { epochs: EPOCHS }));
    const ours = Array.from({ length: EPOCHS }, (_, e) => trainer.trainBatches(e).map((b) => [b.dataset, b.rows] as [number, number[]]));
    expect(ours).toEqual(py.epochs);
    // The DataLoader's length (batches per epoch, what the step counts derive from).
    const schedule = new BatchSchedule(
      Object.values(c.datasets).map((cols) => Dataset.fromColumns(cols)),
      {
        batchSampler: c.args.batchSampler ?? "batch_sampler",
        multiDatasetBatchSampler: c.args.multiDatasetBatchSampler ?? "proportional",
        batchSize: c.args.perDeviceTrainBatchSize!,
        dropLast: c.args.dataloaderDropLast ?? false,
        seed: c.args.seed ?? 42,
      },
    );
    expect(schedule.length).toBe(py.length);
    // Later epochs are shuffled anew (the check is not of one fixed order), except where Python repeats them: with
    // several datasets, a NO_DUPLICATES sampler inside ROUND_ROBIN is never told the epoch and reseeds with 0.
    if (!(c.args.batchSampler === "no_duplicates" && c.args.multiDatasetBatchSampler === "round_robin")) expect(py.epochs[1]).not.toEqual(py.epochs[0]);
    else expect(py.epochs[1]).toEqual(py.epochs[0]);
    model.dispose();
  });
});

interface PyTrain {
  log_history: Record<string, number>[];
  weights: Record<string, number[]>;
  states: Record<string, Record<string, unknown>>;
}

async function expectTrainingParity(name: string, c: Case, tol = TOL): Promise<void> {
  const model = await SentenceTransformer.load(folder);
  const initial = new Map(model.modules[0]!.native.stateDict().map((t) => [t.name, t.data.slice()]));
  const trainer = await ourTrainer(model, c);
  await trainer.train();
  const py = await runPython<PyTrain>(TRAINER_REF, request("train", c));

  const steps = (h: Record<string, number>[]) => h.filter((e) => "loss" in e);
  const ours = steps(trainer.state.log_history);
  const theirs = steps(py.log_history);
  expect(ours.map((e) => e["step"])).toEqual(theirs.map((e) => e["step"]));
  expect(ours.length).toBeGreaterThan(2);
  let loss = 0;
  let lr = 0;
  let grad = 0;
  ours.forEach((e, i) => {
    const p = theirs[i]!;
    expect(e["epoch"]).toBeCloseTo(p["epoch"]!, 12);
    loss = Math.max(loss, Math.abs(e["loss"]! - p["loss"]!));
    lr = Math.max(lr, Math.abs(e["learning_rate"]! - p["learning_rate"]!) / Math.max(p["learning_rate"]!, 1e-12));
    grad = Math.max(grad, Math.abs(e["grad_norm"]! - p["grad_norm"]!) / p["grad_norm"]!);
  });

  const state = model.modules[0]!.native.stateDict();
  const { worst, worstKey, moved, missing } = compareTrained(new Map(state.map((t) => [t.name, t.data])), py.weights, initial);
  expect(missing, "weights Python lacks").toEqual([]);
  observed.push(
    `${name}: ${ours.length} steps; losses up to ${Math.max(...theirs.map((e) => e["loss"]!)).toPrecision(4)}, differences ${loss.toExponential(2)}, lr (relative) ${lr.toExponential(2)}, grad norms (relative) ${grad.toExponential(2)}, ` +
      `weights ${worst.toExponential(2)} (${worstKey}), max weight change ${moved.toExponential(2)}`,
  );
  expect(lr).toBeLessThanOrEqual(1e-6);
  // Losses compare relative to their size (MarginMSELoss's reach tens; float32 sums round at ~1e-7 of that).
  expect(loss).toBeLessThanOrEqual(tol * Math.max(1, ...theirs.map((e) => Math.abs(e["loss"]!))));
  expect(grad).toBeLessThanOrEqual(1e-4);
  expect(worst, `worst weight ${worstKey}`).toBeLessThanOrEqual(tol);
  expect(moved).toBeGreaterThan(100 * TOL);
  if (c.freeze) {
    const frozen = state.filter((t) => c.freeze!.some((p) => t.name.startsWith(p)));
    expect(frozen.length).toBeGreaterThan(0);
    for (const t of frozen) expect(t.data, `${t.name} is frozen`).toEqual(initial.get(t.name));
    expect(model.namedParameters().filter((p) => !p.requiresGrad).map((p) => p.name.slice(2))).toEqual(frozen.map((t) => t.name));
  }
  model.dispose();
}

describe("training against sentence-transformers' SentenceTransformerTrainer", () => {
  const common: SentenceTransformerTrainingArgumentsInit = {
    perDeviceTrainBatchSize: 4,
    gradientAccumulationSteps: 2,
    learningRate: 1e-3,
    weightDecay: 0.01,
    adamEpsilon: 1e-5,
    lrSchedulerType: "linear",
    loggingSteps: 1,
    seed: 42,
  };

  test("CoSENTLoss, gradient accumulation 2, warmup fraction 0.25, linear schedule, 2 epochs of 3 batches", async () => {
    await expectTrainingParity("CoSENTLoss", {
      datasets: { sts: stsData(12, 1) },
      losses: { "*": "CoSENTLoss" },
      args: { ...common, warmupSteps: 0.25, numTrainEpochs: 2 },
    });
  });

  test("two datasets: CoSENTLoss and MultipleNegativesRankingLoss with NO_DUPLICATES, PROPORTIONAL, gradient accumulation 2", async () => {
    await expectTrainingParity("CoSENTLoss + MNRL, NO_DUPLICATES, PROPORTIONAL", {
      datasets: { sts: stsData(12, 2), pairs: pairsData(14, 3, 10) },
      losses: { sts: "CoSENTLoss", pairs: "MultipleNegativesRankingLoss" },
      args: { ...common, warmupSteps: 0.2, maxSteps: 5, batchSampler: "no_duplicates" },
    });
  });

  test("MarginMSELoss (dot product) on (query, positive, two negatives) with a teacher's three scores per row", async () => {
    await expectTrainingParity("MarginMSELoss, teacher scores [B, 3]", {
      datasets: { distill: distillData(12, 6) },
      losses: { "*": "MarginMSELoss" },
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("GISTEmbedLoss on pairs with NO_DUPLICATES: a guide of the same vocabulary embeds the model's own tokens", async () => {
    await expectTrainingParity("GISTEmbedLoss, NO_DUPLICATES", {
      datasets: { pairs: pairsData(14, 11, 10) },
      losses: { "*": "GISTEmbedLoss" },
      guide: {},
      args: { ...common, warmupSteps: 0.25, maxSteps: 4, batchSampler: "no_duplicates" },
    });
  });

  test("GISTEmbedLoss on triplets, no anchor-anchor: a guide with a shorter maximum length tokenizes the decoded texts itself", async () => {
    await expectTrainingParity("GISTEmbedLoss, triplets, re-tokenizing guide", {
      datasets: { triplets: tripletData(12, 12) },
      losses: { "*": "GISTEmbedLoss" },
      lossOptions: { ts: { contrastAnchors: false }, py: { contrast_anchors: false } },
      guide: { maxSeqLength: 4 },
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("CachedGISTEmbedLoss, mini-batches of 3, two negatives, temperature 0.05, relative margin 0.01", async () => {
    await expectTrainingParity("CachedGISTEmbedLoss, two negatives", {
      datasets: { triplets: tripletData(12, 13, 2) },
      losses: { "*": "CachedGISTEmbedLoss" },
      lossOptions: {
        ts: { miniBatchSize: 3, temperature: 0.05, marginStrategy: "relative", margin: 0.01 },
        py: { mini_batch_size: 3, temperature: 0.05, margin_strategy: "relative", margin: 0.01 },
      },
      guide: {},
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("MegaBatchMarginLoss with its gradient cache in mini-batches of 3, margins 0.6 and 0.2", async () => {
    await expectTrainingParity("MegaBatchMarginLoss, mini-batches of 3", {
      datasets: { pairs: pairsData(12, 14) },
      losses: { "*": "MegaBatchMarginLoss" },
      lossOptions: { ts: { miniBatchSize: 3, positiveMargin: 0.6, negativeMargin: 0.2 }, py: { mini_batch_size: 3, positive_margin: 0.6, negative_margin: 0.2 } },
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("AdaptiveLayerLoss over MultipleNegativesRankingLoss: every earlier layer, log weighting, KL at temperature 0.3", async () => {
    await expectTrainingParity("AdaptiveLayerLoss (MNRL), every layer", {
      datasets: { pairs: pairsData(12, 15) },
      losses: { "*": "AdaptiveLayerLoss" },
      inner: "MultipleNegativesRankingLoss",
      lossOptions: { ts: { nLayersPerStep: -1, layerWeighting: "log" }, py: { n_layers_per_step: -1, layer_weighting: "log" } },
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("Matryoshka2dLoss over CoSENTLoss: every layer and size, last layer weight 2, linear weighting, KL weight 0.5", async () => {
    const options = { matryoshkaDims: [32, 16, 8], nLayersPerStep: -1, nDimsPerStep: -1, lastLayerWeight: 2, layerWeighting: "linear", klDivWeight: 0.5 };
    await expectTrainingParity("Matryoshka2dLoss (CoSENT), every layer and size", {
      datasets: { sts: stsData(12, 16) },
      losses: { "*": "Matryoshka2dLoss" },
      inner: "CoSENTLoss",
      lossOptions: { ts: options, py: pyArgs(options as SentenceTransformerTrainingArgumentsInit) },
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("frozen weights (the embeddings and the first layer, as requires_grad False) stay as they were; the rest trains as Python's", async () => {
    await expectTrainingParity("CoSENTLoss, embeddings and layer 0 frozen", {
      datasets: { sts: stsData(12, 17) },
      losses: { "*": "CoSENTLoss" },
      freeze: ["embeddings.", "encoder.layer.0."],
      args: { ...common, warmupSteps: 0.25, maxSteps: 4 },
    });
  });

  test("prompts per column go before the texts as Python's data collator puts them", async () => {
    await expectTrainingParity("CoSENTLoss with prompts", {
      datasets: { sts: stsData(12, 5) },
      losses: { "*": "CoSENTLoss" },
      args: { ...common, gradientAccumulationSteps: 1, maxSteps: 3, prompts: { sentence1: "query: ", sentence2: "document: " } },
    });
  });
});

test("evaluation and checkpoints: eval_loss at every evaluation, and trainer_state.json as transformers writes it", async () => {
  const c: Case = {
    datasets: { sts: stsData(12, 4) },
    evalDatasets: { sts: stsData(10, 9) },
    losses: { "*": "CoSENTLoss" },
    args: {
      outputDir: join(root, "checkpoints"),
      perDeviceTrainBatchSize: 4,
      perDeviceEvalBatchSize: 4,
      learningRate: 1e-3,
      adamEpsilon: 1e-5,
      maxSteps: 4,
      loggingSteps: 1,
      evalStrategy: "steps",
      evalSteps: 2,
      saveStrategy: "steps",
      saveSteps: 2,
      metricForBestModel: "eval_loss",
    },
  };
  const model = await SentenceTransformer.load(folder);
  const trainer = await ourTrainer(model, c);
  await trainer.train();
  const py = await runPython<PyTrain>(TRAINER_REF, request("train", c));
  const evals = (h: Record<string, number>[]) => h.filter((e) => "eval_loss" in e);
  const ours = evals(trainer.state.log_history);
  const theirs = evals(py.log_history);
  expect(ours.map((e) => e["step"])).toEqual([2, 4]);
  expect(theirs.map((e) => e["step"])).toEqual([2, 4]);
  const evalDiff = Math.max(...ours.map((e, i) => Math.abs(e["eval_loss"]! - theirs[i]!["eval_loss"]!)));
  observed.push(`eval_loss (CoSENTLoss, eval batches of 4): ${ours.map((e) => e["eval_loss"]!.toFixed(6)).join(", ")}; differences ${evalDiff.toExponential(2)}`);
  expect(evalDiff).toBeLessThanOrEqual(TOL);

  expect(Object.keys(py.states).sort()).toEqual(["checkpoint-2", "checkpoint-4"]);
  for (const [name, theirState] of Object.entries(py.states)) {
    const ourState = JSON.parse(await readFile(join(root, "checkpoints", name, "trainer_state.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(ourState), name).toEqual(Object.keys(theirState));
    for (const key of ["global_step", "max_steps", "logging_steps", "eval_steps", "save_steps", "train_batch_size", "num_train_epochs", "best_global_step", "stateful_callbacks", "total_flos"]) {
      expect(ourState[key], `${name} ${key}`).toEqual(theirState[key]);
    }
    expect(ourState["epoch"]).toBeCloseTo(theirState["epoch"] as number, 12);
    expect(ourState["best_metric"]).toBeCloseTo(theirState["best_metric"] as number, 5);
    expect((ourState["best_model_checkpoint"] as string).split("/").at(-1)).toBe((theirState["best_model_checkpoint"] as string).split("/").at(-1));
    const ourLog = ourState["log_history"] as Record<string, number>[];
    const theirLog = theirState["log_history"] as Record<string, number>[];
    expect(ourLog.map((e) => Object.keys(e))).toEqual(theirLog.map((e) => Object.keys(e)));
    expect(ourLog.map((e) => e["step"])).toEqual(theirLog.map((e) => e["step"]));
  }
  model.dispose();
});

describe("record", () => {
  test("observed differences", () => {
    for (const line of observed) console.log(line);
  });
});
