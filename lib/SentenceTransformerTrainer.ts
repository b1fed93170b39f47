/**
 * SentenceTransformerTrainer: sentence-transformers' v3+ training loop (transformers' Trainer underneath), on the
 * native trainer fit uses. Datasets' columns go to the loss by position and labels come from the first of
 * label/labels/score/scores, as Python's data collator reads them; batches come from the same samplers with the
 * same generator (lib/sampler.ts); each optimizer step accumulates gradientAccumulationSteps batches, each loss
 * scaled by 1 / their count, then clips, steps AdamW and the schedule natively. Logging, evaluation, checkpoints
 * (checkpoint-N/ with trainer_state.json in transformers' layout), best-model tracking and rotation follow
 * transformers' DefaultFlowCallback and Trainer, and a run resumes from any checkpoint to the same weights.
 */
import { appendFile, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

import type { NativeLossSpec, NativeRegularizerWeights, NativeModule, NativeTensorData, NativeTokenBatch, NativeTrainer } from "../types/native.js";
import { Dataset } from "./datasets/Dataset.js";
import { distributedFromEnv, isMainProcess, ProcessGroup, shardBatches, type DistributedOptions } from "./distributed.js";
import { SbertError } from "./errors.js";
import { SequentialEvaluator } from "./evaluation/SequentialEvaluator.js";
import type { SentenceEvaluator } from "./evaluation/SentenceEvaluator.js";
import type { EvaluationLogEntry, TrainingLogEntry, TrainingSummary } from "./fit.js";
import { exists, readJsonObject, writeFolderAtomically } from "./io/files.js";
import { defaultLogDir, TensorBoardWriter, tensorBoardTag } from "./internal/tensorboard.js";
import { checkpointSteps, labelTensor, latestCheckpoint, loadModelWeights, loadOptimizerState, saveOptimizerState, tokenizeColumns } from "./internal/training.js";
import type { Label, Loss } from "./losses/Loss.js";
import { CoSENTLoss } from "./losses/CoSENTLoss.js";
import { Router } from "./models/Router.js";
import { callNative, callNativeSync } from "./native.js";
import { ProgressBar } from "./progress.js";
import { BatchSchedule, LABEL_COLUMNS, type ScheduledBatch } from "./sampler.js";
import type { SentenceTransformer } from "./SentenceTransformer.js";
import { SentenceTransformerTrainingArguments, type RouterMapping, type SentenceTransformerTrainingArgumentsInit, type TrainingPrompts } from "./SentenceTransformerTrainingArguments.js";

const OP = "SentenceTransformerTrainer";
export const TRAINER_STATE_NAME = "trainer_state.json";
export const TRAINING_ARGS_NAME = "training_args.json";
export const SCHEDULER_NAME = "scheduler.json";
/** One JSON object per line: every entry of log_history, as it is logged. */
export const TRAINER_LOG_NAME = "trainer_log.jsonl";
const RESERVED_COLUMNS = ["return_loss", "dataset_name"];

/** transformers' TrainerState, as trainer_state.json holds it (Python's field names). */
export interface TrainerState {
  epoch: number;
  global_step: number;
  max_steps: number;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  train_batch_size: number;
  num_train_epochs: number;
  num_input_tokens_seen: number;
  total_flos: number;
  log_history: Record<string, number>[];
  best_metric: number | null;
  best_global_step: number | null;
  best_model_checkpoint: string | null;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  is_hyper_param_search: boolean;
  trial_name: string | null;
  trial_params: Record<string, unknown> | null;
  stateful_callbacks: Record<string, unknown>;
}

/** transformers' TrainerControl: what the loop does after the current step; callbacks may set these. */
export class TrainerControl {
  shouldTrainingStop = false;
  shouldEpochStop = false;
  shouldSave = false;
  shouldEvaluate = false;
  shouldLog = false;

  /** The form transformers saves under stateful_callbacks.TrainerControl. */
  toState(): Record<string, unknown> {
    return {
      args: {
        should_training_stop: this.shouldTrainingStop,
        should_epoch_stop: this.shouldEpochStop,
        should_save: this.shouldSave,
        should_evaluate: this.shouldEvaluate,
        should_log: this.shouldLog,
      },
      attributes: {},
    };
  }
}

export interface TrainerCallbackEvent<M = SentenceTransformer> {
  args: SentenceTransformerTrainingArguments;
  state: Readonly<TrainerState>;
  control: TrainerControl;
  model: M;
}

/** transformers' TrainerCallback events (camelCase); each may be async and may set `control` flags. */
export interface TrainerCallback<M = SentenceTransformer> {
  onTrainBegin?(event: TrainerCallbackEvent<M>): void | Promise<void>;
  onTrainEnd?(event: TrainerCallbackEvent<M>): void | Promise<void>;
  onEpochBegin?(event: TrainerCallbackEvent<M>): void | Promise<void>;
  onEpochEnd?(event: TrainerCallbackEvent<M>): void | Promise<void>;
  onStepBegin?(event: TrainerCallbackEvent<M>): void | Promise<void>;
  onStepEnd?(event: TrainerCallbackEvent<M>): void | Promise<void>;
  onLog?(event: TrainerCallbackEvent<M> & { logs: Record<string, number> }): void | Promise<void>;
  onEvaluate?(event: TrainerCallbackEvent<M> & { metrics: Record<string, number> }): void | Promise<void>;
  onSave?(event: TrainerCallbackEvent<M> & { checkpoint: string }): void | Promise<void>;
}

export type DatasetOrDict = Dataset | Record<string, Dataset>;

/** What the trainer needs of the model it trains: a SentenceTransformer, or a CrossEncoder (CrossEncoderTrainer). */
export interface TrainableModel {
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  save(path: string): Promise<void>;
  trainingSummary: TrainingSummary | undefined;
}

/** What the trainer needs of a loss: its columns and labels, and the native loss it runs. */
export interface TrainingLoss {
  readonly name: string;
  readonly columns: readonly [min: number, max: number];
  readonly labelKind: string;
  readonly model: unknown;
  nativeSpec(): NativeLossSpec;
  getConfigDict(): Record<string, unknown>;
  checkLabel(label: never, where: string): void;
  /** A SpladeLoss's regularizer weights as they stand now (a callback changes them as training goes). */
  regularizerWeights?(): NativeRegularizerWeights;
  /** A loss with trainable weights of its own (SoftmaxLoss's classifier) takes them as the trainer holds them, without the `head<j>.` prefix. */
  loadHeadState?(tensors: { name: string; shape: number[]; data: Float32Array }[]): void;
}

/** An evaluator the trainer runs on its model. */
export interface TrainerEvaluator<M> {
  evaluate(model: M, options?: { outputPath?: string; epoch?: number; steps?: number }): Promise<Record<string, number>>;
  readonly primaryMetric: string;
  readonly greaterIsBetter?: boolean;
}

export interface SentenceTransformerTrainerOptions<M extends TrainableModel = SentenceTransformer, L extends TrainingLoss = Loss> {
  model: M;
  args?: SentenceTransformerTrainingArguments | SentenceTransformerTrainingArgumentsInit;
  trainDataset?: DatasetOrDict;
  evalDataset?: DatasetOrDict;
  /** One loss, or one per dataset name of a dict of datasets. Default CoSENTLoss. */
  loss?: L | Record<string, L>;
  /** Runs at every evaluation; a list runs as a SequentialEvaluator. */
  evaluator?: TrainerEvaluator<NoInfer<M>> | TrainerEvaluator<NoInfer<M>>[];
  callbacks?: TrainerCallback<M>[];
}

export interface TrainOptions {
  /** A checkpoint folder, or true for the latest checkpoint-N in outputDir. */
  resumeFromCheckpoint?: string | boolean;
}

export interface TrainOutput {
  globalStep: number;
  /** The mean of the logged training losses over the run's steps (transformers' train_loss). */
  trainingLoss: number;
  metrics: Record<string, number>;
  /**
   * A distributed run: seconds this rank spent averaging gradients that no computation overlapped (the rest of each
   * step's reduction ran during its backward pass).
   */
  communicationSeconds?: number;
}

/** A dataset checked against its loss, ready to batch. */
export interface PreparedDataset<L extends TrainingLoss = TrainingLoss> {
  name: string | undefined;
  dataset: Dataset;
  rows: Record<string, unknown>[];
  inputColumns: string[];
  labelColumn: string | undefined;
  loss: L;
  objective: number;
  prompts: (string | undefined)[];
  /** The Router task of each input column (args.routerMapping). */
  tasks: (string | undefined)[];
}

function isDatasetDict(v: unknown): v is Record<string, Dataset> {
  return typeof v === "object" && v !== null && !(v instanceof Dataset) && !Array.isArray(v);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Python's json.dumps(sort_keys=True): objects' keys in order, at every depth. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** transformers' speed_metrics. */
function speedMetrics(split: string, start: number, numSamples: number, numSteps: number): Record<string, number> {
  const runtime = (performance.now() - start) / 1000;
  const out: Record<string, number> = { [`${split}_runtime`]: round(runtime, 4) };
  if (runtime === 0) return out;
  out[`${split}_samples_per_second`] = round(numSamples / runtime, 3);
  out[`${split}_steps_per_second`] = round(numSteps / runtime, 3);
  return out;
}

/** The Router task of each input column, as the data collator resolves args.routerMapping for a batch. */
function columnTasks(mapping: RouterMapping, datasetName: string | undefined, columns: string[]): (string | undefined)[] {
  const values = Object.values(mapping);
  if (values.length === 0) return [];
  if (typeof values[0] === "object") {
    const perDataset = datasetName === undefined ? undefined : (mapping as Record<string, Record<string, string>>)[datasetName];
    return perDataset === undefined ? [] : columns.map((c) => perDataset[c]);
  }
  return columns.map((c) => (mapping as Record<string, string>)[c]);
}

/** The prompt of each input column, as the data collator resolves args.prompts for a batch. */
function columnPrompts(prompts: TrainingPrompts | undefined, datasetName: string | undefined, columns: string[]): (string | undefined)[] {
  if (prompts === undefined) return [];
  if (typeof prompts === "string") return columns.map(() => prompts);
  if (datasetName !== undefined && datasetName in prompts) {
    const p = prompts[datasetName]!;
    return columns.map((c) => (typeof p === "string" ? p : p[c]));
  }
  const first = Object.values(prompts)[0];
  if (typeof first === "object") return [];
  return columns.map((c) => prompts[c] as string | undefined);
}

export class SentenceTransformerTrainer<M extends TrainableModel = SentenceTransformer, L extends TrainingLoss = Loss> {
  readonly model: M;
  readonly args: SentenceTransformerTrainingArguments;
  readonly trainDataset: DatasetOrDict | undefined;
  readonly evalDataset: DatasetOrDict | undefined;
  readonly loss: L | Record<string, L>;
  readonly evaluator: TrainerEvaluator<M> | undefined;
  readonly callbacks: TrainerCallback<M>[];
  state: TrainerState;
  readonly #losses: L[];
  readonly #train: PreparedDataset<L>[] | undefined;
  readonly #eval: PreparedDataset<L>[] | undefined;
  #native: NativeTrainer | undefined;
  // A distributed run's group, while train() runs.
  #group: ProcessGroup | undefined;
  /** Loss heads (SoftmaxLoss's classifier) as the last run left them. */
  #heads: { name: string; shape: number[]; data: Float32Array }[] = [];
  #inTrain = false;
  #control = new TrainerControl();
  #trLoss = 0;
  #totalLoss = 0;
  #lastLoggedStep = 0;
  #tbWriter: TensorBoardWriter | undefined;
  // The parts of a loss made of several (SpladeLoss), summed over the batches since they were last logged.
  readonly #trainTerms = new LossTerms();
  readonly #evalTerms = new LossTerms();

  constructor(options: SentenceTransformerTrainerOptions<M, L>) {
    if (typeof options !== "object" || options === null) throw new TypeError(`${this.op}: expected {model, args, trainDataset, ...}`);
    const { model } = options;
    this.checkModel(model);
    this.model = model;
    this.args = options.args instanceof SentenceTransformerTrainingArguments ? options.args : new SentenceTransformerTrainingArguments(options.args ?? {});
    if (!Array.isArray(options.callbacks ?? [])) throw new TypeError(`${OP}: callbacks must be a list`);
    this.callbacks = [...(options.callbacks ?? [])];

    const evaluator = options.evaluator;
    if (Array.isArray(evaluator)) {
      this.evaluator = new SequentialEvaluator(evaluator as unknown as SentenceEvaluator[]) as unknown as TrainerEvaluator<M>;
    } else if (evaluator !== undefined) {
      if (typeof evaluator.evaluate !== "function" || typeof evaluator.primaryMetric !== "string") throw new TypeError(`${this.op}: evaluator must be an evaluator`);
      this.evaluator = evaluator;
    }

    // The native autocast is bf16 on CPU and fp16 on CUDA: fp16 asked for on CPU would silently be bf16.
    const device = this.nativeModules()[0]?.device ?? "cpu";
    if (this.args.fp16 && !device.startsWith("cuda")) {
      throw new SbertError("ERR_DEVICE", `args.fp16 needs a CUDA device (the model is on ${device}); on CPU, mixed precision is bf16: set bf16 instead`, { op: this.op });
    }
    this.checkArgs();
    this.trainDataset = options.trainDataset;
    this.evalDataset = options.evalDataset;
    if (this.evalDataset === undefined && this.evaluator === undefined && this.args.evalStrategy !== "no") {
      throw new RangeError(
        `${OP}: args.evalStrategy is "${this.args.evalStrategy}" but there is no evalDataset or evaluator; give one, or set evalStrategy to "no"`,
      );
    }
    this.loss = options.loss ?? this.defaultLoss();
    const losses = isLossDict<L>(this.loss) ? Object.values(this.loss) : [this.loss];
    if (losses.length === 0) throw new TypeError(`${this.op}: loss is an empty object`);
    losses.forEach((l) => {
      if (!l || typeof l.nativeSpec !== "function") throw new TypeError(`${this.op}: loss must be a losses.* loss or an object of them by dataset name`);
      if (l.model !== model) throw new TypeError(`${this.op}: the loss ${l.name} was built for another model`);
    });
    this.#losses = [...new Set(losses)];
    this.#train = this.trainDataset === undefined ? undefined : this.#prepare(this.trainDataset, "trainDataset");
    this.#eval = this.evalDataset === undefined ? undefined : this.#prepare(this.evalDataset, "evalDataset");
    this.state = this.#freshState();
  }

  /** The operation errors name. */
  protected get op(): string {
    return OP;
  }

  /** Throws a TypeError unless `model` is one this trainer trains. */
  protected checkModel(model: unknown): void {
    if (!model || typeof (model as { encode?: unknown }).encode !== "function" || !Array.isArray((model as { modules?: unknown }).modules)) {
      throw new TypeError(`${OP}: model must be a SentenceTransformer`);
    }
  }

  /** Checks of the arguments against the model (after checkModel). */
  protected checkArgs(): void {
    const model = this.model as unknown as SentenceTransformer;
    if (model.modules.some((m) => m instanceof Router) && Object.keys(this.args.routerMapping).length === 0) {
      throw new RangeError(
        `${OP}: the model has a Router but args.routerMapping is empty: map each dataset column to the task of its route, e.g. {question: "query", answer: "document"}`,
      );
    }
  }

  /** The loss when none is given: CoSENTLoss, as sentence-transformers. */
  protected defaultLoss(): L {
    return new CoSENTLoss(this.model as unknown as SentenceTransformer) as unknown as L;
  }

  /** The native modules the trainer steps, in pipeline order. */
  protected nativeModules(): NativeModule[] {
    return (this.model as unknown as SentenceTransformer).modules.map((m) => m.native);
  }

  /** Throws a TypeError naming `where` unless `value` can be input column `column` of `loss`. */
  protected checkInput(loss: L, value: unknown, column: number, where: string): void {
    void loss;
    void column;
    if (typeof value !== "string") throw new TypeError(`${where}: expected text, got ${value === null ? "null" : typeof value}`);
  }

  /** A batch of `p`'s rows as the native step takes it: one token batch per text column, and the labels. */
  protected batchInputs(p: PreparedDataset<L>, rows: number[]): { columns: NativeTokenBatch[]; labels: NativeTensorData | null } {
    const model = this.model as unknown as SentenceTransformer;
    const loss = p.loss as unknown as Loss;
    const batch = rows.map((i) => p.rows[i]!);
    const columns = tokenizeColumns(model, p.inputColumns.map((c) => batch.map((r) => r[c] as string)), p.prompts, p.tasks);
    const labels = p.labelColumn === undefined ? null : labelTensor(loss, batch.map((r) => r[p.labelColumn!] as Label));
    return { columns, labels: loss.labelKind === "none" ? null : labels };
  }

  /** batchInputs, with the labels a loss makes itself from the batch (a guide model's embeddings) in place of the dataset's. */
  async #lossInputs(p: PreparedDataset<L>, rows: number[]): Promise<{ columns: NativeTokenBatch[]; labels: NativeTensorData | null }> {
    const inputs = this.batchInputs(p, rows);
    const loss = p.loss as unknown as Loss;
    return loss.batchLabels === undefined ? inputs : { columns: inputs.columns, labels: await loss.batchLabels(inputs.columns) };
  }

  /** Loads the model weights of a checkpoint folder into the model. */
  protected reloadWeights(dir: string, op: string): Promise<void> {
    return loadModelWeights(this.model as unknown as SentenceTransformer, dir, op);
  }

  addCallback(callback: TrainerCallback<M>): void {
    this.callbacks.push(callback);
  }

  removeCallback(callback: TrainerCallback<M>): void {
    const i = this.callbacks.indexOf(callback);
    if (i >= 0) this.callbacks.splice(i, 1);
  }

  /**
   * The learning-rate schedule of a run of `maxSteps` optimizer steps: its warmup and the steps it decays over.
   * Python's fit hands the trainer a scheduler of its own; a subclass does so by overriding this.
   */
  protected lrSchedule(maxSteps: number): { warmupSteps: number; totalSteps: number } {
    return { warmupSteps: this.args.warmupStepsFor(maxSteps), totalSteps: maxSteps };
  }

  /** Where every log entry is appended as a JSON line; undefined: nowhere. */
  protected get logFile(): string | undefined {
    return join(this.args.outputDir, TRAINER_LOG_NAME);
  }

  // ------------------------------------------------------------------ datasets

  #prepare(data: DatasetOrDict, what: string): PreparedDataset<L>[] {
    const dict = isDatasetDict(data);
    const entries: [string | undefined, unknown][] = dict ? Object.entries(data) : [[undefined, data]];
    if (entries.length === 0) throw new RangeError(`${OP}: ${what} is an empty object`);
    const lossDict = isLossDict<L>(this.loss) ? this.loss : undefined;
    if (lossDict && !dict) throw new TypeError(`${OP}: with a loss per dataset name, ${what} must be an object of datasets by name`);
    if (lossDict) {
      const missing = entries.map(([n]) => n!).filter((n) => !(n in lossDict));
      if (missing.length) throw new RangeError(`${OP}: ${what} has datasets ${missing.map((m) => `'${m}'`).join(", ")} that the loss object has no loss for`);
    }
    const prompts = this.args.prompts;
    if (!dict && prompts !== undefined && typeof prompts === "object" && typeof Object.values(prompts)[0] === "object") {
      throw new RangeError(`${OP}: args.prompts maps dataset names to prompts, but ${what} is a single dataset`);
    }
    return entries.map(([name, ds]) => {
      const where = name === undefined ? what : `${what}['${name}']`;
      if (!(ds instanceof Dataset)) throw new TypeError(`${OP}: ${where} must be a Dataset`);
      const loss = lossDict ? lossDict[name!]! : (this.loss as L);
      const columns = ds.columnNames;
      const reserved = columns.filter((c) => RESERVED_COLUMNS.includes(c));
      if (reserved.length) throw new RangeError(`${OP}: ${where} has columns ${reserved.join(", ")}, names sentence-transformers reserves; rename them`);
      if (ds.length === 0) throw new RangeError(`${OP}: ${where} has no rows`);
      const labelColumn = LABEL_COLUMNS.find((c) => columns.includes(c));
      const inputColumns = columns.filter((c) => c !== labelColumn);
      const [min, max] = loss.columns;
      if (inputColumns.length < min || inputColumns.length > max) {
        const takes = min === max ? `${min}` : max === Infinity ? `${min} or more` : `${min} to ${max}`;
        throw new SbertError(
          "ERR_INPUT",
          `${where} has ${inputColumns.length} input column(s) (${inputColumns.join(", ") || "none"})${labelColumn ? ` and the label column '${labelColumn}'` : ""}, ` +
            `but ${loss.name} takes ${takes}. Columns are matched to the loss by position; labels are read from a column named ${LABEL_COLUMNS.join(", ")}`,
          { op: OP },
        );
      }
      if (loss.labelKind !== "none" && labelColumn === undefined) {
        throw new SbertError("ERR_INPUT", `${where}: ${loss.name} needs labels, but none of its columns (${columns.join(", ")}) is named ${LABEL_COLUMNS.join(", ")}`, { op: OP });
      }
      const rows = ds.rows();
      rows.forEach((r, i) => {
        inputColumns.forEach((c, k) => this.checkInput(loss, r[c], k, `${this.op}: ${where} row ${i}, column '${c}'`));
        if (labelColumn !== undefined && loss.labelKind !== "none") loss.checkLabel(r[labelColumn] as never, `${this.op}: ${where} row ${i}, column '${labelColumn}'`);
      });
      return {
        name,
        dataset: ds,
        rows,
        inputColumns,
        labelColumn,
        loss,
        objective: this.#losses.indexOf(loss),
        prompts: columnPrompts(prompts, name, inputColumns),
        tasks: columnTasks(this.args.routerMapping, name, inputColumns),
      };
    });
  }

  #schedule(prepared: PreparedDataset<L>[], batchSize: number): BatchSchedule {
    return new BatchSchedule(
      prepared.map((p) => p.dataset),
      {
        batchSampler: this.args.batchSampler,
        multiDatasetBatchSampler: this.args.multiDatasetBatchSampler,
        batchSize,
        dropLast: this.args.dataloaderDropLast,
        seed: this.args.seed,
      },
    );
  }

  /** The order of the training batches in `epoch` (dataset index and row indices), as train() takes them. */
  trainBatches(epoch: number): ScheduledBatch[] {
    if (!this.#train) throw new SbertError("ERR_INPUT", "there is no trainDataset", { op: OP });
    return this.#schedule(this.#train, this.args.perDeviceTrainBatchSize).epoch(epoch);
  }

  // ------------------------------------------------------------------ native trainer

  #createNative(totalSteps: number, warmupSteps: number, group?: ProcessGroup): NativeTrainer {
    const a = this.args;
    const parallel = group && { group: group.native, bucketBytes: Math.max(1, Math.round(a.ddpBucketCapMb * 2 ** 20)) };
    const native = callNativeSync(OP, (n) =>
      n.createTrainer(
        this.nativeModules(),
        this.#losses.map((l) => l.nativeSpec()),
        {
          lr: a.learningRate,
          weightDecay: a.weightDecay,
          beta1: a.adamBeta1,
          beta2: a.adamBeta2,
          eps: a.adamEpsilon,
          maxGradNorm: a.maxGradNorm,
          scheduler: a.scheduler,
          schedule: a.scheduleOptions,
          warmupSteps,
          totalSteps,
          useAmp: a.bf16 || a.fp16,
          gradientCheckpointing: a.gradientCheckpointing,
          seed: a.seed,
        },
        parallel,
      ),
    );
    if (this.#heads.length) callNativeSync(OP, () => native.loadState(this.#heads, 0));
    return native;
  }

  /**
   * Loss heads as `native` holds them now: kept for the next native trainer, and handed to the losses that keep a
   * copy (SoftmaxLoss's classifier, which LabelAccuracyEvaluator reads).
   */
  #syncLossHeads(native: NativeTrainer): void {
    this.#heads = native.state().filter((t) => t.name.startsWith("head"));
    this.#losses.forEach((loss, j) => {
      const prefix = `head${j}.`;
      const own = this.#heads.filter((t) => t.name.startsWith(prefix)).map((t) => ({ ...t, name: t.name.slice(prefix.length) }));
      if (own.length && loss.loadHeadState) loss.loadHeadState(own);
    });
  }

  /**
   * The distributed run this process is a rank of (args.ddp, else torchrun's variables), or undefined for one
   * process (a world of one included).
   */
  distributed(): Required<DistributedOptions> | undefined {
    const ddp = this.args.ddp;
    const op = `${this.op}.train`;
    if (ddp === false) return undefined;
    const d = typeof ddp === "object" ? ddp : distributedFromEnv(process.env, op);
    if (ddp === true && d === undefined) throw new SbertError("ERR_INPUT", "ddp is true but WORLD_SIZE is not set: start the ranks with sbert-node train --nproc-per-node N, torchrun-style variables, or give ddp {rank, worldSize}", { op });
    return d !== undefined && d.worldSize > 1 ? d : undefined;
  }

  #isLocalProcessZero(): boolean {
    const local = this.#group !== undefined ? process.env["LOCAL_RANK"] : undefined;
    return local !== undefined ? Number(local) === 0 : this.isWorldProcessZero;
  }

  /** Whether this process is rank 0 of its run (or the only process): the one that evaluates, logs and saves. */
  get isWorldProcessZero(): boolean {
    if (this.#group !== undefined) return this.#group.isMain;
    const ddp = this.args.ddp;
    return typeof ddp === "object" ? ddp.rank === 0 : ddp === false || isMainProcess();
  }

  // ------------------------------------------------------------------ state and logs

  #freshState(): TrainerState {
    return {
      epoch: 0,
      global_step: 0,
      max_steps: 0,
      logging_steps: 500,
      eval_steps: 500,
      save_steps: 500,
      train_batch_size: this.args.perDeviceTrainBatchSize,
      num_train_epochs: 0,
      num_input_tokens_seen: 0,
      total_flos: 0,
      log_history: [],
      best_metric: null,
      best_global_step: null,
      best_model_checkpoint: null,
      is_local_process_zero: this.#isLocalProcessZero(),
      is_world_process_zero: this.isWorldProcessZero,
      is_hyper_param_search: false,
      trial_name: null,
      trial_params: null,
      stateful_callbacks: { TrainerControl: new TrainerControl().toState() },
    };
  }

  #event(): TrainerCallbackEvent<M> {
    return { args: this.args, state: this.state, control: this.#control, model: this.model };
  }

  async #call<K extends keyof TrainerCallback<M>>(name: K, extra: object = {}): Promise<void> {
    for (const cb of this.callbacks) {
      const fn = cb[name] as unknown as ((e: TrainerCallbackEvent<M>) => void | Promise<void>) | undefined;
      if (fn) await fn.call(cb, { ...this.#event(), ...extra });
    }
  }

  /** Trainer.log: the entry gets the epoch and step, goes into log_history and the JSONL log. */
  async #log(logs: Record<string, number>): Promise<void> {
    const entry = { ...logs, epoch: this.state.epoch, step: this.state.global_step };
    this.state.log_history.push(entry);
    const logFile = this.isWorldProcessZero ? this.logFile : undefined;
    if (logFile !== undefined) {
      await mkdir(dirname(logFile), { recursive: true });
      await appendFile(logFile, `${JSON.stringify(entry)}\n`);
    }
    this.#tensorBoard({ ...logs, epoch: this.state.epoch });
    const summary = this.model.trainingSummary;
    if (summary && this.#inTrain && "loss" in logs) {
      summary.log.push({ step: this.state.global_step, epoch: this.state.epoch, loss: logs["loss"]!, lr: logs["learning_rate"] ?? 0 } satisfies TrainingLogEntry);
    }
    this.#control.shouldLog = false;
    await this.#call("onLog", { logs });
  }

  /** transformers' TensorBoardCallback.on_log: each number of the entry (the epoch too) under its rewritten tag at the global step. */
  #tensorBoard(logs: Record<string, number>): void {
    if (!this.args.reportTo.includes("tensorboard") || !this.isWorldProcessZero) return;
    if (this.#tbWriter === undefined) {
      const fromEnv = process.env["TENSORBOARD_LOGGING_DIR"];
      this.#tbWriter = new TensorBoardWriter(fromEnv ? fromEnv : defaultLogDir(this.args.outputDir));
      this.#tbWriter.addText("args", JSON.stringify(this.args.toDict(), null, 2), 0);
    }
    for (const [k, v] of Object.entries(logs)) if (typeof v === "number") this.#tbWriter.addScalar(tensorBoardTag(k), v, this.state.global_step);
  }

  // ------------------------------------------------------------------ evaluation

  /**
   * Evaluates as Trainer.evaluate: the loss over the evaluation dataset (`{prefix}_loss`, in inference mode, with
   * the training batch sampler over perDeviceEvalBatchSize batches), the evaluator's metrics (prefixed), and speed
   * metrics; logged, and returned. A dict of datasets gives `{prefix}_{name}_loss` for each.
   */
  async evaluate(evalDataset?: DatasetOrDict, options: { metricKeyPrefix?: string } = {}): Promise<Record<string, number>> {
    const prefix = options.metricKeyPrefix ?? "eval";
    const prepared = evalDataset === undefined ? this.#eval : this.#prepare(evalDataset, "evalDataset");
    if (prepared === undefined && this.evaluator === undefined) {
      throw new SbertError("ERR_INPUT", "evaluation needs an evalDataset or an evaluator", { op: `${OP}.evaluate` });
    }
    const native = this.#native ?? this.#createNative(1, 0);
    try {
      if (this.#losses.some((l) => l.loadHeadState !== undefined)) this.#syncLossHeads(native);
      if (prepared !== undefined && prepared[0]!.name !== undefined) {
        const metrics: Record<string, number> = {};
        for (const [i, p] of prepared.entries()) Object.assign(metrics, await this.#evaluateOne(native, p, `${prefix}_${p.name}`, i === 0));
        return metrics;
      }
      return await this.#evaluateOne(native, prepared?.[0], prefix, true);
    } finally {
      if (native !== this.#native) native.dispose();
    }
  }

  async #evaluateOne(native: NativeTrainer, p: PreparedDataset<L> | undefined, prefix: string, first: boolean): Promise<Record<string, number>> {
    const start = performance.now();
    const metrics: Record<string, number> = {};
    let samples = 0;
    if (p !== undefined) {
      // Trainer.evaluation_loop: each batch's loss repeated batch-size times, then the mean.
      let sum = 0;
      for (const b of this.#schedule([p], this.args.perDeviceEvalBatchSize).epoch(0)) {
        const { columns, labels } = await this.#lossInputs(p, b.rows);
        const { loss, terms } = await this.model.exclusive(() =>
          callNative(`${OP}.evaluate`, () => native.evalLoss(p.objective, columns, labels, p.loss.regularizerWeights?.())),
        );
        sum += loss * b.rows.length;
        samples += b.rows.length;
        this.#evalTerms.add(terms);
      }
      metrics[`${prefix}_loss`] = sum / samples;
    }
    // During training with several evaluation datasets, the evaluator runs once, with the first, under "eval".
    const runEvaluator = this.evaluator !== undefined && (!this.#inTrain || p?.name === undefined || first);
    if (runEvaluator) {
      const evaluatorPrefix = this.#inTrain && p?.name !== undefined ? "eval" : prefix;
      const raw = await this.evaluator!.evaluate(this.model, { outputPath: join(this.args.outputDir, "eval"), epoch: this.state.epoch, steps: this.state.global_step });
      for (const [k, v] of Object.entries(raw)) metrics[k.startsWith(`${evaluatorPrefix}_`) ? k : `${evaluatorPrefix}_${k}`] = v;
      const summary = this.model.trainingSummary;
      if (summary && this.#inTrain) {
        summary.evaluations.push({ epoch: this.state.epoch, steps: this.state.global_step, globalStep: this.state.global_step, metrics: raw } satisfies EvaluationLogEntry);
      }
    }
    Object.assign(metrics, speedMetrics(prefix, start, samples, Math.ceil(samples / this.args.perDeviceEvalBatchSize)));
    // A loss of several parts logs each part's mean over the batches (eval_base_loss, ...), outside the metrics.
    await this.#log({ ...metrics, ...this.#evalTerms.take("eval_") });
    this.#control.shouldEvaluate = false;
    await this.#call("onEvaluate", { metrics });
    return metrics;
  }

  /** Trainer._determine_best_metric: true when this evaluation is the best so far. */
  #isNewBest(metrics: Record<string, number>): boolean {
    const name = this.args.metricForBestModel;
    if (name === undefined) return false;
    const key = name.startsWith("eval_") ? name : `eval_${name}`;
    const value = metrics[key];
    if (typeof value !== "number") {
      throw new SbertError("ERR_INPUT", `metricForBestModel is '${name}', but the evaluation gave no '${key}'; its metrics are: ${Object.keys(metrics).join(", ")}`, {
        op: OP,
      });
    }
    const best = this.state.best_metric;
    const better = best === null || (this.args.greaterIsBetter ? value > best : value < best);
    if (!better) return false;
    this.state.best_metric = value;
    if (this.args.saveStrategy !== "no") this.state.best_global_step = this.state.global_step;
    return true;
  }

  // ------------------------------------------------------------------ checkpoints

  #checkpointDir(step: number): string {
    return join(this.args.outputDir, `checkpoint-${step}`);
  }

  async #saveCheckpoint(native: NativeTrainer): Promise<void> {
    const step = this.state.global_step;
    const dir = this.#checkpointDir(step);
    const bestStep = this.state.best_global_step;
    if (bestStep !== null && (bestStep === step || (await exists(this.#checkpointDir(bestStep))))) this.state.best_model_checkpoint = this.#checkpointDir(bestStep);
    this.state.stateful_callbacks = { TrainerControl: this.#control.toState() };
    await writeFolderAtomically(
      dir,
      async (tmp) => {
        await this.model.save(tmp);
        if (!this.args.saveOnlyModel) {
          await saveOptimizerState(tmp, native);
          // LambdaLR's state_dict, with the schedule it follows.
          const schedule = this.lrSchedule(this.state.max_steps);
          const scheduler = {
            base_lrs: [this.args.learningRate],
            last_epoch: step,
            _step_count: step + 1,
            _last_lr: [native.lrAt(step)],
            lr_scheduler_type: this.args.lrSchedulerType,
            num_warmup_steps: schedule.warmupSteps,
            num_training_steps: schedule.totalSteps,
          };
          await writeJsonFile(join(tmp, SCHEDULER_NAME), scheduler);
        }
        await writeJsonFile(join(tmp, TRAINER_STATE_NAME), sortKeys(this.state));
        await writeJsonFile(join(tmp, TRAINING_ARGS_NAME), this.args.toDict());
      },
      OP,
    );
    await this.#rotateCheckpoints();
  }

  /** transformers' rotate_checkpoints: the oldest go first; the latest (to resume) and the best stay. */
  async #rotateCheckpoints(): Promise<void> {
    const limit = this.args.saveTotalLimit;
    if (limit === undefined || limit <= 0) return;
    const steps = await checkpointSteps(this.args.outputDir);
    if (steps.length <= limit) return;
    const protectedSteps = new Set([steps[steps.length - 1]!]);
    if (this.state.best_model_checkpoint !== null) protectedSteps.add(Number(/checkpoint-(\d+)$/.exec(this.state.best_model_checkpoint)![1]));
    const keep = Math.max(limit, protectedSteps.size);
    let remaining = steps.length;
    for (const step of steps) {
      if (remaining <= keep) break;
      if (protectedSteps.has(step)) continue;
      await rm(this.#checkpointDir(step), { recursive: true, force: true });
      remaining--;
    }
  }

  async #readState(dir: string): Promise<TrainerState> {
    const op = `${OP}.train`;
    const raw = await readJsonObject(join(dir, TRAINER_STATE_NAME), { op });
    if (!Number.isSafeInteger(raw["global_step"]) || !Array.isArray(raw["log_history"])) {
      throw new SbertError("ERR_FORMAT", `${join(dir, TRAINER_STATE_NAME)}: no global_step and log_history as transformers writes them`, { op });
    }
    const state = { ...this.#freshState(), ...(raw as unknown as TrainerState) };
    if (state.best_model_checkpoint !== null && !(await exists(state.best_model_checkpoint))) state.best_model_checkpoint = null;
    return state;
  }

  // ------------------------------------------------------------------ training

  /** Trains: see the class comment. Resolves to the global step, the training loss and the run's metrics. */
  async train(options: TrainOptions = {}): Promise<TrainOutput> {
    if (typeof options !== "object" || options === null) throw new TypeError(`${OP}.train: options must be an object`);
    if (this.#inTrain) throw new SbertError("ERR_INPUT", "this trainer is already training", { op: `${OP}.train` });
    if (!this.#train) throw new SbertError("ERR_INPUT", "training needs a trainDataset", { op: `${OP}.train` });
    const train = this.#train;
    const args = this.args;
    let resume: string | undefined;
    const r = options.resumeFromCheckpoint;
    if (r === true) {
      resume = await latestCheckpoint(args.outputDir);
      if (resume === undefined) throw new SbertError("ERR_FILE_NOT_FOUND", `no checkpoint-N folder in ${args.outputDir} to resume from`, { op: `${OP}.train` });
    } else if (typeof r === "string") {
      resume = r;
    } else if (r !== undefined && r !== false) {
      throw new TypeError(`${OP}.train: resumeFromCheckpoint must be a checkpoint folder or a boolean`);
    }

    // Trainer.set_initial_training_values. In a distributed run each rank takes its share of every epoch's batches.
    const op = `${OP}.train`;
    const distributed = this.distributed();
    const world = distributed?.worldSize ?? 1;
    const schedule = this.#schedule(train, args.perDeviceTrainBatchSize);
    const epochBatches = (epoch: number) => (distributed ? shardBatches(schedule.epoch(epoch), distributed.rank, world) : schedule.epoch(epoch));
    const stepsInEpoch = Math.ceil(schedule.length / world);
    if (stepsInEpoch === 0) throw new SbertError("ERR_INPUT", `the training data makes no batch of ${args.perDeviceTrainBatchSize}`, { op: `${OP}.train` });
    const ga = args.gradientAccumulationSteps;
    const updatesPerEpoch = Math.max(Math.floor(stepsInEpoch / ga) + (stepsInEpoch % ga > 0 ? 1 : 0), 1);
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * updatesPerEpoch);
    const numTrainEpochs = args.maxSteps > 0 ? Math.ceil(maxSteps / updatesPerEpoch) : Math.ceil(args.numTrainEpochs);
    const numExamples = train.reduce((acc, p) => acc + p.dataset.length, 0);
    const numTrainSamples = args.maxSteps > 0 ? maxSteps * args.perDeviceTrainBatchSize * ga * world : numExamples * args.numTrainEpochs;
    const stepsOf = (v: number | undefined, fallback: number) => (v === undefined ? fallback : v < 1 ? Math.ceil(maxSteps * v) : v);

    const lrSchedule = this.lrSchedule(maxSteps);
    const group = distributed ? await ProcessGroup.join(distributed, args.ddpTimeout, op) : undefined;
    let native: NativeTrainer;
    try {
      native = this.#createNative(lrSchedule.totalSteps, lrSchedule.warmupSteps, group);
    } catch (e) {
      group?.dispose();
      throw e;
    }
    this.#group = group;
    this.#native = native;
    this.#inTrain = true;
    this.#control = new TrainerControl();
    const bar = args.disableTqdm || !this.isWorldProcessZero ? undefined : new ProgressBar({ total: maxSteps, label: "Training" });
    try {
      this.state = this.#freshState();
      let epochsTrained = 0;
      let stepsTrainedInEpoch = 0;
      if (resume !== undefined) {
        this.state = await this.#readState(resume);
        await this.reloadWeights(resume, op);
        await loadOptimizerState(native, resume, this.state.global_step, op);
        this.#syncLossHeads(native);
        epochsTrained = Math.floor(this.state.global_step / updatesPerEpoch);
        stepsTrainedInEpoch = (this.state.global_step % updatesPerEpoch) * ga;
      }
      Object.assign(this.state, {
        is_world_process_zero: this.isWorldProcessZero,
        is_local_process_zero: this.#isLocalProcessZero(),
        max_steps: maxSteps,
        num_train_epochs: numTrainEpochs,
        train_batch_size: args.perDeviceTrainBatchSize * world,
        logging_steps: stepsOf(args.loggingSteps, 500),
        eval_steps: stepsOf(args.evalSteps, 500),
        save_steps: stepsOf(args.saveSteps, 500),
      });
      this.#setTrainingSummary();
      const start = performance.now();
      this.#trLoss = 0;
      this.#totalLoss = 0;
      this.#lastLoggedStep = this.state.global_step;
      bar?.tick(this.state.global_step);
      await this.#call("onTrainBegin");
      if (args.evalOnStart && this.isWorldProcessZero) await this.evaluate();

      let gradNorm: number | undefined;
      let lr: number | undefined;
      for (let epoch = epochsTrained; epoch < numTrainEpochs; epoch++) {
        this.#control.shouldEpochStop = false;
        await this.#call("onEpochBegin");
        const batches = epochBatches(epoch);
        let step = -1;
        let updatesDone = 0;
        let cursor = 0;
        if (epoch === epochsTrained && resume !== undefined && stepsTrainedInEpoch > 0) {
          step = stepsTrainedInEpoch - 1;
          updatesDone = Math.floor(stepsTrainedInEpoch / ga);
          cursor = stepsTrainedInEpoch;
        }
        const remainder = stepsInEpoch % ga || ga;
        for (let update = updatesDone; update < updatesPerEpoch; update++) {
          const micro = batches.slice(cursor, cursor + (update !== updatesPerEpoch - 1 ? ga : remainder));
          cursor += micro.length;
          for (const b of micro) {
            step++;
            if (step % ga === 0) {
              this.#control.shouldLog = this.#control.shouldEvaluate = this.#control.shouldSave = false;
              await this.#call("onStepBegin");
            }
            const p = train[b.dataset]!;
            const { columns, labels } = await this.#lossInputs(p, b.rows);
            const lastOfStep = (step + 1) % ga === 0 || step + 1 === stepsInEpoch;
            const { loss, terms } = await this.model.exclusive(() =>
              callNative(`${OP}.train`, () => native.accumulate(p.objective, columns, labels, 1 / micro.length, p.loss.regularizerWeights?.(), lastOfStep)),
            );
            this.#trLoss += loss / micro.length;
            this.#trainTerms.add(terms);
            // As transformers: the step ends after every gradientAccumulationSteps batches and at the epoch's end.
            if (lastOfStep) {
              const result = await this.model.exclusive(() => callNative(`${OP}.train`, () => native.optimizerStep()));
              gradNorm = result.gradNorm;
              lr = result.lr;
              this.state.global_step++;
              this.state.epoch = epoch + (step + 1) / stepsInEpoch;
              bar?.tick(1, `loss=${loss.toFixed(4)}`);
              this.#onStepEndFlow();
              await this.#call("onStepEnd");
              await this.#maybeLogSaveEvaluate(native, gradNorm, lr);
            }
            if (this.#control.shouldEpochStop || this.#control.shouldTrainingStop) break;
          }
          if (this.#control.shouldEpochStop || this.#control.shouldTrainingStop) break;
        }
        if (step < 0) this.#control.shouldTrainingStop = true;
        this.#onEpochEndFlow();
        await this.#call("onEpochEnd");
        await this.#maybeLogSaveEvaluate(native, gradNorm, lr);
        if (this.#control.shouldTrainingStop) break;
      }
      bar?.stop();

      // Trainer._finalize_training
      if (group) [this.#trLoss] = await group.mean([this.#trLoss], op);
      this.#totalLoss += this.#trLoss;
      this.#trLoss = 0;
      const trainingLoss = this.#totalLoss / Math.max(this.state.global_step, 0.001);
      const metrics = { ...speedMetrics("train", start, numTrainSamples, maxSteps), total_flos: 0, train_loss: trainingLoss };
      await this.#log(metrics);
      const best = this.state.best_model_checkpoint;
      if (args.loadBestModelAtEnd && best !== null && this.isWorldProcessZero) await this.reloadWeights(best, `${this.op}.train`);
      if (best !== null && args.saveTotalLimit === 1 && this.isWorldProcessZero) {
        for (const s of await checkpointSteps(args.outputDir)) if (this.#checkpointDir(s) !== best) await rm(this.#checkpointDir(s), { recursive: true, force: true });
      }
      await this.#call("onTrainEnd");
      this.#tbWriter = undefined;
      return { globalStep: this.state.global_step, trainingLoss, metrics, ...(group && { communicationSeconds: native.communicationSeconds }) };
    } finally {
      bar?.stop();
      this.#inTrain = false;
      this.#native = undefined;
      this.#syncLossHeads(native);
      native.dispose();
      this.#group = undefined;
      group?.dispose();
    }
  }

  /** DefaultFlowCallback.on_step_end. */
  #onStepEndFlow(): void {
    const a = this.args;
    const s = this.state;
    const c = this.#control;
    if (s.global_step === 1 && a.loggingFirstStep) c.shouldLog = true;
    if (a.loggingStrategy === "steps" && s.global_step % s.logging_steps === 0) c.shouldLog = true;
    if (a.evalStrategy === "steps" && s.global_step % s.eval_steps === 0 && a.evalDelay <= s.global_step) c.shouldEvaluate = true;
    if (a.saveStrategy === "steps" && s.save_steps > 0 && s.global_step % s.save_steps === 0) c.shouldSave = true;
    if (s.global_step >= s.max_steps) {
      c.shouldTrainingStop = true;
      if (a.evalStrategy === "steps" && s.global_step % s.eval_steps !== 0 && a.evalDelay <= s.global_step) c.shouldEvaluate = true;
      if (a.saveStrategy === "steps") c.shouldSave = true;
    }
  }

  /** DefaultFlowCallback.on_epoch_end. */
  #onEpochEndFlow(): void {
    const a = this.args;
    if (a.loggingStrategy === "epoch") this.#control.shouldLog = true;
    if (a.evalStrategy === "epoch" && a.evalDelay <= this.state.epoch) this.#control.shouldEvaluate = true;
    if (a.saveStrategy === "epoch") this.#control.shouldSave = true;
  }

  /** Trainer._maybe_log_save_evaluate. */
  async #maybeLogSaveEvaluate(native: NativeTrainer, gradNorm: number | undefined, lr: number | undefined): Promise<void> {
    const c = this.#control;
    const group = this.#group;
    const op = `${OP}.train`;
    if (c.shouldLog && this.state.global_step > this.#lastLoggedStep) {
      // As transformers: the loss logged is the mean over the ranks.
      if (group) [this.#trLoss] = await group.mean([this.#trLoss], op);
      const logs: Record<string, number> = { loss: this.#trLoss / (this.state.global_step - this.#lastLoggedStep) };
      if (gradNorm !== undefined) logs["grad_norm"] = gradNorm;
      logs["learning_rate"] = lr ?? native.lrAt(this.state.global_step);
      Object.assign(logs, this.#trainTerms.take(""));
      this.#totalLoss += this.#trLoss;
      this.#trLoss = 0;
      this.#lastLoggedStep = this.state.global_step;
      await this.#log(logs);
    }
    // Rank 0 alone evaluates and saves; the other ranks take its decisions (to stop, to save) from it.
    if (c.shouldEvaluate) {
      if (this.isWorldProcessZero) {
        const metrics = await this.evaluate();
        const isNewBest = this.#isNewBest(metrics);
        if (this.args.saveStrategy === "best") c.shouldSave = isNewBest;
      }
      if (group) {
        const [stop, save] = await group.fromMain([c.shouldTrainingStop ? 1 : 0, c.shouldSave ? 1 : 0], op);
        c.shouldTrainingStop = stop === 1;
        c.shouldSave = save === 1;
        // What the evaluation's onEvaluate did on rank 0.
        c.shouldEvaluate = false;
      }
    }
    if (c.shouldSave && !this.isWorldProcessZero) c.shouldSave = false;
    if (c.shouldSave) {
      await this.#saveCheckpoint(native);
      c.shouldSave = false;
      await this.#call("onSave", { checkpoint: this.#checkpointDir(this.state.global_step) });
    }
  }

  /** What the model card reports about this run (its logs grow as it goes). */
  #setTrainingSummary(): void {
    const train = this.#train!;
    this.model.trainingSummary = {
      objectives: train.map((p) => ({
        loss: p.loss.name,
        lossConfig: p.loss.getConfigDict(),
        examples: p.dataset.length,
        batchSize: this.args.perDeviceTrainBatchSize,
        samples: p.rows.slice(0, 3).map((r) => ({
          texts: p.inputColumns.map((c) => r[c] as string),
          label: p.labelColumn === undefined ? undefined : Array.isArray(r[p.labelColumn]) ? `[${(r[p.labelColumn] as unknown[]).length} values]` : r[p.labelColumn],
        })),
      })),
      hyperparameters: this.args.nonDefaults(),
      log: [],
      evaluations: [],
      primaryMetric: this.evaluator?.primaryMetric,
    };
  }
}

/**
 * The named parts of a loss (base_loss, document_regularizer_loss, ...) summed over batches, then logged as their
 * mean per batch rounded to 4 digits, as sentence-transformers' trainer logs loss components.
 */
class LossTerms {
  #sums = new Map<string, number>();
  #batches = 0;

  add(terms: Record<string, number> | undefined): void {
    if (terms === undefined) return;
    for (const [k, v] of Object.entries(terms)) this.#sums.set(k, (this.#sums.get(k) ?? 0) + v);
    this.#batches++;
  }

  /** The means under `prefix` + name, and a fresh start. */
  take(prefix: string): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.#batches > 0) for (const [k, v] of this.#sums) out[prefix + k] = round(v / this.#batches, 4);
    this.#sums = new Map();
    this.#batches = 0;
    return out;
  }
}

function isLossDict<L>(v: unknown): v is Record<string, L> {
  return typeof v === "object" && v !== null && typeof (v as { nativeSpec?: unknown }).nativeSpec !== "function";
}

/** JSON as transformers writes its state files: indent 2, a final newline. */
async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
