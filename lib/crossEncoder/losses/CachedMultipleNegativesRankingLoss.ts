import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoder } from "../CrossEncoder.js";
import { MultipleNegativesRankingLoss, type MultipleNegativesRankingLossOptions } from "./MultipleNegativesRankingLoss.js";
import { checkPositiveInt } from "../../losses/Loss.js";

export interface CachedMultipleNegativesRankingLossOptions extends MultipleNegativesRankingLossOptions {
  /** Pairs scored at once; the batch itself can be much larger. Default 32. */
  miniBatchSize?: number;
}

/**
 * MultipleNegativesRankingLoss with a gradient cache: every pair of the batch takes part in the loss, but only a
 * mini-batch's activations are held at a time (each mini-batch is run twice). Same gradients, less memory.
 */
export class CachedMultipleNegativesRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name = "CachedMultipleNegativesRankingLoss";
  readonly miniBatchSize: number;

  constructor(model: CrossEncoder, options: CachedMultipleNegativesRankingLossOptions = {}) {
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
