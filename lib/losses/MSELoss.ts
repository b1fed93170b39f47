import type { NativeLossSpec } from "../../types/native.js";
import { Loss, type LabelKind } from "./Loss.js";

/**
 * Distillation: the student's embedding of every text column should equal the label, a teacher's embedding
 * (e.g. of the source sentence, for multilingual training).
 */
export class MSELoss extends Loss {
  readonly name: string = "MSELoss";
  readonly columns = [1, Infinity] as const;
  readonly labelKind: LabelKind = "embedding";

  nativeSpec(): NativeLossSpec {
    return { loss: "MSELoss" };
  }

  getConfigDict(): Record<string, unknown> {
    return {};
  }
}
