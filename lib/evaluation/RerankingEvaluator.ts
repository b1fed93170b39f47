import { type ScoreFunction, cosSim } from "../util/similarity.js";
import { appendCsvRow } from "./output.js";
import {
  type EvaluateOptions,
  type EvaluatedModel,
  SentenceEvaluator,
  checkModel,
  checkOptionalPositiveInt,
  checkPositiveInt,
  embed,
} from "./SentenceEvaluator.js";
import { type SimilarityFunction, toSimilarityFn, toSimilarityFunction } from "./SimilarityFunction.js";
import { averagePrecision, ndcgScore } from "./stats.js";

/** One query with its relevant (`positive`) and irrelevant (`negative`) documents. */
export interface RerankingSample {
  query: string;
  positive: readonly string[] | ReadonlySet<string>;
  negative: readonly string[] | ReadonlySet<string>;
}

export interface RerankingEvaluatorOptions {
  /** Rank cut-off of MRR and NDCG. Default 10. */
  atK?: number;
  /** Former name of `atK` (sbert still accepts it, deprecated); it wins when both are given, as in sbert. */
  mrrAtK?: number | null;
  name?: string;
  writeCsv?: boolean;
  /** How a query scores its documents: a matrix score function or a similarity name. Default {@link cosSim}. */
  similarityFct?: ScoreFunction | SimilarityFunction;
  /** Encoding batch size. Default 64. */
  batchSize?: number;
  showProgressBar?: boolean;
  /** Encode all queries, then all documents, in one go (default); false encodes each sample on its own. */
  useBatchedEncoding?: boolean;
  truncateDim?: number | null;
}

interface Sample {
  query: string;
  positive: string[];
  negative: string[];
}

