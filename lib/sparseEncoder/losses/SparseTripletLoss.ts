import type { SparseEncoder } from "../SparseEncoder.js";
import { TripletLoss, type TripletLossOptions } from "../../losses/TripletLoss.js";

/** TripletLoss on sparse embeddings: relu(d(a, p) − d(a, n) + margin). Trains only inside a SpladeLoss. */
export class SparseTripletLoss extends TripletLoss {
  override readonly name: string = "SparseTripletLoss";

  constructor(model: SparseEncoder, options: TripletLossOptions = {}) {
    super(model, options);
  }
}
