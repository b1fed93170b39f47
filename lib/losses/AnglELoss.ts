import type { NativeLossSpec } from "../../types/native.js";
import { CoSENTLoss } from "./CoSENTLoss.js";

/** AnglE: CoSENT on the angle difference of the embeddings seen as complex vectors. */
export class AnglELoss extends CoSENTLoss {
  override readonly name: string = "AnglELoss";

  override nativeSpec(): NativeLossSpec {
    return { loss: "AnglELoss", scale: this.scale };
  }

  override getConfigDict(): Record<string, unknown> {
    return { scale: this.scale, similarity_fct: "pairwise_angle_sim" };
  }
}
