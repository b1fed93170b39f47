/**
 * `sbert-node train CONFIG`: fine-tunes a model as a config file describes it. The whole config is checked
 * before anything is loaded; columns and option values are checked once the model and data are there, still
 * before the first step. SIGINT/SIGTERM stop training after the current step (writing a checkpoint when
 * fit.checkpointPath is set).
 */
import { dirname, isAbsolute, resolve } from "node:path";

import { DataLoader } from "../DataLoader.js";
import { NoDuplicatesDataLoader } from "../datasets/NoDuplicatesDataLoader.js";
import type { FitEvaluator, FitOptions } from "../fit.js";
import { Pooling, POOLING_MODES, type PoolingMode } from "../models/Pooling.js";
import { Transformer } from "../models/Transformer.js";
import { SentenceTransformer } from "../SentenceTransformer.js";
import { setNumThreads } from "../backend.js";
import { type CommandSpec, flag, intFlag, parseCommand, positionals, str, UsageError } from "./args.js";
import { DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT, isMainProcess } from "../distributed.js";
import { latestCheckpoint } from "../internal/training.js";
import { DEVICE_OPTION, THREADS_OPTION, localOrId, metricsLine, note, stopOnSignals, reportTraining } from "./common.js";
import { ConfigError, Section, readConfigFile } from "./config.js";
import {
  buildEvaluator,
  buildLoss,
  loadLossGuide,
  checkEvaluatorSection,
  checkLossSection,
  checkTrainSection,
  datasetSection,
  loadSpecDataset,
  lossSection,
  MODEL_TYPES,
  type ModelType,
  trainExamples,
} from "./specs.js";
import { LAUNCH_OPTIONS, launchRanks, withoutLaunchFlags } from "./launch.js";
import { trainCrossEncoder } from "./trainCrossEncoder.js";
import { trainSparseEncoder } from "./trainSparseEncoder.js";

