import type { SparseEncoder } from "../SparseEncoder.js";
import type { CoSENTLossOptions } from "../../losses/CoSENTLoss.js";
import { AnglELoss } from "../../losses/AnglELoss.js";

/** AnglELoss on sparse embeddings (angle difference of the pairs, scale 20). Trains only inside a SpladeLoss. */
export class SparseAnglELoss extends AnglELoss {
  override readonly name: string = "SparseAnglELoss";

  constructor(model: SparseEncoder, options: CoSENTLossOptions = {}) {
    super(model, options);
  }
}
