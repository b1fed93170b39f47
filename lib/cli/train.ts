/**
 * `sbert-node train CONFIG`: fine-tunes a model as a config file describes it. The whole config is checked
 * before anything is loaded; columns and option values are checked once the model and data are there, still
 * before the first step. SIGINT/SIGTERM stop training after the current step (writing a checkpoint when
 * fit.checkpointPath is set).
 */
import { readdir } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";

import { DataLoader } from "../DataLoader.js";
import { NoDuplicatesDataLoader } from "../datasets/NoDuplicatesDataLoader.js";
import type { FitEvaluator, FitOptions } from "../fit.js";
import { Pooling, POOLING_MODES, type PoolingMode } from "../models/Pooling.js";
import { Transformer } from "../models/Transformer.js";
import { SentenceTransformer } from "../SentenceTransformer.js";
import { setNumThreads } from "../backend.js";
import { type CommandSpec, flag, intFlag, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, THREADS_OPTION, localOrId, note } from "./common.js";
import { ConfigError, Section, readConfigFile } from "./config.js";
import {
  buildEvaluator,
  buildLoss,
  checkEvaluatorSection,
  checkLossSection,
  checkTrainSection,
  datasetSection,
  loadSpecDataset,
  lossSection,
  trainExamples,
} from "./specs.js";

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
    "  model:     a folder or Hub id, or {path, maxSeqLength, pooling, device}; maxSeqLength, pooling and",
    "             device may also sit at the top level. pooling (a mode or a list: mean, cls, max,",
    "             mean_sqrt_len_tokens, weightedmean, lasttoken) rebuilds the model as Transformer + Pooling.",
    "  train:     {path, name, split, dataFiles, delimiter, revision} (or a nested `dataset`), plus",
    "             columns: {texts: [col, ...], label: col}, labelScale (multiplies labels), labelMap",
    "             ({text: number}). Default columns: 'label' or 'score' is the label, the rest are texts.",
    "  loss:      a name or {name, ...options}: any class of sbert-node's losses, e.g.",
    "             {name: CoSENTLoss, scale: 20}; MatryoshkaLoss takes {loss: {...}, matryoshkaDims: [...]}.",
    "  evaluator: {type: EmbeddingSimilarityEvaluator | BinaryClassificationEvaluator | TripletEvaluator,",
    "             dataset fields or `dataset`, columns: {sentences1, sentences2, score|label} or",
    "             {anchors, positives, negatives}, scoreScale, name, batchSize, similarityFnNames, ...}.",
    "  fit:       outputPath (required), epochs (1), batchSize (16), shuffle (true),",
    "             batchSampler (batch_sampler | no_duplicates), lr (2e-5), warmupSteps or warmupRatio",
    "             (default ratio 0.1), weightDecay, scheduler, evaluationSteps, saveBestModel, maxGradNorm,",
    "             useAmp, stepsPerEpoch, checkpointPath, checkpointSaveSteps, checkpointSaveTotalLimit,",
    "             resumeFromCheckpoint (true or a folder), seed.",
  ].join("\n"),
  options: {
    device: { ...DEVICE_OPTION, help: "Device to train on (overrides the config's)." },
    threads: THREADS_OPTION,
    "output-path": { type: "string", value: "DIR", help: "Where the trained model goes (overrides fit.outputPath)." },
    "dry-run": { type: "boolean", help: "Check the config, load model and data, build loss and evaluator; do not train." },
    quiet: { type: "boolean", short: "q", help: "No progress bar." },
  },
  examples: ["sbert-node train sts.yaml", "sbert-node train sts.json --output-path ./out --device cuda"],
};

const TOP_KEYS = ["model", "maxSeqLength", "pooling", "device", "train", "loss", "evaluator", "fit"];
const MODEL_KEYS = ["path", "maxSeqLength", "pooling", "device"];
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

interface ModelPlan {
  path: string;
  maxSeqLength?: number;
  pooling?: PoolingMode[];
  device?: string;
}