export const trainSpec: CommandSpec = {
  name: "train",
  summary: "Fine-tune a model as a JSON or YAML config describes (model, train data, loss, evaluator, fit options).",
  usage: "CONFIG.(json|yaml) [options]",
  description: [
    "Relative paths in the config are taken from the config file's folder. Progress goes to stderr; a JSON",
    "summary (steps, loss, best score, last metrics, output path) to stdout. Ctrl-C stops after the current",
    "step, writing a checkpoint when fit.checkpointPath is set (exit code 130; 143 for SIGTERM).",
    "",
    "Config fields:",
    "  modelType: sentence-transformer (default), cross-encoder (a reranker, trained by CrossEncoderTrainer)",
    "             or sparse-encoder (a SPLADE SparseEncoder, trained by SparseEncoderTrainer).",
    "  model:     a folder or Hub id, or {path, maxSeqLength, pooling, device}; maxSeqLength, pooling and",
    "             device may also sit at the top level. pooling (a mode or a list: mean, cls, max,",
    "             mean_sqrt_len_tokens, weightedmean, lasttoken) rebuilds the model as Transformer + Pooling.",
    "             A cross-encoder takes {path, maxLength, numLabels, device} instead (numLabels is checked",
    "             against the folder's). A sparse encoder takes {path, maxSeqLength, device}.",
    "  train:     {path, name, split, dataFiles, delimiter, revision} (or a nested `dataset`), plus",
    "             columns: {texts: [col, ...], label: col}, labelScale (multiplies labels), labelMap",
    "             ({text: number}). Default columns: 'label' or 'score' is the label, the rest are texts",
    "             (cross-encoders: label, labels, score or scores). For ListNetLoss and LambdaLoss, texts are",
    "             [query column, documents column] (a list per row) and label a column of score lists.",
    "  loss:      a name or {name, ...options}: any class of sbert-node's losses, e.g.",
    "             {name: CoSENTLoss, scale: 20}; MatryoshkaLoss takes {loss: {...}, matryoshkaDims: [...]},",
    "             AdaptiveLayerLoss {loss: {...}, nLayersPerStep, lastLayerWeight, priorLayersWeight,",
    "             klDivWeight, klTemperature, layerWeighting}, Matryoshka2dLoss both kinds of options;",
    "             GISTEmbedLoss and CachedGISTEmbedLoss take guide: the guide model's folder or Hub id.",
    "             Cross-encoders: a class of crossEncoder.losses (BinaryCrossEntropyLoss, CrossEntropyLoss,",
    "             MSELoss, MarginMSELoss, MultipleNegativesRankingLoss, CachedMultipleNegativesRankingLoss,",
    "             ListNetLoss, LambdaLoss), e.g. {name: LambdaLoss, k: 10}; default BinaryCrossEntropyLoss",
    "             (one label) or CrossEntropyLoss.",
    "             Sparse encoders: SpladeLoss {loss: {...}, documentRegularizerWeight (required),",
    "             queryRegularizerWeight, documentRegularizerThreshold, queryRegularizerThreshold,",
    "             useDocumentRegularizerOnly} wrapping SparseMultipleNegativesRankingLoss, SparseCoSENTLoss,",
    "             SparseAnglELoss, SparseCosineSimilarityLoss, SparseTripletLoss, SparseMarginMSELoss or",
    "             SparseDistillKLDivLoss (labels: teacher scores); or SparseMSELoss alone;",
    "             default SpladeLoss over SparseMultipleNegativesRankingLoss (weights 3e-5, query 5e-5).",
    "  evaluator: {type: EmbeddingSimilarityEvaluator | BinaryClassificationEvaluator | TripletEvaluator,",
    "             dataset fields or `dataset`, columns: {sentences1, sentences2, score|label} or",
    "             {anchors, positives, negatives}, scoreScale, name, batchSize, similarityFnNames, ...}.",
    "             Cross-encoders: CrossEncoderCorrelationEvaluator ({sentences1, sentences2, score},",
    "             scoreScale), CrossEncoderClassificationEvaluator ({sentences1, sentences2, label}, labelMap)",
    "             or CrossEncoderRerankingEvaluator ({query, positive, negative | documents}, atK,",
    "             alwaysRerankPositives); name, batchSize.",
    "             Sparse encoders: SparseEmbeddingSimilarityEvaluator ({sentences1, sentences2, score},",
    "             scoreScale, similarityFnNames, mainSimilarity), SparseBinaryClassificationEvaluator,",
    "             SparseTripletEvaluator (as their dense versions) or SparseInformationRetrievalEvaluator",
    "             ({query, positive, negative}: the distinct positives and negatives are the corpus,",
    "             corpusChunkSize); name, batchSize, maxActiveDims.",
    "  fit:       outputPath (required), epochs (1), batchSize (16), shuffle (true),",
    "             batchSampler (batch_sampler | no_duplicates), lr (2e-5), warmupSteps or warmupRatio",
    "             (default ratio 0.1), weightDecay, scheduler, evaluationSteps, saveBestModel, maxGradNorm,",
    "             useAmp, stepsPerEpoch, checkpointPath, checkpointSaveSteps, checkpointSaveTotalLimit,",
    "             resumeFromCheckpoint (true or a folder), seed. Cross-encoders always shuffle, their seed",
    "             defaults to 42, and their checkpoints are CrossEncoderTrainer's (checkpoint-N/); the same",
    "             holds for sparse encoders with SparseEncoderTrainer.",
  ].join("\n"),
  options: {
    device: { ...DEVICE_OPTION, help: "Device to train on (overrides the config's)." },
    threads: THREADS_OPTION,
    "output-path": { type: "string", value: "DIR", help: "Where the trained model goes (overrides fit.outputPath)." },
    "dry-run": { type: "boolean", help: "Check the config, load model and data, build loss and evaluator; do not train." },
    quiet: { type: "boolean", short: "q", help: "No progress bar." },
    ...LAUNCH_OPTIONS,
  },
  examples: ["sbert-node train sts.yaml", "sbert-node train sts.yaml --nproc-per-node 2", "sbert-node train sts.json --output-path ./out --device cuda", "sbert-node train reranker.yaml --dry-run"],
};

const TOP_KEYS = ["modelType", "model", "maxSeqLength", "pooling", "maxLength", "numLabels", "device", "train", "loss", "evaluator", "fit"];
/** The model fields of each model type besides `path`; each may also sit at the top level. */
const MODEL_FIELDS: Record<ModelType, string[]> = {
  "sentence-transformer": ["maxSeqLength", "pooling", "device"],
  "cross-encoder": ["maxLength", "numLabels", "device"],
  "sparse-encoder": ["maxSeqLength", "device"],
};
const FIT_KEYS = [
  "epochs",
  "batchSize",
  "shuffle",
  "batchSampler",
  "lr",
  "warmupSteps",
  "warmupRatio",
  "weightDecay",
  "scheduler",
  "evaluationSteps",
  "outputPath",
  "saveBestModel",
  "maxGradNorm",
  "useAmp",
  "stepsPerEpoch",
  "checkpointPath",
  "checkpointSaveSteps",
  "checkpointSaveTotalLimit",
  "resumeFromCheckpoint",
  "seed",
  "showProgressBar",
];
const SCHEDULERS = ["ConstantLR", "WarmupConstant", "WarmupLinear", "WarmupCosine", "WarmupCosineWithHardRestarts"];

