import type { NativeLossSpec } from "../../types/native.js";
import { checkOneOf, Loss, type EmbeddingModel, type LabelKind, type SimilarityFctName } from "./Loss.js";

export interface MarginMSELossOptions {
  /** How a query scores a passage: "dot" (default, sentence-transformers' pairwise_dot_score) or "cosine". */
  similarityFct?: SimilarityFctName;
}

/**
 * Distillation of a teacher's margins (Hofstätter et al., 2020): for (query, positive, negative…) rows, the
 * model's score of the positive minus its score of each negative should equal the teacher's. The label is either
 * the margins (a number for one negative, or one per negative) or the teacher's scores of the positive and then
 * each negative, from which the margins are taken. Mean squared error over rows and negatives.
 */
export class MarginMSELoss extends Loss {
  readonly name: string = "MarginMSELoss";
  readonly columns: readonly [number, number] = [3, Infinity];
  readonly labelKind: LabelKind = "scores";
  readonly similarityFct: SimilarityFctName;

  constructor(model: EmbeddingModel, options: MarginMSELossOptions = {}) {
    super(model);
    this.similarityFct = checkOneOf(options.similarityFct ?? "dot", ["dot", "cosine"], "similarityFct", new.target.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "MarginMSELoss", similarity: this.similarityFct };
  }

  getConfigDict(): Record<string, unknown> {
    return { similarity_fct: pairwiseName(this.similarityFct) };
  }
}

/** sentence-transformers' name of the pairwise score function. */
export function pairwiseName(fct: SimilarityFctName): string {
  return fct === "cosine" ? "pairwise_cos_sim" : "pairwise_dot_score";
}
