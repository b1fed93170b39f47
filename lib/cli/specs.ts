/**
 * The pieces a config names: datasets (through loadDataset), losses (any class of `losses`, or of
 * `crossEncoder.losses` for a cross-encoder) and evaluators (of either kind of model).
 * Shape checks that need no I/O run first (`check*`), so a typo fails before a model or dataset is loaded;
 * checks that need the data or the model (columns, option values) come with `build*`.
 */
import { isAbsolute, resolve } from "node:path";

import type { CrossEncoder } from "../crossEncoder/CrossEncoder.js";
import { CrossEncoderClassificationEvaluator } from "../crossEncoder/evaluation/CrossEncoderClassificationEvaluator.js";
import { CrossEncoderCorrelationEvaluator } from "../crossEncoder/evaluation/CrossEncoderCorrelationEvaluator.js";
import { CrossEncoderRerankingEvaluator, type RerankingSample } from "../crossEncoder/evaluation/CrossEncoderRerankingEvaluator.js";
import * as crossEncoderLosses from "../crossEncoder/losses/index.js";
import type { CrossEncoderLoss } from "../crossEncoder/losses/CrossEncoderLoss.js";
import { Dataset } from "../datasets/Dataset.js";
import { loadDataset, type LoadDatasetOptions } from "../datasets/loadDataset.js";
import { SbertError } from "../errors.js";
import { BinaryClassificationEvaluator } from "../evaluation/BinaryClassificationEvaluator.js";
import { EmbeddingSimilarityEvaluator } from "../evaluation/EmbeddingSimilarityEvaluator.js";
import type { SimilarityFunction } from "../evaluation/SimilarityFunction.js";
import { TripletEvaluator } from "../evaluation/TripletEvaluator.js";
import { InputExample } from "../InputExample.js";
import * as losses from "../losses/index.js";
import type { Loss } from "../losses/Loss.js";
import { LABEL_COLUMNS } from "../sampler.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { SparseBinaryClassificationEvaluator } from "../sparseEncoder/evaluation/SparseBinaryClassificationEvaluator.js";
import { SparseEmbeddingSimilarityEvaluator } from "../sparseEncoder/evaluation/SparseEmbeddingSimilarityEvaluator.js";
import { SparseTripletEvaluator } from "../sparseEncoder/evaluation/SparseTripletEvaluator.js";
import { SparseInformationRetrievalEvaluator } from "../sparseEncoder/evaluation/SparseInformationRetrievalEvaluator.js";
import * as sparseLosses from "../sparseEncoder/losses/index.js";
import type { SpladeLossOptions } from "../sparseEncoder/losses/SpladeLoss.js";
import type { SparseEncoder } from "../sparseEncoder/SparseEncoder.js";
import { localOrId } from "./common.js";
import { ConfigError, Section } from "./config.js";

// ---------------------------------------------------------------- datasets

export const DATASET_KEYS = ["path", "name", "split", "dataFiles", "delimiter", "revision"] as const;
const BUILDERS = ["csv", "json", "parquet", "text"];

/** The section holding the dataset fields: a nested `dataset` (object or path string), or `sec` itself. */
export function datasetSection(sec: Section): Section {
  const nested = sec.raw("dataset");
  if (nested === undefined) return sec;
  if (sec.has("path")) sec.fail("dataset", "give either 'dataset' or 'path', not both");
  if (typeof nested === "string") return new Section({ path: nested }, sec.field("dataset"));
  const ds = Section.of(nested, sec.field("dataset"));
  ds.only(DATASET_KEYS);
  return ds;
}

export function checkDatasetFields(ds: Section): void {
  ds.string("path", true);
  ds.string("name");
  ds.string("split");
  ds.string("delimiter");
  ds.string("revision");
  const df = ds.raw("dataFiles");
  if (df !== undefined) {
    const ok = (x: unknown): boolean => typeof x === "string" || (Array.isArray(x) && x.length > 0 && x.every((y) => typeof y === "string"));
    const good = ok(df) || (typeof df === "object" && df !== null && !Array.isArray(df) && Object.values(df).every(ok));
    if (!good) ds.fail("dataFiles", "must be a path, a list of paths, or an object mapping split names to path(s)");
  }
}

/** Relative data file paths are taken from the config's folder (loadDataset would read them from the cwd). */
function absoluteDataFiles(df: unknown, base: string): LoadDatasetOptions["dataFiles"] {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  if (typeof df === "string") return abs(df);
  if (Array.isArray(df)) return df.map((p: string) => abs(p));
  return Object.fromEntries(Object.entries(df as Record<string, string | string[]>).map(([k, v]) => [k, typeof v === "string" ? abs(v) : v.map(abs)]));
}

/**
 * Loads the dataset a section names. Without `split`, a dataset with a single split (a single file) gives that
 * split and `defaultSplit` is used when present; otherwise the split must be named.
 */
export async function loadSpecDataset(ds: Section, base: string, defaultSplit?: string): Promise<Dataset> {
  const path = ds.string("path", true);
  const isBuilder = BUILDERS.includes(path);
  const source = isBuilder ? path : await localOrId(path, base);
  const opts: LoadDatasetOptions = {};
  for (const key of ["name", "delimiter", "revision"] as const) {
    const v = ds.string(key);
    if (v !== undefined) opts[key] = v;
  }
  const df = ds.raw("dataFiles");
  if (df !== undefined) opts.dataFiles = isBuilder ? absoluteDataFiles(df, base) : (df as LoadDatasetOptions["dataFiles"]);
  const split = ds.string("split");
  try {
    if (split !== undefined) return await loadDataset(source, { ...opts, split });
    const all = (await loadDataset(source, { ...opts, split: undefined })) as Record<string, Dataset>;
    const names = Object.keys(all);
    if (names.length === 1) return all[names[0]!]!;
    if (defaultSplit !== undefined && all[defaultSplit]) return all[defaultSplit];
    throw new ConfigError(ds.field("split"), `the dataset has the splits ${names.join(", ")}; name the one to use`);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const field = ds.field(split !== undefined && e instanceof SbertError && e.code === "ERR_INPUT" ? "split" : "path");
    if (e instanceof TypeError || e instanceof RangeError || (e instanceof SbertError && (e.code === "ERR_INPUT" || e.code === "ERR_FILE_NOT_FOUND"))) {
      throw new ConfigError(field, (e as Error).message);
    }
    throw e;
  }
}

