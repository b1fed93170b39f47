import type { Dataset } from "../../datasets/Dataset.js";
import { type LoadDatasetOptions, loadDataset } from "../../datasets/loadDataset.js";
import { SbertError } from "../../errors.js";
import { NANOBEIR_DATASETS, NANOBEIR_DEFAULT_DATASET_ID, type NanoBEIRDatasetName } from "../../evaluation/NanoBEIREvaluator.js";
import { type CsvCell, appendCsvRow } from "../../evaluation/output.js";
import { checkPositiveInt } from "../../evaluation/SentenceEvaluator.js";
import {
  CrossEncoderEvaluator,
  type EvaluateOptions,
  type EvaluatedCrossEncoder,
  checkBoolean,
  checkModel,
  checkString,
} from "./CrossEncoderEvaluator.js";
import { CrossEncoderRerankingEvaluator, type RerankingSample } from "./CrossEncoderRerankingEvaluator.js";

// The same datasets as the NanoBEIREvaluator's, also exported beside the cross-encoder evaluators.
export { NANOBEIR_DATASETS, type NanoBEIRDatasetName } from "../../evaluation/NanoBEIREvaluator.js";

export interface CrossEncoderNanoBEIREvaluatorOptions {
  /** Default: all but arguana and touche2020, whose argument retrieval task differs from the others'. */
  datasetNames?: string[];
  /** The Hub dataset with `corpus`, `queries`, `qrels` and `bm25` subsets, one `Nano{Name}` split per dataset. */
  datasetId?: string;
  /** Rerank the top rerankK documents of BM25's ranking. Default 100. */
  rerankK?: number;
  /** Only the top atK documents count for MRR and NDCG. Default 10. */
  atK?: number;
  /** As CrossEncoderRerankingEvaluator's: rank every positive, those BM25 missed included. Default true. */
  alwaysRerankPositives?: boolean;
  /** Pairs per predict batch. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  writeCsv?: boolean;
  /** Combines a metric over the datasets. Default: the mean. */
  aggregateFn?: (values: number[]) => number;
  /** Names the aggregate in the metric keys and the CSV file. Default "mean". */
  aggregateKey?: string;
  /** How the datasets are loaded (see loadDataset). */
  loadOptions?: Pick<LoadDatasetOptions, "revision" | "token" | "cacheFolder" | "endpoint" | "localFilesOnly">;
}

const OP = "CrossEncoderNanoBEIREvaluator";
const DEFAULT_DATASETS = Object.keys(NANOBEIR_DATASETS).filter((n) => n !== "arguana" && n !== "touche2020");