function mean(values: readonly number[]): number {
  // numpy's mean of nothing is NaN.
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function checkDocs(value: unknown, op: string, arg: string): string[] {
  const docs = value instanceof Set ? [...value] : value;
  if (!Array.isArray(docs)) throw new TypeError(`${op}: ${arg} must be an array (or Set) of strings`);
  docs.forEach((d, i) => {
    if (typeof d !== "string") throw new TypeError(`${op}: ${arg}[${i}] must be a string, got ${typeof d}`);
  });
  return docs as string[];
}

/**
 * Re-ranking quality, as sbert's `RerankingEvaluator`: each query scores its positive and negative documents, and
 * the ranking gives `map` (sklearn's average precision), `mrr@{atK}` and `ndcg@{atK}` (sklearn's NDCG, the primary
 * metric), averaged over the queries. Samples without positives or without negatives are left out.
 */
export class RerankingEvaluator extends SentenceEvaluator {
  readonly samples: Sample[];
  readonly atK: number;
  readonly name: string;
  readonly writeCsv: boolean;
  readonly similarityFct: ScoreFunction;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly useBatchedEncoding: boolean;
  readonly truncateDim: number | undefined;
  readonly csvFile: string;
  readonly csvHeaders: string[];

  constructor(samples: readonly RerankingSample[] | Record<string, RerankingSample>, options: RerankingEvaluatorOptions = {}) {
    super();
    const op = "RerankingEvaluator";
    let list: unknown[];
    if (Array.isArray(samples)) list = samples;
    else if (typeof samples === "object" && samples !== null) list = Object.values(samples);
    else throw new TypeError(`${op}: samples must be an array (or object) of { query, positive, negative }`);
    const checked = list.map((s, i): Sample => {
      if (typeof s !== "object" || s === null) throw new TypeError(`${op}: samples[${i}] must be an object with query, positive and negative`);
      const { query, positive, negative } = s as Record<string, unknown>;
      if (typeof query !== "string") throw new TypeError(`${op}: samples[${i}].query must be a string, got ${typeof query}`);
      return { query, positive: checkDocs(positive, op, `samples[${i}].positive`), negative: checkDocs(negative, op, `samples[${i}].negative`) };
    });
    this.samples = checked.filter((s) => s.positive.length > 0 && s.negative.length > 0);

    const mrrAtK = options.mrrAtK;
    this.atK = checkPositiveInt(mrrAtK ?? options.atK ?? 10, op, mrrAtK !== undefined && mrrAtK !== null ? "mrrAtK" : "atK");
    this.name = options.name ?? "";
    this.writeCsv = options.writeCsv ?? true;
    const fct = options.similarityFct ?? cosSim;
    if (typeof fct === "string") this.similarityFct = toSimilarityFn(toSimilarityFunction(fct, `${op}: similarityFct`));
    else if (typeof fct === "function") this.similarityFct = fct;
    else throw new TypeError(`${op}: similarityFct must be a score function or a similarity name`);
    this.batchSize = checkPositiveInt(options.batchSize ?? 64, op, "batchSize");
    this.showProgressBar = options.showProgressBar ?? false;
    this.useBatchedEncoding = options.useBatchedEncoding ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");

    this.csvFile = `RerankingEvaluator${this.name ? `_${this.name}` : ""}_results_@${this.atK}.csv`;
    this.csvHeaders = ["epoch", "steps", "MAP", `MRR@${this.atK}`, `NDCG@${this.atK}`];
    this.primaryMetric = `${this.name ? `${this.name}_` : ""}ndcg@${this.atK}`;
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "RerankingEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const scores = await this.computeMetrics(model);

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, [{ int: epoch }, { int: steps }, scores.map, scores.mrr, scores.ndcg], "\r\n");
    }
    this.primaryMetric = `ndcg@${this.atK}`;
    return this.prefixNameToMetrics({ map: scores.map, [`mrr@${this.atK}`]: scores.mrr, [`ndcg@${this.atK}`]: scores.ndcg }, this.name);
  }

  /** The mean average precision, MRR@k and NDCG@k over the samples. */
  async computeMetrics(model: EvaluatedModel): Promise<{ map: number; mrr: number; ndcg: number }> {
    const op = "RerankingEvaluator";
    const embedOptions = { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim };
    const ap: number[] = [];
    const mrr: number[] = [];
    const ndcg: number[] = [];
    const score = (sample: Sample, query: Float32Array, docs: Float32Array[]) => {
      const predicted = this.similarityFct(query, docs)[0]!;
      const relevant = [...sample.positive.map(() => 1), ...sample.negative.map(() => 0)];
      // Best first; equal scores keep document order.
      const order = predicted.map((_, i) => i).sort((a, b) => predicted[b]! - predicted[a]!);
      let reciprocalRank = 0;
      for (let rank = 0; rank < Math.min(this.atK, order.length); rank++) {
        if (relevant[order[rank]!]) {
          reciprocalRank = 1 / (rank + 1);
          break;
        }
      }
      mrr.push(reciprocalRank);
      ndcg.push(ndcgScore(relevant, predicted, this.atK));
      ap.push(averagePrecision(relevant, predicted));
    };

    if (this.samples.length > 0 && this.useBatchedEncoding) {
      const queries = await embed(model, this.samples.map((s) => s.query), { ...embedOptions, task: "query" }, op);
      const docs = await embed(model, this.samples.flatMap((s) => [...s.positive, ...s.negative]), { ...embedOptions, task: "document" }, op);
      let offset = 0;
      this.samples.forEach((sample, i) => {
        const count = sample.positive.length + sample.negative.length;
        score(sample, queries[i]!, docs.slice(offset, offset + count));
        offset += count;
      });
    } else {
      for (const sample of this.samples) {
        const [query] = await embed(model, [sample.query], { ...embedOptions, showProgressBar: false, task: "query" }, op);
        const docs = await embed(model, [...sample.positive, ...sample.negative], { ...embedOptions, showProgressBar: false, task: "document" }, op);
        score(sample, query!, docs);
      }
    }
    return { map: mean(ap), mrr: mean(mrr), ndcg: mean(ndcg) };
  }

  override getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = { at_k: this.atK };
    if (this.truncateDim !== undefined) config["truncate_dim"] = this.truncateDim;
    return config;
  }
}
