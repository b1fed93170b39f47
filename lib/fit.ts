/**
 * SentenceTransformer.fit: sentence-transformers' classic training API, run as sentence-transformers 3+ runs it
 * (`fit_mixin.py`): each objective's DataLoader becomes a dataset (sentence_0, sentence_1, ..., label), the
 * objectives a dict of datasets with a loss each, batched round robin, and fit's options become
 * SentenceTransformerTrainingArguments; SentenceTransformerTrainer trains. Callbacks add what the trainer lacks:
 * the evaluator at every epoch's end, the best model saved to outputPath, fit's callback, and stopping on an
 * AbortSignal. CrossEncoder.fit (crossEncoder/fit.ts) is built from the same pieces, exported here.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

import { DataLoader } from "./DataLoader.js";
import { Dataset } from "./datasets/Dataset.js";
import { NoDuplicatesDataLoader } from "./datasets/NoDuplicatesDataLoader.js";
import { SbertError } from "./errors.js";
import type { InputExample } from "./InputExample.js";
import { latestCheckpoint } from "./internal/training.js";
import type { Loss } from "./losses/Loss.js";
import { Router } from "./models/Router.js";
import { BatchSamplers, MultiDatasetBatchSamplers, type BatchSamplerName } from "./sampler.js";
import type { SentenceTransformer } from "./SentenceTransformer.js";
import {
  SentenceTransformerTrainer,
  type TrainableModel,
  type TrainerCallback,
  type TrainerCallbackEvent,
  type TrainerEvaluator,
  type TrainingLoss,
} from "./SentenceTransformerTrainer.js";
import { SentenceTransformerTrainingArguments, type LrSchedulerType, type SentenceTransformerTrainingArgumentsInit } from "./SentenceTransformerTrainingArguments.js";

/** What fit needs of an evaluator (every class in `evaluation` has it). */
export interface FitEvaluator {
  evaluate(model: SentenceTransformer, options?: { outputPath?: string; epoch?: number; steps?: number }): Promise<Record<string, number>>;
  readonly primaryMetric: string;
  readonly greaterIsBetter?: boolean;
}

export type SchedulerName = "constantlr" | "warmupconstant" | "warmuplinear" | "warmupcosine" | "warmupcosinewithhardrestarts";

export interface FitOptions {
  /** [DataLoader, loss] pairs; with several, their batches take turns (round robin) until the shortest runs out. */
  trainObjectives: [DataLoader, Loss][];
  /** Runs every evaluationSteps steps and at the end of each epoch; the best model by its primary metric is saved. */
  evaluator?: FitEvaluator;
  epochs?: number;
  /** With epochs 1: train this many steps. With more epochs it is ignored (as sentence-transformers 3+). */
  stepsPerEpoch?: number;
  /** Case-insensitive: ConstantLR, WarmupConstant, WarmupLinear (default), WarmupCosine, WarmupCosineWithHardRestarts. */
  scheduler?: string;
  /** Default 10000, as sentence-transformers. */
  warmupSteps?: number;
  optimizerParams?: { lr?: number; betas?: [number, number]; eps?: number };
  weightDecay?: number;
  /** Evaluate every this many steps (0: only at the end of each epoch). */
  evaluationSteps?: number;
  /** Where the best model (or, without an evaluator, the trained one) is saved, and epoch-end evaluations' CSVs go (eval/). */
  outputPath?: string;
  saveBestModel?: boolean;
  /** Gradient clipping (<= 0 turns it off). Default 1. */
  maxGradNorm?: number;
  /** Mixed precision: bf16 autocast on CPU, fp16 on CUDA. */
  useAmp?: boolean;
  /** Called after each evaluation with the primary metric, the epoch (fractional) and the global step. */
  callback?: (score: number, epoch: number, steps: number) => void | Promise<void>;
  showProgressBar?: boolean;
  /**
   * The trainer's output folder: checkpoint-N/ folders, the step evaluations' CSVs (eval/) and trainer_log.jsonl.
   * Default: checkpoints/model (or model_1, ... when taken) under the working directory, with no checkpoints.
   */
  checkpointPath?: string;
  /** Default 500; 0: only at the end. */
  checkpointSaveSteps?: number;
  /** Keep at most this many checkpoints (0: all). */
  checkpointSaveTotalLimit?: number;
  /** With checkpointPath: true (or a folder) resumes from its latest checkpoint-N. Without: a checkpoint folder. */
  resumeFromCheckpoint?: string | boolean;
  /** Seeds the data order and dropout. Default 42. */
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
  /** One entry per step of this call. */
  log: TrainingLogEntry[];
  evaluations: EvaluationLogEntry[];
}