/** Checks a column named by `field` exists in the dataset. */
function checkColumn(ds: Dataset, column: string, field: string): string {
  if (!ds.columnNames.includes(column)) throw new ConfigError(field, `no column '${column}'; the dataset's columns are: ${ds.columnNames.join(", ")}`);
  return column;
}

function textColumn(ds: Dataset, column: string, where: string): string[] {
  return ds.column(column).map((v, i) => {
    if (typeof v !== "string") throw new SbertError("ERR_INPUT", `${where} row ${i}: column '${column}' holds ${v === null ? "null" : typeof v}, not a text`);
    return v;
  });
}

interface LabelOptions {
  scale?: number;
  map?: Record<string, number>;
}

function toLabel(v: unknown, opts: LabelOptions, where: string): number | number[] {
  if (typeof v === "string" && opts.map) {
    const mapped = opts.map[v];
    if (mapped === undefined) throw new SbertError("ERR_INPUT", `${where}: label ${JSON.stringify(v)} is not in labelMap (${Object.keys(opts.map).join(", ")})`);
    return mapped;
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number" && Number.isFinite(v)) return opts.scale === undefined ? v : v * opts.scale;
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
  const hint = typeof v === "string" ? " (map text labels to numbers with labelMap)" : "";
  throw new SbertError("ERR_INPUT", `${where}: the label ${v === null ? "is null" : `${JSON.stringify(v)?.slice(0, 40)} is not a number`}${hint}`);
}

function labelMapOf(sec: Section, key: string): Record<string, number> | undefined {
  const m = sec.section(key);
  if (!m) return undefined;
  for (const [k, v] of Object.entries(m.obj)) {
    if (typeof v !== "number" || !Number.isFinite(v)) m.fail(k, `must be a number, got ${JSON.stringify(v)}`);
  }
  return m.obj as Record<string, number>;
}

// ---------------------------------------------------------------- training data

export const TRAIN_KEYS = [...DATASET_KEYS, "dataset", "columns", "labelScale", "labelMap"] as const;

export function checkTrainSection(sec: Section): void {
  sec.only(TRAIN_KEYS);
  checkDatasetFields(datasetSection(sec));
  const cols = sec.section("columns");
  if (cols) {
    cols.only(["texts", "label"]);
    cols.strings("texts");
    cols.string("label");
  }
  sec.number("labelScale");
  labelMapOf(sec, "labelMap");
}

/** What choosing the training columns needs of a loss (both kinds of loss have it). */
interface ColumnsOfLoss {
  readonly name: string;
  readonly columns: readonly [min: number, max: number];
  readonly labelKind: string;
}

/**
 * The text columns, in order, and the label column of the training data: `columns.texts` and `columns.label`, by
 * default (as sentence-transformers) the first of `defaultLabels` present is the label and the others are the texts.
 */
function trainColumns(ds: Dataset, sec: Section, loss: ColumnsOfLoss, defaultLabels: readonly string[]): { texts: string[]; label: string | undefined } {
  const cols = sec.section("columns");
  let label = cols?.string("label");
  let texts = cols?.strings("texts");
  if (label !== undefined) checkColumn(ds, label, cols!.field("label"));
  texts?.forEach((c, i) => checkColumn(ds, c, `${cols!.field("texts")}[${i}]`));
  if (label === undefined && texts === undefined) label = defaultLabels.find((c) => ds.columnNames.includes(c));
  if (texts === undefined) texts = ds.columnNames.filter((c) => c !== label);
  if (texts.length === 0) throw new ConfigError(sec.field("columns.texts"), `no text columns; the dataset's columns are: ${ds.columnNames.join(", ")}`);
  const [min, max] = loss.columns;
  if (texts.length < min || texts.length > max) {
    const expected = min === max ? `${min}` : max === Infinity ? `${min} or more` : `${min} to ${max}`;
    throw new ConfigError(sec.field("columns.texts"), `${loss.name} takes ${expected} text columns, got ${texts.length} (${texts.join(", ")})`);
  }
  if (loss.labelKind !== "none" && label === undefined) {
    throw new ConfigError(sec.field("columns.label"), `${loss.name} needs a label column; the dataset's columns are: ${ds.columnNames.join(", ")}`);
  }
  return { texts, label };
}

/**
 * The InputExamples of the training data: `columns.texts` in order and `columns.label` (default, as
 * sentence-transformers: a column named "label" or "score" is the label, the others are the texts, in order).
 */
export function trainExamples(ds: Dataset, sec: Section, loss: Loss): InputExample[] {
  const { texts, label } = trainColumns(ds, sec, loss, ["label", "score"]);
  const labelOpts: LabelOptions = { scale: sec.number("labelScale"), map: labelMapOf(sec, "labelMap") };
  const columns = texts.map((c) => textColumn(ds, c, "train"));
  const labels = label !== undefined && loss.labelKind !== "none" ? ds.column(label) : undefined;
  return columns[0]!.map(
    (_, i) =>
      new InputExample({
        texts: columns.map((col) => col[i]!),
        ...(labels && { label: toLabel(labels[i], labelOpts, `train row ${i}`) }),
      }),
  );
}

/** A value the loss refuses, as a data error naming the row and column. */
function checkedBy(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new SbertError("ERR_INPUT", e.message);
    throw e;
  }
}

