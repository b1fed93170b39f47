/**
 * The training loop `sbert-node train` runs for the model types trained by a SentenceTransformerTrainer subclass
 * (CrossEncoderTrainer, SparseEncoderTrainer), with the fit section's options meaning what they mean for a
 * SentenceTransformer's fit: an epoch is stepsPerEpoch steps (by default one pass over the data), the evaluator
 * runs every evaluationSteps steps of an epoch and at its end, the best model by the evaluator's primary metric is
 * saved to outputPath (the final model without an evaluator or with saveBestModel false), and checkpoints go to
 * checkpointPath every checkpointSaveSteps steps and at the end.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Dataset } from "../datasets/Dataset.js";
import type { EvaluateOptions } from "../evaluation/SentenceEvaluator.js";
import { distributedFromEnv, isMainProcess } from "../distributed.js";
import { SbertError } from "../errors.js";
import { latestCheckpoint } from "../internal/training.js";
import type { TrainerCallback, TrainerState, TrainOutput } from "../SentenceTransformerTrainer.js";
import {
  LR_SCHEDULERS,
  type LrSchedulerType,
  type SentenceTransformerTrainingArguments,
  type SentenceTransformerTrainingArgumentsInit,
} from "../SentenceTransformerTrainingArguments.js";
import { metricsLine, note, stopOnSignals, reportTraining } from "./common.js";
import { ConfigError } from "./config.js";
import type { BuiltEvaluator } from "./specs.js";
import type { TrainJob } from "./train.js";

/** The trainer's seed when the config gives none (sentence-transformers' trainer default), so that a resumed run sees the same batches. */
const DEFAULT_SEED = 42;

/** What the loop needs of a model. */
interface TrainedModel {
  readonly device: string;
  save(path: string): Promise<void>;
}

/** An evaluator of the model type's kind, as the loop calls it. */
interface EvaluatorOf<M> {
  evaluate(model: M, options: EvaluateOptions): Promise<Record<string, number>>;
  readonly primaryMetric: string;
  readonly greaterIsBetter: boolean;
}

/** One model type's pieces, built and checked from the config. */
export interface TrainerRun<M extends TrainedModel> {
  model: M;
  lossName: string;
  dataset: Dataset;
  /** The evaluator, already checked to be of the model's kind. */
  built: BuiltEvaluator | undefined;
  /** The model's part of the "train:" line (kind, sizes), before the device. */
  describe: string;
  makeArgs(init: SentenceTransformerTrainingArgumentsInit): SentenceTransformerTrainingArguments;
  makeTrainer(args: SentenceTransformerTrainingArguments, callback: TrainerCallback<M>): { train(options: { resumeFromCheckpoint?: string | boolean }): Promise<TrainOutput> };
}

