import type { SparseEncoder } from "../SparseEncoder.js";
import { MultipleNegativesRankingLoss, type MultipleNegativesRankingLossOptions } from "../../losses/MultipleNegativesRankingLoss.js";

/**
 * MultipleNegativesRankingLoss on sparse embeddings: each query should score its own document above every other
 * document of the batch, by dot product at scale 1 (sparse embeddings' own similarity). Trains only inside a
 * SpladeLoss, which adds the sparsity regularizers.
 */
export class SparseMultipleNegativesRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name: string = "SparseMultipleNegativesRankingLoss";

  constructor(model: SparseEncoder, options: MultipleNegativesRankingLossOptions = {}) {
    super(model, { scale: 1, similarityFct: "dot", ...options });
  }
}
