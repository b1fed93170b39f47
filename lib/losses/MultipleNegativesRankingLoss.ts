import type { NativeLossSpec } from "../../types/native.js";
import { checkOneOf, checkPositive, Loss, type LabelKind, type SimilarityFctName, type EmbeddingModel } from "./Loss.js";

export interface MultipleNegativesRankingLossOptions {
  /** Inverse temperature. Default 20. */
  scale?: number;
  /** "cosine" (default) or "dot" (then scale 1 is usual). */
  similarityFct?: SimilarityFctName;
}

/**
 * In-batch negatives (InfoNCE): each anchor must pick its own positive among every positive (and hard negative,
 * from a third and further columns) of the batch. Labels are ignored.
 */
export class MultipleNegativesRankingLoss extends Loss {
  readonly name: string = "MultipleNegativesRankingLoss";
  readonly columns: readonly [number, number] = [2, Infinity];
  readonly labelKind: LabelKind = "none";
  readonly scale: number;
  readonly similarityFct: SimilarityFctName;

  constructor(model: EmbeddingModel, options: MultipleNegativesRankingLossOptions = {}) {
    super(model);
    this.scale = checkPositive(options.scale ?? 20, "scale", new.target.name);
    this.similarityFct = checkOneOf(options.similarityFct ?? "cosine", ["cosine", "dot"], "similarityFct", new.target.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "MultipleNegativesRankingLoss", scale: this.scale, similarity: this.similarityFct };
  }

  getConfigDict(): Record<string, unknown> {
    return { scale: this.scale, similarity_fct: this.similarityFct === "cosine" ? "cos_sim" : "dot_score" };
  }
}