/** Trains as the fit section says; returns the exit code. */
export async function runTrainer<M extends TrainedModel>(job: TrainJob, run: TrainerRun<M>): Promise<number> {
  const { fit, outputPath, checkpointPath, resume, showProgressBar } = job;
  const { plan } = job;
  const { model, dataset, built } = run;
  const batchSize = fit.int("batchSize", 1) ?? 16;
  const epochs = fit.int("epochs", 1) ?? 1;
  // One pass over the data; in a distributed run each rank takes its share of the batches per step.
  const world = distributedFromEnv(process.env, "train")?.worldSize ?? 1;
  const stepsPerEpoch = fit.int("stepsPerEpoch", 1) ?? Math.ceil(Math.ceil(dataset.length / batchSize) / world);
  const warmupSteps = fit.int("warmupSteps", 0) ?? Math.ceil(stepsPerEpoch * epochs * (fit.number("warmupRatio") ?? 0.1));
  const evaluationSteps = fit.int("evaluationSteps", 0) ?? 0;
  const saveBestModel = fit.bool("saveBestModel") ?? true;
  const checkpointSaveSteps = fit.int("checkpointSaveSteps", 0) ?? 500;
  const checkpointSaveTotalLimit = fit.int("checkpointSaveTotalLimit", 0) ?? 0;
  const scheduler = (fit.string("scheduler") ?? "WarmupLinear").toLowerCase();
  const lrSchedulerType = (Object.keys(LR_SCHEDULERS) as LrSchedulerType[]).find((t) => LR_SCHEDULERS[t] === scheduler)!;
  const useAmp = fit.bool("useAmp") ?? false;
  const onCuda = model.device.startsWith("cuda");

  note(
    `train: ${plan.path} (${run.describe}, ${model.device}); ${dataset.length} examples, ` +
      `${run.lossName}; ${epochs} epoch(s) × ${stepsPerEpoch} steps of ${batchSize}, warmup ${warmupSteps}` +
      (built ? `; evaluator ${built.type} on ${built.rows} rows` : ""),
  );
  if (job.dryRun) {
    process.stdout.write(`${JSON.stringify({ ok: true, examples: dataset.length, loss: run.lossName, stepsPerEpoch, epochs, warmupSteps, evaluator: built?.type ?? null, outputPath })}\n`);
    return 0;
  }

  // The trainer's log (and, with checkpointPath, its checkpoints) need a folder; without checkpointPath it is a temporary one.
  const outputDir = checkpointPath ?? (await mkdtemp(join(tmpdir(), "sbert-node-train-")));
  const stop = stopOnSignals(checkpointPath !== undefined);
  try {
    let args: SentenceTransformerTrainingArguments;
    try {
      args = run.makeArgs({
        outputDir,
        numTrainEpochs: epochs,
        maxSteps: stepsPerEpoch * epochs,
        perDeviceTrainBatchSize: batchSize,
        perDeviceEvalBatchSize: batchSize,
        learningRate: fit.number("lr") ?? 2e-5,
        weightDecay: fit.number("weightDecay") ?? 0.01,
        maxGradNorm: fit.number("maxGradNorm") ?? 1,
        warmupSteps,
        lrSchedulerType,
        bf16: useAmp && !onCuda,
        fp16: useAmp && onCuda,
        batchSampler: fit.oneOf("batchSampler", ["batch_sampler", "no_duplicates"] as const) ?? "batch_sampler",
        seed: fit.int("seed", 0) ?? DEFAULT_SEED,
        evalStrategy: "no",
        saveStrategy: "no",
        ...(checkpointSaveTotalLimit > 0 && { saveTotalLimit: checkpointSaveTotalLimit }),
        disableTqdm: !showProgressBar,
      });
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) throw new ConfigError(fit.path, e.message);
      throw e;
    }

    let best: number | undefined;
    let lastMetrics: Record<string, number> | undefined;
    const evaluate = async (state: TrainerState, epoch: number, steps: number): Promise<void> => {
      const evaluator = built!.evaluator as unknown as EvaluatorOf<M>;
      const metrics = await evaluator.evaluate(model, { outputPath: join(outputPath, "eval"), epoch, steps });
      lastMetrics = metrics;
      note(`eval: epoch ${epoch + 1} ${steps === -1 ? "end" : `step ${steps}`}: ${metricsLine(metrics)}`);
      const key = evaluator.primaryMetric;
      const score = metrics[key];
      if (typeof score !== "number") throw new SbertError("ERR_INPUT", `the evaluator returned no '${key}' metric`, { op: "train" });
      if (best === undefined || (evaluator.greaterIsBetter ? score > best : score < best)) {
        best = score;
        // Kept in the trainer's state, so that a resumed run knows the best score so far.
        state.best_metric = score;
        if (saveBestModel) await model.save(outputPath);
      }
    };
    // Evaluation, checkpoints and stopping at fit's points; `state` is the trainer's own (written into checkpoints).
    const callback: TrainerCallback<M> = {
      onTrainBegin({ state }) {
        best = state.best_metric ?? undefined;
      },
      async onStepEnd({ state, control }) {
        const step = state.global_step;
        const inEpoch = ((step - 1) % stepsPerEpoch) + 1;
        const epoch = Math.floor((step - 1) / stepsPerEpoch);
        if (built) {
          if (evaluationSteps > 0 && inEpoch % evaluationSteps === 0) await evaluate(state as TrainerState, epoch, inEpoch);
          if (inEpoch === stepsPerEpoch) await evaluate(state as TrainerState, epoch, -1);
        }
        if (checkpointPath !== undefined && ((checkpointSaveSteps > 0 && step % checkpointSaveSteps === 0) || step >= state.max_steps)) control.shouldSave = true;
        if (stop.signal.aborted) {
          control.shouldTrainingStop = true;
          if (checkpointPath !== undefined) control.shouldSave = true;
        }
      },
    };
    const trainer = run.makeTrainer(args, callback);

    // true: the latest checkpoint in checkpointPath (the trainer reports when there is none).
    const from = resume === true ? ((await latestCheckpoint(checkpointPath!)) ?? true) : resume;
    note(`train: starting${typeof from === "string" ? `, resuming from ${from}` : ""}`);
    const started = Date.now();
    const result = await trainer.train({ ...(from !== undefined && { resumeFromCheckpoint: from }) });
    if (stop.signal.aborted) {
      const cp = checkpointPath ? await latestCheckpoint(checkpointPath) : undefined;
      note(`train: stopped${cp ? `; checkpoint at ${cp} (resume with fit.resumeFromCheckpoint: true)` : " (no checkpoint: fit.checkpointPath is not set)"}`);
      return stop.exitCode || 130;
    }
    if ((!built || !saveBestModel) && isMainProcess()) await model.save(outputPath);
    reportTraining({
      globalStep: result.globalStep,
      trainingLoss: result.trainingLoss,
      bestScore: best,
      primaryMetric: built?.evaluator.primaryMetric,
      metrics: lastMetrics,
      outputPath: outputPath!,
      checkpointPath,
      started,
    });
    return 0;
  } finally {
    stop.dispose();
    if (checkpointPath === undefined) await rm(outputDir, { recursive: true, force: true });
  }
}
