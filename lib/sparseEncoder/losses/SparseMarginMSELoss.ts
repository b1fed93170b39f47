import type { SparseEncoder } from "../SparseEncoder.js";
import { MarginMSELoss, type MarginMSELossOptions } from "../../losses/MarginMSELoss.js";

/**
 * MarginMSELoss on sparse embeddings: the dot-product margin of the positive over each negative should equal the
 * teacher's. Trains only inside a SpladeLoss.
 */
export class SparseMarginMSELoss extends MarginMSELoss {
  override readonly name: string = "SparseMarginMSELoss";

  constructor(model: SparseEncoder, options: MarginMSELossOptions = {}) {
    super(model, { similarityFct: "dot", ...options });
  }
}
