import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { checkNonNegative, checkOneOf, Loss, type DistanceMetricName, type LabelKind } from "./Loss.js";

const DISTANCES: readonly DistanceMetricName[] = ["cosine", "euclidean", "manhattan"];

export interface ContrastiveLossOptions {
  /** "cosine" (1 − cos, default), "euclidean" or "manhattan". */
  distanceMetric?: DistanceMetricName;
  /** Negative pairs should be at least this far apart. Default 0.5. */
  margin?: number;
  /** Mean (default) or sum over the batch. */
  sizeAverage?: boolean;
}

/** Pulls pairs labelled 1 together and pushes pairs labelled 0 beyond the margin. */
export class ContrastiveLoss extends Loss {
  readonly name: string = "ContrastiveLoss";
  readonly columns = [2, 2] as const;
  readonly labelKind: LabelKind = "binary";
  readonly distanceMetric: DistanceMetricName;
  readonly margin: number;
  readonly sizeAverage: boolean;

  constructor(model: SentenceTransformer, options: ContrastiveLossOptions = {}) {
    super(model);
    this.distanceMetric = checkOneOf(options.distanceMetric ?? "cosine", DISTANCES, "distanceMetric", new.target.name);
    this.margin = checkNonNegative(options.margin ?? 0.5, "margin", new.target.name);
    this.sizeAverage = options.sizeAverage ?? true;
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "ContrastiveLoss", distance: this.distanceMetric, margin: this.margin, sizeAverage: this.sizeAverage };
  }

  getConfigDict(): Record<string, unknown> {
    return { distance_metric: `SiameseDistanceMetric.${this.distanceMetric === "cosine" ? "COSINE_DISTANCE" : this.distanceMetric.toUpperCase()}`, margin: this.margin, size_average: this.sizeAverage };
  }
}

/** ContrastiveLoss on the hard pairs of each batch only (positives far apart, negatives close together). */
export class OnlineContrastiveLoss extends ContrastiveLoss {
  override readonly name = "OnlineContrastiveLoss";

  override nativeSpec(): NativeLossSpec {
    return { loss: "OnlineContrastiveLoss", distance: this.distanceMetric, margin: this.margin };
  }

  override getConfigDict(): Record<string, unknown> {
    const { size_average: _unused, ...rest } = super.getConfigDict();
    return rest;
  }
}

export interface TripletLossOptions {
  /** "euclidean" (default), "cosine" or "manhattan". */
  distanceMetric?: DistanceMetricName;
  /** The negative should be this much farther from the anchor than the positive. Default 5. */
  tripletMargin?: number;
}

/** (anchor, positive, negative): relu(d(a, p) − d(a, n) + margin). */
export class TripletLoss extends Loss {
  readonly name = "TripletLoss";
  readonly columns = [3, 3] as const;
  readonly labelKind: LabelKind = "none";
  readonly distanceMetric: DistanceMetricName;
  readonly tripletMargin: number;

  constructor(model: SentenceTransformer, options: TripletLossOptions = {}) {
    super(model);
    this.distanceMetric = checkOneOf(options.distanceMetric ?? "euclidean", DISTANCES, "distanceMetric", this.name);
    this.tripletMargin = checkNonNegative(options.tripletMargin ?? 5, "tripletMargin", this.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "TripletLoss", distance: this.distanceMetric, margin: this.tripletMargin };
  }

  getConfigDict(): Record<string, unknown> {
    return { distance_metric: `TripletDistanceMetric.${this.distanceMetric.toUpperCase()}`, triplet_margin: this.tripletMargin };
  }
}

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
