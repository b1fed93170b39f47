import type { EmbedOptions, EvaluateOptions, EvaluatedModel } from "../../evaluation/SentenceEvaluator.js";
import { embed } from "../../evaluation/SentenceEvaluator.js";
import { TripletEvaluator, type TripletEvaluatorOptions } from "../../evaluation/TripletEvaluator.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { type SparsityRecord, checkMaxActiveDims, evaluateSparse } from "./sparsity.js";

export interface SparseTripletEvaluatorOptions extends Omit<TripletEvaluatorOptions, "truncateDim"> {
  /** Keep only each embedding's largest values; undefined: the model's maxActiveDims. */
  maxActiveDims?: number | null;
}

const PARTS = ["anchor", "positive", "negative"] as const;

/**
 * sentence-transformers' `SparseTripletEvaluator`: the TripletEvaluator's accuracies on a SparseEncoder's
 * embeddings (anchors through encodeQuery, positives and negatives through encodeDocument), plus each part's
 * `{anchor,positive,negative}_active_dims` and `_sparsity_ratio`, also appended to the CSV row.
 */
export class SparseTripletEvaluator extends TripletEvaluator {
  readonly maxActiveDims: number | undefined;

  constructor(anchors: string[], positives: string[], negatives: string[], options: SparseTripletEvaluatorOptions = {}) {
    const { maxActiveDims, ...rest } = options ?? {};
    super(anchors, positives, negatives, { ...rest, truncateDim: null });
    this.maxActiveDims = checkMaxActiveDims(maxActiveDims, "SparseTripletEvaluator");
  }

  protected override appendCsvHeaders(names: readonly string[]): void {
    super.appendCsvHeaders(names);
    for (const p of PARTS) this.csvHeaders.push(`${p}_active_dims`, `${p}_sparsity_ratio`);
  }

  /** Each part in a call of its own, as its statistics are reported apart. */
  protected override async embedTriplets(model: EvaluatedModel, options: EmbedOptions, op: string): Promise<Float32Array[][]> {
    return [
      await embed(model, this.anchors, { ...options, task: "query" }, op),
      await embed(model, this.positives, { ...options, task: "document" }, op),
      await embed(model, this.negatives, { ...options, task: "document" }, op),
    ];
  }

  override evaluate(model: SparseEncoder | EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    return evaluateSparse(this, model, this.maxActiveDims, options.outputPath, (m) => super.evaluate(m, options), tripletStats, "SparseTripletEvaluator");
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...(this.maxActiveDims !== undefined && { max_active_dims: this.maxActiveDims }) };
  }
}

function tripletStats(records: readonly SparsityRecord[]): Record<string, number> {
  const stats: Record<string, number> = {};
  records.slice(0, 3).forEach((r, i) => {
    stats[`${PARTS[i]}_active_dims`] = r.activeDims;
    stats[`${PARTS[i]}_sparsity_ratio`] = r.sparsityRatio;
  });
  return stats;
}
