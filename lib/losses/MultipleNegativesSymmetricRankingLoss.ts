import type { NativeLossSpec } from "../../types/native.js";
import { MultipleNegativesRankingLoss } from "./MultipleNegativesRankingLoss.js";

/** MultipleNegativesRankingLoss plus the reverse direction: each positive must also pick its anchor. */
export class MultipleNegativesSymmetricRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name = "MultipleNegativesSymmetricRankingLoss";

  override nativeSpec(): NativeLossSpec {
    return { ...super.nativeSpec(), loss: "MultipleNegativesSymmetricRankingLoss" };
  }
}
