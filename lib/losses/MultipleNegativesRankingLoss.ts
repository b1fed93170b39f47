import type { NativeLossSpec } from "../../types/native.js";
import { checkOneOf, checkPositive, Loss, type LabelKind, type SimilarityFctName, type EmbeddingModel } from "./Loss.js";

export interface MultipleNegativesRankingLossOptions {
  /** Inverse temperature. Default 20. */
  scale?: number;
  /** "cosine" (default) or "dot" (then scale 1 is usual). */
  similarityFct?: SimilarityFctName;
  /**
   * In distributed training, every rank's positives and negatives are candidates for each anchor (as one batch of
   * worldSize × batch), gradients flowing back to the rank that embedded them. Default false.
   */
  gatherAcrossDevices?: boolean;
}

/** The losses that take gatherAcrossDevices. */
const GATHERING = ["MultipleNegativesRankingLoss", "CachedMultipleNegativesRankingLoss"];

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
  readonly gatherAcrossDevices: boolean;

  constructor(model: EmbeddingModel, options: MultipleNegativesRankingLossOptions = {}) {
    super(model);
    this.scale = checkPositive(options.scale ?? 20, "scale", new.target.name);
    this.similarityFct = checkOneOf(options.similarityFct ?? "cosine", ["cosine", "dot"], "similarityFct", new.target.name);
    const gather = options.gatherAcrossDevices ?? false;
    if (typeof gather !== "boolean") throw new TypeError(`${new.target.name}: gatherAcrossDevices must be a boolean`);
    if (gather && !GATHERING.includes(new.target.name)) throw new RangeError(`${new.target.name}: gatherAcrossDevices is taken by ${GATHERING.join(" and ")} alone`);
    this.gatherAcrossDevices = gather;
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "MultipleNegativesRankingLoss", scale: this.scale, similarity: this.similarityFct, ...(this.gatherAcrossDevices && { gatherAcrossDevices: true }) };
  }

  getConfigDict(): Record<string, unknown> {
    return { scale: this.scale, similarity_fct: this.similarityFct === "cosine" ? "cos_sim" : "dot_score" };
  }
}
