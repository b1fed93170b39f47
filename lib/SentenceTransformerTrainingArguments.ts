/**
 * SentenceTransformerTrainingArguments: the options of SentenceTransformerTrainer, named as sentence-transformers'
 * and transformers' TrainingArguments in camelCase, with their defaults (transformers 5, sentence-transformers 6)
 * and their checks. One table below is the schema: names, Python names, defaults and value checks; the class
 * resolves what depends on other options (evalSteps from loggingSteps, the best-model metric) as
 * TrainingArguments.__post_init__ does.
 */
import type { SchedulerName } from "./fit.js";
import { checkDistributed, type DistributedOptions } from "./distributed.js";
import { BatchSamplers, MultiDatasetBatchSamplers, type BatchSamplerName, type MultiDatasetBatchSamplerName } from "./sampler.js";

export type IntervalStrategy = "no" | "steps" | "epoch";
export type SaveStrategy = IntervalStrategy | "best";
/** transformers' scheduler names the native trainer runs. */
export type LrSchedulerType = "linear" | "cosine" | "cosine_with_restarts" | "constant" | "constant_with_warmup" | "polynomial" | "inverse_sqrt" | "cosine_with_min_lr";
/** The native trainer's schedules: fit's names, and those only the trainer takes. */
export type NativeSchedulerName = SchedulerName | "polynomial" | "inversesqrt" | "warmupcosinewithminlr";
/** transformers' lr_scheduler_kwargs: the shape options of the chosen schedule. */
export interface LrSchedulerKwargs {
  /** cosine (default 0.5), cosine_with_restarts (default 1), cosine_with_min_lr (default 0.5) */
  num_cycles?: number;
  /** polynomial: the final learning rate (default 1e-7) and the decay's power (default 1) */
  lr_end?: number;
  power?: number;
  /** inverse_sqrt: default the warmup steps, or 10000 without warmup */
  timescale?: number;
  /** cosine_with_min_lr: the floor, as a learning rate or as a fraction of learningRate (one of them) */
  min_lr?: number;
  min_lr_rate?: number;
}
/** A prompt for every column; per column name; or per dataset name (then a string or per column name). */
export type TrainingPrompts = string | Record<string, string | Record<string, string>>;
/** Column name → Router task ("query", "document"), or dataset name → such a mapping. */
export type RouterMapping = Record<string, string> | Record<string, Record<string, string>>;

