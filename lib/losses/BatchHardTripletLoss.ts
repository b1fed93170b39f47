import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { checkNonNegative, checkOneOf, Loss, type LabelKind } from "./Loss.js";

export interface BatchHardTripletLossOptions {
  /** "euclidean" (default) or "cosine". */
  distanceMetric?: "euclidean" | "cosine";
  /** Default 5. */
  margin?: number;
}

/**
 * One text per example and a class label: every text is an anchor against the farthest text of its class and the
 * closest text of another class in the batch.
 */
export class BatchHardTripletLoss extends Loss {
  readonly name = "BatchHardTripletLoss";
  readonly columns = [1, 1] as const;
  readonly labelKind: LabelKind = "class";
  readonly distanceMetric: "euclidean" | "cosine";
  readonly margin: number;

  constructor(model: SentenceTransformer, options: BatchHardTripletLossOptions = {}) {
    super(model);
    this.distanceMetric = checkOneOf(options.distanceMetric ?? "euclidean", ["euclidean", "cosine"], "distanceMetric", this.name);
    this.margin = checkNonNegative(options.margin ?? 5, "margin", this.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "BatchHardTripletLoss", distance: this.distanceMetric, margin: this.margin };
  }

  getConfigDict(): Record<string, unknown> {
    return { distance_metric: this.distanceMetric === "cosine" ? "cosine_distance" : "eucledian_distance", margin: this.margin };
  }
}
