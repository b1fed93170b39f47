import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoderActivation } from "../activation.js";
import type { CrossEncoder } from "../CrossEncoder.js";
import { type CrossEncoderLabelKind, PairLoss } from "./CrossEncoderLoss.js";

export interface MSELossOptions {
  /** Put on the logit before the loss. Default identity. */
  activationFn?: CrossEncoderActivation | string;
}

/** Mean squared error between each (text, text) pair's logit and its score: distillation from a teacher's scores. */
export class MSELoss extends PairLoss {
  readonly name = "MSELoss";
  readonly labelKind: CrossEncoderLabelKind = "score";

  constructor(model: CrossEncoder, options: MSELossOptions = {}) {
    super(model, options.activationFn, "identity", true);
  }

  nativeSpec(): NativeLossSpec {
    return this.spec("CrossEncoder.MSELoss");
  }
}