export interface ModelPlan {
  type: ModelType;
  path: string;
  maxSeqLength?: number;
  pooling?: PoolingMode[];
  maxLength?: number;
  numLabels?: number;
  device?: string;
  /** Where each given field sits in the config ("model.path", or "model" for a plain string; "numLabels", …). */
  fields: Record<string, string>;
}

/**
 * The model part: a string, or an object, with the model type's fields (MODEL_FIELDS) possibly at the top level.
 * A field of the other model type is refused by name.
 */
function modelPlan(root: Section): ModelPlan {
  const type = root.oneOf("modelType", MODEL_TYPES) ?? "sentence-transformer";
  const fields = MODEL_FIELDS[type];
  const foreign = (sec: Section): void => {
    for (const key of Object.keys(sec.obj)) {
      if (key !== "path" && !fields.includes(key) && MODEL_TYPES.some((t) => MODEL_FIELDS[t].includes(key))) {
        const owners = MODEL_TYPES.filter((t) => MODEL_FIELDS[t].includes(key));
        sec.fail(key, `is a field of ${owners.join(" and ")} models, but modelType is ${type}; its model fields are: ${fields.join(", ")}`);
      }
    }
  };
  foreign(root);
  const raw = root.raw("model");
  if (raw === undefined) root.fail("model", "is required: a model folder or Hub id");
  let sec: Section;
  if (typeof raw === "string") {
    sec = new Section({ path: raw }, "model");
  } else {
    sec = Section.of(raw, "model");
    foreign(sec);
    sec.only(["path", ...fields]);
    for (const key of fields) {
      if (sec.has(key) && root.has(key)) root.fail(key, `is given both at the top level and in model`);
    }
  }
  const pick = (key: string): Section => (sec.has(key) ? sec : root);
  const plan: ModelPlan = { type, path: sec.string("path", true), fields: { path: typeof raw === "string" ? "model" : sec.field("path") } };
  for (const key of fields) plan.fields[key] = pick(key).field(key);
  const device = pick("device").string("device");
  if (device !== undefined) plan.device = device;
  if (type === "sparse-encoder") {
    const maxSeqLength = pick("maxSeqLength").int("maxSeqLength", 1);
    if (maxSeqLength !== undefined) plan.maxSeqLength = maxSeqLength;
    return plan;
  }
  if (type === "cross-encoder") {
    const maxLength = pick("maxLength").int("maxLength", 1);
    if (maxLength !== undefined) plan.maxLength = maxLength;
    const numLabels = pick("numLabels").int("numLabels", 1);
    if (numLabels !== undefined) plan.numLabels = numLabels;
    return plan;
  }
  const maxSeqLength = pick("maxSeqLength").int("maxSeqLength", 1);
  if (maxSeqLength !== undefined) plan.maxSeqLength = maxSeqLength;
  const poolSec = pick("pooling");
  const pooling = poolSec.raw("pooling");
  if (pooling !== undefined) {
    const modes: unknown[] = typeof pooling === "string" ? [pooling] : Array.isArray(pooling) ? pooling : [];
    if (modes.length === 0) poolSec.fail("pooling", `must be a pooling mode or a list of them (${POOLING_MODES.join(", ")})`);
    modes.forEach((m, i) => {
      if (!POOLING_MODES.includes(m as PoolingMode)) {
        throw new ConfigError(`${poolSec.field("pooling")}${typeof pooling === "string" ? "" : `[${i}]`}`, `must be one of ${POOLING_MODES.join(", ")}, got ${JSON.stringify(m)}`);
      }
    });
    plan.pooling = modes as PoolingMode[];
  }
  return plan;
}

