/**
 * SentenceTransformer.fit: sentence-transformers' classic training loop. Objectives take turns (round robin),
 * one native step per batch (forward, loss, backward, clipping, AdamW, schedule) off the JS thread; the evaluator
 * runs every `evaluationSteps` and at each epoch's end, and the best model is saved to `outputPath`.
 * Checkpoints hold the model, the optimizer, the data position and the RNG, so a resumed run continues exactly.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";

import type { NativeTrainer } from "../types/native.js";
import type { DataLoader } from "./DataLoader.js";
import { SbertError } from "./errors.js";
import type { InputExample } from "./InputExample.js";
import { readJsonObject, writeFolderAtomically, writeJson } from "./io/files.js";
import { randomSeed } from "./internal/random.js";
import { checkpointSteps, labelTensor, latestCheckpoint, loadModelWeights, loadOptimizerState, saveOptimizerState, tokenizeColumns } from "./internal/training.js";
import type { Loss } from "./losses/Loss.js";
import { Router } from "./models/Router.js";
import { callNative, callNativeSync } from "./native.js";
import { ProgressBar } from "./progress.js";
import type { SentenceTransformer } from "./SentenceTransformer.js";

/** What fit needs of an evaluator (every class in `evaluation` has it). */
export interface FitEvaluator {
  evaluate(model: SentenceTransformer, options?: { outputPath?: string; epoch?: number; steps?: number }): Promise<Record<string, number>>;
  readonly primaryMetric: string;
  readonly greaterIsBetter?: boolean;
}

export type SchedulerName = "constantlr" | "warmupconstant" | "warmuplinear" | "warmupcosine" | "warmupcosinewithhardrestarts";

export interface FitOptions {
  trainObjectives: [DataLoader, Loss][];
  evaluator?: FitEvaluator;
  epochs?: number;
  /** Steps per epoch; default: the length of the shortest DataLoader. */
  stepsPerEpoch?: number;
  /** Case-insensitive: ConstantLR, WarmupConstant, WarmupLinear (default), WarmupCosine, WarmupCosineWithHardRestarts. */
  scheduler?: string;
  /** Default 10000, as sentence-transformers. */
  warmupSteps?: number;
  optimizerParams?: { lr?: number; betas?: [number, number]; eps?: number };
  weightDecay?: number;
  /** Evaluate every this many steps (0: only at the end of each epoch). */
  evaluationSteps?: number;
  outputPath?: string;
  saveBestModel?: boolean;
  /** Gradient clipping (<= 0 turns it off). Default 1. */
  maxGradNorm?: number;
  /** Mixed precision: bf16 autocast on CPU, fp16 on CUDA. */
  useAmp?: boolean;
  callback?: (score: number, epoch: number, steps: number) => void | Promise<void>;
  showProgressBar?: boolean;
  checkpointPath?: string;
  checkpointSaveSteps?: number;
  /** Keep at most this many checkpoints (0: all). */
  checkpointSaveTotalLimit?: number;
  /** A checkpoint folder, or true for the latest one in checkpointPath. */
  resumeFromCheckpoint?: string | boolean;
  /** Seeds dropout and other random choices in the native code. */
  seed?: number;
  /** Stops after the current step; a checkpoint is written first when checkpointPath is set. */
  signal?: AbortSignal;
}

export interface TrainingLogEntry {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
}

export interface EvaluationLogEntry {
  epoch: number;
  steps: number;
  globalStep: number;
  metrics: Record<string, number>;
}

/** What a model card reports about the last training run. */
export interface TrainingSummary {
  objectives: {
    loss: string;
    lossConfig: Record<string, unknown>;
    examples: number;
    batchSize: number;
    /** The first examples, as the card shows them. */
    samples: { texts: string[]; label: unknown }[];
  }[];
  /** Options that differ from sentence-transformers' defaults. */
  hyperparameters: Record<string, unknown>;
  log: TrainingLogEntry[];
  evaluations: EvaluationLogEntry[];
  primaryMetric?: string;
}

