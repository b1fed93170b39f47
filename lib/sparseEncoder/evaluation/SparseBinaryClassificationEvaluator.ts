import { BinaryClassificationEvaluator, type BinaryClassificationEvaluatorOptions } from "../../evaluation/BinaryClassificationEvaluator.js";
import type { EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { checkMaxActiveDims, evaluateSparse, meanStats } from "./sparsity.js";

export interface SparseBinaryClassificationEvaluatorOptions extends Omit<BinaryClassificationEvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseBinaryClassificationEvaluator`: the BinaryClassificationEvaluator's metrics on a
 * SparseEncoder's embeddings, plus `active_dims` and `sparsity_ratio`, also appended to the CSV row.
 */
export class SparseBinaryClassificationEvaluator extends BinaryClassificationEvaluator {
  readonly maxActiveDims: number | undefined;

  constructor(sentences1: string[], sentences2: string[], labels: number[], options: SparseBinaryClassificationEvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    super(sentences1, sentences2, labels, { ...rest, truncateDim: null });
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseBinaryClassificationEvaluator");
  }

  protected override appendCsvHeaders(names: readonly string[]): void {
    super.appendCsvHeaders(names);
    this.csvHeaders.push("active_dims", "sparsity_ratio");
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), meanStats, "SparseBinaryClassificationEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}
