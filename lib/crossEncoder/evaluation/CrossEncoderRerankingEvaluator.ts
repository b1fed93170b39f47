import { type CsvCell, appendCsvRow } from "../../evaluation/output.js";
import { checkPositiveInt, checkStrings } from "../../evaluation/SentenceEvaluator.js";
import { averagePrecision, ndcgScore } from "../../evaluation/stats.js";
import type { CrossEncoderPair } from "../CrossEncoder.js";
import {
  CrossEncoderEvaluator,
  type EvaluateOptions,
  type EvaluatedCrossEncoder,
  checkBoolean,
  checkModel,
  checkString,
  predictScores,
} from "./CrossEncoderEvaluator.js";

/**
 * One query to rerank: its relevant documents, and either irrelevant ones (`negative`) or a first-stage ranking
 * of documents, best first, that may hold some of the positives (`documents`).
 */
export interface RerankingSample {
  query: string;
  positive: string | string[];
  negative?: string[];
  documents?: string[];
}

export interface CrossEncoderRerankingEvaluatorOptions {
  /** Only the top atK documents count for MRR and NDCG. Default 10. */
  atK?: number;
  /**
   * With `documents`: rank every positive, those the first stage missed included (true, the default), or only
   * the documents given (false, closer to a real pipeline). Samples with `negative` always rank every positive.
   */
  alwaysRerankPositives?: boolean;
  name?: string;
  /** Pairs per predict batch. Default 64. */
  batchSize?: number;
  showProgressBar?: boolean;
  writeCsv?: boolean;
}

/** A sample as ranked: the documents scored and which are relevant (null: nothing relevant, all metrics 0). */
interface Prepared {
  query: string;
  ranked: { docs: string[]; relevant: number[] } | null;
  /** The first-stage ranking's relevance (positives it missed appended), for samples with `documents`; null when it holds no positive. */
  base: number[] | null | undefined;
}

const OP = "CrossEncoderRerankingEvaluator";