function mean(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Reranking quality on the NanoBEIR collection (sentence-transformers' CrossEncoderNanoBEIREvaluator): for each
 * dataset, a CrossEncoderRerankingEvaluator named `Nano{Name}_R{rerankK}` reranks BM25's top rerankK documents of
 * each query, then each metric is aggregated over the datasets under `NanoBEIR_R{rerankK}_{aggregateKey}_`; the
 * primary metric is that aggregate's `ndcg@{atK}`. The datasets are loaded by the first `evaluate` (or `load`).
 */
export class CrossEncoderNanoBEIREvaluator extends CrossEncoderEvaluator {
  readonly datasetNames: string[];
  readonly datasetId: string;
  readonly rerankK: number;
  readonly atK: number;
  readonly alwaysRerankPositives: boolean;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly aggregateFn: (values: number[]) => number;
  readonly aggregateKey: string;
  readonly name: string;
  readonly csvFile: string;
  readonly csvHeaders: string[];
  private readonly loadOptions: CrossEncoderNanoBEIREvaluatorOptions["loadOptions"];
  private loading: Promise<CrossEncoderRerankingEvaluator[]> | undefined;

  constructor(options: CrossEncoderNanoBEIREvaluatorOptions = {}) {
    super();
    const names = options.datasetNames ?? DEFAULT_DATASETS;
    if (!Array.isArray(names)) throw new TypeError(`${OP}: datasetNames must be an array of NanoBEIR dataset names`);
    if (names.length === 0) throw new RangeError(`${OP}: datasetNames is empty; leave it out to evaluate on all datasets`);
    const unknown = names.filter((n) => typeof n !== "string" || !(n.toLowerCase() in NANOBEIR_DATASETS));
    if (unknown.length > 0) {
      throw new RangeError(`${OP}: datasetNames ${JSON.stringify(unknown)} are not NanoBEIR datasets; valid names are: ${Object.keys(NANOBEIR_DATASETS).join(", ")}`);
    }
    this.datasetNames = [...names];
    this.datasetId = checkString(options.datasetId ?? NANOBEIR_DEFAULT_DATASET_ID, OP, "datasetId");
    this.rerankK = checkPositiveInt(options.rerankK ?? 100, OP, "rerankK");
    this.atK = checkPositiveInt(options.atK ?? 10, OP, "atK");
    this.alwaysRerankPositives = checkBoolean(options.alwaysRerankPositives ?? true, OP, "alwaysRerankPositives");
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, OP, "batchSize");
    this.showProgressBar = checkBoolean(options.showProgressBar ?? false, OP, "showProgressBar");
    this.writeCsv = checkBoolean(options.writeCsv ?? true, OP, "writeCsv");
    if (options.aggregateFn !== undefined && typeof options.aggregateFn !== "function") throw new TypeError(`${OP}: aggregateFn must be a function`);
    this.aggregateFn = options.aggregateFn ?? mean;
    this.aggregateKey = checkString(options.aggregateKey ?? "mean", OP, "aggregateKey");
    this.loadOptions = options.loadOptions;

    this.name = `NanoBEIR_R${this.rerankK}_${this.aggregateKey}`;
    this.csvFile = `NanoBEIR_evaluation_${this.aggregateKey}_results.csv`;
    this.csvHeaders = ["epoch", "steps", "MAP", `MRR@${this.atK}`, `NDCG@${this.atK}`];
    this.primaryMetric = `${this.name}_ndcg@${this.atK}`;
  }

  /** The per-dataset evaluators, loading the datasets the first time. */
  load(): Promise<CrossEncoderRerankingEvaluator[]> {
    this.loading ??= (async () => {
      // One file at a time: the datasets share the Hub cache.
      const evaluators: CrossEncoderRerankingEvaluator[] = [];
      for (const name of this.datasetNames) evaluators.push(await this.loadOne(name));
      return evaluators;
    })().catch((e: unknown) => {
      this.loading = undefined;
      throw e;
    });
    return this.loading;
  }

  private async subset(subset: string, split: string, required: string[]): Promise<Dataset> {
    let ds: Dataset;
    try {
      ds = await loadDataset(this.datasetId, { ...this.loadOptions, name: subset, split });
    } catch (e) {
      throw new SbertError("ERR_INPUT", `${OP}: could not load subset '${subset}' split '${split}' of '${this.datasetId}': ${(e as Error).message}`, { op: OP, cause: e });
    }
    const missing = required.filter((c) => !ds.columnNames.includes(c));
    if (missing.length > 0) {
      throw new SbertError("ERR_FORMAT", `${OP}: subset '${subset}' split '${split}' of '${this.datasetId}' has no column ${missing.map((c) => `'${c}'`).join(", ")}`, { op: OP });
    }
    return ds;
  }

  private async loadOne(datasetName: string): Promise<CrossEncoderRerankingEvaluator> {
    const human = NANOBEIR_DATASETS[datasetName.toLowerCase() as NanoBEIRDatasetName];
    const split = `Nano${human}`;
    const corpus = await this.subset("corpus", split, ["_id", "text"]);
    const queries = await this.subset("queries", split, ["_id", "text"]);
    const qrels = await this.subset("qrels", split, ["query-id", "corpus-id"]);
    const bm25 = await this.subset("bm25", split, ["query-id", "corpus-ids"]);
    const texts = (ds: Dataset): Map<unknown, string> => {
      const ids = ds.column("_id");
      return new Map(ds.column("text").map((t, i) => [ids[i], String(t)]));
    };
    const corpusText = texts(corpus);
    const queryText = texts(queries);
    const relevant = new Map<unknown, Set<unknown>>();
    const qrelQueries = qrels.column("query-id");
    qrels.column("corpus-id").forEach((ids, i) => {
      const set = relevant.get(qrelQueries[i]) ?? new Set<unknown>();
      relevant.set(qrelQueries[i], set);
      for (const id of Array.isArray(ids) ? ids : [ids]) set.add(id);
    });
    const lookup = (map: Map<unknown, string>, id: unknown, what: string): string => {
      const text = map.get(id);
      if (text === undefined) throw new SbertError("ERR_FORMAT", `${OP}: ${split}: ${what} ${JSON.stringify(id)} is not in the ${what === "query" ? "queries" : "corpus"}`, { op: OP });
      return text;
    };
    const rankedIds = bm25.column("corpus-ids");
    const samples: RerankingSample[] = bm25.column("query-id").map((queryId, i) => {
      const positives = relevant.get(queryId);
      if (positives === undefined) throw new SbertError("ERR_FORMAT", `${OP}: ${split}: query ${JSON.stringify(queryId)} has no qrels`, { op: OP });
      const ids = rankedIds[i];
      if (!Array.isArray(ids)) throw new SbertError("ERR_FORMAT", `${OP}: ${split}: bm25 row ${i}'s corpus-ids is not a list`, { op: OP });
      return {
        query: lookup(queryText, queryId, "query"),
        positive: [...positives].map((id) => lookup(corpusText, id, "document")),
        documents: ids.slice(0, this.rerankK).map((id) => lookup(corpusText, id, "document")),
      };
    });
    return new CrossEncoderRerankingEvaluator(samples, {
      name: `${split}_R${this.rerankK}`,
      atK: this.atK,
      alwaysRerankPositives: this.alwaysRerankPositives,
      batchSize: this.batchSize,
      showProgressBar: this.showProgressBar,
      writeCsv: this.writeCsv,
    });
  }

  override async evaluate(model: EvaluatedCrossEncoder, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkModel(model, OP);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const evaluators = await this.load();
    const perDataset: Record<string, number> = {};
    const perMetric = new Map<string, number[]>();
    for (const evaluator of evaluators) {
      const results = await evaluator.evaluate(model, { outputPath, epoch, steps });
      for (const [key, value] of Object.entries(results)) {
        // `Nano{Name}_R{k}_{metric}`: the metric is all after the second underscore.
        const [dataset, , ...rest] = key.split("_");
        const metric = rest.join("_");
        perDataset[`${dataset}_R${this.rerankK}_${metric}`] = value;
        if (!perMetric.has(metric)) perMetric.set(metric, []);
        perMetric.get(metric)!.push(value);
      }
    }
    const aggregated: Record<string, number> = {};
    for (const [metric, values] of perMetric) aggregated[metric] = this.aggregateFn(values);

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const k = this.atK;
      const row: CsvCell[] = [{ int: epoch }, { int: steps }, aggregated["map"]!, aggregated[`mrr@${k}`]!, aggregated[`ndcg@${k}`]!];
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\n");
    }
    return { ...perDataset, ...this.prefixNameToMetrics(aggregated, this.name) };
  }

  override getConfigDict(): Record<string, unknown> {
    return {
      dataset_names: this.datasetNames,
      dataset_id: this.datasetId,
      rerank_k: this.rerankK,
      at_k: this.atK,
      always_rerank_positives: this.alwaysRerankPositives,
    };
  }
}
