import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { DISTANCE_METRICS, checkNonNegative, checkOneOf, Loss, type DistanceMetricName, type LabelKind } from "./Loss.js";

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
    this.distanceMetric = checkOneOf(options.distanceMetric ?? "cosine", DISTANCE_METRICS, "distanceMetric", new.target.name);
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
