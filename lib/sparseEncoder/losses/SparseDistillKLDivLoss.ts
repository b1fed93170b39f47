import type { SparseEncoder } from "../SparseEncoder.js";
import { DistillKLDivLoss, type DistillKLDivLossOptions } from "../../losses/DistillKLDivLoss.js";

/**
 * DistillKLDivLoss on sparse embeddings: dot-product scores and, as sentence-transformers' sparse version,
 * temperature 2 by default. Trains only inside a SpladeLoss.
 */
export class SparseDistillKLDivLoss extends DistillKLDivLoss {
  override readonly name: string = "SparseDistillKLDivLoss";

  constructor(model: SparseEncoder, options: DistillKLDivLossOptions = {}) {
    super(model, { similarityFct: "dot", temperature: 2, ...options });
  }
}
