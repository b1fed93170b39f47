import type { NativeLossSpec } from "../../types/native.js";
import { checkPositive, Loss, type LabelKind, type EmbeddingModel } from "./Loss.js";

export interface CoSENTLossOptions {
  /** Inverse temperature on the similarities. Default 20. */
  scale?: number;
}

/** CoSENT: for every two pairs with different scores, the higher-scored pair should have the higher cosine. */
export class CoSENTLoss extends Loss {
  readonly name: string = "CoSENTLoss";
  readonly columns = [2, 2] as const;
  readonly labelKind: LabelKind = "score";
  readonly scale: number;

  constructor(model: EmbeddingModel, options: CoSENTLossOptions = {}) {
    super(model);
    this.scale = checkPositive(options.scale ?? 20, "scale", new.target.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "CoSENTLoss", scale: this.scale };
  }

  getConfigDict(): Record<string, unknown> {
    return { scale: this.scale, similarity_fct: "pairwise_cos_sim" };
  }
}