/** The options, all optional; see the README for what each does. */
export interface SentenceTransformerTrainingArgumentsInit {
  /** Where checkpoints (checkpoint-N/), the evaluators' CSVs (eval/) and the JSONL log go. Default "trainer_output". */
  outputDir?: string;
  /** Default 3; a fraction runs part of the last epoch. */
  numTrainEpochs?: number;
  /** > 0: this many optimizer steps, overriding numTrainEpochs. Default -1. */
  maxSteps?: number;
  /** Default 8. */
  perDeviceTrainBatchSize?: number;
  /** Default 8. */
  perDeviceEvalBatchSize?: number;
  /** Batches whose gradients add up to one optimizer step (each loss scaled by 1 / count). Default 1. */
  gradientAccumulationSteps?: number;
  /** AdamW's learning rate. Default 5e-5. */
  learningRate?: number;
  /** AdamW's decoupled weight decay (never on biases and LayerNorm weights). Default 0. */
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** Gradient clipping by total norm; <= 0 turns it off. Default 1. */
  maxGradNorm?: number;
  /** An integer: warmup steps; a fraction in [0, 1): that share of all steps (rounded up). Default 0. */
  warmupSteps?: number;
  /** The older spelling of a warmup fraction; used when warmupSteps is 0. */
  warmupRatio?: number;
  /** Default "linear". */
  lrSchedulerType?: LrSchedulerType;
  /** Options of the schedule, under transformers' names (see LrSchedulerKwargs). Default {}. */
  lrSchedulerKwargs?: LrSchedulerKwargs;
  /** bf16 autocast of the forward pass (CPU, or CUDA). */
  bf16?: boolean;
  /** fp16 autocast of the forward pass; CUDA only. */
  fp16?: boolean;
  /**
   * Each encoder layer keeps only its input for backward and runs again there (about a third more compute, the
   * activations of one layer instead of all). Default false. Not with bf16/fp16.
   */
  gradientCheckpointing?: boolean;
  /** Default "no". */
  evalStrategy?: IntervalStrategy;
  /** Default: loggingSteps. A fraction in (0, 1) is that share of all steps. */
  evalSteps?: number;
  /** Steps (or epochs, with evalStrategy "epoch") before the first evaluation. Default 0. */
  evalDelay?: number;
  /** Evaluate before the first step. Default false. */
  evalOnStart?: boolean;
  /** Default "steps". "best": whenever the best metric improves. */
  saveStrategy?: SaveStrategy;
  /** Default 500. A fraction in (0, 1) is that share of all steps; 0: only at the last step. */
  saveSteps?: number;
  /** Keep at most this many checkpoints: the oldest go first, the best and the latest stay. */
  saveTotalLimit?: number;
  /** Checkpoints hold only the model (no optimizer, scheduler or RNG state: they cannot be resumed). */
  saveOnlyModel?: boolean;
  /** Load the best checkpoint's weights when training ends. Default false. */
  loadBestModelAtEnd?: boolean;
  /** With or without "eval_"; default "loss" when loadBestModelAtEnd. */
  metricForBestModel?: string;
  /** Default: false for metrics ending in "loss", true otherwise. */
  greaterIsBetter?: boolean;
  /** Default "steps". */
  loggingStrategy?: IntervalStrategy;
  /** Default 500. A fraction in (0, 1) is that share of all steps. */
  loggingSteps?: number;
  loggingFirstStep?: boolean;
  /** Seeds the data order and dropout. Default 42. */
  seed?: number;
  /** Leave out every dataset's last, smaller batch. Default false. */
  dataloaderDropLast?: boolean;
  /** Default BatchSamplers.BATCH_SAMPLER. */
  batchSampler?: BatchSamplerName;
  /** Default MultiDatasetBatchSamplers.PROPORTIONAL. */
  multiDatasetBatchSampler?: MultiDatasetBatchSamplerName;
  /** Text put before each column's values in training and evaluation batches. */
  prompts?: TrainingPrompts;
  /**
   * The task each column's texts are for, which a Router model routes by: `{question: "query", answer: "document"}`,
   * or per dataset name. Columns left out take the Router's default route. Default {}.
   */
  routerMapping?: RouterMapping;
  /** No progress bar. Default false. */
  disableTqdm?: boolean;
  /**
   * Integrations: "none" (default), "all", "jsonl" or "tensorboard" (event files under outputDir/runs/<date>_<host>,
   * or TENSORBOARD_LOGGING_DIR, as transformers' TensorBoardCallback writes them). The JSONL log
   * (outputDir/trainer_log.jsonl) is always written.
   */
  reportTo?: string | string[];
  /**
   * Distributed data parallel: `{rank, worldSize, masterAddr?, masterPort?}` for this process; `true` reads
   * torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and fails without them; `false` trains in one
   * process whatever they say. Default: those variables when WORLD_SIZE is set, else one process.
   */
  ddp?: DistributedOptions | boolean;
  /** "gloo" (CPU); "nccl" (CUDA) is not built. Default "gloo". */
  ddpBackend?: "gloo";
  /**
   * Seconds a rank waits for the others in a collective (then fails). Default 1800, or SBERT_NODE_DDP_TIMEOUT
   * (which `sbert-node train --ddp-timeout` sets for its ranks).
   */
  ddpTimeout?: number;
  /** Gradients are averaged in buckets of this many MiB, launched together. Default 25. */
  ddpBucketCapMb?: number;
}