/**
 * The training data of a cross-encoder as CrossEncoderTrainer takes it: the text columns in order as sentence_0,
 * sentence_1, … (for ListNetLoss and LambdaLoss: the query, then a list of documents) and the label column as
 * `label` (for the listwise losses, a list of scores per row), each value checked by the loss. Columns are chosen as
 * for trainExamples, with any of sentence-transformers' label names (label, labels, score, scores) as the default label.
 */
export function crossEncoderTrainDataset(ds: Dataset, sec: Section, loss: CrossEncoderLoss): Dataset {
  const { texts, label } = trainColumns(ds, sec, loss, LABEL_COLUMNS);
  const labelOpts: LabelOptions = { scale: sec.number("labelScale"), map: labelMapOf(sec, "labelMap") };
  const columns: Record<string, unknown[]> = {};
  texts.forEach((name, c) => {
    columns[`sentence_${c}`] = ds.column(name).map((v, i) => {
      checkedBy(() => loss.checkInput(v, c, `train row ${i}, column '${name}'`));
      return v;
    });
  });
  if (label !== undefined && loss.labelKind !== "none") {
    columns["label"] = ds.column(label).map((v, i) => {
      const where = `train row ${i}, column '${label}'`;
      const value = toLabel(v, labelOpts, where);
      checkedBy(() => loss.checkLabel(value, where));
      return value;
    });
  }
  return Dataset.fromColumns(columns);
}

// ---------------------------------------------------------------- losses

/** "|null": the option also takes null, which the loss reads as its own setting (numNegatives: null, all of them). */
type OptionType = "number" | "int" | "string" | "boolean" | "int|null" | "string|null" | "number|null";

/** The kinds of model a train config trains (its `modelType`). */
export const MODEL_TYPES = ["sentence-transformer", "cross-encoder", "sparse-encoder"] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/**
 * Every loss a config can name, by the kind of model it trains, with its options and their types: the one schema
 * of loss sections, which checkLossSection and the builders read. Names are the classes of `losses` and
 * `crossEncoder.losses`.
 */
// GISTEmbedLoss's options; `guide` is the guide model's folder or Hub id (required).
const GIST_OPTIONS: Record<string, OptionType> = {
  guide: "string",
  temperature: "number",
  marginStrategy: "string",
  margin: "number",
  contrastAnchors: "boolean",
  contrastPositives: "boolean",
};

const LOSS_OPTIONS: Record<ModelType, Record<string, Record<string, OptionType>>> = {
  "sentence-transformer": {
    CosineSimilarityLoss: { lossFct: "string", cosScoreTransformation: "string" },
    CoSENTLoss: { scale: "number" },
    AnglELoss: { scale: "number" },
    MultipleNegativesRankingLoss: { scale: "number", similarityFct: "string", gatherAcrossDevices: "boolean" },
    MultipleNegativesSymmetricRankingLoss: { scale: "number", similarityFct: "string" },
    CachedMultipleNegativesRankingLoss: { scale: "number", similarityFct: "string", miniBatchSize: "int", gatherAcrossDevices: "boolean" },
    ContrastiveLoss: { distanceMetric: "string", margin: "number", sizeAverage: "boolean" },
    OnlineContrastiveLoss: { distanceMetric: "string", margin: "number" },
    TripletLoss: { distanceMetric: "string", tripletMargin: "number" },
    BatchHardTripletLoss: { distanceMetric: "string", margin: "number" },
    SoftmaxLoss: {
      numLabels: "int",
      sentenceEmbeddingDimension: "int",
      concatenationSentRep: "boolean",
      concatenationSentDifference: "boolean",
      concatenationSentMultiplication: "boolean",
      seed: "int",
    },
    MSELoss: {},
    MarginMSELoss: { similarityFct: "string" },
    DistillKLDivLoss: { similarityFct: "string", temperature: "number", studentTemperature: "number", teacherTemperature: "number" },
    GISTEmbedLoss: GIST_OPTIONS,
    CachedGISTEmbedLoss: { ...GIST_OPTIONS, miniBatchSize: "int" },
    MegaBatchMarginLoss: { positiveMargin: "number", negativeMargin: "number", useMiniBatchedVersion: "boolean", miniBatchSize: "int" },
    MatryoshkaLoss: {},
    AdaptiveLayerLoss: {},
    Matryoshka2dLoss: {},
  },
  "cross-encoder": {
    BinaryCrossEntropyLoss: { activationFn: "string", posWeight: "number" },
    CrossEntropyLoss: { activationFn: "string" },
    MSELoss: { activationFn: "string" },
    MarginMSELoss: { activationFn: "string" },
    MultipleNegativesRankingLoss: { numNegatives: "int|null", scale: "number", activationFn: "string|null" },
    CachedMultipleNegativesRankingLoss: { numNegatives: "int|null", scale: "number", activationFn: "string|null", miniBatchSize: "int" },
    ListNetLoss: { activationFn: "string|null", miniBatchSize: "int|null" },
    LambdaLoss: {
      weightingScheme: "string|null",
      mu: "number",
      k: "int|null",
      sigma: "number",
      eps: "number",
      reductionLog: "string",
      activationFn: "string|null",
      miniBatchSize: "int|null",
    },
  },
  // SpladeLoss wraps one of the others in `loss`; only SparseMSELoss trains alone (as SparseEncoderTrainer requires).
  "sparse-encoder": {
    SpladeLoss: {
      documentRegularizerWeight: "number",
      queryRegularizerWeight: "number|null",
      documentRegularizerThreshold: "number",
      queryRegularizerThreshold: "number",
      useDocumentRegularizerOnly: "boolean",
    },
    SparseMultipleNegativesRankingLoss: { scale: "number", similarityFct: "string" },
    SparseCoSENTLoss: { scale: "number" },
    SparseAnglELoss: { scale: "number" },
    SparseCosineSimilarityLoss: { lossFct: "string", cosScoreTransformation: "string" },
    SparseTripletLoss: { distanceMetric: "string", tripletMargin: "number" },
    SparseMSELoss: {},
    SparseMarginMSELoss: { similarityFct: "string" },
    SparseDistillKLDivLoss: { similarityFct: "string", temperature: "number", studentTemperature: "number", teacherTemperature: "number" },
  },
};
export const LOSS_NAMES = Object.keys(LOSS_OPTIONS["sentence-transformer"]);
/** The losses whose `guide` option names a model (a folder, relative to the config, or a Hub id) loaded beside the one trained. */
const GUIDED_LOSSES = ["GISTEmbedLoss", "CachedGISTEmbedLoss"];
export const CROSS_ENCODER_LOSS_NAMES = Object.keys(LOSS_OPTIONS["cross-encoder"]);
export const SPARSE_ENCODER_LOSS_NAMES = Object.keys(LOSS_OPTIONS["sparse-encoder"]);

