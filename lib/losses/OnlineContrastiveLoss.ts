import type { NativeLossSpec } from "../../types/native.js";
import { ContrastiveLoss } from "./ContrastiveLoss.js";

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
