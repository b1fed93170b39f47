/**
 * CrossEncoder.fit, the API of sentence-transformers before v4, as sentence-transformers keeps it: the examples of a
 * DataLoader become a dataset (sentence_0, sentence_1, label) trained by CrossEncoderTrainer, with the loss, schedule
 * and optimizer options mapped onto its arguments; the evaluator runs every evaluationSteps and at each epoch's end,
 * and the best model so far is saved to outputPath.
 */
import { Dataset } from "../datasets/Dataset.js";
import type { DataLoader } from "../DataLoader.js";
import { FIT_SCHEDULER_TYPES, SCHEDULERS, type SchedulerName } from "../fit.js";
import type { TrainerCallback, TrainerEvaluator } from "../SentenceTransformerTrainer.js";
import type { CrossEncoderActivation } from "./activation.js";
import type { CrossEncoder } from "./CrossEncoder.js";
import { CrossEncoderTrainer } from "./CrossEncoderTrainer.js";
import { BinaryCrossEntropyLoss } from "./losses/BinaryCrossEntropyLoss.js";
import type { CrossEncoderLoss } from "./losses/CrossEncoderLoss.js";
import { CrossEntropyLoss } from "./losses/CrossEntropyLoss.js";

export interface CrossEncoderFitOptions {
  /** Runs every evaluationSteps steps (when > 0) and at the end of each epoch. */
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
  /** Where the best model (by the evaluator's primary metric) is saved; nothing is saved without it. */
  outputPath?: string;
  /** Default true. */
  saveBestModel?: boolean;
  /** Default 1. */
  maxGradNorm?: number;
  /** Mixed precision (bf16 on CPU, fp16 on CUDA). Default false. */
  useAmp?: boolean;
  /** Called with the primary metric, the epoch and the step after each evaluation. */
  callback?: (score: number, epoch: number, steps: number) => void | Promise<void>;
  /** Default true. */
  showProgressBar?: boolean;
  /** Where the trainer's log goes. Default "checkpoints/model". */
  checkpointPath?: string;
}


export async function crossEncoderFit(model: CrossEncoder, trainDataloader: DataLoader, options: CrossEncoderFitOptions = {}): Promise<void> {
  const op = "CrossEncoder.fit";
  if (typeof options !== "object" || options === null) throw new TypeError(`${op}: options must be an object`);
  if (!trainDataloader || !Array.isArray(trainDataloader.examples)) throw new TypeError(`${op}: trainDataloader must be a DataLoader of InputExamples`);
  const examples = trainDataloader.examples;
  if (examples.length === 0) throw new RangeError(`${op}: trainDataloader has no examples`);
  const width = examples[0]!.texts.length;
  examples.forEach((e, i) => {
    if (e.texts.length !== width) throw new RangeError(`${op}: example ${i} has ${e.texts.length} texts but example 0 has ${width}`);
  });
  const scheduler = (options.scheduler ?? "WarmupLinear").toLowerCase() as SchedulerName;
  if (!SCHEDULERS.includes(scheduler)) throw new RangeError(`${op}: scheduler must be one of ${SCHEDULERS.join(", ")}, got ${JSON.stringify(options.scheduler)}`);

  const columns: Record<string, unknown[]> = {};
  for (let c = 0; c < width; c++) columns[`sentence_${c}`] = examples.map((e) => e.texts[c]);
  // As sentence-transformers: all-zero labels (the InputExample default) mean an unlabelled dataset.
  const labels = examples.map((e) => e.label);
  if (!labels.every((l) => l === 0)) columns["label"] = labels;

  const loss =
    options.lossFct ?? (model.numLabels === 1 ? new BinaryCrossEntropyLoss(model, { activationFn: options.activationFct }) : new CrossEntropyLoss(model, { activationFn: options.activationFct }));
  const evaluator = options.evaluator;
  const evaluationSteps = options.evaluationSteps ?? 0;
  const saveBest = (options.saveBestModel ?? true) && options.outputPath !== undefined;
  let best: number | undefined;
  const onMetrics = async (metrics: Record<string, number>, epoch: number, steps: number) => {
    if (evaluator === undefined) return;
    const key = Object.keys(metrics).find((k) => k.endsWith(evaluator.primaryMetric));
    if (key === undefined) return;
    const score = metrics[key]!;
    if (saveBest && (best === undefined || ((evaluator.greaterIsBetter ?? true) ? score > best : score < best))) {
      best = score;
      await model.save(options.outputPath!);
    }
    await options.callback?.(score, epoch, steps);
  };
  const callbacks: TrainerCallback<CrossEncoder>[] = [];
  if (evaluator !== undefined) {
    callbacks.push({
      onEvaluate: ({ metrics, state }) => onMetrics(metrics, state.epoch, state.global_step),
      // The evaluator also runs at each epoch's end, whatever evaluationSteps is.
      async onEpochEnd({ state }) {
        const outputPath = options.outputPath === undefined ? undefined : `${options.outputPath}/eval`;
        await onMetrics(await evaluator.evaluate(model, { outputPath, epoch: state.epoch, steps: state.global_step }), state.epoch, state.global_step);
      },
    });
  }
  const trainer = new CrossEncoderTrainer({
    model,
    args: {
      outputDir: options.checkpointPath ?? "checkpoints/model",
      perDeviceTrainBatchSize: trainDataloader.batchSize,
      perDeviceEvalBatchSize: trainDataloader.batchSize,
      numTrainEpochs: options.epochs ?? 1,
      evalStrategy: evaluator !== undefined && evaluationSteps > 0 ? "steps" : "no",
      ...(evaluationSteps > 0 && { evalSteps: evaluationSteps }),
      maxGradNorm: options.maxGradNorm ?? 1,
      bf16: (options.useAmp ?? false) && !model.device.startsWith("cuda"),
      fp16: (options.useAmp ?? false) && model.device.startsWith("cuda"),
      disableTqdm: !(options.showProgressBar ?? true),
      saveStrategy: "no",
      learningRate: options.optimizerParams?.lr ?? 2e-5,
      ...(options.optimizerParams?.eps !== undefined && { adamEpsilon: options.optimizerParams.eps }),
      ...(options.optimizerParams?.betas !== undefined && { adamBeta1: options.optimizerParams.betas[0], adamBeta2: options.optimizerParams.betas[1] }),
      weightDecay: options.weightDecay ?? 0.01,
      lrSchedulerType: FIT_SCHEDULER_TYPES[scheduler],
      warmupSteps: options.warmupSteps ?? 10000,
    },
    trainDataset: Dataset.fromColumns(columns),
    loss,
    evaluator: evaluationSteps > 0 ? evaluator : undefined,
    callbacks,
  });
  await trainer.train();
}
