import type { NativeLossSpec } from "../../types/native.js";
import { checkOneOf, Loss, type LabelKind, type EmbeddingModel } from "./Loss.js";

export interface CosineSimilarityLossOptions {
  /** Compares cos(u, v) with the label: "mse" (default) or "l1". */
  lossFct?: "mse" | "l1";
  /** Applied to cos(u, v) first: "identity" (default) or "relu". */
  cosScoreTransformation?: "identity" | "relu";
}

/** ‖label − cos(u, v)‖² over (text A, text B, score) examples; scores in [-1, 1], usually [0, 1]. */
export class CosineSimilarityLoss extends Loss {
  readonly name: string = "CosineSimilarityLoss";
  readonly columns = [2, 2] as const;
  readonly labelKind: LabelKind = "score";
  readonly lossFct: "mse" | "l1";
  readonly cosScoreTransformation: "identity" | "relu";

  constructor(model: EmbeddingModel, options: CosineSimilarityLossOptions = {}) {
    super(model);
    this.lossFct = checkOneOf(options.lossFct ?? "mse", ["mse", "l1"], "lossFct", this.name);
    this.cosScoreTransformation = checkOneOf(options.cosScoreTransformation ?? "identity", ["identity", "relu"], "cosScoreTransformation", this.name);
  }

  protected override scoreRange(): readonly [number, number] {
    return this.cosScoreTransformation === "relu" ? [0, 1] : [-1, 1];
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "CosineSimilarityLoss", lossFct: this.lossFct, cosScoreTransformation: this.cosScoreTransformation };
  }

  getConfigDict(): Record<string, unknown> {
    return { loss_fct: this.lossFct === "mse" ? "torch.nn.modules.loss.MSELoss" : "torch.nn.modules.loss.L1Loss" };
  }
}
