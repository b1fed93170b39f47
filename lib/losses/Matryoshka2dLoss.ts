import type { SentenceTransformer } from "../SentenceTransformer.js";
import { AdaptiveLayerLoss, type AdaptiveLayerLossOptions } from "./AdaptiveLayerLoss.js";
import type { Loss } from "./Loss.js";
import { MatryoshkaLoss } from "./MatryoshkaLoss.js";

export interface Matryoshka2dLossOptions extends AdaptiveLayerLossOptions {
  /** Embedding sizes to train, e.g. [768, 512, 256, 128, 64]. */
  matryoshkaDims: number[];
  /** One weight per size. Default 1 each. */
  matryoshkaWeights?: number[];
  /** Sizes trained per step, drawn at random (-1: all). Default 1. */
  nDimsPerStep?: number;
}

/**
 * 2D Matryoshka: AdaptiveLayerLoss around a MatryoshkaLoss, so that both earlier layers and shorter embeddings
 * work — sentence-transformers' Matryoshka2dLoss, with its defaults (one layer and one size per step).
 */
export class Matryoshka2dLoss extends AdaptiveLayerLoss {
  override readonly name = "Matryoshka2dLoss";
  readonly matryoshkaLoss: MatryoshkaLoss;

  constructor(model: SentenceTransformer, loss: Loss, options: Matryoshka2dLossOptions) {
    const { matryoshkaDims, matryoshkaWeights, nDimsPerStep, ...adaptive } = options ?? ({} as Matryoshka2dLossOptions);
    const matryoshka = new MatryoshkaLoss(model, loss, { matryoshkaDims, ...(matryoshkaWeights !== undefined && { matryoshkaWeights }), nDimsPerStep: nDimsPerStep ?? 1 });
    super(model, matryoshka, adaptive);
    this.matryoshkaLoss = matryoshka;
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), ...this.matryoshkaLoss.getConfigDict() };
  }
}
