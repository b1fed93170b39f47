// SentenceTransformer.fit against sentence-transformers' own fit (py/fit_ref.py, in the reference environment), on
// a tiny BERT folder with dropout off and unshuffled DataLoaders: the objectives become a dict of datasets batched
// round robin by the trainer (seed 42), the schedule decays over fit's own step count (steps per epoch from the
// shortest dataset's full batches, × epochs), the evaluator runs every evaluationSteps and at each epoch's end and
// the callback sees each score with the trainer's epoch and global step. Compared: the callback's calls, the
// number of steps, every weight after the run, and where fit writes models and CSVs (both run in an empty working
// directory, where the trainer's default output folder is). AdamW eps is 1e-5, as in test/parity/trainer.test.ts.
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { DataLoader, InputExample, SentenceTransformer, evaluation, losses, type FitOptions } from "../../lib/index.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";
import { compareTrained, makeDropoutFreeTinyBert, sentences } from "../helpers/trainerParity.js";

const FIT_REF = fileURLToPath(new URL("py/fit_ref.py", import.meta.url));
const TOL = 1e-5;

let root: string;
let folder: string;
beforeAll(async () => {
  root = await tempDir("sbert-fit-parity-");
  folder = join(root, "bert");
  await makeDropoutFreeTinyBert(folder, { seed: 37 });
});

type LossName = "CosineSimilarityLoss" | "CoSENTLoss" | "MultipleNegativesRankingLoss";

interface Objective {
  examples: [string[], number][];
  batchSize: number;
  loss: LossName;
}

function objective(n: number, seed: number, batchSize: number, loss: LossName, labelled = true): Objective {
  const a = sentences(n, seed);
  const b = sentences(n, seed + 1000);
  return { examples: a.map((s, i) => [[s, b[i]!], labelled ? [0, 0.25, 0.5, 0.75, 1][(i * 3 + seed) % 5]! : 0]), batchSize, loss };
}

interface Case {
  objectives: Objective[];
  evaluator?: boolean;
  /** fit's options besides the objectives, the evaluator and the callback (camelCase; Python's names are derived). */
  fit: Omit<FitOptions, "trainObjectives" | "evaluator" | "callback">;
}

interface PyFit {
  weights: Record<string, number[]>;
  calls: [number, number, number][];
  log: Record<string, number>[];
  files: string[];
}

const EVAL = { sentences1: sentences(10, 900), sentences2: sentences(10, 901), scores: Array.from({ length: 10 }, (_, i) => (i % 5) / 4), name: "dev" };

/** fit's options under Python's names (paths stay relative: both fits run in a working directory of their own). */
function pyFitArgs(o: Case["fit"]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}

const observed: string[] = [];

