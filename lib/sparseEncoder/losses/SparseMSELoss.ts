import type { SparseEncoder } from "../SparseEncoder.js";
import { MSELoss } from "../../losses/MSELoss.js";

/** MSELoss on sparse embeddings: each column's embedding should equal the label (a teacher's). Trains only inside a SpladeLoss. */
export class SparseMSELoss extends MSELoss {
  override readonly name: string = "SparseMSELoss";

  constructor(model: SparseEncoder) {
    super(model);
  }
}
