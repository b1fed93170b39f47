import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import type { Dataset } from "../datasets/Dataset.js";
import { loadDataset } from "../datasets/loadDataset.js";
import { SbertError } from "../errors.js";
import type { ScoreFunction } from "../util/similarity.js";
import {
  InformationRetrievalEvaluator,
  type InformationRetrievalEvaluatorOptions,
  type RetrievalOptions,
  checkRetrievalKs,
  checkScoreFunctions,
  choosePrimaryMetric,
  modelScoreFunctions,
  provisionalPrimaryMetric,
  retrievalCsvHeaders,
  retrievalCsvRow,
} from "./InformationRetrievalEvaluator.js";
import { appendCsvRow } from "./output.js";
import { type EvaluateOptions, type EvaluatedModel, SentenceEvaluator, checkModel, checkOptionalPositiveInt, checkPositiveInt } from "./SentenceEvaluator.js";
import { type SimilarityFunction, toSimilarityFunction } from "./SimilarityFunction.js";

/** The NanoBEIR datasets: short name → the name in their split (`Nano{name}`) and metric keys. */
export const NANOBEIR_DATASETS = {
  climatefever: "ClimateFEVER",
  dbpedia: "DBPedia",
  fever: "FEVER",
  fiqa2018: "FiQA2018",
  hotpotqa: "HotpotQA",
  msmarco: "MSMARCO",
  nfcorpus: "NFCorpus",
  nq: "NQ",
  quoraretrieval: "QuoraRetrieval",
  scidocs: "SCIDOCS",
  arguana: "ArguAna",
  scifact: "SciFact",
  touche2020: "Touche2020",
} as const;

export type NanoBEIRDatasetName = keyof typeof NANOBEIR_DATASETS;

export const NANOBEIR_DEFAULT_DATASET_ID = "sentence-transformers/NanoBEIR-en";

export interface NanoBEIREvaluatorOptions extends RetrievalOptions {
  /** Short names of the datasets (any case), e.g. ["msmarco", "NFCorpus"]; default all thirteen. */
  datasetNames?: string[];
  /**
   * Where the datasets are: a Hub dataset id (default "sentence-transformers/NanoBEIR-en"), read through the Hub's
   * parquet export, or a local folder. Either holds the subsets "corpus", "queries" and "qrels", each with one split
   * per dataset named `Nano{Name}` (NanoMSMARCO, NanoNFCorpus…). A folder lays them out as `{subset}/{split}.{ext}`,
   * `{subset}/{split}-*.{ext}` (what `push_to_hub` writes) or `{subset}/{split}/*.{ext}`, or as its README.md's
   * `configs` say; parquet, JSON lines, JSON or CSV files.
   */
  datasetId?: string;
  /** The score function whose aggregated NDCG is the primary metric; default: the best one at the first evaluation. */
  mainScoreFunction?: SimilarityFunction | null;
  /** Turns one metric's values over the datasets into the aggregated one. Default: their mean (as numpy's). */
  aggregateFn?: (values: number[]) => number;
  /** Names the aggregated metrics: `NanoBEIR_{aggregateKey}_…`. Default "mean". */
  aggregateKey?: string;
  /** A prompt for every dataset's queries, or one per dataset name (every dataset needs one). */
  queryPrompts?: string | Record<string, string> | null;
  /** A prompt for every dataset's corpus, or one per dataset name (every dataset needs one). */
  corpusPrompts?: string | Record<string, string> | null;
  /** Hub datasets: the revision of the parquet export, a Hub token, the cache folder, the endpoint, offline mode. */
  revision?: string;
  token?: string;
  cacheFolder?: string;
  endpoint?: string;
  localFilesOnly?: boolean;
}

/** What each dataset's InformationRetrievalEvaluator is built with. */
export type NanoBEIRRetrievalOptions = InformationRetrievalEvaluatorOptions & { name: string };

