import { MSEEvaluator, type MSEEvaluatorOptions } from "../../evaluation/MSEEvaluator.js";
import type { EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { SparsityRecorder, checkMaxActiveDims, checkSparseModel, evaluateSparse, meanStats } from "./sparsity.js";

export interface SparseMSEEvaluatorOptions extends Omit<MSEEvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values, the teacher's too; undefined: each model's maxActiveDims. */
  maxActiveDims?: number | null;
}

/**
 * sentence-transformers' `SparseMSEEvaluator`: the MSEEvaluator's `negative_mse` between a sparse teacher's
 * embeddings of the source sentences and the evaluated SparseEncoder's of the target sentences (dense over the
 * vocabulary), plus the evaluated embeddings' `active_dims` and `sparsity_ratio`, also appended to the CSV row.
 * The teacher is a SparseEncoder or its embeddings of the source sentences (dense Float32Arrays).
 */
export class SparseMSEEvaluator extends MSEEvaluator {
  readonly maxActiveDims: number | undefined;

  constructor(sourceSentences: string[], targetSentences: string[], teacher: SparseEncoder | readonly Float32Array[], options: SparseMSEEvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    const limit = checkMaxActiveDims(maxActiveDims, "SparseMSEEvaluator");
    let source: EvaluatedModel | readonly Float32Array[];
    if (Array.isArray(teacher)) source = teacher;
    else {
      checkSparseModel(teacher, "SparseMSEEvaluator: teacher");
      source = new SparsityRecorder(teacher, limit);
    }
    super(sourceSentences, targetSentences, source, { ...rest, truncateDim: null });
    this.maxActiveDims = limit;
    this.csvHeaders.push("active_dims", "sparsity_ratio");
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), meanStats, "SparseMSEEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}
