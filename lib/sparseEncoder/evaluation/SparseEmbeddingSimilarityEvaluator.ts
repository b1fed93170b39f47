import { EmbeddingSimilarityEvaluator, type EmbeddingSimilarityEvaluatorOptions } from "../../evaluation/EmbeddingSimilarityEvaluator.js";
import { type EmbedOptions, type EvaluateOptions, type EvaluatedModel, embed } from "../../evaluation/SentenceEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { checkMaxActiveDims, evaluateSparse, meanStats } from "./sparsity.js";

export interface SparseEmbeddingSimilarityEvaluatorOptions extends Omit<EmbeddingSimilarityEvaluatorOptions, "precision" | "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseEmbeddingSimilarityEvaluator`: the EmbeddingSimilarityEvaluator's correlations on a
 * SparseEncoder's embeddings, plus `active_dims` and `sparsity_ratio` (the mean over the two sides' encodes),
 * also appended to the CSV row.
 */
export class SparseEmbeddingSimilarityEvaluator extends EmbeddingSimilarityEvaluator {
  readonly maxActiveDims: number | undefined;

  constructor(sentences1: string[], sentences2: string[], scores: number[], options: SparseEmbeddingSimilarityEvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    super(sentences1, sentences2, scores, { ...rest, precision: null, truncateDim: null });
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseEmbeddingSimilarityEvaluator");
  }

  protected override appendCsvHeaders(names: readonly string[]): void {
    super.appendCsvHeaders(names);
    // Added on every call, as sentence-transformers does (so twice when the similarity comes from the model).
    this.csvHeaders.push("active_dims", "sparsity_ratio");
  }

  /** Each side encoded in a call of its own, as the sparsity statistics are per call. */
  protected override async embedPairs(model: EvaluatedModel, options: EmbedOptions, op: string): Promise<Float32Array[][]> {
    return [await embed(model, this.sentences1, options, op), await embed(model, this.sentences2, options, op)];
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), meanStats, "SparseEmbeddingSimilarityEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}