// The losses that wrap another (in `loss`), and the options of the two kinds of wrapping.
const WRAPPER_LOSSES = ["MatryoshkaLoss", "AdaptiveLayerLoss", "Matryoshka2dLoss"];
const MATRYOSHKA_KEYS = ["matryoshkaDims", "matryoshkaWeights", "nDimsPerStep"];
const ADAPTIVE_KEYS = ["nLayersPerStep", "lastLayerWeight", "priorLayersWeight", "klDivWeight", "klTemperature", "layerWeighting"];

/** A loss section: a name, or `{name, ...options}`; MatryoshkaLoss, AdaptiveLayerLoss and Matryoshka2dLoss wrap another in `loss`. */
export function lossSection(value: unknown, path: string): Section {
  if (typeof value === "string") return new Section({ name: value }, path);
  return Section.of(value, path);
}

/** Checks a loss section for a model of `modelType`: the name among its losses, the options' names and types. */
export function checkLossSection(sec: Section, modelType: ModelType = "sentence-transformer", wrapped = false): void {
  const names = Object.keys(LOSS_OPTIONS[modelType]);
  const given = sec.string("name");
  if (given === undefined) sec.fail("name", `is required: one of ${names.join(", ")}`);
  const other = MODEL_TYPES.find((t) => t !== modelType && given in LOSS_OPTIONS[t]);
  if (!names.includes(given) && other !== undefined) {
    sec.fail("name", `${given} is a loss of ${other} models, but modelType is ${modelType}; its losses are: ${names.join(", ")}`);
  }
  const name = sec.oneOf("name", names)!;
  if (WRAPPER_LOSSES.includes(name)) {
    const matryoshka = name !== "AdaptiveLayerLoss";
    const adaptive = name !== "MatryoshkaLoss";
    sec.only(["name", "loss", ...(matryoshka ? MATRYOSHKA_KEYS : []), ...(adaptive ? ADAPTIVE_KEYS : [])]);
    const inner = sec.raw("loss");
    if (inner === undefined) sec.fail("loss", `is required: the loss ${name} applies${matryoshka ? " at each size" : " at each layer"}`);
    checkLossSection(lossSection(inner, sec.field("loss")), modelType);
    if (matryoshka) {
      if (!sec.has("matryoshkaDims")) sec.fail("matryoshkaDims", "is required: the embedding sizes to train, e.g. [256, 128, 64]");
      sec.numbers("matryoshkaDims");
      sec.numbers("matryoshkaWeights");
      sec.int("nDimsPerStep", -1);
    }
    if (adaptive) {
      sec.int("nLayersPerStep", -1);
      for (const key of ["lastLayerWeight", "priorLayersWeight", "klDivWeight", "klTemperature"]) sec.number(key, { min: 0 });
      sec.oneOf("layerWeighting", ["uniform", "log", "linear"] as const);
    }
    return;
  }
  const types = LOSS_OPTIONS[modelType][name]!;
  if (name === "SpladeLoss") {
    sec.only(["name", "loss", ...Object.keys(types)]);
    const inner = sec.raw("loss");
    if (inner === undefined) sec.fail("loss", "is required: the loss SpladeLoss regularizes, e.g. {name: SparseMultipleNegativesRankingLoss}");
    const innerSec = lossSection(inner, sec.field("loss"));
    checkLossSection(innerSec, modelType, true);
    if (innerSec.string("name") === "SpladeLoss") innerSec.fail("name", "SpladeLoss cannot wrap another SpladeLoss");
    if (!sec.has("documentRegularizerWeight")) sec.fail("documentRegularizerWeight", "is required: the weight of the documents' FLOPS regularizer, e.g. 3e-5");
  } else {
    sec.only(["name", ...Object.keys(types)]);
  }
  for (const [key, type] of Object.entries(types)) readOption(sec, key, type);
  if (modelType === "sparse-encoder" && name !== "SpladeLoss" && name !== "SparseMSELoss" && !wrapped) {
    sec.fail("name", `${name} does not train alone: wrap it, as {name: SpladeLoss, loss: {name: ${name}}, documentRegularizerWeight: 3e-5}`);
  }
  if (name === "SoftmaxLoss" && !sec.has("numLabels")) sec.fail("numLabels", "is required for SoftmaxLoss");
  if (GUIDED_LOSSES.includes(name) && !sec.has("guide")) sec.fail("guide", `is required for ${name}: the guide model's folder or Hub id`);
}

