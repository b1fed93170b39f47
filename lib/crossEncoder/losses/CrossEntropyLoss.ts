import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoderActivation } from "../activation.js";
import type { CrossEncoder } from "../CrossEncoder.js";
import { type CrossEncoderLabelKind, PairLoss } from "./CrossEncoderLoss.js";

export interface CrossEntropyLossOptions {
  /** Put on the logits before the loss. Default identity. */
  activationFn?: CrossEncoderActivation | string;
}

/** Cross-entropy over the model's labels for each (text, text) pair against its class (0..numLabels - 1). */
export class CrossEntropyLoss extends PairLoss {
  readonly name = "CrossEntropyLoss";
  readonly labelKind: CrossEncoderLabelKind = "class";

  constructor(model: CrossEncoder, options: CrossEntropyLossOptions = {}) {
    super(model, options.activationFn, "identity", false);
  }

  nativeSpec(): NativeLossSpec {
    return this.spec("CrossEncoder.CrossEntropyLoss");
  }
}