type Resolved = Required<Omit<SentenceTransformerTrainingArgumentsInit, "evalSteps" | "saveTotalLimit" | "metricForBestModel" | "greaterIsBetter" | "warmupRatio" | "prompts" | "reportTo" | "ddp">> & {
  ddp: Required<DistributedOptions> | boolean | undefined;
  evalSteps: number | undefined;
  saveTotalLimit: number | undefined;
  metricForBestModel: string | undefined;
  greaterIsBetter: boolean | undefined;
  warmupRatio: number | undefined;
  prompts: TrainingPrompts | undefined;
  reportTo: string[];
};

const OP = "SentenceTransformerTrainingArguments";

/** transformers' scheduler names → the native trainer's (sentence-transformers' fit names). */
export const LR_SCHEDULERS: Readonly<Record<LrSchedulerType, NativeSchedulerName>> = {
  linear: "warmuplinear",
  cosine: "warmupcosine",
  cosine_with_restarts: "warmupcosinewithhardrestarts",
  constant: "constantlr",
  constant_with_warmup: "warmupconstant",
  polynomial: "polynomial",
  inverse_sqrt: "inversesqrt",
  cosine_with_min_lr: "warmupcosinewithminlr",
};
/** The lr_scheduler_kwargs each schedule takes (transformers' schedule functions' keyword arguments). */
const SCHEDULER_KWARGS: Readonly<Record<LrSchedulerType, readonly (keyof LrSchedulerKwargs)[]>> = {
  linear: [],
  cosine: ["num_cycles"],
  cosine_with_restarts: ["num_cycles"],
  constant: [],
  constant_with_warmup: [],
  polynomial: ["lr_end", "power"],
  inverse_sqrt: ["timescale"],
  cosine_with_min_lr: ["num_cycles", "min_lr", "min_lr_rate"],
};
const UNSUPPORTED_SCHEDULERS = ["reduce_lr_on_plateau", "cosine_warmup_with_min_lr", "warmup_stable_decay", "greedy"];
const REPORT_TO = ["none", "all", "jsonl", "tensorboard"];

/** transformers' checks of a schedule's keyword arguments, with errors naming the field. */
function checkSchedulerKwargs(type: LrSchedulerType, kwargs: LrSchedulerKwargs, lr: number): void {
  const allowed = SCHEDULER_KWARGS[type];
  for (const key of Object.keys(kwargs)) {
    if (!allowed.includes(key as keyof LrSchedulerKwargs)) {
      throw new RangeError(`${OP}: lrSchedulerKwargs.${key} is not an option of the "${type}" schedule (it takes ${allowed.length ? allowed.join(", ") : "none"})`);
    }
  }
  if (type === "polynomial" && !((kwargs.lr_end ?? 1e-7) < lr)) throw new RangeError(`${OP}: lrSchedulerKwargs.lr_end (${kwargs.lr_end ?? 1e-7}) must be smaller than learningRate (${lr})`);
  if (type === "cosine_with_min_lr" && (kwargs.min_lr === undefined) === (kwargs.min_lr_rate === undefined)) {
    throw new RangeError(`${OP}: the "cosine_with_min_lr" schedule needs exactly one of lrSchedulerKwargs.min_lr and lrSchedulerKwargs.min_lr_rate`);
  }
  if (kwargs.timescale !== undefined && !(Number.isInteger(kwargs.timescale) && kwargs.timescale > 0)) {
    throw new RangeError(`${OP}: lrSchedulerKwargs.timescale must be a positive integer, got ${kwargs.timescale}`);
  }
}