function readOption(sec: Section, key: string, type: OptionType): unknown {
  if (type.endsWith("|null") && key in sec.obj && sec.obj[key] === null) return null;
  switch (type) {
    case "number":
    case "number|null":
      return sec.number(key);
    case "int":
    case "int|null":
      return sec.int(key, 1);
    case "string":
    case "string|null":
      return sec.string(key);
    case "boolean":
      return sec.bool(key);
  }
}

/** The options a loss section gives (those left out stay the loss's defaults). */
function lossOptions(sec: Section, modelType: ModelType, name: string): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(LOSS_OPTIONS[modelType][name]!)) {
    const v = readOption(sec, key, type);
    if (v !== undefined) options[key] = v;
  }
  return options;
}

/** A loss constructor's refusal of an option value, as an error naming the loss section. */
function asConfigError(sec: Section, e: unknown): unknown {
  if (e instanceof ConfigError) return e;
  if (e instanceof RangeError || e instanceof TypeError) return new ConfigError(sec.path, e.message);
  return e;
}

type LossCtor = new (model: SentenceTransformer, options?: Record<string, unknown>) => Loss;
type CrossEncoderLossCtor = new (model: CrossEncoder, options?: Record<string, unknown>) => CrossEncoderLoss;

/**
 * The guide model a loss section names (GISTEmbedLoss's `guide`, also inside a MatryoshkaLoss), loaded from a
 * folder relative to `base` or the Hub; undefined when the loss takes none.
 */
export async function loadLossGuide(sec: Section, base: string, device: string | undefined): Promise<SentenceTransformer | undefined> {
  const name = sec.string("name", true);
  if (WRAPPER_LOSSES.includes(name)) return loadLossGuide(lossSection(sec.raw("loss"), sec.field("loss")), base, device);
  if (!GUIDED_LOSSES.includes(name)) return undefined;
  const where = sec.string("guide", true);
  const { SentenceTransformer } = await import("../SentenceTransformer.js");
  try {
    return await SentenceTransformer.load(await localOrId(where, base), { ...(device !== undefined && { device }) });
  } catch (e) {
    throw new ConfigError(sec.field("guide"), `${where} does not load as a SentenceTransformer: ${(e as Error).message}`);
  }
}

/** The loss a section names; `guide` is the model loadLossGuide loaded for it. */
export function buildLoss(sec: Section, model: SentenceTransformer, guide?: SentenceTransformer): Loss {
  const name = sec.string("name", true);
  try {
    if (WRAPPER_LOSSES.includes(name)) {
      const inner = buildLoss(lossSection(sec.raw("loss"), sec.field("loss")), model, guide);
      const matryoshka = {
        matryoshkaDims: sec.numbers("matryoshkaDims")!,
        ...(sec.has("matryoshkaWeights") && { matryoshkaWeights: sec.numbers("matryoshkaWeights")! }),
        ...(sec.has("nDimsPerStep") && { nDimsPerStep: sec.int("nDimsPerStep", -1)! }),
      };
      const adaptive: losses.AdaptiveLayerLossOptions = {
        ...(sec.has("nLayersPerStep") && { nLayersPerStep: sec.int("nLayersPerStep", -1)! }),
        ...(sec.has("lastLayerWeight") && { lastLayerWeight: sec.number("lastLayerWeight")! }),
        ...(sec.has("priorLayersWeight") && { priorLayersWeight: sec.number("priorLayersWeight")! }),
        ...(sec.has("klDivWeight") && { klDivWeight: sec.number("klDivWeight")! }),
        ...(sec.has("klTemperature") && { klTemperature: sec.number("klTemperature")! }),
        ...(sec.has("layerWeighting") && { layerWeighting: sec.oneOf("layerWeighting", ["uniform", "log", "linear"] as const)! }),
      };
      if (name === "MatryoshkaLoss") return new losses.MatryoshkaLoss(model, inner, matryoshka);
      if (name === "AdaptiveLayerLoss") return new losses.AdaptiveLayerLoss(model, inner, adaptive);
      return new losses.Matryoshka2dLoss(model, inner, { ...matryoshka, ...adaptive });
    }
    const options = lossOptions(sec, "sentence-transformer", name);
    if (GUIDED_LOSSES.includes(name)) options["guide"] = guide;
    const Ctor = (losses as unknown as Record<string, LossCtor>)[name]!;
    return name === "MSELoss" ? new Ctor(model) : new Ctor(model, options);
  } catch (e) {
    throw asConfigError(sec, e);
  }
}

/**
 * The cross-encoder loss a section names; without one, sentence-transformers' default: BinaryCrossEntropyLoss for a
 * model with one label, CrossEntropyLoss for more.
 */
export function buildCrossEncoderLoss(sec: Section | undefined, model: CrossEncoder): CrossEncoderLoss {
  if (sec === undefined) return model.numLabels === 1 ? new crossEncoderLosses.BinaryCrossEntropyLoss(model) : new crossEncoderLosses.CrossEntropyLoss(model);
  const name = sec.string("name", true);
  try {
    const Ctor = (crossEncoderLosses as unknown as Record<string, CrossEncoderLossCtor>)[name]!;
    return new Ctor(model, lossOptions(sec, "cross-encoder", name));
  } catch (e) {
    throw asConfigError(sec, e);
  }
}

/**
 * The sparse-encoder loss a section names; without one, SparseEncoderTrainer's default: SpladeLoss over
 * SparseMultipleNegativesRankingLoss with query and document regularizer weights 5e-5 and 3e-5.
 */