async function buildModel(plan: ModelPlan, base: string, device: string | undefined): Promise<SentenceTransformer> {
  const where = await localOrId(plan.path, base);
  let model: SentenceTransformer;
  if (plan.pooling) {
    const transformer = await Transformer.load(where, { ...(device !== undefined && { device }) });
    model = new SentenceTransformer({ modules: [transformer, new Pooling(transformer.getWordEmbeddingDimension(), { poolingMode: plan.pooling })] });
  } else {
    model = await SentenceTransformer.load(where, { ...(device !== undefined && { device }) });
  }
  if (plan.maxSeqLength !== undefined) {
    try {
      model.maxSeqLength = plan.maxSeqLength;
    } catch (e) {
      model.dispose();
      throw new ConfigError("model.maxSeqLength", (e as Error).message);
    }
  }
  return model;
}

function checkFit(fit: Section): void {
  fit.only(FIT_KEYS);
  fit.int("epochs", 1);
  fit.int("batchSize", 1);
  fit.bool("shuffle");
  fit.oneOf("batchSampler", ["batch_sampler", "no_duplicates"] as const);
  fit.number("lr", { min: 0, exclusiveMin: true });
  fit.int("warmupSteps", 0);
  fit.number("warmupRatio", { min: 0, max: 1 });
  if (fit.has("warmupSteps") && fit.has("warmupRatio")) fit.fail("warmupRatio", "give warmupSteps or warmupRatio, not both");
  fit.number("weightDecay", { min: 0 });
  const scheduler = fit.string("scheduler");
  if (scheduler !== undefined && !SCHEDULERS.some((s) => s.toLowerCase() === scheduler.toLowerCase())) {
    fit.fail("scheduler", `must be one of ${SCHEDULERS.join(", ")}, got ${JSON.stringify(scheduler)}`);
  }
  fit.int("evaluationSteps", 0);
  fit.string("outputPath");
  fit.bool("saveBestModel");
  fit.number("maxGradNorm");
  fit.bool("useAmp");
  fit.int("stepsPerEpoch", 1);
  fit.string("checkpointPath");
  fit.int("checkpointSaveSteps", 0);
  fit.int("checkpointSaveTotalLimit", 0);
  const resume = fit.raw("resumeFromCheckpoint");
  if (resume !== undefined && typeof resume !== "boolean" && (typeof resume !== "string" || resume === "")) {
    fit.fail("resumeFromCheckpoint", "must be true, false or a checkpoint folder");
  }
  if (resume === true && !fit.has("checkpointPath")) fit.fail("resumeFromCheckpoint", "true needs fit.checkpointPath (where to look for the latest checkpoint)");
  fit.int("seed", 0);
  fit.bool("showProgressBar");
}

/** The checked config and flags, as both model types train from them. */
export interface TrainJob {
  plan: ModelPlan;
  /** The config file's folder: relative paths are taken from it. */
  base: string;
  train: Section;
  /** Undefined: the model type's default loss. */
  lossSec: Section | undefined;
  evalSec: Section | undefined;
  fit: Section;
  outputPath: string;
  checkpointPath: string | undefined;
  resume: string | boolean | undefined;
  device: string | undefined;
  dryRun: boolean;
  showProgressBar: boolean;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const cmd = "train";
  const parsed = parseCommand(trainSpec, argv);
  const [configPath] = positionals(parsed, ["CONFIG"], cmd);
  const v = parsed.values;
  const threads = intFlag(v, "threads", cmd);
  const quiet = flag(v, "quiet");

  // 1. The whole config, without I/O.
  const root = new Section(await readConfigFile(configPath!), "");
  const base = dirname(resolve(configPath!));
  root.only(TOP_KEYS);
  const plan = modelPlan(root);
  const train = root.section("train", true);
  checkTrainSection(train);
  if (!root.has("loss") && plan.type === "sentence-transformer") root.fail("loss", `is required, e.g. {name: CosineSimilarityLoss}`);
  const lossSec = root.has("loss") ? lossSection(root.raw("loss"), "loss") : undefined;
  if (lossSec) checkLossSection(lossSec, plan.type);
  const evalSec = root.section("evaluator");
  if (evalSec) checkEvaluatorSection(evalSec, plan.type);
  const fit = root.section("fit") ?? new Section({}, "fit");
  checkFit(fit);
  if (plan.type === "cross-encoder" && fit.bool("shuffle") === false) {
    fit.fail("shuffle", "false is not available for cross-encoders: CrossEncoderTrainer's batch samplers always shuffle");
  }
  if (plan.type === "sparse-encoder" && fit.bool("shuffle") === false) {
    fit.fail("shuffle", "false is not available for sparse encoders: SparseEncoderTrainer's batch samplers always shuffle");
  }
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const outputFlag = str(v, "output-path");
  const outputPath = outputFlag !== undefined ? resolve(outputFlag) : fit.has("outputPath") ? abs(fit.string("outputPath")!) : undefined;
  if (outputPath === undefined) throw new ConfigError(fit.field("outputPath"), "is required: the folder the trained model is saved to (or pass --output-path)");
  const checkpointPath = fit.has("checkpointPath") ? abs(fit.string("checkpointPath")!) : undefined;
  const resumeRaw = fit.raw("resumeFromCheckpoint") as string | boolean | undefined;
  const resume = typeof resumeRaw === "string" ? abs(resumeRaw) : resumeRaw;

