import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { checkPositiveInt, Loss, type LabelKind } from "./Loss.js";

export interface MegaBatchMarginLossOptions {
  /** The cosine similarity an anchor should reach with its positive. Default 0.8. */
  positiveMargin?: number;
  /** The cosine similarity an anchor's hardest in-batch negative should stay under. Default 0.3. */
  negativeMargin?: number;
  /** Embed the batch in mini-batches with a gradient cache (large batches in little memory). Default true. */
  useMiniBatchedVersion?: boolean;
  /** Texts embedded at once in the mini-batched version. Default 50. */
  miniBatchSize?: number;
}

/**
 * For (anchor, positive) pairs: each anchor's hardest negative is the most similar positive of another row, and
 * the loss asks the positive to score above `positiveMargin` and that negative below `negativeMargin` (cosine).
 * Made for very large batches, which the gradient cache keeps within memory.
 */
export class MegaBatchMarginLoss extends Loss {
  readonly name = "MegaBatchMarginLoss";
  readonly columns = [2, 2] as const;
  readonly labelKind: LabelKind = "none";
  readonly positiveMargin: number;
  readonly negativeMargin: number;
  readonly useMiniBatchedVersion: boolean;
  readonly miniBatchSize: number;

  constructor(model: SentenceTransformer, options: MegaBatchMarginLossOptions = {}) {
    super(model);
    const where = new.target.name;
    this.positiveMargin = finite(options.positiveMargin ?? 0.8, "positiveMargin", where);
    this.negativeMargin = finite(options.negativeMargin ?? 0.3, "negativeMargin", where);
    const mini = options.useMiniBatchedVersion ?? true;
    if (typeof mini !== "boolean") throw new TypeError(`${where}: useMiniBatchedVersion must be true or false, got ${String(mini)}`);
    this.useMiniBatchedVersion = mini;
    this.miniBatchSize = checkPositiveInt(options.miniBatchSize ?? 50, "miniBatchSize", where);
  }

  nativeSpec(): NativeLossSpec {
    return {
      loss: "MegaBatchMarginLoss",
      positiveMargin: this.positiveMargin,
      negativeMargin: this.negativeMargin,
      ...(this.useMiniBatchedVersion && { miniBatchSize: this.miniBatchSize }),
    };
  }

  getConfigDict(): Record<string, unknown> {
    return { positive_margin: this.positiveMargin, negative_margin: this.negativeMargin, mini_batch_size: this.miniBatchSize, mini_batch_num_tokens: null };
  }
}

function finite(value: number, name: string, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`${where}: ${name} must be a finite number, got ${String(value)}`);
  return value;
}