/** The model part: a string, or an object, with maxSeqLength / pooling / device possibly at the top level. */
function modelPlan(root: Section): ModelPlan {
  const raw = root.raw("model");
  if (raw === undefined) root.fail("model", "is required: a model folder or Hub id");
  let sec: Section;
  if (typeof raw === "string") {
    sec = new Section({ path: raw }, "model");
  } else {
    sec = Section.of(raw, "model");
    sec.only(MODEL_KEYS);
    for (const key of ["maxSeqLength", "pooling", "device"]) {
      if (sec.has(key) && root.has(key)) root.fail(key, `is given both at the top level and in model`);
    }
  }
  const pick = (key: string): Section => (sec.has(key) ? sec : root);
  const plan: ModelPlan = { path: sec.string("path", true) };
  const maxSeqLength = pick("maxSeqLength").int("maxSeqLength", 1);
  if (maxSeqLength !== undefined) plan.maxSeqLength = maxSeqLength;
  const device = pick("device").string("device");
  if (device !== undefined) plan.device = device;
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

async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const steps = names.map((n) => /^checkpoint-(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
  return steps.length ? join(dir, `checkpoint-${Math.max(...steps)}`) : undefined;
}

function round(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${Number.isFinite(v) ? v.toFixed(4) : v}`)
    .join(" ");
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
  if (!root.has("loss")) root.fail("loss", `is required, e.g. {name: CosineSimilarityLoss}`);
  const lossSec = lossSection(root.raw("loss"), "loss");
  checkLossSection(lossSec);
  const evalSec = root.section("evaluator");
  if (evalSec) checkEvaluatorSection(evalSec);
  const fit = root.section("fit") ?? new Section({}, "fit");
  checkFit(fit);
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const outputFlag = str(v, "output-path");
  const outputPath = outputFlag !== undefined ? resolve(outputFlag) : fit.has("outputPath") ? abs(fit.string("outputPath")!) : undefined;
  if (outputPath === undefined) fit.fail("outputPath", "is required: the folder the trained model is saved to (or pass --output-path)");
  const checkpointPath = fit.has("checkpointPath") ? abs(fit.string("checkpointPath")!) : undefined;
  const resumeRaw = fit.raw("resumeFromCheckpoint") as string | boolean | undefined;
  const resume = typeof resumeRaw === "string" ? abs(resumeRaw) : resumeRaw;

  // 2. Model, data, loss, evaluator.
  if (threads !== undefined) setNumThreads(threads);
  const device = str(v, "device") ?? plan.device;
  const model = await buildModel(plan, base, device);
  try {
    const loss = buildLoss(lossSec, model);
    const trainData = await loadSpecDataset(datasetSection(train), base, "train");
    const examples = trainExamples(trainData, train, loss);
    if (examples.length === 0) throw new ConfigError(train.field("path"), "the training data has no rows");
    const built = evalSec ? await buildEvaluator(evalSec, base) : undefined;

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
    const showProgressBar = !quiet && (fit.bool("showProgressBar") ?? true);

    const dim = model.getSentenceEmbeddingDimension();
    const params = model.modules.reduce((n, m) => n + m.native.parameterCount(), 0);
    note(
      `train: ${plan.path} (dim ${dim}, ${params.toLocaleString("en-US")} parameters, ${model.device}); ${examples.length} examples, ` +
        `${loss.name}; ${epochs} epoch(s) × ${stepsPerEpoch} steps of ${batchSize}, warmup ${warmupSteps}` +
        (built ? `; evaluator ${built.type} on ${built.rows} rows` : ""),
    );
    if (flag(v, "dry-run")) {
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
        const at = opts?.steps === -1 || opts?.steps === undefined ? "end" : `step ${opts.steps}`;
        note(`eval: epoch ${(opts?.epoch ?? 0) + 1} ${at}: ${round(metrics)}`);
        return metrics;
      },
    };

    const controller = new AbortController();
    let signalCode = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (controller.signal.aborted) {
        note(`train: ${sig} again, exiting without waiting`);
        process.exit(sig === "SIGINT" ? 130 : 143);
      }
      signalCode = sig === "SIGINT" ? 130 : 143;
      note(`train: ${sig}: stopping after the current step${checkpointPath ? " and writing a checkpoint" : ""} (again to exit at once)`);
      controller.abort(new DOMException(`training stopped by ${sig}`, "AbortError"));
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);

    const options: FitOptions = {
      trainObjectives: [[loader, loss]],
      epochs,
      stepsPerEpoch,
      warmupSteps,
      optimizerParams: { lr: fit.number("lr") ?? 2e-5 },
      evaluationSteps: fit.int("evaluationSteps", 0) ?? 0,
      outputPath,
      saveBestModel,
      showProgressBar,
      signal: controller.signal,
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
      if (evaluator && !saveBestModel) await model.save(outputPath!);
      const summary = {
        globalStep: result.globalStep,
        trainingLoss: result.trainingLoss,
        bestScore: result.bestScore ?? null,
        primaryMetric: built?.evaluator.primaryMetric ?? null,
        metrics: lastMetrics ?? null,
        outputPath,
        checkpointPath: checkpointPath ?? null,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      };
      note(`train: done, ${result.globalStep} steps, mean loss ${result.trainingLoss.toFixed(4)}; model saved to ${outputPath}`);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    } catch (e) {
      if (controller.signal.aborted && (e as Error)?.name === "AbortError") {
        const cp = checkpointPath ? await latestCheckpoint(checkpointPath) : undefined;
        note(`train: stopped${cp ? `; checkpoint at ${cp} (resume with fit.resumeFromCheckpoint: true)` : " (no checkpoint: fit.checkpointPath is not set)"}`);
        return signalCode || 130;
      }
      throw e;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  } finally {
    model.dispose();
  }
}