export interface FitResult {
  globalStep: number;
  /** Mean loss over all steps of this call. */
  trainingLoss: number;
  bestScore: number | undefined;
  log: TrainingLogEntry[];
  evaluations: EvaluationLogEntry[];
}

export const SCHEDULERS: readonly SchedulerName[] = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts"];
const STATE_FILE = "trainer_state.json";

interface LoaderPosition {
  pass: number;
  index: number;
}

interface TrainerState {
  global_step: number;
  /** optimizer steps: one per objective per global step */
  optimizer_steps: number;
  epoch: number;
  step_in_epoch: number;
  loaders: LoaderPosition[];
  loader_seeds: number[];
  best_score: number | null;
  total_steps: number;
  log_history: TrainingLogEntry[];
}

function nonNegativeInt(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new RangeError(`fit: ${name} must be an integer >= 0, got ${String(v)}`);
  return v;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new RangeError(`fit: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function finiteNumber(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`fit: ${name} must be a finite number, got ${String(v)}`);
  return v;
}

/** AdamW's hyperparameters, refused where torch.optim.AdamW refuses them (and when not finite). */
function adamWOptions(options: FitOptions): { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number } {
  const params: unknown = options.optimizerParams ?? {};
  const bad = (name: string, what: string, v: unknown, rule: string) =>
    new SbertError("ERR_INPUT", `${name}: Invalid ${what}: ${Array.isArray(v) ? `[${v.map(String).join(", ")}]` : String(v)} (${rule})`, { op: "fit" });
  if (typeof params !== "object" || params === null || Array.isArray(params)) throw bad("optimizerParams", "optimizer parameters", params, "must be an object");
  const p = params as NonNullable<FitOptions["optimizerParams"]>;
  const atLeast0 = (v: unknown, name: string, what: string): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw bad(name, what, v, "must be a finite number >= 0");
    return v;
  };
  const betas: unknown = p.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw bad("optimizerParams.betas", "betas", betas, "must be a pair [beta1, beta2]");
  const [beta1, beta2] = betas.map((b: unknown, i) => {
    if (typeof b !== "number" || !(b >= 0 && b < 1)) throw bad(`optimizerParams.betas[${i}]`, `beta parameter at index ${i}`, b, "must be in [0, 1)");
    return b;
  }) as [number, number];
  return {
    lr: atLeast0(p.lr ?? 2e-5, "optimizerParams.lr", "learning rate"),
    beta1,
    beta2,
    eps: atLeast0(p.eps ?? 1e-8, "optimizerParams.eps", "epsilon value"),
    weightDecay: atLeast0(options.weightDecay ?? 0.01, "weightDecay", "weight_decay value"),
  };
}

/** Every example of every objective is checked before the first step: text counts and labels. */
function checkData(model: SentenceTransformer, objectives: [DataLoader, Loss][]): void {
  objectives.forEach(([loader, loss], o) => {
    const where = `trainObjectives[${o}]`;
    if (loss.model !== model) throw new TypeError(`fit: ${where}: the loss was built for another model`);
    if (loader.examples.length === 0 || loader.length === 0) {
      throw new RangeError(`fit: ${where}: the DataLoader is empty (${loader.examples.length} examples, batch size ${loader.batchSize})`);
    }
    const [min, max] = loss.columns;
    let count: number | undefined;
    loader.examples.forEach((ex: InputExample, i) => {
      const at = `${where} example ${i}${ex.guid ? ` (guid ${ex.guid})` : ""}`;
      const n = ex.texts.length;
      if (n < min || n > max) {
        const expected = min === max ? `${min}` : max === Infinity ? `${min} or more` : `${min} to ${max}`;
        throw new RangeError(`fit: ${at} has ${n} texts but ${loss.name} takes ${expected}`);
      }
      if (count !== undefined && n !== count) throw new RangeError(`fit: ${at} has ${n} texts, the examples before it ${count}`);
      count = n;
      loss.checkLabel(ex.label, `fit: ${at}`);
    });
  });
}

async function saveCheckpoint(model: SentenceTransformer, trainer: NativeTrainer, dir: string, state: TrainerState, limit: number): Promise<void> {
  await writeFolderAtomically(join(dir, `checkpoint-${state.global_step}`), async (tmp) => {
    await model.save(tmp, { createModelCard: false });
    await saveOptimizerState(tmp, trainer);
    await writeJson(join(tmp, STATE_FILE), state);
  }, "fit");
  if (limit > 0) {
    const all = await checkpointSteps(dir);
    for (const step of all.slice(0, Math.max(0, all.length - limit))) await rm(join(dir, `checkpoint-${step}`), { recursive: true, force: true });
  }
}

/** Restores model weights, optimizer, RNG and data position from a checkpoint folder. */
async function loadCheckpoint(model: SentenceTransformer, trainer: NativeTrainer, dir: string): Promise<TrainerState> {
  const op = "fit.resumeFromCheckpoint";
  const state = (await readJsonObject(join(dir, STATE_FILE), { op })) as unknown as TrainerState;
  await loadModelWeights(model, dir, op);
  await loadOptimizerState(trainer, dir, state.optimizer_steps, op);
  return state;
}

const FIT_DEFAULTS: Record<string, unknown> = {
  epochs: 1,
  scheduler: "WarmupLinear",
  warmupSteps: 10000,
  lr: 2e-5,
  weightDecay: 0.01,
  evaluationSteps: 0,
  maxGradNorm: 1,
  useAmp: false,
};

function nonDefaults(options: FitOptions, resolved: { epochs: number; stepsPerEpoch: number; totalSteps: number }): Record<string, unknown> {
  const given: Record<string, unknown> = {
    epochs: resolved.epochs,
    scheduler: options.scheduler,
    warmupSteps: options.warmupSteps,
    lr: options.optimizerParams?.lr,
    weightDecay: options.weightDecay,
    evaluationSteps: options.evaluationSteps,
    maxGradNorm: options.maxGradNorm,
    useAmp: options.useAmp,
    seed: options.seed,
  };
  const out: Record<string, unknown> = { stepsPerEpoch: resolved.stepsPerEpoch, totalSteps: resolved.totalSteps };
  for (const [k, v] of Object.entries(given)) if (v !== undefined && v !== FIT_DEFAULTS[k]) out[k] = v;
  return out;
}

/** Runs the training loop; see FitOptions. */
export async function fit(model: SentenceTransformer, options: FitOptions): Promise<FitResult> {
  if (typeof options !== "object" || options === null) throw new TypeError("fit: options must be an object");
  const objectives = options.trainObjectives;
  if (!Array.isArray(objectives) || objectives.length === 0) throw new TypeError("fit: trainObjectives must be a non-empty list of [DataLoader, loss] pairs");
  objectives.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0]?.epochBatches !== "function" || typeof pair[1]?.nativeSpec !== "function") {
      throw new TypeError(`fit: trainObjectives[${i}] must be a [DataLoader, loss] pair`);
    }
  });
  // sentence-transformers' fit builds a trainer without router_mapping, which refuses a Router model.
  if (model.modules.some((m) => m instanceof Router)) {
    throw new RangeError("fit: the model has a Router, whose columns need a task each: train it with SentenceTransformerTrainer and args.routerMapping");
  }
  const epochs = positiveInt(options.epochs ?? 1, "epochs");
  const scheduler = (options.scheduler ?? "WarmupLinear").toLowerCase() as SchedulerName;
  if (!SCHEDULERS.includes(scheduler)) throw new RangeError(`fit: scheduler must be one of ConstantLR, WarmupConstant, WarmupLinear, WarmupCosine, WarmupCosineWithHardRestarts, got ${JSON.stringify(options.scheduler)}`);
  const warmupSteps = nonNegativeInt(options.warmupSteps ?? 10000, "warmupSteps");
  const { lr, beta1, beta2, eps, weightDecay } = adamWOptions(options);
  const evaluationSteps = nonNegativeInt(options.evaluationSteps ?? 0, "evaluationSteps");
  const maxGradNorm = finiteNumber(options.maxGradNorm ?? 1, "maxGradNorm");
  const checkpointSaveSteps = nonNegativeInt(options.checkpointSaveSteps ?? 500, "checkpointSaveSteps");
  const checkpointSaveTotalLimit = nonNegativeInt(options.checkpointSaveTotalLimit ?? 0, "checkpointSaveTotalLimit");
  const saveBestModel = options.saveBestModel ?? true;
  const showProgressBar = options.showProgressBar ?? true;
  const { evaluator, outputPath, checkpointPath, callback, signal } = options;
  if (evaluator !== undefined && (typeof evaluator.evaluate !== "function" || typeof evaluator.primaryMetric !== "string")) {
    throw new TypeError("fit: evaluator must be an evaluation.* evaluator");
  }
  if (options.resumeFromCheckpoint === true && !checkpointPath) throw new TypeError("fit: resumeFromCheckpoint: true needs checkpointPath");
  checkData(model, objectives);
  const stepsPerEpoch = options.stepsPerEpoch !== undefined ? positiveInt(options.stepsPerEpoch, "stepsPerEpoch") : Math.min(...objectives.map(([l]) => l.length));
  const totalSteps = stepsPerEpoch * epochs * objectives.length;
  // The trainer's own generator: runs with the same seed make the same weights, whatever else runs in the process.
  const seed = options.seed ?? randomSeed();

  const trainer = callNativeSync("fit", (n) =>
    n.createTrainer(
      model.modules.map((m) => m.native),
      objectives.map(([, loss]) => loss.nativeSpec()),
      { lr, weightDecay, beta1, beta2, eps, maxGradNorm, scheduler, warmupSteps, totalSteps, useAmp: options.useAmp ?? false, seed },
    ),
  );
  try {
    let state: TrainerState = {
      global_step: 0,
      optimizer_steps: 0,
      epoch: 0,
      step_in_epoch: 0,
      loaders: objectives.map(() => ({ pass: 0, index: 0 })),
      loader_seeds: objectives.map(([l]) => l.seed),
      best_score: null,
      total_steps: totalSteps,
      log_history: [],
    };
    if (options.resumeFromCheckpoint) {
      const dir = options.resumeFromCheckpoint === true ? await latestCheckpoint(checkpointPath!) : options.resumeFromCheckpoint;
      if (dir === undefined) throw new SbertError("ERR_FILE_NOT_FOUND", `no checkpoint-N folder in ${checkpointPath}`, { op: "fit.resumeFromCheckpoint" });
      state = await loadCheckpoint(model, trainer, dir);
      if (state.loaders.length !== objectives.length) {
        throw new SbertError("ERR_CONFIG", `${dir}: the checkpoint has ${state.loaders.length} objectives, this run ${objectives.length}`, { op: "fit.resumeFromCheckpoint" });
      }
    }
    // Each objective's batches come from its loader's seed (the checkpoint's, when resuming).
    const loaders = objectives.map(([l], o) => (l.seed === state.loader_seeds[o] ? l : l.withSeed(state.loader_seeds[o]!)));
    const passes = loaders.map(() => new Map<number, InputExample[][]>());
    const nextBatch = (o: number): InputExample[] => {
      const pos = state.loaders[o]!;
      let batches = passes[o]!.get(pos.pass) ?? loaders[o]!.epochBatches(pos.pass);
      if (pos.index >= batches.length) {
        passes[o]!.delete(pos.pass);
        pos.pass++;
        pos.index = 0;
        batches = loaders[o]!.epochBatches(pos.pass);
      }
      passes[o]!.set(pos.pass, batches);
      return batches[pos.index++]!;
    };

    const log: TrainingLogEntry[] = [];
    const evaluations: EvaluationLogEntry[] = [];
    // The model card of every save during and after training reports this run (the log grows as it goes).
    model.trainingSummary = {
      objectives: objectives.map(([l, loss]) => ({
        loss: loss.name,
        lossConfig: loss.getConfigDict(),
        examples: l.examples.length,
        batchSize: l.batchSize,
        samples: l.examples.slice(0, 3).map((e) => ({ texts: [...e.texts], label: e.label instanceof Float32Array ? `[${e.label.length} values]` : e.label })),
      })),
      hyperparameters: nonDefaults(options, { epochs, stepsPerEpoch, totalSteps }),
      log: state.log_history,
      evaluations,
      primaryMetric: evaluator?.primaryMetric,
    };
    const greaterIsBetter = evaluator?.greaterIsBetter ?? true;
    let best = state.best_score ?? undefined;

    const evaluate = async (epoch: number, steps: number): Promise<void> => {
      if (!evaluator) return;
      const metrics = await evaluator.evaluate(model, { outputPath: outputPath ? join(outputPath, "eval") : undefined, epoch, steps });
      const score = metrics[evaluator.primaryMetric];
      if (typeof score !== "number") throw new SbertError("ERR_INPUT", `the evaluator returned no '${evaluator.primaryMetric}' metric`, { op: "fit" });
      evaluations.push({ epoch, steps, globalStep: state.global_step, metrics });
      if (callback) await callback(score, epoch, steps);
      const better = best === undefined || (greaterIsBetter ? score > best : score < best);
      if (better) {
        best = score;
        state.best_score = score;
        if (saveBestModel && outputPath) await model.save(outputPath);
      }
    };

    const stop = async (): Promise<never> => {
      if (checkpointPath) await saveCheckpoint(model, trainer, checkpointPath, state, checkpointSaveTotalLimit);
      throw signal!.reason ?? new DOMException("fit was aborted", "AbortError");
    };
    if (signal?.aborted) await stop();

    let lossSum = 0;
    let lossCount = 0;
    for (let epoch = state.epoch; epoch < epochs; epoch++) {
      state.epoch = epoch;
      const bar = showProgressBar ? new ProgressBar({ total: stepsPerEpoch, label: `Epoch ${epoch + 1}/${epochs}` }) : undefined;
      if (state.step_in_epoch > 0) bar?.tick(state.step_in_epoch);
      let running = 0;
      for (let s = state.step_in_epoch; s < stepsPerEpoch; s++) {
        for (let o = 0; o < objectives.length; o++) {
          const batch = nextBatch(o);
          const loss = objectives[o]![1];
          const columns = tokenizeColumns(model, batch[0]!.texts.map((_, c) => batch.map((ex) => ex.texts[c]!)));
          const labels = loss.batchLabels ? await loss.batchLabels(columns) : labelTensor(loss, batch.map((ex) => ex.label));
          const result = await model.exclusive(() => callNative("fit.step", () => trainer.step(o, columns, labels)));
          const entry = { step: result.step, epoch: epoch + (s + 1) / stepsPerEpoch, loss: result.loss, lr: result.lr };
          log.push(entry);
          state.log_history.push(entry);
          lossSum += result.loss;
          lossCount++;
          running = running === 0 ? result.loss : 0.9 * running + 0.1 * result.loss;
        }
        state.global_step++;
        state.optimizer_steps = trainer.stepCount;
        state.step_in_epoch = s + 1;
        bar?.tick(1, `loss=${running.toFixed(4)}`);
        if (evaluationSteps > 0 && (s + 1) % evaluationSteps === 0) await evaluate(epoch, s + 1);
        if (checkpointPath && checkpointSaveSteps > 0 && state.global_step % checkpointSaveSteps === 0) {
          await saveCheckpoint(model, trainer, checkpointPath, state, checkpointSaveTotalLimit);
        }
        if (signal?.aborted) {
          bar?.stop();
          await stop();
        }
      }
      bar?.stop();
      state.step_in_epoch = 0;
      state.epoch = epoch + 1;
      await evaluate(epoch, -1);
    }
    if (!evaluator && outputPath) await model.save(outputPath);
    if (checkpointPath) await saveCheckpoint(model, trainer, checkpointPath, state, checkpointSaveTotalLimit);
    return { globalStep: state.global_step, trainingLoss: lossCount ? lossSum / lossCount : NaN, bestScore: best, log, evaluations };
  } finally {
    trainer.dispose();
  }
}
