/**
 * CrossEncoder.fit, the API of sentence-transformers before v4, run as sentence-transformers 4+ runs it
 * (`cross_encoder/fit_mixin.py`): the examples one pass of the DataLoader yields become a dataset (sentence_0,
 * sentence_1, label) that CrossEncoderTrainer trains on with the loss, and fit's options become training arguments
 * (mapped as SentenceTransformer.fit maps them, lib/fit.ts). The schedule decays over fit's step count and the
 * evaluator runs every evaluationSteps and at each epoch's end. Unlike SentenceTransformer.fit, only the step
 * evaluations reach fit's callback and the best-model save to outputPath (sentence-transformers' cross-encoder fit
 * does not hand its epoch-end evaluations on), and nothing is saved without an evaluator.
 */
import { DataLoader } from "../DataLoader.js";
import { NoDuplicatesDataLoader } from "../datasets/NoDuplicatesDataLoader.js";
import { checkFitOptions, createFitTrainer, defaultCheckpointDir, fitCallbacks, fitScheduleSteps, loaderDataset } from "../fit.js";
import { BatchSamplers } from "../sampler.js";
import type { TrainerEvaluator } from "../SentenceTransformerTrainer.js";
import type { CrossEncoderActivation } from "./activation.js";
import type { CrossEncoder } from "./CrossEncoder.js";
import { CrossEncoderTrainer, CrossEncoderTrainingArguments } from "./CrossEncoderTrainer.js";
import { BinaryCrossEntropyLoss } from "./losses/BinaryCrossEntropyLoss.js";
import type { CrossEncoderLoss } from "./losses/CrossEncoderLoss.js";
import { CrossEntropyLoss } from "./losses/CrossEntropyLoss.js";

export interface CrossEncoderFitOptions {
  /** Runs every evaluationSteps steps (when > 0) and at the end of each epoch (those runs only write its CSV). */
  evaluator?: TrainerEvaluator<CrossEncoder>;
  /** Default 1. */
  epochs?: number;
  /** Default BinaryCrossEntropyLoss (one label) or CrossEntropyLoss, with activationFct. */
  lossFct?: CrossEncoderLoss;
  /** The default loss's activation on the logits. Default identity. */
  activationFct?: CrossEncoderActivation | string;
  /** sentence-transformers' schedule names (any case). Default "WarmupLinear". */
  scheduler?: string;
  /** Default 10000. */
  warmupSteps?: number;
  /** AdamW's lr (default 2e-5), eps and betas. */
  optimizerParams?: { lr?: number; eps?: number; betas?: [number, number] };
  /** Default 0.01 (never on biases and LayerNorm weights). */
  weightDecay?: number;
  /** > 0: evaluate every this many steps. Default 0. */
  evaluationSteps?: number;
  /** Where the best model (by the evaluator's primary metric at the step evaluations) is saved; nothing is saved without it. */
  outputPath?: string;
  /** Default true. */
  saveBestModel?: boolean;
  /** Default 1. */
  maxGradNorm?: number;
  /** Mixed precision (bf16 on CPU, fp16 on CUDA). Default false. */
  useAmp?: boolean;
  /** Called with the primary metric, the epoch and the step after each step evaluation. */
  callback?: (score: number, epoch: number, steps: number) => void | Promise<void>;
  /** Default true. */
  showProgressBar?: boolean;
  /**
   * The trainer's output folder: the step evaluations' CSVs (eval/) and trainer_log.jsonl. Default (as
   * sentence-transformers): checkpoints/model (or model_1, ... when taken) under the working directory, with no log.
   */
  checkpointPath?: string;
}

/** Trains as sentence-transformers' CrossEncoder.fit does; see CrossEncoderFitOptions. */
export async function crossEncoderFit(model: CrossEncoder, trainDataloader: DataLoader, options: CrossEncoderFitOptions = {}): Promise<void> {
  const op = "CrossEncoder.fit";
  if (typeof options !== "object" || options === null) throw new TypeError(`${op}: options must be an object`);
  if (!(trainDataloader instanceof DataLoader)) throw new TypeError(`${op}: trainDataloader must be a DataLoader of InputExamples`);
  const examples = trainDataloader.examples;
  if (examples.length === 0) throw new RangeError(`${op}: trainDataloader has no examples`);
  const width = examples[0]!.texts.length;
  examples.forEach((e, i) => {
    if (e.texts.length !== width) throw new RangeError(`${op}: example ${i} has ${e.texts.length} texts but example 0 has ${width}`);
  });
  const checked = checkFitOptions(options, op, model.device);
  const { evaluator, outputPath, checkpointPath } = options;
  const batchSize = trainDataloader.batchSize;
  const trainDataset = loaderDataset(trainDataloader);
  const loss =
    options.lossFct ?? (model.numLabels === 1 ? new BinaryCrossEntropyLoss(model, { activationFn: options.activationFct }) : new CrossEntropyLoss(model, { activationFn: options.activationFct }));

  const args = new CrossEncoderTrainingArguments({
    ...checked.args,
    outputDir: checkpointPath ?? (await defaultCheckpointDir()),
    batchSampler: trainDataloader instanceof NoDuplicatesDataLoader ? BatchSamplers.NO_DUPLICATES : BatchSamplers.BATCH_SAMPLER,
    perDeviceTrainBatchSize: batchSize,
    perDeviceEvalBatchSize: batchSize,
    saveStrategy: "no",
  });
  const { callbacks } = await fitCallbacks({
    model,
    evaluator,
    outputPath,
    saveBestModel: checked.saveBestModel,
    callback: options.callback,
    saveWithoutEvaluator: false,
    epochEndMetrics: false,
    trainer: () => trainer,
  });
  const trainer: CrossEncoderTrainer = await createFitTrainer(
    CrossEncoderTrainer,
    { model, args, trainDataset, loss, ...(evaluator !== undefined && { evaluator }), callbacks },
    { warmupSteps: checked.warmupSteps, totalSteps: fitScheduleSteps([trainDataset], batchSize, checked.epochs) },
    checkpointPath !== undefined,
  );
  await trainer.train();
}