export function buildSparseEncoderLoss(sec: Section | undefined, model: SparseEncoder): Loss {
  if (sec === undefined) {
    return new sparseLosses.SpladeLoss(model, new sparseLosses.SparseMultipleNegativesRankingLoss(model), { queryRegularizerWeight: 5e-5, documentRegularizerWeight: 3e-5 });
  }
  const name = sec.string("name", true);
  try {
    const options = lossOptions(sec, "sparse-encoder", name);
    if (name === "SpladeLoss") {
      const inner = buildSparseEncoderLoss(lossSection(sec.raw("loss"), sec.field("loss")), model);
      return new sparseLosses.SpladeLoss(model, inner, options as unknown as SpladeLossOptions);
    }
    const Ctor = (sparseLosses as unknown as Record<string, new (model: SparseEncoder, options?: Record<string, unknown>) => Loss>)[name]!;
    return name === "SparseMSELoss" ? new Ctor(model) : new Ctor(model, options);
  } catch (e) {
    throw asConfigError(sec, e);
  }
}

/**
 * The training data of a sparse encoder as SparseEncoderTrainer takes it: the text columns in order as sentence_0,
 * sentence_1, … and the label column as `label`, chosen as for trainExamples.
 */
export function sparseEncoderTrainDataset(ds: Dataset, sec: Section, loss: Loss): Dataset {
  const { texts, label } = trainColumns(ds, sec, loss, ["label", "score"]);
  const labelOpts: LabelOptions = { scale: sec.number("labelScale"), map: labelMapOf(sec, "labelMap") };
  const columns: Record<string, unknown[]> = {};
  texts.forEach((name, c) => {
    columns[`sentence_${c}`] = textColumn(ds, name, "train");
  });
  if (label !== undefined && loss.labelKind !== "none") {
    columns["label"] = ds.column(label).map((v, i) => {
      const where = `train row ${i}, column '${label}'`;
      const value = toLabel(v, labelOpts, where);
      checkedBy(() => loss.checkLabel(value as never, where));
      return value;
    });
  }
  return Dataset.fromColumns(columns);
}

// ---------------------------------------------------------------- evaluators

export const EVALUATOR_TYPES = [
  "EmbeddingSimilarityEvaluator",
  "BinaryClassificationEvaluator",
  "TripletEvaluator",
  "CrossEncoderCorrelationEvaluator",
  "CrossEncoderClassificationEvaluator",
  "CrossEncoderRerankingEvaluator",
  "SparseEmbeddingSimilarityEvaluator",
  "SparseInformationRetrievalEvaluator",
  "SparseBinaryClassificationEvaluator",
  "SparseTripletEvaluator",
] as const;
export type EvaluatorType = (typeof EVALUATOR_TYPES)[number];

/** Each evaluator type: the model it evaluates, its columns (with their default names) and its options. */
const EVALUATORS: Record<EvaluatorType, { modelType: ModelType; columns: Record<string, string>; options: string[] }> = {
  EmbeddingSimilarityEvaluator: {
    modelType: "sentence-transformer",
    columns: { sentences1: "sentence1", sentences2: "sentence2", score: "score" },
    options: ["name", "batchSize", "mainSimilarity", "similarityFnNames", "precision", "truncateDim", "scoreScale"],
  },
  BinaryClassificationEvaluator: {
    modelType: "sentence-transformer",
    columns: { sentences1: "sentence1", sentences2: "sentence2", label: "label" },
    options: ["name", "batchSize", "similarityFnNames", "truncateDim", "labelMap"],
  },
  TripletEvaluator: {
    modelType: "sentence-transformer",
    columns: { anchors: "anchor", positives: "positive", negatives: "negative" },
    options: ["name", "batchSize", "mainSimilarityFunction", "margin", "similarityFnNames", "truncateDim"],
  },
  CrossEncoderCorrelationEvaluator: {
    modelType: "cross-encoder",
    columns: { sentences1: "sentence1", sentences2: "sentence2", score: "score" },
    options: ["name", "batchSize", "scoreScale"],
  },
  CrossEncoderClassificationEvaluator: {
    modelType: "cross-encoder",
    columns: { sentences1: "sentence1", sentences2: "sentence2", label: "label" },
    options: ["name", "batchSize", "labelMap"],
  },
  CrossEncoderRerankingEvaluator: {
    modelType: "cross-encoder",
    columns: { query: "query", positive: "positive", negative: "negative", documents: "documents" },
    options: ["name", "batchSize", "atK", "alwaysRerankPositives"],
  },
  SparseEmbeddingSimilarityEvaluator: {
    modelType: "sparse-encoder",
    columns: { sentences1: "sentence1", sentences2: "sentence2", score: "score" },
    options: ["name", "batchSize", "mainSimilarity", "similarityFnNames", "scoreScale", "maxActiveDims"],
  },
  // Queries are the distinct texts of `query`; the corpus, those of `positive` and (when the data has it) `negative`;
  // a query's relevant documents, its rows' positives.
  SparseInformationRetrievalEvaluator: {
    modelType: "sparse-encoder",
    columns: { query: "query", positive: "positive", negative: "negative" },
    options: ["name", "batchSize", "maxActiveDims", "corpusChunkSize"],
  },
  SparseBinaryClassificationEvaluator: {
    modelType: "sparse-encoder",
    columns: { sentences1: "sentence1", sentences2: "sentence2", label: "label" },
    options: ["name", "batchSize", "similarityFnNames", "labelMap", "maxActiveDims"],
  },
  SparseTripletEvaluator: {
    modelType: "sparse-encoder",
    columns: { anchors: "anchor", positives: "positive", negatives: "negative" },
    options: ["name", "batchSize", "mainSimilarityFunction", "margin", "similarityFnNames", "maxActiveDims"],
  },
};