const bad = (name: string, what: string, v: unknown) => new RangeError(`${OP}: ${name} must be ${what}, got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);

const check = {
  number: (name: string, v: unknown, min: number, what: string, { above = false, below = Infinity } = {}): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || (above ? v <= min : v < min) || v >= below) throw bad(name, what, v);
    return v;
  },
  int: (name: string, v: unknown, min: number): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw bad(name, min === 1 ? "a positive integer" : `an integer >= ${min}`, v);
    return v;
  },
  bool: (name: string, v: unknown): boolean => {
    if (typeof v !== "boolean") throw new TypeError(`${OP}: ${name} must be a boolean, got ${typeof v}`);
    return v;
  },
  oneOf: <T extends string>(name: string, v: unknown, allowed: readonly T[]): T => {
    if (typeof v !== "string" || !allowed.includes(v as T)) throw bad(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, v);
    return v as T;
  },
  /** An interval in steps: an integer >= 1, or a fraction in (0, 1) of all steps. */
  steps: (name: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (v > 1 && !Number.isInteger(v))) {
      throw bad(name, "an integer >= 1 or a fraction in (0, 1) of all steps", v);
    }
    return v;
  },
};

interface Spec {
  python: string;
  default: unknown;
  check: (name: string, v: unknown) => unknown;
}

/** The schema: camelCase name → Python name, default, check. */
const SPECS: Record<keyof SentenceTransformerTrainingArgumentsInit, Spec> = {
  outputDir: {
    python: "output_dir",
    default: "trainer_output",
    check: (n, v) => {
      if (typeof v !== "string" || v === "") throw new TypeError(`${OP}: ${n} must be a non-empty string`);
      return v;
    },
  },
  numTrainEpochs: { python: "num_train_epochs", default: 3, check: (n, v) => check.number(n, v, 0, "a number > 0", { above: true }) },
  maxSteps: {
    python: "max_steps",
    default: -1,
    check: (n, v) => {
      if (v === -1) return v;
      return check.int(n, v, 1);
    },
  },
  perDeviceTrainBatchSize: { python: "per_device_train_batch_size", default: 8, check: (n, v) => check.int(n, v, 1) },
  perDeviceEvalBatchSize: { python: "per_device_eval_batch_size", default: 8, check: (n, v) => check.int(n, v, 1) },
  gradientAccumulationSteps: { python: "gradient_accumulation_steps", default: 1, check: (n, v) => check.int(n, v, 1) },
  // torch.optim.AdamW's own checks.
  learningRate: { python: "learning_rate", default: 5e-5, check: (n, v) => check.number(n, v, 0, "a finite number >= 0") },
  weightDecay: { python: "weight_decay", default: 0, check: (n, v) => check.number(n, v, 0, "a finite number >= 0") },
  adamBeta1: { python: "adam_beta1", default: 0.9, check: (n, v) => check.number(n, v, 0, "in [0, 1)", { below: 1 }) },
  adamBeta2: { python: "adam_beta2", default: 0.999, check: (n, v) => check.number(n, v, 0, "in [0, 1)", { below: 1 }) },
  adamEpsilon: { python: "adam_epsilon", default: 1e-8, check: (n, v) => check.number(n, v, 0, "a finite number >= 0") },
  maxGradNorm: { python: "max_grad_norm", default: 1, check: (n, v) => check.number(n, v, -Infinity, "a finite number (<= 0: no clipping)") },
  warmupSteps: {
    python: "warmup_steps",
    default: 0,
    check: (n, v) => {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (v >= 1 && !Number.isInteger(v))) {
        throw bad(n, "an integer number of steps or a fraction in [0, 1) of all steps", v);
      }
      return v;
    },
  },
  warmupRatio: { python: "warmup_ratio", default: undefined, check: (n, v) => check.number(n, v, 0, "a fraction in [0, 1)", { below: 1 }) },
  lrSchedulerType: {
    python: "lr_scheduler_type",
    default: "linear",
    check: (n, v) => {
      if (typeof v === "string" && UNSUPPORTED_SCHEDULERS.includes(v)) {
        throw new RangeError(`${OP}: ${n} "${v}" is a transformers scheduler sbert-node does not run; use one of ${Object.keys(LR_SCHEDULERS).join(", ")}`);
      }
      return check.oneOf(n, v, Object.keys(LR_SCHEDULERS) as LrSchedulerType[]);
    },
  },
  lrSchedulerKwargs: {
    python: "lr_scheduler_kwargs",
    default: {},
    check: (n, v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TypeError(`${OP}: ${n} must be an object of the schedule's options`);
      for (const [key, value] of Object.entries(v)) {
        if (typeof value !== "number" || !Number.isFinite(value)) throw new TypeError(`${OP}: ${n}.${key} must be a finite number, got ${String(value)}`);
      }
      return { ...v };
    },
  },
  bf16: { python: "bf16", default: false, check: check.bool },
  fp16: { python: "fp16", default: false, check: check.bool },
  gradientCheckpointing: { python: "gradient_checkpointing", default: false, check: check.bool },
  evalStrategy: { python: "eval_strategy", default: "no", check: (n, v) => check.oneOf(n, v, ["no", "steps", "epoch"] as const) },
  evalSteps: { python: "eval_steps", default: undefined, check: check.steps },
  evalDelay: { python: "eval_delay", default: 0, check: (n, v) => check.number(n, v, 0, "a number >= 0") },
  evalOnStart: { python: "eval_on_start", default: false, check: check.bool },
  saveStrategy: { python: "save_strategy", default: "steps", check: (n, v) => check.oneOf(n, v, ["no", "steps", "epoch", "best"] as const) },
  // 0, as in transformers: no saves by steps, only the one at the last step.
  saveSteps: { python: "save_steps", default: 500, check: (n, v) => (v === 0 ? 0 : check.steps(n, v)) },
  saveTotalLimit: { python: "save_total_limit", default: undefined, check: (n, v) => check.int(n, v, 0) },
  saveOnlyModel: { python: "save_only_model", default: false, check: check.bool },
  loadBestModelAtEnd: { python: "load_best_model_at_end", default: false, check: check.bool },
  metricForBestModel: {
    python: "metric_for_best_model",
    default: undefined,
    check: (n, v) => {
      if (typeof v !== "string" || v === "") throw new TypeError(`${OP}: ${n} must be a metric name`);
      return v;
    },
  },
  greaterIsBetter: { python: "greater_is_better", default: undefined, check: check.bool },
  loggingStrategy: { python: "logging_strategy", default: "steps", check: (n, v) => check.oneOf(n, v, ["no", "steps", "epoch"] as const) },
  loggingSteps: { python: "logging_steps", default: 500, check: check.steps },
  loggingFirstStep: { python: "logging_first_step", default: false, check: check.bool },
  seed: { python: "seed", default: 42, check: (n, v) => check.int(n, v, 0) },
  dataloaderDropLast: { python: "dataloader_drop_last", default: false, check: check.bool },
  batchSampler: { python: "batch_sampler", default: BatchSamplers.BATCH_SAMPLER, check: (n, v) => check.oneOf(n, v, Object.values(BatchSamplers)) },
  multiDatasetBatchSampler: {
    python: "multi_dataset_batch_sampler",
    default: MultiDatasetBatchSamplers.PROPORTIONAL,
    check: (n, v) => check.oneOf(n, v, Object.values(MultiDatasetBatchSamplers)),
  },
  prompts: {
    python: "prompts",
    default: undefined,
    check: (n, v) => {
      if (typeof v === "string") return v;
      const isMap = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
      if (!isMap(v)) throw new TypeError(`${OP}: ${n} must be a string or an object of strings (or of objects of strings)`);
      const values = Object.values(v);
      const nested = values.length > 0 && isMap(values[0]);
      for (const [key, value] of Object.entries(v)) {
        const ok = nested ? isMap(value) && Object.values(value).every((p) => typeof p === "string") : typeof value === "string";
        if (!ok) {
          throw new TypeError(`${OP}: ${n}.${key} must be ${nested ? "an object of column name → prompt, as the other entries" : "a string, as the other entries"}`);
        }
      }
      return v;
    },
  },
  routerMapping: {
    python: "router_mapping",
    default: {},
    check: (n, v) => {
      const isMap = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
      if (!isMap(v)) throw new TypeError(`${OP}: ${n} must be an object of column name → task (or dataset name → such an object)`);
      const values = Object.values(v);
      const nested = values.length > 0 && isMap(values[0]);
      for (const [key, value] of Object.entries(v)) {
        const ok = nested ? isMap(value) && Object.values(value).every((t) => typeof t === "string") : typeof value === "string";
        if (!ok) throw new TypeError(`${OP}: ${n}.${key} must be ${nested ? "an object of column name → task, as the other entries" : "a task name (string), as the other entries"}`);
      }
      return v;
    },
  },
  disableTqdm: { python: "disable_tqdm", default: false, check: check.bool },
  reportTo: {
    python: "report_to",
    default: "none",
    check: (n, v) => {
      const list = typeof v === "string" ? [v] : v;
      if (!Array.isArray(list)) throw new TypeError(`${OP}: ${n} must be a string or a list of strings`);
      for (const r of list) {
        if (!REPORT_TO.includes(r as string)) {
          throw new RangeError(`${OP}: ${n} ${JSON.stringify(r)} is not an integration sbert-node has (${REPORT_TO.join(", ")}); the JSONL log is always written`);
        }
      }
      return list.includes("none") ? [] : list.includes("all") ? ["jsonl", "tensorboard"] : [...new Set(list as string[])];
    },
  },
  ddp: { python: "ddp", default: undefined, check: (n, v) => (typeof v === "boolean" ? v : checkDistributed(v, n, OP)) },
  ddpBackend: {
    python: "ddp_backend",
    default: "gloo",
    check: (n, v) => {
      if (v === "nccl" || v === "ccl" || v === "mpi" || v === "hccl") throw new RangeError(`${OP}: ${n} "${v}" is not built; distributed training runs on "gloo" (CPU)`);
      return check.oneOf(n, v, ["gloo"]);
    },
  },
  ddpTimeout: { python: "ddp_timeout", default: 1800, check: (n, v) => check.number(n, v, 0, "a number of seconds > 0", { above: true }) },
  ddpBucketCapMb: { python: "ddp_bucket_cap_mb", default: 25, check: (n, v) => check.number(n, v, 0, "a number of MiB > 0", { above: true }) },
};

