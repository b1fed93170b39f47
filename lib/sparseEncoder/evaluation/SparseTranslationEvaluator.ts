import type { EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import { TranslationEvaluator, type TranslationEvaluatorOptions } from "../../evaluation/TranslationEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { checkMaxActiveDims, evaluateSparse, meanStats } from "./sparsity.js";

export interface SparseTranslationEvaluatorOptions extends Omit<TranslationEvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseTranslationEvaluator`: the TranslationEvaluator's src2trg and trg2src accuracies
 * on a SparseEncoder's embeddings, plus `active_dims` and `sparsity_ratio` (the mean over the two sides), also
 * appended to the CSV row.
 */
export class SparseTranslationEvaluator extends TranslationEvaluator {
  readonly maxActiveDims: number | undefined;

  constructor(sourceSentences: string[], targetSentences: string[], options: SparseTranslationEvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    super(sourceSentences, targetSentences, { ...rest, truncateDim: null });
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseTranslationEvaluator");
    this.csvHeaders.push("active_dims", "sparsity_ratio");
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), meanStats, "SparseTranslationEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}
