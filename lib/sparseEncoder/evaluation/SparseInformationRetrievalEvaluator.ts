import { InformationRetrievalEvaluator, type InformationRetrievalEvaluatorOptions } from "../../evaluation/InformationRetrievalEvaluator.js";
import type { EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { type SparsityRecord, checkMaxActiveDims, evaluateSparse, queryCorpusStats } from "./sparsity.js";

/**
 * The default corpus chunk. The embeddings are scored dense over the vocabulary (30522 floats a text for BERT), so
 * sentence-transformers' 50000 would hold gigabytes; the metrics and statistics do not depend on the chunk size.
 */
const CORPUS_CHUNK_SIZE = 2000;

export interface SparseInformationRetrievalEvaluatorOptions extends Omit<InformationRetrievalEvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseInformationRetrievalEvaluator`: the InformationRetrievalEvaluator's metrics on a
 * SparseEncoder's embeddings (queries through encodeQuery, the corpus through encodeDocument), plus the queries' and
 * the corpus's mean active dimensions and sparsity ratio and `avg_flops` (the dot product of the mean query and
 * mean document activation counts: the expected cost of scoring a query against a document), also appended to the
 * CSV row.
 */
export class SparseInformationRetrievalEvaluator extends InformationRetrievalEvaluator {
  readonly maxActiveDims: number | undefined;
  /** The last evaluation's statistics (query_active_dims … avg_flops), unprefixed. */
  sparsityStats: Record<string, number> = {};
  /** The last evaluation's activation counts per dimension, summed over the queries and over the corpus, and how many texts each sums. */
  countVectors: { query?: { counts: Int32Array; texts: number }; corpus?: { counts: Int32Array; texts: number } } = {};

  constructor(
    queries: Record<string, string>,
    corpus: Record<string, string>,
    relevantDocs: Record<string, Set<string> | string[]>,
    options: SparseInformationRetrievalEvaluatorOptions = {},
  ) {
    const { maxActiveDims, ...rest } = options ?? {};
    super(queries, corpus, relevantDocs, { ...rest, corpusChunkSize: rest.corpusChunkSize ?? CORPUS_CHUNK_SIZE, truncateDim: null });
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseInformationRetrievalEvaluator");
  }

  protected override appendCsvHeaders(names: readonly string[]): void {
    super.appendCsvHeaders(names);
    // Only with metric columns, so the columns are added once when the score function comes from the model.
    if (names.length > 0) this.csvHeaders.push("query_active_dims", "query_sparsity_ratio", "corpus_active_dims", "corpus_sparsity_ratio", "avg_flops");
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const statsOf = (records: readonly SparsityRecord[]): Record<string, number> => {
      this.countVectors = {
        ...(records.some((r) => r.task !== "document") && { query: sumCounts(records.filter((r) => r.task !== "document")) }),
        ...(records.some((r) => r.task === "document") && { corpus: sumCounts(records.filter((r) => r.task === "document")) }),
      };
      this.sparsityStats = irStats(records);
      return this.sparsityStats;
    };
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), statsOf, "SparseInformationRetrievalEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}

/** Queries' statistics averaged over calls, the corpus's weighted by chunk size, and avg_flops. */
function irStats(records: readonly SparsityRecord[]): Record<string, number> {
  const queries = records.filter((r) => r.task !== "document");
  const corpus = records.filter((r) => r.task === "document");
  const stats = queryCorpusStats(queries);
  if (corpus.length > 0) {
    const total = corpus.reduce((a, r) => a + r.count, 0);
    stats["corpus_active_dims"] = corpus.reduce((a, r) => a + r.activeDims * r.count, 0) / total;
    stats["corpus_sparsity_ratio"] = corpus.reduce((a, r) => a + r.sparsityRatio * r.count, 0) / total;
  }
  stats["avg_flops"] = queries.length === 0 || corpus.length === 0 ? 0 : avgFlops(sumCounts(queries), sumCounts(corpus));
  return stats;
}

/** The activation counts of several encode calls summed per dimension (int32, as sentence-transformers' count vectors). */
export function sumCounts(records: readonly SparsityRecord[]): { counts: Int32Array; texts: number } {
  const counts = new Int32Array(records[0]?.countVector.length ?? 0);
  for (const r of records) for (let j = 0; j < counts.length; j++) counts[j]! += r.countVector[j]!;
  return { counts, texts: records.reduce((a, r) => a + r.count, 0) };
}

/** The dot product of the mean activation count vectors of the queries and of the corpus (in float32, as torch). */
export function avgFlops(queries: { counts: Int32Array; texts: number }, corpus: { counts: Int32Array; texts: number }): number {
  const mean = ({ counts, texts }: { counts: Int32Array; texts: number }): Float32Array => {
    const out = new Float32Array(counts.length);
    for (let j = 0; j < out.length; j++) out[j] = counts[j]! / texts;
    return out;
  };
  const q = mean(queries);
  const c = mean(corpus);
  let dot = 0;
  for (let j = 0; j < q.length; j++) dot += q[j]! * c[j]!;
  return Math.fround(dot);
}