export const SCHEDULERS: readonly SchedulerName[] = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts"];

/** fit's schedule names → the trainer's (transformers' schedules of the same shape). */
export const FIT_SCHEDULER_TYPES: Readonly<Record<SchedulerName, LrSchedulerType>> = {
  constantlr: "constant",
  warmupconstant: "constant_with_warmup",
  warmuplinear: "linear",
  warmupcosine: "cosine",
  warmupcosinewithhardrestarts: "cosine_with_restarts",
};

/** Python's _default_checkpoint_dir: checkpoints/model, or the first of model_1, model_2, ... missing or empty. */
export async function defaultCheckpointDir(): Promise<string> {
  const used = async (dir: string) => (await readdir(dir).catch(() => [])).length > 0;
  let dir = join("checkpoints", "model");
  for (let i = 1; await used(dir); i++) dir = join("checkpoints", `model_${i}`);
  return dir;
}

function nonNegativeInt(v: unknown, name: string, op: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new RangeError(`${op}: ${name} must be an integer >= 0, got ${String(v)}`);
  return v;
}

function positiveInt(v: unknown, name: string, op: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new RangeError(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function finiteNumber(v: unknown, name: string, op: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number, got ${String(v)}`);
  return v;
}

/** AdamW's hyperparameters, refused where torch.optim.AdamW refuses them (and when not finite). */
function adamWOptions(options: SharedFitOptions, op: string): { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number } {
  const params: unknown = options.optimizerParams ?? {};
  const bad = (name: string, what: string, v: unknown, rule: string) =>
    new SbertError("ERR_INPUT", `${name}: Invalid ${what}: ${Array.isArray(v) ? `[${v.map(String).join(", ")}]` : String(v)} (${rule})`, { op });
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

/** The options SentenceTransformer.fit and CrossEncoder.fit share, with the same names, defaults and meaning. */
export type SharedFitOptions = Pick<
  FitOptions,
  "epochs" | "scheduler" | "warmupSteps" | "optimizerParams" | "weightDecay" | "evaluationSteps" | "outputPath" | "saveBestModel" | "maxGradNorm" | "useAmp" | "callback" | "showProgressBar" | "checkpointPath"
> & { evaluator?: TrainerEvaluator<never> };

/** The shared options, checked, with their defaults filled in. */
export interface CheckedFitOptions {
  epochs: number;
  scheduler: SchedulerName;
  warmupSteps: number;
  evaluationSteps: number;
  saveBestModel: boolean;
  /** Training arguments that follow from the options alone (the caller adds the data's: batch size, sampler, steps). */
  args: SentenceTransformerTrainingArgumentsInit;
}

/** Checks fit's shared options (`op` names the method in errors) and maps them onto training arguments as fit_mixin does. */
export function checkFitOptions(options: SharedFitOptions, op: string, device: string): CheckedFitOptions {
  const epochs = positiveInt(options.epochs ?? 1, "epochs", op);
  const scheduler = (options.scheduler ?? "WarmupLinear").toLowerCase() as SchedulerName;
  if (!SCHEDULERS.includes(scheduler)) throw new RangeError(`${op}: scheduler must be one of ConstantLR, WarmupConstant, WarmupLinear, WarmupCosine, WarmupCosineWithHardRestarts, got ${JSON.stringify(options.scheduler)}`);
  const warmupSteps = nonNegativeInt(options.warmupSteps ?? 10000, "warmupSteps", op);
  const { lr, beta1, beta2, eps, weightDecay } = adamWOptions(options, op);
  const evaluationSteps = nonNegativeInt(options.evaluationSteps ?? 0, "evaluationSteps", op);
  const maxGradNorm = finiteNumber(options.maxGradNorm ?? 1, "maxGradNorm", op);
  const { evaluator, callback } = options;
  if (evaluator !== undefined && (typeof evaluator?.evaluate !== "function" || typeof evaluator.primaryMetric !== "string")) {
    throw new TypeError(`${op}: evaluator must be an evaluation.* evaluator`);
  }
  // Python's trainer refuses step evaluations with nothing to evaluate.
  if (evaluationSteps > 0 && evaluator === undefined) throw new RangeError(`${op}: evaluationSteps is ${evaluationSteps} but there is no evaluator; give one, or leave evaluationSteps at 0`);
  if (callback !== undefined && typeof callback !== "function") throw new TypeError(`${op}: callback must be a function`);
  const onCuda = device.startsWith("cuda");
  const useAmp = options.useAmp ?? false;
  return {
    epochs,
    scheduler,
    warmupSteps,
    evaluationSteps,
    saveBestModel: options.saveBestModel ?? true,
    args: {
      outputDir: options.checkpointPath ?? "",
      numTrainEpochs: epochs,
      evalStrategy: evaluationSteps > 0 ? "steps" : "no",
      ...(evaluationSteps > 0 && { evalSteps: evaluationSteps }),
      maxGradNorm,
      fp16: useAmp && onCuda,
      bf16: useAmp && !onCuda,
      disableTqdm: !(options.showProgressBar ?? true),
      learningRate: lr,
      adamBeta1: beta1,
      adamBeta2: beta2,
      adamEpsilon: eps,
      weightDecay,
      lrSchedulerType: FIT_SCHEDULER_TYPES[scheduler],
      warmupSteps,
    },
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

/**
 * The examples one pass of `loader` yields, as a dataset: sentence_0, sentence_1, ... and a label column, left out
 * when every label is 0 (InputExample's default) unless `keepLabels`.
 */
export function loaderDataset(loader: DataLoader, keepLabels = false): Dataset {
  const examples = [...loader].flat();
  const columns: Record<string, unknown[]> = {};
  for (let c = 0; c < examples[0]!.texts.length; c++) columns[`sentence_${c}`] = examples.map((e) => e.texts[c]);
  const labels = examples.map((e) => (typeof e.label === "number" ? e.label : Array.from(e.label)));
  if (keepLabels || !labels.every((l) => l === 0)) columns["label"] = labels;
  return Dataset.fromColumns(columns);
}

/**
 * The trainer a fit runs, an instance of `Trainer`: its schedule decays over fit's step count (steps per epoch ×
 * epochs, as Python's fit makes its scheduler, whatever steps the trainer then takes), and without a checkpointPath
 * it writes no log file. Its output folder is made at once.
 */
export async function createFitTrainer<T extends SentenceTransformerTrainer<TrainableModel, TrainingLoss>, O>(
  Trainer: new (options: O) => T,
  options: O,
  schedule: { warmupSteps: number; totalSteps: number },
  writeLog: boolean,
): Promise<T> {
  const Base = Trainer as unknown as new (options: O) => SentenceTransformerTrainer<TrainableModel, TrainingLoss>;
  class FitTrainer extends Base {
    protected override lrSchedule(): { warmupSteps: number; totalSteps: number } {
      return schedule;
    }

    protected override get logFile(): string | undefined {
      return writeLog ? super.logFile : undefined;
    }
  }
  const trainer = new FitTrainer(options);
  // transformers' Trainer makes its output folder when it is built, whether or not anything is saved there.
  await mkdir(trainer.args.outputDir, { recursive: true });
  return trainer as unknown as T;
}

/**
 * fit_mixin's callbacks: EvaluatorCallback (the evaluator at each epoch's end too, its CSV under outputPath/eval,
 * its metrics handed to every callback's onEvaluate when `epochEndMetrics`), OriginalCallback (fit's callback, with
 * the first metric ending in the primary metric's name) and SaveModelCallback (each such metric that beats the best
 * so far saves the model to outputPath; SentenceTransformer.fit without an evaluator saves the trained model there at
 * the end).
 */
export async function fitCallbacks<M extends TrainableModel>(o: {
  model: M;
  evaluator: TrainerEvaluator<M> | undefined;
  outputPath: string | undefined;
  saveBestModel: boolean;
  callback: ((score: number, epoch: number, steps: number) => void | Promise<void>) | undefined;
  saveWithoutEvaluator: boolean;
  /**
   * Whether the epoch-end evaluations reach the callbacks (fit's callback, the best-model save, the model card).
   * CrossEncoder.fit's EvaluatorCallback is never given its trainer, so there they only run the evaluator.
   */
  epochEndMetrics: boolean;
  /** The trainer, once made: its callbacks hear the epoch-end evaluations. */
  trainer: () => { readonly callbacks: readonly TrainerCallback<M>[] };
  /** Whether the run was stopped (no save at its end then). */
  aborted?: () => boolean;
}): Promise<{ callbacks: TrainerCallback<M>[]; best: () => number | undefined }> {
  const { model, evaluator, outputPath, saveBestModel, callback } = o;
  let best: number | undefined;
  const callbacks: TrainerCallback<M>[] = [];
  if (evaluator !== undefined) {
    const evalPath = outputPath === undefined ? undefined : join(outputPath, "eval");
    if (evalPath !== undefined) await mkdir(evalPath, { recursive: true });
    callbacks.push({
      async onEpochEnd(event) {
        const { state } = event;
        // In a distributed run rank 0 alone evaluates and saves.
        if (!state.is_world_process_zero) return;
        const raw = await evaluator.evaluate(model, { outputPath: evalPath, epoch: state.epoch, steps: state.global_step });
        if (!o.epochEndMetrics) return;
        model.trainingSummary?.evaluations.push({ epoch: state.epoch, steps: state.global_step, globalStep: state.global_step, metrics: raw });
        const metrics = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.startsWith("eval_") ? k : `eval_${k}`, v]));
        for (const cb of o.trainer().callbacks) await cb.onEvaluate?.({ ...event, metrics });
      },
    });
    const greaterIsBetter = evaluator.greaterIsBetter ?? true;
    callbacks.push({
      async onEvaluate({ state, metrics }) {
        const keys = Object.keys(metrics).filter((k) => k.endsWith(evaluator.primaryMetric));
        if (keys.length > 0 && callback) await callback(metrics[keys[0]!]!, state.epoch, state.global_step);
        for (const key of keys) {
          const score = metrics[key]!;
          if (best === undefined || (greaterIsBetter ? score > best : score < best)) {
            best = score;
            if (saveBestModel && outputPath !== undefined) await model.save(outputPath);
          }
        }
      },
    });
  } else if (o.saveWithoutEvaluator && outputPath !== undefined) {
    callbacks.push({
      async onTrainEnd({ state }) {
        if (!o.aborted?.() && state.is_world_process_zero) await model.save(outputPath);
      },
    });
  }
  return { callbacks, best: () => best };
}

/** The scheduler's length as Python's fit computes it: full batches per epoch (or stepsPerEpoch) × epochs. */
export function fitScheduleSteps(datasets: Dataset[], batchSize: number, epochs: number, stepsPerEpoch?: number): number {
  return (stepsPerEpoch ?? Math.min(...datasets.map((d) => Math.floor(d.length / batchSize)))) * epochs;
}

/** Trains as sentence-transformers' fit does; see FitOptions. */
export async function fit(model: SentenceTransformer, options: FitOptions): Promise<FitResult> {
  if (typeof options !== "object" || options === null) throw new TypeError("fit: options must be an object");
  const objectives = options.trainObjectives;
  if (!Array.isArray(objectives) || objectives.length === 0) throw new TypeError("fit: trainObjectives must be a non-empty list of [DataLoader, loss] pairs");
  objectives.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !(pair[0] instanceof DataLoader) || typeof pair[1]?.nativeSpec !== "function") {
      throw new TypeError(`fit: trainObjectives[${i}] must be a [DataLoader, loss] pair`);
    }
  });
  // sentence-transformers' fit builds a trainer without router_mapping, which refuses a Router model.
  if (model.modules.some((m) => m instanceof Router)) {
    throw new RangeError("fit: the model has a Router, whose columns need a task each: train it with SentenceTransformerTrainer and args.routerMapping");
  }
  const checked = checkFitOptions(options, "fit", model.device);
  const { epochs, warmupSteps } = checked;
  const checkpointSaveSteps = nonNegativeInt(options.checkpointSaveSteps ?? 500, "checkpointSaveSteps", "fit");
  const checkpointSaveTotalLimit = nonNegativeInt(options.checkpointSaveTotalLimit ?? 0, "checkpointSaveTotalLimit", "fit");
  let stepsPerEpoch = options.stepsPerEpoch === undefined ? undefined : positiveInt(options.stepsPerEpoch, "stepsPerEpoch", "fit");
  const seed = nonNegativeInt(options.seed ?? 42, "seed", "fit");
  const { evaluator, outputPath, checkpointPath, signal } = options;
  const resume = options.resumeFromCheckpoint;
  if (resume !== undefined && typeof resume !== "boolean" && typeof resume !== "string") throw new TypeError("fit: resumeFromCheckpoint must be a checkpoint folder or a boolean");
  checkData(model, objectives);

  // The objectives as a dict of datasets, _dataset_1, _dataset_2, ..., each with its loss. As in Python, the batch
  // size (and a NoDuplicatesDataLoader's sampler) is the objectives' last one's, for all of them.
  const trainDataset: Record<string, Dataset> = {};
  const loss: Record<string, Loss> = {};
  let batchSize = 8;
  let batchSampler: BatchSamplerName = BatchSamplers.BATCH_SAMPLER;
  objectives.forEach(([loader, l], i) => {
    if (loader instanceof NoDuplicatesDataLoader) batchSampler = BatchSamplers.NO_DUPLICATES;
    batchSize = loader.batchSize;
    trainDataset[`_dataset_${i + 1}`] = loaderDataset(loader, l.labelKind !== "none");
    loss[`_dataset_${i + 1}`] = l;
  });

  let maxSteps = -1;
  if (stepsPerEpoch !== undefined) {
    if (epochs === 1) {
      maxSteps = stepsPerEpoch;
    } else {
      process.emitWarning("fit: stepsPerEpoch alongside epochs > 1 is ignored (as in sentence-transformers 3+): every epoch trains on the full datasets");
      stepsPerEpoch = undefined;
    }
  }

  const args = new SentenceTransformerTrainingArguments({
    ...checked.args,
    outputDir: checkpointPath ?? (await defaultCheckpointDir()),
    batchSampler,
    multiDatasetBatchSampler: MultiDatasetBatchSamplers.ROUND_ROBIN,
    perDeviceTrainBatchSize: batchSize,
    perDeviceEvalBatchSize: batchSize,
    maxSteps,
    saveStrategy: checkpointPath !== undefined ? "steps" : "no",
    saveSteps: checkpointSaveSteps,
    saveTotalLimit: checkpointSaveTotalLimit,
    seed,
    // Every step's loss is logged: FitResult.log has one entry per step.
    loggingSteps: 1,
  });

  let aborted = false;
  const stopIfAborted = ({ control }: TrainerCallbackEvent) => {
    if (!signal?.aborted) return;
    aborted = true;
    control.shouldTrainingStop = true;
    if (checkpointPath !== undefined) control.shouldSave = true;
  };
  const { callbacks, best } = await fitCallbacks({
    model,
    evaluator,
    outputPath,
    saveBestModel: checked.saveBestModel,
    callback: options.callback,
    saveWithoutEvaluator: true,
    epochEndMetrics: true,
    trainer: () => trainer,
    aborted: () => aborted,
  });
  if (signal !== undefined) callbacks.push({ onStepEnd: stopIfAborted, onEvaluate: stopIfAborted });

  const trainer: SentenceTransformerTrainer = await createFitTrainer(
    SentenceTransformerTrainer,
    { model, args, trainDataset, loss, ...(evaluator !== undefined && { evaluator }), callbacks },
    { warmupSteps, totalSteps: fitScheduleSteps(Object.values(trainDataset), batchSize, epochs, stepsPerEpoch) },
    checkpointPath !== undefined,
  );
  let resumeFrom: string | boolean | undefined = resume;
  if (checkpointPath !== undefined && resume) {
    resumeFrom = await latestCheckpoint(checkpointPath);
    if (resumeFrom === undefined) process.emitWarning(`fit: no checkpoint-N folder in ${checkpointPath}; training starts afresh`);
  }
  if (signal?.aborted) throw signal.reason ?? new DOMException("fit was aborted", "AbortError");
  const out = await trainer.train({ ...(resumeFrom !== undefined && { resumeFromCheckpoint: resumeFrom }) });
  if (aborted) throw signal!.reason ?? new DOMException("fit was aborted", "AbortError");
  const summary = model.trainingSummary!;
  const log = [...summary.log];
  return {
    globalStep: out.globalStep,
    trainingLoss: log.length ? log.reduce((a, l) => a + l.loss, 0) / log.length : NaN,
    bestScore: best(),
    log,
    evaluations: [...summary.evaluations],
  };
}