  // torchrun's part: the config is checked once here, then each rank runs the command without these flags.
  const nprocPerNode = intFlag(v, "nproc-per-node", cmd);
  if (nprocPerNode === undefined) {
    for (const f of ["nnodes", "node-rank", "master-addr", "master-port", "ddp-timeout"]) if (v[f] !== undefined) throw new UsageError(`--${f} needs --nproc-per-node`, cmd);
  } else {
    if (process.env["WORLD_SIZE"] !== undefined) throw new UsageError("--nproc-per-node was given inside a distributed run (WORLD_SIZE is set)", cmd);
    const nnodes = intFlag(v, "nnodes", cmd) ?? 1;
    const nodeRank = intFlag(v, "node-rank", cmd, 0, nnodes - 1) ?? 0;
    const masterPort = intFlag(v, "master-port", cmd, 1, 65535) ?? DEFAULT_MASTER_PORT;
    const ddpTimeout = intFlag(v, "ddp-timeout", cmd);
    if (flag(v, "dry-run")) note("train: --dry-run checks the config once, in this process");
    else return launchRanks(cmd, [cmd, ...withoutLaunchFlags(argv)], { nprocPerNode, nnodes, nodeRank, masterAddr: str(v, "master-addr") ?? DEFAULT_MASTER_ADDR, masterPort, ...(ddpTimeout !== undefined && { ddpTimeout }) });
  }

  if (threads !== undefined) setNumThreads(threads);
  const job: TrainJob = {
    plan,
    base,
    train,
    lossSec,
    evalSec,
    fit,
    outputPath,
    checkpointPath,
    resume,
    device: str(v, "device") ?? plan.device,
    dryRun: flag(v, "dry-run"),
    showProgressBar: !quiet && (fit.bool("showProgressBar") ?? true),
  };
  if (plan.type === "cross-encoder") return trainCrossEncoder(job);
  if (plan.type === "sparse-encoder") return trainSparseEncoder(job);
  return trainSentenceTransformer(job);
}