/** The evaluator types of one kind of model. */
export function evaluatorTypes(modelType: ModelType): EvaluatorType[] {
  return EVALUATOR_TYPES.filter((t) => EVALUATORS[t].modelType === modelType);
}

/** The kind of model an evaluator type evaluates. */
export function evaluatorModelType(type: EvaluatorType): ModelType {
  return EVALUATORS[type].modelType;
}

/** The column keys of an evaluator type (its `columns` fields). */
export function evaluatorColumns(type: EvaluatorType): string[] {
  return Object.keys(EVALUATORS[type].columns);
}

/** Checks an evaluator section; with `modelType`, the evaluator must be one for that kind of model. */
export function checkEvaluatorSection(sec: Section, modelType?: ModelType): EvaluatorType {
  const type = sec.oneOf("type", EVALUATOR_TYPES);
  if (type === undefined) sec.fail("type", `is required: one of ${(modelType ? evaluatorTypes(modelType) : EVALUATOR_TYPES).join(", ")}`);
  const spec = EVALUATORS[type];
  if (modelType !== undefined && spec.modelType !== modelType) {
    sec.fail("type", `${type} evaluates ${spec.modelType} models, but modelType is ${modelType}; its evaluators are: ${evaluatorTypes(modelType).join(", ")}`);
  }
  sec.only(["type", "dataset", ...DATASET_KEYS, "columns", ...spec.options]);
  checkDatasetFields(datasetSection(sec));
  const cols = sec.section("columns");
  if (cols) {
    const known = Object.keys(spec.columns);
    cols.only(known);
    for (const k of known) cols.string(k);
    if (cols.has("negative") && cols.has("documents")) cols.fail("documents", "give negative or documents, not both");
  }
  sec.string("name");
  sec.int("batchSize", 1);
  sec.int("truncateDim", 1);
  sec.strings("similarityFnNames");
  sec.string("mainSimilarity");
  sec.string("mainSimilarityFunction");
  sec.string("precision");
  sec.number("margin");
  sec.number("scoreScale");
  sec.int("atK", 1);
  sec.bool("alwaysRerankPositives");
  sec.int("maxActiveDims", 1);
  sec.int("corpusChunkSize", 1);
  labelMapOf(sec, "labelMap");
  return type;
}

export type BuiltEvaluator =
  | {
      modelType: "sentence-transformer";
      type: EvaluatorType;
      evaluator: EmbeddingSimilarityEvaluator | BinaryClassificationEvaluator | TripletEvaluator;
      rows: number;
    }
  | {
      modelType: "cross-encoder";
      type: EvaluatorType;
      evaluator: CrossEncoderCorrelationEvaluator | CrossEncoderClassificationEvaluator | CrossEncoderRerankingEvaluator;
      rows: number;
    }
  | {
      modelType: "sparse-encoder";
      type: EvaluatorType;
      evaluator: SparseEmbeddingSimilarityEvaluator | SparseInformationRetrievalEvaluator | SparseBinaryClassificationEvaluator | SparseTripletEvaluator;
      rows: number;
    };

