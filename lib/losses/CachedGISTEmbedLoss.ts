import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { GISTEmbedLoss, type GISTEmbedLossOptions } from "./GISTEmbedLoss.js";
import { checkPositiveInt } from "./Loss.js";

export interface CachedGISTEmbedLossOptions extends GISTEmbedLossOptions {
  /** Texts embedded at once; the batch itself can be much larger. Default 32. */
  miniBatchSize?: number;
}

/**
 * GISTEmbedLoss with a gradient cache, as CachedMultipleNegativesRankingLoss is to MultipleNegativesRankingLoss:
 * the whole batch takes part in the loss while only a mini-batch's activations are kept. Takes any number of
 * negative columns.
 */
export class CachedGISTEmbedLoss extends GISTEmbedLoss {
  override readonly name = "CachedGISTEmbedLoss";
  override readonly columns: readonly [number, number] = [2, Infinity];
  readonly miniBatchSize: number;

  constructor(model: SentenceTransformer, options: CachedGISTEmbedLossOptions) {
    super(model, options);
    this.miniBatchSize = checkPositiveInt(options.miniBatchSize ?? 32, "miniBatchSize", this.name);
  }

  override nativeSpec(): NativeLossSpec {
    return { ...super.nativeSpec(), miniBatchSize: this.miniBatchSize };
  }

  override getConfigDict(): Record<string, unknown> {
    const { guide, temperature, ...rest } = super.getConfigDict();
    return { guide, temperature, mini_batch_size: this.miniBatchSize, mini_batch_num_tokens: null, ...rest };
  }
}