const OP = "NanoBEIREvaluator";
const DATA_EXTENSIONS = [".parquet", ".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".jsonl.gz", ".json.gz", ".csv.gz", ".tsv.gz"];

/** numpy's float64 sum of a contiguous array: pairwise, with eight accumulators over blocks of up to 128. */
function pairwiseSum(a: readonly number[], start: number, n: number): number {
  if (n < 8) {
    // -0 keeps a sum of negative zeros negative, as numpy's.
    let res = -0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = a.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j]! += a[start + i + j]!;
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** `np.mean` of a list of floats: numpy's pairwise sum over the count, equal to the last bit. */
export function numpyMean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return pairwiseSum(values, 0, values.length) / values.length;
}

/** Python's `key.split("_", maxsplit)[-1]`. */
function lastSplit(key: string, maxsplit: number): string {
  const parts = key.split("_");
  return parts.length > maxsplit + 1 ? parts.slice(maxsplit).join("_") : parts[parts.length - 1]!;
}

function loadError(subset: string, split: string, datasetId: string, why: string, cause?: unknown): SbertError {
  const code = cause instanceof SbertError ? cause.code : "ERR_FILE_NOT_FOUND";
  return new SbertError(code, `Could not load subset '${subset}' split '${split}' from dataset '${datasetId}': ${why}`, { op: OP, cause });
}

/** A local folder's files for one subset and split: from its README.md `configs`, else by the usual layouts. */
async function localDataFiles(dir: string, subset: string, split: string): Promise<string[] | undefined> {
  const readme = await readFile(join(dir, "README.md"), "utf8").catch(() => undefined);
  const front = readme === undefined ? undefined : /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme)?.[1];
  if (front !== undefined) {
    const { parse } = await import("yaml");
    let meta: unknown;
    try {
      meta = parse(front);
    } catch (e) {
      throw new SbertError("ERR_FORMAT", `${join(dir, "README.md")}: the YAML front matter does not parse (${(e as Error).message})`, { op: OP, cause: e });
    }
    const configs = (meta as { configs?: unknown } | null)?.configs;
    if (Array.isArray(configs)) {
      const config = configs.find((c) => (c as { config_name?: unknown })?.config_name === subset) as { data_files?: unknown } | undefined;
      const dataFiles = config?.data_files;
      if (Array.isArray(dataFiles)) {
        const entry = dataFiles.find((d) => (d as { split?: unknown })?.split === split) as { path?: unknown } | undefined;
        const paths = typeof entry?.path === "string" ? [entry.path] : Array.isArray(entry?.path) ? entry.path.filter((p): p is string => typeof p === "string") : [];
        if (paths.length > 0) return paths;
      }
    }
  }
  const entries = await readdir(join(dir, subset), { withFileTypes: true }).catch(() => []);
  const isData = (name: string): boolean => DATA_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));
  const files = entries
    .filter((e) => e.isFile() && isData(e.name) && (DATA_EXTENSIONS.some((ext) => e.name === `${split}${ext}`) || e.name.startsWith(`${split}-`)))
    .map((e) => `${subset}/${e.name}`);
  if (entries.some((e) => e.isDirectory() && e.name === split)) {
    const inner = await readdir(join(dir, subset, split), { withFileTypes: true });
    files.push(...inner.filter((e) => e.isFile() && isData(e.name)).map((e) => `${subset}/${split}/${e.name}`));
  }
  return files.length > 0 ? files.sort() : undefined;
}

