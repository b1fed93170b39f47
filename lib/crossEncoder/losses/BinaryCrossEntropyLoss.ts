import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoderActivation } from "../activation.js";
import type { CrossEncoder } from "../CrossEncoder.js";
import { type CrossEncoderLabelKind, PairLoss } from "./CrossEncoderLoss.js";

export interface BinaryCrossEntropyLossOptions {
  /** Put on the logit before the loss. Default identity. */
  activationFn?: CrossEncoderActivation | string;
  /** Weight of the positive term (torch's pos_weight), e.g. negatives / positives. Default none. */
  posWeight?: number | null;
}

/** Binary cross-entropy on the (single) logit of each (text, text) pair against a 0..1 label. */
export class BinaryCrossEntropyLoss extends PairLoss {
  readonly name = "BinaryCrossEntropyLoss";
  readonly labelKind: CrossEncoderLabelKind = "probability";
  readonly posWeight: number | null;

  constructor(model: CrossEncoder, options: BinaryCrossEntropyLossOptions = {}) {
    super(model, options.activationFn, "identity", true);
    const w = options.posWeight ?? null;
    if (w !== null && (typeof w !== "number" || !Number.isFinite(w) || w <= 0)) throw new RangeError(`${this.name}: posWeight must be a positive number or null, got ${String(w)}`);
    this.posWeight = w;
  }

  nativeSpec(): NativeLossSpec {
    return { ...this.spec("CrossEncoder.BinaryCrossEntropyLoss"), ...(this.posWeight !== null && { posWeight: this.posWeight }) };
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), pos_weight: this.posWeight };
  }
}