async function expectFitParity(name: string, c: Case): Promise<void> {
  const model = await SentenceTransformer.load(folder);
  const initial = new Map(model.modules[0]!.native.stateDict().map((t) => [t.name, t.data.slice()]));
  const make = (l: LossName) =>
    l === "CosineSimilarityLoss" ? new losses.CosineSimilarityLoss(model) : l === "CoSENTLoss" ? new losses.CoSENTLoss(model) : new losses.MultipleNegativesRankingLoss(model);
  const calls: [number, number, number][] = [];
  const dir = join(root, name.replace(/\W+/g, "-"));
  await mkdir(dir, { recursive: true });
  const cwd = process.cwd();
  process.chdir(dir);
  const fitting = model.fit({
    trainObjectives: c.objectives.map((o) => [
      new DataLoader(
        o.examples.map(([texts, label]) => new InputExample({ texts, label })),
        { batchSize: o.batchSize },
      ),
      make(o.loss),
    ]),
    ...(c.evaluator && { evaluator: new evaluation.EmbeddingSimilarityEvaluator(EVAL.sentences1, EVAL.sentences2, EVAL.scores, { name: EVAL.name }) }),
    callback: (score, epoch, steps) => {
      calls.push([score, epoch, steps]);
    },
    showProgressBar: false,
    ...c.fit,
  });
  const result = await fitting.finally(() => process.chdir(cwd));
  const py = await runPython<PyFit>(FIT_REF, {
    folder,
    objectives: c.objectives.map((o) => ({ examples: o.examples, batch_size: o.batchSize, loss: o.loss })),
    ...(c.evaluator && { evaluator: EVAL }),
    fit: pyFitArgs(c.fit),
  });

  // The saved models (a modules.json each) and the evaluators' CSVs are where Python's fit puts them.
  const written = await readdir(dir, { recursive: true });
  const landmarks = (files: string[]) => files.filter((f) => /(^|\/)modules\.json$|\.csv$/.test(f)).sort();
  expect(landmarks(written)).toEqual(landmarks(py.files));

  // The trainer's global step (Python logs the training loss only every 500 steps: its last entry has the step).
  expect(result.globalStep).toBe(py.log.at(-1)!["step"]);
  expect(result.log.map((l) => l.step)).toEqual(Array.from({ length: result.globalStep }, (_, i) => i + 1));
  expect(calls.map(([, epoch, steps]) => [epoch, steps])).toEqual(py.calls.map(([, epoch, steps]) => [epoch, steps]));
  const scores = Math.max(0, ...calls.map(([s], i) => Math.abs(s - py.calls[i]![0])));
  expect(scores).toBeLessThanOrEqual(1e-4);

  const trained = new Map(model.modules[0]!.native.stateDict().map((t) => [t.name, t.data]));
  const { worst, worstKey, moved, missing } = compareTrained(trained, py.weights, initial);
  expect(missing, "weights Python lacks").toEqual([]);
  observed.push(
    `${name}: ${result.globalStep} steps, ${calls.length} evaluations (scores within ${scores.toExponential(2)}), weights ${worst.toExponential(2)} (${worstKey}), ` +
      `max weight change ${moved.toExponential(2)}; models and CSVs written (as Python): ${landmarks(written).join(", ") || "none"}`,
  );
  expect(worst, `worst weight ${worstKey}`).toBeLessThanOrEqual(TOL);
  expect(moved).toBeGreaterThan(100 * TOL);
  model.dispose();
}

describe("fit against sentence-transformers' fit", () => {
  test("one objective, two epochs: the evaluator every 4 steps and at epoch ends; 22 examples in batches of 4 (6 steps an epoch, a schedule of 5)", async () => {
    await expectFitParity("one objective", {
      objectives: [objective(22, 1, 4, "CosineSimilarityLoss")],
      evaluator: true,
      fit: { epochs: 2, warmupSteps: 2, optimizerParams: { lr: 1e-3, eps: 1e-5 }, evaluationSteps: 4, outputPath: "best" },
    });
  });

  test("two objectives round robin (CoSENTLoss, and MultipleNegativesRankingLoss without labels), stepsPerEpoch with one epoch, WarmupCosine", async () => {
    await expectFitParity("two objectives", {
      objectives: [objective(14, 2, 4, "CoSENTLoss"), objective(20, 3, 4, "MultipleNegativesRankingLoss", false)],
      fit: { epochs: 1, stepsPerEpoch: 5, scheduler: "WarmupCosine", warmupSteps: 1, weightDecay: 0.05, optimizerParams: { lr: 2e-3, eps: 1e-5 } },
    });
  });

  test("two epochs of two objectives, checkpoints every 3 steps (the last two kept), ConstantLR", async () => {
    await expectFitParity("checkpoints", {
      objectives: [objective(12, 4, 3, "CoSENTLoss"), objective(9, 5, 3, "CosineSimilarityLoss")],
      evaluator: true,
      fit: { epochs: 2, scheduler: "ConstantLR", optimizerParams: { lr: 1e-3, eps: 1e-5 }, checkpointPath: "ckpt", checkpointSaveSteps: 3, checkpointSaveTotalLimit: 2 },
    });
  });

  test("report", () => {
    console.log(`fit parity (tolerance ${TOL}):\n  ${observed.join("\n  ")}`);
  });
});
