import type { SparseEncoder } from "../SparseEncoder.js";
import { CoSENTLoss, type CoSENTLossOptions } from "../../losses/CoSENTLoss.js";

/** CoSENTLoss on sparse embeddings (cosine of the pairs, scale 20). Trains only inside a SpladeLoss. */
export class SparseCoSENTLoss extends CoSENTLoss {
  override readonly name: string = "SparseCoSENTLoss";

  constructor(model: SparseEncoder, options: CoSENTLossOptions = {}) {
    super(model, options);
  }
}