/** One subset's split of a NanoBEIR-style dataset (Hub id or local folder), checked for the columns it needs. */
export async function loadNanoBEIRSplit(
  datasetId: string,
  subset: string,
  split: string,
  requiredColumns: readonly string[],
  hub: Pick<NanoBEIREvaluatorOptions, "revision" | "token" | "cacheFolder" | "endpoint" | "localFilesOnly"> = {},
): Promise<Dataset> {
  let dataset: Dataset;
  const isDir = await stat(datasetId).then(
    (s) => s.isDirectory(),
    () => false,
  );
  try {
    if (isDir) {
      const files = await localDataFiles(datasetId, subset, split);
      if (files === undefined) {
        throw new SbertError(
          "ERR_FILE_NOT_FOUND",
          `no data file for it in ${datasetId} (looked for ${subset}/${split}.parquet (or .jsonl, .json, .csv), ${subset}/${split}-*, ${subset}/${split}/*, and a README.md config '${subset}' with a split '${split}')`,
          { op: OP },
        );
      }
      dataset = await loadDataset(datasetId, { dataFiles: { [split]: files }, split });
    } else {
      dataset = await loadDataset(datasetId, {
        name: subset,
        split,
        ...(hub.revision !== undefined && { revision: hub.revision }),
        ...(hub.token !== undefined && { token: hub.token }),
        ...(hub.cacheFolder !== undefined && { cacheFolder: hub.cacheFolder }),
        ...(hub.endpoint !== undefined && { endpoint: hub.endpoint }),
        ...(hub.localFilesOnly !== undefined && { localFilesOnly: hub.localFilesOnly }),
      });
    }
  } catch (e) {
    const message = (e as Error).message;
    throw loadError(subset, split, datasetId, message, e);
  }
  const missing = requiredColumns.filter((c) => !dataset.columnNames.includes(c));
  if (missing.length > 0) {
    throw new SbertError(
      "ERR_FORMAT",
      `Subset '${subset}' split '${split}' from dataset '${datasetId}' is missing required columns: ${missing.map((c) => `'${c}'`).join(", ")} (it has ${dataset.columnNames.join(", ")})`,
      { op: OP },
    );
  }
  return dataset;
}

function idOf(value: unknown, where: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  throw new SbertError("ERR_FORMAT", `${where} must be a string or an integer, got ${value === null ? "null" : typeof value}`, { op: OP });
}

function checkPrompts(prompts: unknown, datasetNames: readonly string[], arg: string): Record<string, string> | undefined {
  if (prompts === undefined || prompts === null) return undefined;
  if (typeof prompts === "string") return Object.fromEntries(datasetNames.map((n) => [n, prompts]));
  if (typeof prompts !== "object" || Array.isArray(prompts)) throw new TypeError(`${OP}: ${arg} must be a string or an object of dataset name → prompt`);
  for (const [k, v] of Object.entries(prompts)) if (typeof v !== "string") throw new TypeError(`${OP}: ${arg}["${k}"] must be a string`);
  return { ...(prompts as Record<string, string>) };
}

/**
 * Retrieval quality on the NanoBEIR collection, as sentence-transformers' `NanoBEIREvaluator`: one
 * InformationRetrievalEvaluator per dataset (named `Nano{Name}`, with `_{truncateDim}` when set), then every
 * metric aggregated over the datasets (`aggregateFn`, the mean by default) under `NanoBEIR_{aggregateKey}_…`.
 * `evaluate` returns each dataset's metrics followed by the aggregated ones; the primary metric is the aggregated
 * NDCG@max(ndcgAtK) of the main (or best) score function. The datasets load at the first `evaluate` (or
 * `loadDatasets()`; `NanoBEIREvaluator.create` does both).
 */
export class NanoBEIREvaluator extends SentenceEvaluator {
  readonly datasetNames: string[];
  readonly datasetId: string;
  readonly mrrAtK: number[];
  readonly ndcgAtK: number[];
  readonly accuracyAtK: number[];
  readonly precisionRecallAtK: number[];
  readonly mapAtK: number[];
  readonly showProgressBar: boolean;
  readonly batchSize: number;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  scoreFunctions: Record<string, ScoreFunction> | undefined;
  scoreFunctionNames: string[];
  readonly mainScoreFunction: SimilarityFunction | undefined;
  readonly aggregateFn: (values: number[]) => number;
  readonly aggregateKey: string;
  readonly queryPrompts: Record<string, string> | undefined;
  readonly corpusPrompts: Record<string, string> | undefined;
  readonly writePredictions: boolean;
  /** `NanoBEIR_{aggregateKey}`, then `_{truncateDim}` when set: the prefix of the aggregated metrics. */
  name: string;
  readonly csvFile: string;
  csvHeaders: string[];
  /** The datasets' evaluators, once loaded. */
  evaluators: InformationRetrievalEvaluator[] = [];
  private readonly hub: Pick<NanoBEIREvaluatorOptions, "revision" | "token" | "cacheFolder" | "endpoint" | "localFilesOnly">;
  private loading: Promise<InformationRetrievalEvaluator[]> | undefined;
  private primaryChosen = false;

