/**
 * The pieces a config names: datasets (through loadDataset), losses (any class of `losses`) and evaluators.
 * Shape checks that need no I/O run first (`check*`), so a typo fails before a model or dataset is loaded;
 * checks that need the data or the model (columns, option values) come with `build*`.
 */
import { isAbsolute, resolve } from "node:path";

import type { Dataset } from "../datasets/Dataset.js";
import { loadDataset, type LoadDatasetOptions } from "../datasets/loadDataset.js";
import { SbertError } from "../errors.js";
import { BinaryClassificationEvaluator } from "../evaluation/BinaryClassificationEvaluator.js";
import { EmbeddingSimilarityEvaluator } from "../evaluation/EmbeddingSimilarityEvaluator.js";
import type { SimilarityFunction } from "../evaluation/SimilarityFunction.js";
import { TripletEvaluator } from "../evaluation/TripletEvaluator.js";
import { InputExample } from "../InputExample.js";
import * as losses from "../losses/index.js";
import type { Loss } from "../losses/Loss.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
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

/**
 * The InputExamples of the training data: `columns.texts` in order and `columns.label` (default, as
 * sentence-transformers: a column named "label" or "score" is the label, the others are the texts, in order).
 */
export function trainExamples(ds: Dataset, sec: Section, loss: Loss): InputExample[] {
  const cols = sec.section("columns");
  let label = cols?.string("label");
  let texts = cols?.strings("texts");
  if (label !== undefined) checkColumn(ds, label, cols!.field("label"));
  texts?.forEach((c, i) => checkColumn(ds, c, `${cols!.field("texts")}[${i}]`));
  if (label === undefined && texts === undefined) label = ["label", "score"].find((c) => ds.columnNames.includes(c));
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

// ---------------------------------------------------------------- losses

type OptionType = "number" | "int" | "string" | "boolean";

const LOSS_OPTIONS: Record<string, Record<string, OptionType>> = {
  CosineSimilarityLoss: { lossFct: "string", cosScoreTransformation: "string" },
  CoSENTLoss: { scale: "number" },
  AnglELoss: { scale: "number" },
  MultipleNegativesRankingLoss: { scale: "number", similarityFct: "string" },
  MultipleNegativesSymmetricRankingLoss: { scale: "number", similarityFct: "string" },
  CachedMultipleNegativesRankingLoss: { scale: "number", similarityFct: "string", miniBatchSize: "int" },
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
  MatryoshkaLoss: {},
};
export const LOSS_NAMES = Object.keys(LOSS_OPTIONS);

/** A loss section: a name, or `{name, ...options}`; MatryoshkaLoss wraps another in `loss`. */
export function lossSection(value: unknown, path: string): Section {
  if (typeof value === "string") return new Section({ name: value }, path);
  return Section.of(value, path);
}

export function checkLossSection(sec: Section): void {
  const name = sec.oneOf("name", LOSS_NAMES);
  if (name === undefined) sec.fail("name", `is required: one of ${LOSS_NAMES.join(", ")}`);
  if (name === "MatryoshkaLoss") {
    sec.only(["name", "loss", "matryoshkaDims", "matryoshkaWeights", "nDimsPerStep"]);
    const inner = sec.raw("loss");
    if (inner === undefined) sec.fail("loss", "is required: the loss applied at each size");
    checkLossSection(lossSection(inner, sec.field("loss")));
    if (!sec.has("matryoshkaDims")) sec.fail("matryoshkaDims", "is required: the embedding sizes to train, e.g. [256, 128, 64]");
    sec.numbers("matryoshkaDims");
    sec.numbers("matryoshkaWeights");
    sec.int("nDimsPerStep", -1);
    return;
  }
  const types = LOSS_OPTIONS[name]!;
  sec.only(["name", ...Object.keys(types)]);
  for (const [key, type] of Object.entries(types)) readOption(sec, key, type);
  if (name === "SoftmaxLoss" && !sec.has("numLabels")) sec.fail("numLabels", "is required for SoftmaxLoss");
}

function readOption(sec: Section, key: string, type: OptionType): unknown {
  switch (type) {
    case "number":
      return sec.number(key);
    case "int":
      return sec.int(key, 1);
    case "string":
      return sec.string(key);
    case "boolean":
      return sec.bool(key);
  }
}

type LossCtor = new (model: SentenceTransformer, options?: Record<string, unknown>) => Loss;

export function buildLoss(sec: Section, model: SentenceTransformer): Loss {
  const name = sec.string("name", true);
  try {
    if (name === "MatryoshkaLoss") {
      const inner = buildLoss(lossSection(sec.raw("loss"), sec.field("loss")), model);
      return new losses.MatryoshkaLoss(model, inner, {
        matryoshkaDims: sec.numbers("matryoshkaDims")!,
        ...(sec.has("matryoshkaWeights") && { matryoshkaWeights: sec.numbers("matryoshkaWeights")! }),
        ...(sec.has("nDimsPerStep") && { nDimsPerStep: sec.int("nDimsPerStep", -1)! }),
      });
    }
    const options: Record<string, unknown> = {};
    for (const [key, type] of Object.entries(LOSS_OPTIONS[name]!)) {
      const v = readOption(sec, key, type);
      if (v !== undefined) options[key] = v;
    }
    const Ctor = (losses as unknown as Record<string, LossCtor>)[name]!;
    return name === "MSELoss" ? new Ctor(model) : new Ctor(model, options);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if (e instanceof RangeError || e instanceof TypeError) throw new ConfigError(sec.path, e.message);
    throw e;
  }
}

// ---------------------------------------------------------------- evaluators

export const EVALUATOR_TYPES = ["EmbeddingSimilarityEvaluator", "BinaryClassificationEvaluator", "TripletEvaluator"] as const;
export type EvaluatorType = (typeof EVALUATOR_TYPES)[number];

const EVALUATOR_COLUMNS: Record<EvaluatorType, Record<string, string>> = {
  EmbeddingSimilarityEvaluator: { sentences1: "sentence1", sentences2: "sentence2", score: "score" },
  BinaryClassificationEvaluator: { sentences1: "sentence1", sentences2: "sentence2", label: "label" },
  TripletEvaluator: { anchors: "anchor", positives: "positive", negatives: "negative" },
};

const EVALUATOR_OPTIONS: Record<EvaluatorType, string[]> = {
  EmbeddingSimilarityEvaluator: ["name", "batchSize", "mainSimilarity", "similarityFnNames", "precision", "truncateDim", "scoreScale"],
  BinaryClassificationEvaluator: ["name", "batchSize", "similarityFnNames", "truncateDim", "labelMap"],
  TripletEvaluator: ["name", "batchSize", "mainSimilarityFunction", "margin", "similarityFnNames", "truncateDim"],
};

export function checkEvaluatorSection(sec: Section): EvaluatorType {
  const type = sec.oneOf("type", EVALUATOR_TYPES);
  if (type === undefined) sec.fail("type", `is required: one of ${EVALUATOR_TYPES.join(", ")}`);
  sec.only(["type", "dataset", ...DATASET_KEYS, "columns", ...EVALUATOR_OPTIONS[type]]);
  checkDatasetFields(datasetSection(sec));
  const cols = sec.section("columns");
  if (cols) {
    const known = Object.keys(EVALUATOR_COLUMNS[type]);
    cols.only(known);
    for (const k of known) cols.string(k);
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
  labelMapOf(sec, "labelMap");
  return type;
}

export interface BuiltEvaluator {
  type: EvaluatorType;
  evaluator: EmbeddingSimilarityEvaluator | BinaryClassificationEvaluator | TripletEvaluator;
  rows: number;
}

export async function buildEvaluator(sec: Section, base: string, options: { writeCsv?: boolean } = {}): Promise<BuiltEvaluator> {
  const type = checkEvaluatorSection(sec);
  const ds = await loadSpecDataset(datasetSection(sec), base);
  const colSec = sec.section("columns");
  const col = (key: string): string => {
    const name = colSec?.string(key) ?? EVALUATOR_COLUMNS[type][key]!;
    return checkColumn(ds, name, colSec?.has(key) ? colSec.field(key) : `${sec.field("columns")}.${key} (default '${name}')`);
  };
  const common = {
    ...(sec.has("name") && { name: sec.string("name")! }),
    ...(sec.has("batchSize") && { batchSize: sec.int("batchSize", 1)! }),
    ...(sec.has("truncateDim") && { truncateDim: sec.int("truncateDim", 1)! }),
    ...(sec.has("similarityFnNames") && { similarityFnNames: sec.strings("similarityFnNames") as SimilarityFunction[] }),
    ...(options.writeCsv !== undefined && { writeCsv: options.writeCsv }),
  };
  const where = "evaluator";
  try {
    switch (type) {
      case "EmbeddingSimilarityEvaluator": {
        const scale = sec.number("scoreScale");
        const scoreCol = col("score");
        const scores = ds.column(scoreCol).map((v, i) => {
          if (typeof v !== "number" || !Number.isFinite(v)) throw new SbertError("ERR_INPUT", `${where} row ${i}: column '${scoreCol}' holds ${JSON.stringify(v)}, not a number`);
          return scale === undefined ? v : v * scale;
        });
        const evaluator = new EmbeddingSimilarityEvaluator(textColumn(ds, col("sentences1"), where), textColumn(ds, col("sentences2"), where), scores, {
          ...common,
          ...(sec.has("mainSimilarity") && { mainSimilarity: sec.string("mainSimilarity") as SimilarityFunction }),
          ...(sec.has("precision") && { precision: sec.string("precision") as "float32" }),
        });
        return { type, evaluator, rows: ds.length };
      }
      case "BinaryClassificationEvaluator": {
        const map = labelMapOf(sec, "labelMap");
        const labelCol = col("label");
        const labels = ds.column(labelCol).map((v, i) => toLabel(v, { ...(map && { map }) }, `${where} row ${i}`) as number);
        const evaluator = new BinaryClassificationEvaluator(textColumn(ds, col("sentences1"), where), textColumn(ds, col("sentences2"), where), labels, common);
        return { type, evaluator, rows: ds.length };
      }
      case "TripletEvaluator": {
        const evaluator = new TripletEvaluator(
          textColumn(ds, col("anchors"), where),
          textColumn(ds, col("positives"), where),
          textColumn(ds, col("negatives"), where),
          {
            ...common,
            ...(sec.has("mainSimilarityFunction") && { mainSimilarityFunction: sec.string("mainSimilarityFunction") as SimilarityFunction }),
            ...(sec.has("margin") && { margin: sec.number("margin")! }),
          },
        );
        return { type, evaluator, rows: ds.length };
      }
    }
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new ConfigError(sec.path, e.message);
    throw e;
  }
}
