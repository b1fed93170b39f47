import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoderActivation } from "../activation.js";
import type { CrossEncoder, CrossEncoderPair } from "../CrossEncoder.js";
import { CrossEncoderLoss, type CrossEncoderLabelKind, type CrossEncoderLossBatch, checkOptionalPositiveInt, pairsWith } from "./CrossEncoderLoss.js";

export interface MultipleNegativesRankingLossOptions {
  /** In-batch negatives scored per query, drawn at random among the other rows' candidates; null: all of them. Default 4. */
  numNegatives?: number | null;
  /** Multiplies the (activated) scores before the softmax; 0 leaves them as they are. Default 10. */
  scale?: number;
  /** Put on the logits first. Default sigmoid; null: none. */
  activationFn?: CrossEncoderActivation | string | null;
}

/**
 * In-batch negatives for a cross-encoder: each query is scored with its positive, with candidates (positives and
 * hard negatives) of other rows, and with its own hard negatives (third and further columns); cross-entropy makes
 * the positive win. Labels are ignored.
 */
export class MultipleNegativesRankingLoss extends CrossEncoderLoss {
  readonly name: string = "MultipleNegativesRankingLoss";
  readonly columns = [2, Infinity] as const;
  readonly labelKind: CrossEncoderLabelKind = "none";
  readonly numNegatives: number | null;
  readonly scale: number;

  constructor(model: CrossEncoder, options: MultipleNegativesRankingLossOptions = {}) {
    super(model, options.activationFn, "sigmoid", true);
    this.numNegatives = checkOptionalPositiveInt(options.numNegatives === undefined ? 4 : options.numNegatives, "numNegatives", this.name);
    const scale = options.scale ?? 10;
    if (typeof scale !== "number" || !Number.isFinite(scale) || scale < 0) throw new RangeError(`${this.name}: scale must be a number >= 0, got ${String(scale)}`);
    this.scale = scale;
  }

  nativeSpec(): NativeLossSpec {
    return { ...this.spec("CrossEncoder.MultipleNegativesRankingLoss"), scale: this.scale };
  }

  /**
   * Column 0 pairs each query with its positive; then one column per in-batch negative (the k-th negative of each
   * query), then one per hard-negative column, as sentence-transformers orders the scores.
   */
  batch(values: unknown[][], _labels: unknown[] | null, random: () => number): CrossEncoderLossBatch {
    const queries = values[0] as string[];
    const rows = queries.length;
    const candidates = values.slice(1).flat() as string[];
    // Row i's valid negatives: every candidate not from row i, in column-major order.
    const valid = (i: number) => candidates.map((_, j) => j).filter((j) => j % rows !== i);
    const perRow = candidates.length - (values.length - 1);
    const chosen: number[][] = [];
    for (let i = 0; i < rows; i++) {
      const pool = valid(i);
      if (this.numNegatives === null || this.numNegatives >= perRow) {
        chosen.push(pool);
      } else {
        // A uniform draw without replacement (a partial Fisher-Yates shuffle).
        for (let k = 0; k < this.numNegatives; k++) {
          const j = k + Math.floor(random() * (pool.length - k));
          [pool[k], pool[j]] = [pool[j]!, pool[k]!];
        }
        chosen.push(pool.slice(0, this.numNegatives));
      }
    }
    const pairs: CrossEncoderPair[][] = [pairsWith(values, 1)];
    const count = chosen[0]?.length ?? 0;
    for (let k = 0; k < count; k++) pairs.push(queries.map((q, i) => [q, candidates[chosen[i]![k]!]!]));
    for (let c = 2; c < values.length; c++) pairs.push(pairsWith(values, c));
    return { pairs, labels: null };
  }

  override getConfigDict(): Record<string, unknown> {
    return { scale: this.scale, num_negatives: this.numNegatives, ...super.getConfigDict() };
  }
}