  /** Builds the evaluator and loads its datasets, so a missing dataset fails here rather than at the first evaluation. */
  static async create(options: NanoBEIREvaluatorOptions = {}): Promise<NanoBEIREvaluator> {
    const evaluator = new NanoBEIREvaluator(options);
    await evaluator.loadDatasets();
    return evaluator;
  }

  constructor(options: NanoBEIREvaluatorOptions = {}) {
    super();
    if (typeof options !== "object" || options === null) throw new TypeError(`${OP}: options must be an object`);
    const names = options.datasetNames ?? Object.keys(NANOBEIR_DATASETS);
    if (!Array.isArray(names)) throw new TypeError(`${OP}: datasetNames must be an array of dataset names`);
    if (names.length === 0) throw new RangeError(`${OP}: datasetNames cannot be empty; leave it out to evaluate on all datasets`);
    names.forEach((n, i) => {
      if (typeof n !== "string") throw new TypeError(`${OP}: datasetNames[${i}] must be a string`);
    });
    const unknown = names.filter((n) => !(n.toLowerCase() in NANOBEIR_DATASETS));
    if (unknown.length > 0) {
      throw new RangeError(
        `${OP}: dataset(s) ${unknown.map((n) => `'${n}'`).join(", ")} are not NanoBEIR datasets; valid names are: ${Object.keys(NANOBEIR_DATASETS).join(", ")}`,
      );
    }
    this.datasetNames = [...names];
    const datasetId = options.datasetId ?? NANOBEIR_DEFAULT_DATASET_ID;
    if (typeof datasetId !== "string" || datasetId === "") throw new TypeError(`${OP}: datasetId must be a Hub dataset id or a folder`);
    this.datasetId = datasetId;

    ({ mrrAtK: this.mrrAtK, ndcgAtK: this.ndcgAtK, accuracyAtK: this.accuracyAtK, precisionRecallAtK: this.precisionRecallAtK, mapAtK: this.mapAtK } =
      checkRetrievalKs(options, OP));
    this.showProgressBar = options.showProgressBar ?? false;
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, OP, "batchSize");
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, OP, "truncateDim");
    ({ scoreFunctions: this.scoreFunctions, scoreFunctionNames: this.scoreFunctionNames } = checkScoreFunctions(options.scoreFunctions, OP));
    this.mainScoreFunction = options.mainScoreFunction ? toSimilarityFunction(options.mainScoreFunction, `${OP}: mainScoreFunction`) : undefined;
    this.aggregateFn = options.aggregateFn ?? numpyMean;
    if (typeof this.aggregateFn !== "function") throw new TypeError(`${OP}: aggregateFn must be a function of a list of numbers`);
    this.aggregateKey = options.aggregateKey ?? "mean";
    if (typeof this.aggregateKey !== "string") throw new TypeError(`${OP}: aggregateKey must be a string`);
    this.writePredictions = options.writePredictions ?? false;

    this.queryPrompts = checkPrompts(options.queryPrompts, this.datasetNames, "queryPrompts");
    this.corpusPrompts = checkPrompts(options.corpusPrompts, this.datasetNames, "corpusPrompts");
    const problems: string[] = [];
    for (const [what, prompts] of [
      ["query", this.queryPrompts],
      ["corpus", this.corpusPrompts],
    ] as const) {
      const missing = prompts === undefined ? [] : this.datasetNames.filter((n) => !Object.hasOwn(prompts, n));
      if (missing.length > 0) problems.push(`${OP}: the following datasets are missing ${what} prompts: ${missing.map((n) => `'${n}'`).join(", ")}`);
    }
    if (problems.length > 0) throw new RangeError(problems.join("\n"));

    this.hub = {
      ...(options.revision !== undefined && { revision: options.revision }),
      ...(options.token !== undefined && { token: options.token }),
      ...(options.cacheFolder !== undefined && { cacheFolder: options.cacheFolder }),
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.localFilesOnly !== undefined && { localFilesOnly: options.localFilesOnly }),
    };

    this.name = `NanoBEIR_${this.aggregateKey}`;
    if (this.truncateDim !== undefined) this.name += `_${this.truncateDim}`;
    this.csvFile = `NanoBEIR_evaluation_${this.aggregateKey}_results.csv`;
    this.csvHeaders = ["epoch", "steps"];
    this.appendCsvHeaders(this.scoreFunctionNames);
    this.primaryMetric = `${this.name}_${provisionalPrimaryMetric(this)}`;
  }

  protected appendCsvHeaders(names: readonly string[]): void {
    this.csvHeaders.push(...retrievalCsvHeaders(this, names));
  }

  /** `Nano{Name}` of a dataset, with the suffixes of the evaluator's settings. */
  protected datasetEvaluatorName(datasetName: string): string {
    const human = `Nano${NANOBEIR_DATASETS[datasetName.toLowerCase() as NanoBEIRDatasetName]}`;
    return this.truncateDim === undefined ? human : `${human}_${this.truncateDim}`;
  }

  /** The options every dataset's evaluator shares. */
  protected retrievalOptions(): InformationRetrievalEvaluatorOptions {
    return {
      mrrAtK: this.mrrAtK,
      ndcgAtK: this.ndcgAtK,
      accuracyAtK: this.accuracyAtK,
      precisionRecallAtK: this.precisionRecallAtK,
      mapAtK: this.mapAtK,
      showProgressBar: this.showProgressBar,
      batchSize: this.batchSize,
      writeCsv: this.writeCsv,
      truncateDim: this.truncateDim ?? null,
      ...(this.scoreFunctions !== undefined && { scoreFunctions: this.scoreFunctions }),
      mainScoreFunction: this.mainScoreFunction ?? null,
      writePredictions: this.writePredictions,
    };
  }

  /** The retrieval evaluator of one dataset (a subclass builds its own kind). */
  protected makeRetrievalEvaluator(
    queries: Record<string, string>,
    corpus: Record<string, string>,
    relevantDocs: Record<string, Set<string>>,
    options: NanoBEIRRetrievalOptions,
  ): InformationRetrievalEvaluator {
    return new InformationRetrievalEvaluator(queries, corpus, relevantDocs, options);
  }

  /** Loads every dataset (once) and builds its evaluator. */
  loadDatasets(): Promise<InformationRetrievalEvaluator[]> {
    if (this.loading === undefined) {
      this.loading = (async () => {
        const evaluators: InformationRetrievalEvaluator[] = [];
        for (const name of this.datasetNames) evaluators.push(await this.loadOne(name));
        this.evaluators = evaluators;
        return evaluators;
      })();
      // A failed load may be retried (e.g. once the files are there).
      this.loading.catch(() => (this.loading = undefined));
    }
    return this.loading;
  }

  private async loadOne(datasetName: string): Promise<InformationRetrievalEvaluator> {
    const split = `Nano${NANOBEIR_DATASETS[datasetName.toLowerCase() as NanoBEIRDatasetName]}`;
    const corpus = await loadNanoBEIRSplit(this.datasetId, "corpus", split, ["_id", "text"], this.hub);
    const queries = await loadNanoBEIRSplit(this.datasetId, "queries", split, ["_id", "text"], this.hub);
    const qrels = await loadNanoBEIRSplit(this.datasetId, "qrels", split, ["query-id", "corpus-id"], this.hub);

    const textsById = (ds: Dataset, subset: string): Record<string, string> => {
      const out: Record<string, string> = {};
      const ids = ds.column("_id");
      const texts = ds.column("text");
      ids.forEach((id, i) => {
        const text = texts[i];
        if (typeof text !== "string") throw new SbertError("ERR_FORMAT", `${OP}: ${subset} split '${split}' row ${i}: 'text' must be a string`, { op: OP });
        // Empty texts are left out, as sentence-transformers does.
        if (text.length > 0) out[idOf(id, `${subset} split '${split}' row ${i}: '_id'`)] = text;
      });
      return out;
    };
    const corpusById = textsById(corpus, "corpus");
    const queriesById = textsById(queries, "queries");
    const relevant: Record<string, Set<string>> = {};
    const queryIds = qrels.column("query-id");
    const corpusIds = qrels.column("corpus-id");
    queryIds.forEach((q, i) => {
      const qid = idOf(q, `qrels split '${split}' row ${i}: 'query-id'`);
      const docs = (relevant[qid] ??= new Set());
      const c = corpusIds[i];
      // A row may list several relevant documents.
      if (Array.isArray(c)) c.forEach((id, j) => docs.add(idOf(id, `qrels split '${split}' row ${i}: 'corpus-id'[${j}]`)));
      else docs.add(idOf(c, `qrels split '${split}' row ${i}: 'corpus-id'`));
    });

    const options: NanoBEIRRetrievalOptions = { ...this.retrievalOptions(), name: this.datasetEvaluatorName(datasetName) };
    if (this.queryPrompts !== undefined) options.queryPrompt = this.queryPrompts[datasetName] ?? null;
    if (this.corpusPrompts !== undefined) options.corpusPrompt = this.corpusPrompts[datasetName] ?? null;
    return this.makeRetrievalEvaluator(queriesById, corpusById, relevant, options);
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkModel(model, OP);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const evaluators = await this.loadDatasets();
    if (this.scoreFunctions === undefined) {
      this.scoreFunctions = modelScoreFunctions(model, OP);
      this.scoreFunctionNames = Object.keys(this.scoreFunctions);
      this.appendCsvHeaders(this.scoreFunctionNames);
    }

    const perMetric = new Map<string, number[]>();
    const perDataset: Record<string, number> = {};
    const underscores = this.name.split("_").length - 1;
    for (const evaluator of evaluators) {
      const evaluation = await evaluator.evaluate(model, { ...(outputPath !== undefined && { outputPath }), epoch, steps });
      for (const [key, value] of Object.entries(evaluation)) {
        const metric = lastSplit(key, underscores);
        if (!perMetric.has(metric)) perMetric.set(metric, []);
        perMetric.get(metric)!.push(value);
        perDataset[key] = value;
      }
    }
    const aggregated: Record<string, number> = {};
    for (const [metric, values] of perMetric) aggregated[metric] = this.aggregateFn(values);

    const value = (fn: string, metric: string, k: number): number => aggregated[`${fn}_${metric}@${k}`]!;

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, retrievalCsvRow(this, epoch, steps, value), "\n");
    }

    // Chosen once, at the first evaluation, as sentence-transformers does.
    if (!this.primaryChosen) {
      this.primaryMetric = choosePrimaryMetric(this, (fn, k) => value(fn, "ndcg", k));
      this.primaryChosen = true;
    }
    return { ...perDataset, ...this.prefixNameToMetrics(aggregated, this.name) };
  }

  override getConfigDict(): Record<string, unknown> {
    return {
      dataset_names: this.datasetNames,
      dataset_id: this.datasetId,
      ...(this.truncateDim !== undefined && { truncate_dim: this.truncateDim }),
      ...(this.queryPrompts !== undefined && { query_prompts: this.queryPrompts }),
      ...(this.corpusPrompts !== undefined && { corpus_prompts: this.corpusPrompts }),
    };
  }
}