const CAMEL = Object.keys(SPECS) as (keyof SentenceTransformerTrainingArgumentsInit)[];

export interface SentenceTransformerTrainingArguments extends Readonly<Resolved> {}

/** Training options, checked and resolved; see SentenceTransformerTrainingArgumentsInit. */
export class SentenceTransformerTrainingArguments {
  constructor(init: SentenceTransformerTrainingArgumentsInit = {}) {
    if (typeof init !== "object" || init === null || Array.isArray(init)) throw new TypeError(`${OP}: expected an object of options`);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(init)) {
      if (!(key in SPECS)) {
        const byPython = CAMEL.find((c) => SPECS[c].python === key);
        throw new TypeError(`${OP}: unknown argument '${key}'${byPython ? ` (sbert-node spells it '${byPython}')` : ""}`);
      }
    }
    for (const name of CAMEL) {
      const v = (init as Record<string, unknown>)[name];
      out[name] = v === undefined ? SPECS[name].default : SPECS[name].check(name, v);
    }
    // reportTo's default goes through its check too (to the list form).
    if (init.reportTo === undefined) out["reportTo"] = [];
    const envTimeout = process.env["SBERT_NODE_DDP_TIMEOUT"];
    if (init.ddpTimeout === undefined && envTimeout !== undefined && envTimeout !== "") {
      out["ddpTimeout"] = SPECS.ddpTimeout.check("ddpTimeout (from SBERT_NODE_DDP_TIMEOUT)", Number(envTimeout));
    }
    const a = out as Resolved;
    // transformers 5 reads a warmup fraction from warmupSteps; warmupRatio fills it when warmupSteps is 0.
    if (a.warmupRatio !== undefined && a.warmupSteps === 0) a.warmupSteps = a.warmupRatio;
    if (a.evalStrategy === "steps" && a.evalSteps === undefined) a.evalSteps = a.loggingSteps;
    if (a.saveStrategy === "best" && a.metricForBestModel === undefined) {
      throw new RangeError(`${OP}: saveStrategy "best" needs metricForBestModel`);
    }
    if (a.loadBestModelAtEnd && a.metricForBestModel === undefined) a.metricForBestModel = "loss";
    if (a.greaterIsBetter === undefined && a.metricForBestModel !== undefined) a.greaterIsBetter = !a.metricForBestModel.endsWith("loss");
    if (a.loadBestModelAtEnd && a.saveStrategy !== "best") {
      if (a.evalStrategy !== a.saveStrategy) {
        throw new RangeError(`${OP}: loadBestModelAtEnd needs evalStrategy and saveStrategy to match (or saveStrategy "best"), got evalStrategy "${a.evalStrategy}" and saveStrategy "${a.saveStrategy}"`);
      }
      if (a.evalStrategy === "steps") {
        const e = a.evalSteps!;
        const s = a.saveSteps;
        const ratio = (x: number) => x < 1;
        if (ratio(e) !== ratio(s)) {
          throw new RangeError(`${OP}: loadBestModelAtEnd needs saveSteps to be a multiple of evalSteps, which cannot be guaranteed when one is a fraction (saveSteps ${s}, evalSteps ${e})`);
        }
        if (Math.round(s * 1e6) % Math.round(e * 1e6) !== 0) {
          throw new RangeError(`${OP}: loadBestModelAtEnd needs saveSteps to be a multiple of evalSteps, got saveSteps ${s} and evalSteps ${e}`);
        }
      }
    }
    if (a.bf16 && a.fp16) throw new RangeError(`${OP}: at most one of bf16 and fp16 can be true`);
    checkSchedulerKwargs(a.lrSchedulerType as LrSchedulerType, a.lrSchedulerKwargs as LrSchedulerKwargs, a.learningRate as number);
    // The recomputation in backward would run outside the forward pass's autocast.
    if (a.gradientCheckpointing && (a.bf16 || a.fp16)) throw new RangeError(`${OP}: gradientCheckpointing cannot be combined with bf16 or fp16`);
    Object.assign(this, a);
    Object.freeze(this);
  }

  /** The native trainer's scheduler for lrSchedulerType. */
  get scheduler(): NativeSchedulerName {
    return LR_SCHEDULERS[this.lrSchedulerType];
  }

  /** lrSchedulerKwargs as the native schedules take them (the rates as fractions of learningRate). */
  get scheduleOptions(): { numCycles?: number; power?: number; endRate?: number; minLrRate?: number; timescale?: number } {
    const k = this.lrSchedulerKwargs;
    const lr = this.learningRate;
    return {
      ...(k.num_cycles !== undefined && { numCycles: k.num_cycles }),
      ...(this.lrSchedulerType === "polynomial" && { power: k.power ?? 1, endRate: (k.lr_end ?? 1e-7) / lr }),
      ...(k.timescale !== undefined && { timescale: k.timescale }),
      ...(this.lrSchedulerType === "cosine_with_min_lr" && { minLrRate: k.min_lr !== undefined ? k.min_lr / lr : k.min_lr_rate! }),
    };
  }

  /** Warmup steps for a run of `totalSteps` (transformers' get_warmup_steps: a fraction is rounded up). */
  warmupStepsFor(totalSteps: number): number {
    return this.warmupSteps >= 1 ? Math.trunc(this.warmupSteps) : Math.ceil(totalSteps * this.warmupSteps);
  }

  /** The arguments under their Python names (training_args.json, model cards). */
  toDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of CAMEL) {
      const v = (this as unknown as Record<string, unknown>)[name];
      out[SPECS[name].python] = v === undefined ? null : v;
    }
    return out;
  }

  /** The arguments that differ from the defaults, by camelCase name. */
  nonDefaults(): Record<string, unknown> {
    const defaults = new SentenceTransformerTrainingArguments({ outputDir: this.outputDir }) as unknown as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const name of CAMEL) {
      const v = (this as unknown as Record<string, unknown>)[name];
      if (JSON.stringify(v) !== JSON.stringify(defaults[name])) out[name] = v;
    }
    return out;
  }
}
