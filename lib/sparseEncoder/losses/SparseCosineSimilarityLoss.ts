import type { SparseEncoder } from "../SparseEncoder.js";
import { CosineSimilarityLoss, type CosineSimilarityLossOptions } from "../../losses/CosineSimilarityLoss.js";

/** CosineSimilarityLoss on sparse embeddings: ‖label − cos(u, v)‖². Trains only inside a SpladeLoss. */
export class SparseCosineSimilarityLoss extends CosineSimilarityLoss {
  override readonly name: string = "SparseCosineSimilarityLoss";

  constructor(model: SparseEncoder, options: CosineSimilarityLossOptions = {}) {
    super(model, options);
  }
}