/** A SentenceTransformer trained by its fit (see lib/fit.ts), as the config describes. */
async function trainSentenceTransformer(job: TrainJob): Promise<number> {
  const { plan, base, train, fit, outputPath, checkpointPath, resume, showProgressBar } = job;
  // 2. Model, data, loss, evaluator.
  const model = await buildModel(plan, base, job.device);
  let guide: SentenceTransformer | undefined;
  try {
    guide = await loadLossGuide(job.lossSec!, base, job.device);
    const loss = buildLoss(job.lossSec!, model, guide);
    const trainData = await loadSpecDataset(datasetSection(train), base, "train");
    const examples = trainExamples(trainData, train, loss);
    if (examples.length === 0) throw new ConfigError(train.field("path"), "the training data has no rows");
    const built = job.evalSec ? await buildEvaluator(job.evalSec, base) : undefined;
    if (built && built.modelType !== "sentence-transformer") throw new ConfigError(job.evalSec!.field("type"), `${built.type} does not evaluate sentence-transformer models`);

    const batchSize = fit.int("batchSize", 1) ?? 16;
    const seed = fit.int("seed", 0);
    const noDuplicates = fit.oneOf("batchSampler", ["batch_sampler", "no_duplicates"] as const) === "no_duplicates";
    let loader: DataLoader;
    try {
      loader = noDuplicates
        ? new NoDuplicatesDataLoader(examples, { batchSize, ...(seed !== undefined && { seed }) })
        : new DataLoader(examples, { batchSize, shuffle: fit.bool("shuffle") ?? true, ...(seed !== undefined && { seed }) });
    } catch (e) {
      throw new ConfigError(fit.field("batchSize"), (e as Error).message);
    }
    const epochs = fit.int("epochs", 1) ?? 1;
    const stepsPerEpoch = fit.int("stepsPerEpoch", 1) ?? loader.length;
    if (stepsPerEpoch === 0) throw new ConfigError(fit.field("batchSize"), `${batchSize} is larger than the ${examples.length} examples`);
    const warmupSteps = fit.int("warmupSteps", 0) ?? Math.ceil(stepsPerEpoch * epochs * (fit.number("warmupRatio") ?? 0.1));
    const saveBestModel = fit.bool("saveBestModel") ?? true;

    const dim = model.getSentenceEmbeddingDimension();
    const params = model.modules.reduce((n, m) => n + m.native.parameterCount(), 0);
    note(
      `train: ${plan.path} (dim ${dim}, ${params.toLocaleString("en-US")} parameters, ${model.device}); ${examples.length} examples, ` +
        `${loss.name}; ${epochs} epoch(s) × ${stepsPerEpoch} steps of ${batchSize}, warmup ${warmupSteps}` +
        (built ? `; evaluator ${built.type} on ${built.rows} rows` : ""),
    );
    if (job.dryRun) {
      process.stdout.write(`${JSON.stringify({ ok: true, examples: examples.length, loss: loss.name, stepsPerEpoch, epochs, warmupSteps, evaluator: built?.type ?? null, outputPath })}\n`);
      return 0;
    }

    let lastMetrics: Record<string, number> | undefined;
    const evaluator: FitEvaluator | undefined = built && {
      get primaryMetric() {
        return built.evaluator.primaryMetric;
      },
      greaterIsBetter: built.evaluator.greaterIsBetter,
      async evaluate(m, opts) {
        const metrics = await built.evaluator.evaluate(m, opts);
        lastMetrics = metrics;
        // fit passes the trainer's epoch (fractional within an epoch) and global step.
        note(`eval: epoch ${Number((opts?.epoch ?? 0).toFixed(2))}, step ${opts?.steps ?? 0}: ${metricsLine(metrics)}`);
        return metrics;
      },
    };

    const stop = stopOnSignals(checkpointPath !== undefined);
    const options: FitOptions = {
      trainObjectives: [[loader, loss]],
      epochs,
      ...(fit.has("stepsPerEpoch") && { stepsPerEpoch }),
      warmupSteps,
      optimizerParams: { lr: fit.number("lr") ?? 2e-5 },
      evaluationSteps: fit.int("evaluationSteps", 0) ?? 0,
      outputPath,
      saveBestModel,
      showProgressBar,
      signal: stop.signal,
      ...(evaluator && { evaluator }),
      ...(fit.has("scheduler") && { scheduler: fit.string("scheduler")! }),
      ...(fit.has("weightDecay") && { weightDecay: fit.number("weightDecay")! }),
      ...(fit.has("maxGradNorm") && { maxGradNorm: fit.number("maxGradNorm")! }),
      ...(fit.has("useAmp") && { useAmp: fit.bool("useAmp")! }),
      ...(checkpointPath !== undefined && { checkpointPath }),
      ...(fit.has("checkpointSaveSteps") && { checkpointSaveSteps: fit.int("checkpointSaveSteps", 0)! }),
      ...(fit.has("checkpointSaveTotalLimit") && { checkpointSaveTotalLimit: fit.int("checkpointSaveTotalLimit", 0)! }),
      ...(resume !== undefined && { resumeFromCheckpoint: resume }),
      ...(seed !== undefined && { seed }),
    };
    note("train: starting");
    const started = Date.now();
    try {
      const result = await model.fit(options);
      // fit saves the best model when it evaluates; without that, the final one is what the user gets.
      if (evaluator && !saveBestModel && isMainProcess()) await model.save(outputPath);
      reportTraining({
        globalStep: result.globalStep,
        trainingLoss: result.trainingLoss,
        bestScore: result.bestScore,
        primaryMetric: built?.evaluator.primaryMetric,
        metrics: lastMetrics,
        outputPath: outputPath!,
        checkpointPath,
        started,
      });
      return 0;
    } catch (e) {
      if (stop.signal.aborted && (e as Error)?.name === "AbortError") {
        const cp = checkpointPath ? await latestCheckpoint(checkpointPath) : undefined;
        note(`train: stopped${cp ? `; checkpoint at ${cp} (resume with fit.resumeFromCheckpoint: true)` : " (no checkpoint: fit.checkpointPath is not set)"}`);
        return stop.exitCode || 130;
      }
      throw e;
    } finally {
      stop.dispose();
    }
  } finally {
    guide?.dispose();
    model.dispose();
  }
}
