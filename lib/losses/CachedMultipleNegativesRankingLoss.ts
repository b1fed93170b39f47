import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { MultipleNegativesRankingLoss, type MultipleNegativesRankingLossOptions } from "./MultipleNegativesRankingLoss.js";
import { checkPositiveInt } from "./Loss.js";

export interface CachedMultipleNegativesRankingLossOptions extends MultipleNegativesRankingLossOptions {
  /** Texts embedded at once; the batch itself can be much larger. Default 32. */
  miniBatchSize?: number;
}

/**
 * MultipleNegativesRankingLoss with a gradient cache: the whole batch's embeddings take part in the loss, but only
 * a mini-batch's activations are kept in memory at a time. Same gradients, more time.
 */
export class CachedMultipleNegativesRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name = "CachedMultipleNegativesRankingLoss";
  readonly miniBatchSize: number;

  constructor(model: SentenceTransformer, options: CachedMultipleNegativesRankingLossOptions = {}) {
    super(model, options);
    this.miniBatchSize = checkPositiveInt(options.miniBatchSize ?? 32, "miniBatchSize", this.name);
  }

  override nativeSpec(): NativeLossSpec {
    return { ...super.nativeSpec(), miniBatchSize: this.miniBatchSize };
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), mini_batch_size: this.miniBatchSize };
  }
}