function prepare(sample: unknown, i: number, alwaysRerankPositives: boolean): Prepared {
  const where = `samples[${i}]`;
  if (typeof sample !== "object" || sample === null || Array.isArray(sample)) throw new TypeError(`${OP}: ${where} must be an object with query, positive and negative or documents`);
  const s = sample as Record<string, unknown>;
  if (s["query"] === undefined) throw new TypeError(`${OP}: ${where} has no 'query'`);
  if (s["positive"] === undefined) throw new TypeError(`${OP}: ${where} has no 'positive'`);
  const query = checkString(s["query"], OP, `${where}.query`);
  const positive = typeof s["positive"] === "string" ? [s["positive"]] : checkStrings(s["positive"], OP, `${where}.positive`);
  const hasNegative = s["negative"] !== undefined;
  const hasDocuments = s["documents"] !== undefined;
  if (hasNegative === hasDocuments) throw new TypeError(`${OP}: ${where} must have exactly one of 'negative' and 'documents'`);

  let docs: string[];
  let relevant: number[];
  let base: number[] | null | undefined;
  if (hasDocuments) {
    const documents = checkStrings(s["documents"], OP, `${where}.documents`);
    if (documents.length === 0) throw new RangeError(`${OP}: ${where}.documents is empty`);
    const inDocuments = documents.map((d) => (positive.includes(d) ? 1 : 0));
    const found = inDocuments.reduce((a: number, b) => a + b, 0);
    // Positives the first stage missed rank after all its documents.
    base = found === 0 ? null : [...inDocuments, ...new Array<number>(Math.max(0, positive.length - found)).fill(1)];
    if (base !== null && base.length === 1) throw new RangeError(`${OP}: ${where} gives one document to rank; NDCG needs at least two`);
    if (alwaysRerankPositives) {
      docs = [...positive, ...documents.filter((d) => !positive.includes(d))];
      relevant = docs.map((_, j) => (j < positive.length ? 1 : 0));
    } else {
      docs = documents;
      relevant = inDocuments;
    }
  } else {
    const negative = checkStrings(s["negative"], OP, `${where}.negative`);
    docs = [...positive, ...negative];
    relevant = docs.map((_, j) => (j < positive.length ? 1 : 0));
  }
  if (!relevant.includes(1)) return { query, ranked: null, base };
  if (docs.length === 1) throw new RangeError(`${OP}: ${where} gives one document to rank; NDCG needs at least two`);
  return { query, ranked: { docs, relevant }, base };
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * How well a cross-encoder reranks documents for queries (sentence-transformers' CrossEncoderRerankingEvaluator):
 * each sample's documents are scored against its query and sorted, and MAP, MRR@k and NDCG@k (primary) are
 * averaged over the samples; a sample with no positive to rank scores 0. Samples with `documents` (a first-stage
 * ranking) also give `base_map`, `base_mrr@k` and `base_ndcg@k`, the same metrics of that ranking as given.
 */
export class CrossEncoderRerankingEvaluator extends CrossEncoderEvaluator {
  readonly samples: RerankingSample[];
  readonly atK: number;
  readonly alwaysRerankPositives: boolean;
  readonly name: string;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly csvFile: string;
  readonly csvHeaders: string[];
  private readonly prepared: Prepared[];

  /** `samples` is an array, or an object whose values are the samples. */
  constructor(samples: RerankingSample[] | Record<string, RerankingSample>, options: CrossEncoderRerankingEvaluatorOptions = {}) {
    super();
    if (typeof samples !== "object" || samples === null) throw new TypeError(`${OP}: samples must be an array of {query, positive, negative | documents} objects`);
    const list = Array.isArray(samples) ? samples : Object.values(samples);
    if (list.length === 0) throw new RangeError(`${OP}: samples is empty`);
    this.samples = list;
    this.atK = checkPositiveInt(options.atK ?? 10, OP, "atK");
    this.alwaysRerankPositives = checkBoolean(options.alwaysRerankPositives ?? true, OP, "alwaysRerankPositives");
    this.name = checkString(options.name ?? "", OP, "name");
    this.batchSize = checkPositiveInt(options.batchSize ?? 64, OP, "batchSize");
    this.showProgressBar = checkBoolean(options.showProgressBar ?? false, OP, "showProgressBar");
    this.writeCsv = checkBoolean(options.writeCsv ?? true, OP, "writeCsv");
    this.prepared = list.map((s, i) => prepare(s, i, this.alwaysRerankPositives));

    this.csvFile = `CrossEncoderRerankingEvaluator${this.name ? `_${this.name}` : ""}_results_@${this.atK}.csv`;
    this.csvHeaders = ["epoch", "steps", "MAP", `MRR@${this.atK}`, `NDCG@${this.atK}`];
    this.primaryMetric = `${this.name ? `${this.name}_` : ""}ndcg@${this.atK}`;
  }

  /** MRR@k, NDCG@k and average precision of one ranking by `scores`. */
  computeMetrics(relevant: readonly number[], scores: readonly number[]): { mrr: number; ndcg: number; ap: number } {
    // Best first; equal scores put the later document first (a reversed ascending sort, as numpy's argsort()[::-1]).
    const ranking = Array.from(scores.keys())
      .sort((a, b) => (scores[a]! < scores[b]! ? -1 : scores[a]! > scores[b]! ? 1 : a - b))
      .reverse();
    let mrr = 0;
    for (let rank = 0; rank < Math.min(this.atK, ranking.length); rank++) {
      if (relevant[ranking[rank]!]) {
        mrr = 1 / (rank + 1);
        break;
      }
    }
    return { mrr, ndcg: ndcgScore(relevant, scores, this.atK), ap: averagePrecision(relevant, scores) };
  }

  override async evaluate(model: EvaluatedCrossEncoder, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkModel(model, OP);
    const { outputPath, epoch = -1, steps = -1 } = options;

    const baseMrr: number[] = [];
    const baseNdcg: number[] = [];
    const baseAp: number[] = [];
    for (const p of this.prepared) {
      if (p.base === undefined) continue;
      if (p.base === null) {
        baseMrr.push(0);
        baseNdcg.push(0);
        baseAp.push(0);
        continue;
      }
      // The first stage's order as scores: n, n-1, ..., 1.
      const m = this.computeMetrics(p.base, p.base.map((_, j) => p.base!.length - j));
      baseMrr.push(m.mrr);
      baseNdcg.push(m.ndcg);
      baseAp.push(m.ap);
    }

    // All pairs in one predict call, so batches span samples.
    const pairs: CrossEncoderPair[] = [];
    for (const p of this.prepared) if (p.ranked) for (const d of p.ranked.docs) pairs.push([p.query, d]);
    const scores = await predictScores(model, pairs, { batchSize: this.batchSize, showProgressBar: this.showProgressBar }, OP);

    const mrrs: number[] = [];
    const ndcgs: number[] = [];
    const aps: number[] = [];
    let offset = 0;
    for (const p of this.prepared) {
      if (!p.ranked) {
        mrrs.push(0);
        ndcgs.push(0);
        aps.push(0);
        continue;
      }
      const m = this.computeMetrics(p.ranked.relevant, scores.slice(offset, offset + p.ranked.docs.length));
      offset += p.ranked.docs.length;
      mrrs.push(m.mrr);
      ndcgs.push(m.ndcg);
      aps.push(m.ap);
    }

    const k = this.atK;
    const metrics: Record<string, number> = { map: mean(aps), [`mrr@${k}`]: mean(mrrs), [`ndcg@${k}`]: mean(ndcgs) };
    if (baseAp.length > 0) {
      metrics["base_map"] = mean(baseAp);
      metrics[`base_mrr@${k}`] = mean(baseMrr);
      metrics[`base_ndcg@${k}`] = mean(baseNdcg);
    }

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const row: CsvCell[] = [{ int: epoch }, { int: steps }, metrics["map"]!, metrics[`mrr@${k}`]!, metrics[`ndcg@${k}`]!];
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\r\n");
    }
    return this.prefixNameToMetrics(metrics, this.name);
  }

  override getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = { at_k: this.atK };
    if (this.samples[0]?.documents !== undefined) config["always_rerank_positives"] = this.alwaysRerankPositives;
    return config;
  }
}