export async function buildEvaluator(sec: Section, base: string, options: { writeCsv?: boolean } = {}): Promise<BuiltEvaluator> {
  const type = checkEvaluatorSection(sec);
  const ds = await loadSpecDataset(datasetSection(sec), base);
  const colSec = sec.section("columns");
  const col = (key: string): string => {
    const name = colSec?.string(key) ?? EVALUATORS[type].columns[key]!;
    return checkColumn(ds, name, colSec?.has(key) ? colSec.field(key) : `${sec.field("columns")}.${key} (default '${name}')`);
  };
  const common = {
    ...(sec.has("name") && { name: sec.string("name")! }),
    ...(sec.has("batchSize") && { batchSize: sec.int("batchSize", 1)! }),
    ...(options.writeCsv !== undefined && { writeCsv: options.writeCsv }),
  };
  const embedding = {
    ...common,
    ...(sec.has("truncateDim") && { truncateDim: sec.int("truncateDim", 1)! }),
    ...(sec.has("similarityFnNames") && { similarityFnNames: sec.strings("similarityFnNames") as SimilarityFunction[] }),
  };
  const sparse = { ...common, ...(sec.has("maxActiveDims") && { maxActiveDims: sec.int("maxActiveDims", 1)! }) };
  const where = "evaluator";
  const scores = (): number[] => {
    const scale = sec.number("scoreScale");
    const scoreCol = col("score");
    return ds.column(scoreCol).map((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw new SbertError("ERR_INPUT", `${where} row ${i}: column '${scoreCol}' holds ${JSON.stringify(v)}, not a number`);
      return scale === undefined ? v : v * scale;
    });
  };
  const labels = (): number[] => {
    const map = labelMapOf(sec, "labelMap");
    return ds.column(col("label")).map((v, i) => toLabel(v, { ...(map && { map }) }, `${where} row ${i}`) as number);
  };
  const pairs = (): [string, string][] => {
    const a = textColumn(ds, col("sentences1"), where);
    const b = textColumn(ds, col("sentences2"), where);
    return a.map((s, i) => [s, b[i]!]);
  };
  const rows = ds.length;
  try {
    switch (type) {
      case "EmbeddingSimilarityEvaluator": {
        const evaluator = new EmbeddingSimilarityEvaluator(textColumn(ds, col("sentences1"), where), textColumn(ds, col("sentences2"), where), scores(), {
          ...embedding,
          ...(sec.has("mainSimilarity") && { mainSimilarity: sec.string("mainSimilarity") as SimilarityFunction }),
          ...(sec.has("precision") && { precision: sec.string("precision") as "float32" }),
        });
        return { modelType: "sentence-transformer", type, evaluator, rows };
      }
      case "BinaryClassificationEvaluator": {
        const evaluator = new BinaryClassificationEvaluator(textColumn(ds, col("sentences1"), where), textColumn(ds, col("sentences2"), where), labels(), embedding);
        return { modelType: "sentence-transformer", type, evaluator, rows };
      }
      case "TripletEvaluator": {
        const evaluator = new TripletEvaluator(
          textColumn(ds, col("anchors"), where),
          textColumn(ds, col("positives"), where),
          textColumn(ds, col("negatives"), where),
          {
            ...embedding,
            ...(sec.has("mainSimilarityFunction") && { mainSimilarityFunction: sec.string("mainSimilarityFunction") as SimilarityFunction }),
            ...(sec.has("margin") && { margin: sec.number("margin")! }),
          },
        );
        return { modelType: "sentence-transformer", type, evaluator, rows };
      }
      case "CrossEncoderCorrelationEvaluator":
        return { modelType: "cross-encoder", type, evaluator: new CrossEncoderCorrelationEvaluator(pairs(), scores(), common), rows };
      case "CrossEncoderClassificationEvaluator":
        return { modelType: "cross-encoder", type, evaluator: new CrossEncoderClassificationEvaluator(pairs(), labels(), common), rows };
      case "CrossEncoderRerankingEvaluator": {
        // The documents to rank besides the positives: `documents` (a first-stage ranking) when named or present, else `negative`.
        const useDocuments = colSec?.has("documents") || (!colSec?.has("negative") && ds.columnNames.includes(EVALUATORS[type].columns["documents"]!));
        const others = useDocuments ? "documents" : "negative";
        const queries = textColumn(ds, col("query"), where);
        const positives = ds.column(col("positive"));
        const rest = ds.column(col(others));
        const samples = queries.map((query, i) => ({ query, positive: positives[i], [others]: rest[i] }) as RerankingSample);
        const evaluator = new CrossEncoderRerankingEvaluator(samples, {
          ...common,
          ...(sec.has("atK") && { atK: sec.int("atK", 1)! }),
          ...(sec.has("alwaysRerankPositives") && { alwaysRerankPositives: sec.bool("alwaysRerankPositives")! }),
        });
        return { modelType: "cross-encoder", type, evaluator, rows };
      }
      case "SparseEmbeddingSimilarityEvaluator": {
        const evaluator = new SparseEmbeddingSimilarityEvaluator(textColumn(ds, col("sentences1"), where), textColumn(ds, col("sentences2"), where), scores(), {
          ...sparse,
          ...(sec.has("similarityFnNames") && { similarityFnNames: sec.strings("similarityFnNames") as SimilarityFunction[] }),
          ...(sec.has("mainSimilarity") && { mainSimilarity: sec.string("mainSimilarity") as SimilarityFunction }),
        });
        return { modelType: "sparse-encoder", type, evaluator, rows };
      }
      case "SparseBinaryClassificationEvaluator": {
        const evaluator = new SparseBinaryClassificationEvaluator(textColumn(ds, col("sentences1"), where), textColumn(ds, col("sentences2"), where), labels(), {
          ...sparse,
          ...(sec.has("similarityFnNames") && { similarityFnNames: sec.strings("similarityFnNames") as SimilarityFunction[] }),
        });
        return { modelType: "sparse-encoder", type, evaluator, rows };
      }
      case "SparseTripletEvaluator": {
        const evaluator = new SparseTripletEvaluator(textColumn(ds, col("anchors"), where), textColumn(ds, col("positives"), where), textColumn(ds, col("negatives"), where), {
          ...sparse,
          ...(sec.has("similarityFnNames") && { similarityFnNames: sec.strings("similarityFnNames") as SimilarityFunction[] }),
          ...(sec.has("mainSimilarityFunction") && { mainSimilarityFunction: sec.string("mainSimilarityFunction") as SimilarityFunction }),
          ...(sec.has("margin") && { margin: sec.number("margin")! }),
        });
        return { modelType: "sparse-encoder", type, evaluator, rows };
      }
      case "SparseInformationRetrievalEvaluator": {
        const queries = textColumn(ds, col("query"), where);
        const positives = textColumn(ds, col("positive"), where);
        const negativeName = colSec?.string("negative") ?? EVALUATORS[type].columns["negative"]!;
        const negatives = colSec?.has("negative") || ds.columnNames.includes(negativeName) ? textColumn(ds, col("negative"), where) : [];
        const ids = (texts: string[], prefix: string, into: Map<string, string>): string[] =>
          texts.map((t) => {
            if (!into.has(t)) into.set(t, `${prefix}${into.size}`);
            return into.get(t)!;
          });
        const queryIds = new Map<string, string>();
        const docIds = new Map<string, string>();
        const qids = ids(queries, "q", queryIds);
        const pids = ids(positives, "d", docIds);
        ids(negatives, "d", docIds);
        const relevant: Record<string, string[]> = {};
        qids.forEach((q, i) => (relevant[q] ??= []).push(pids[i]!));
        const evaluator = new SparseInformationRetrievalEvaluator(
          Object.fromEntries([...queryIds].map(([t, id]) => [id, t])),
          Object.fromEntries([...docIds].map(([t, id]) => [id, t])),
          relevant,
          {
            ...sparse,
            ...(sec.has("corpusChunkSize") && { corpusChunkSize: sec.int("corpusChunkSize", 1)! }),
          },
        );
        return { modelType: "sparse-encoder", type, evaluator, rows };
      }
    }
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new ConfigError(sec.path, e.message);
    throw e;
  }
}
