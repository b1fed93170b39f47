import { RerankingEvaluator, type RerankingEvaluatorOptions, type RerankingSample } from "../../evaluation/RerankingEvaluator.js";
import type { EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { checkMaxActiveDims, evaluateSparse, queryCorpusStats } from "./sparsity.js";

export interface SparseRerankingEvaluatorOptions extends Omit<RerankingEvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseRerankingEvaluator`: the RerankingEvaluator's MAP, MRR@k and NDCG@k on a
 * SparseEncoder's embeddings, plus the queries' and documents' active dimensions and sparsity ratio (each the mean
 * over its encode calls), also appended to the CSV row.
 */
export class SparseRerankingEvaluator extends RerankingEvaluator {
  readonly maxActiveDims: number | undefined;

  constructor(samples: readonly RerankingSample[] | Record<string, RerankingSample>, options: SparseRerankingEvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    super(samples, { batchSize: 64, ...rest, truncateDim: null });
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseRerankingEvaluator");
    this.csvHeaders.push("query_active_dims", "query_sparsity_ratio", "corpus_active_dims", "corpus_sparsity_ratio");
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), queryCorpusStats, "SparseRerankingEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}
