import type { NativeLossSpec } from "../../types/native.js";
import { DISTANCE_METRICS, checkNonNegative, checkOneOf, Loss, type DistanceMetricName, type LabelKind, type EmbeddingModel } from "./Loss.js";

export interface TripletLossOptions {
  /** "euclidean" (default), "cosine" or "manhattan". */
  distanceMetric?: DistanceMetricName;
  /** The negative should be this much farther from the anchor than the positive. Default 5. */
  tripletMargin?: number;
}

/** (anchor, positive, negative): relu(d(a, p) − d(a, n) + margin). */
export class TripletLoss extends Loss {
  readonly name: string = "TripletLoss";
  readonly columns = [3, 3] as const;
  readonly labelKind: LabelKind = "none";
  readonly distanceMetric: DistanceMetricName;
  readonly tripletMargin: number;

  constructor(model: EmbeddingModel, options: TripletLossOptions = {}) {
    super(model);
    this.distanceMetric = checkOneOf(options.distanceMetric ?? "euclidean", DISTANCE_METRICS, "distanceMetric", this.name);
    this.tripletMargin = checkNonNegative(options.tripletMargin ?? 5, "tripletMargin", this.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "TripletLoss", distance: this.distanceMetric, margin: this.tripletMargin };
  }

  getConfigDict(): Record<string, unknown> {
    return { distance_metric: `TripletDistanceMetric.${this.distanceMetric.toUpperCase()}`, triplet_margin: this.tripletMargin };
  }
}
