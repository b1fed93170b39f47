import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { CachedMultipleNegativesRankingLoss } from "./CachedMultipleNegativesRankingLoss.js";
import type { Loss } from "./Loss.js";
import { WrapperLoss } from "./WrapperLoss.js";

export interface MatryoshkaLossOptions {
  /** Embedding sizes to train, e.g. [768, 512, 256, 128, 64]. */
  matryoshkaDims: number[];
  /** One weight per size. Default 1 each. */
  matryoshkaWeights?: number[];
  /** Train only this many randomly chosen sizes per step (-1: all). */
  nDimsPerStep?: number;
}

/** Applies another loss to the embeddings truncated to each size and sums the results, so short prefixes work too. */
export class MatryoshkaLoss extends WrapperLoss {
  readonly name = "MatryoshkaLoss";
  readonly matryoshkaDims: readonly number[];
  readonly matryoshkaWeights: readonly number[];
  readonly nDimsPerStep: number;

  constructor(model: SentenceTransformer, loss: Loss, options: MatryoshkaLossOptions) {
    super(model, loss, "MatryoshkaLoss");
    if (loss instanceof MatryoshkaLoss) throw new TypeError("MatryoshkaLoss: the inner loss cannot be a MatryoshkaLoss");
    const dims = options?.matryoshkaDims;
    if (!Array.isArray(dims) || dims.length === 0) throw new RangeError("MatryoshkaLoss: matryoshkaDims must list at least one size");
    const full = model.getSentenceEmbeddingDimension();
    for (const d of dims) {
      if (!Number.isInteger(d) || d <= 0) throw new RangeError(`MatryoshkaLoss: every size must be a positive integer, got ${String(d)}`);
      if (full !== undefined && d > full) throw new RangeError(`MatryoshkaLoss: size ${d} exceeds the model's embedding size ${full}`);
    }
    const weights = options.matryoshkaWeights ?? dims.map(() => 1);
    if (weights.length !== dims.length) throw new RangeError("MatryoshkaLoss: matryoshkaWeights must have one weight per size");
    // Largest size first, as sentence-transformers orders them.
    const order = dims.map((_, i) => i).sort((a, b) => dims[b]! - dims[a]!);
    this.matryoshkaDims = order.map((i) => dims[i]!);
    this.matryoshkaWeights = order.map((i) => weights[i]!);
    this.nDimsPerStep = options.nDimsPerStep ?? -1;
  }

  nativeSpec(): NativeLossSpec {
    return {
      ...this.loss.nativeSpec(),
      matryoshkaDims: [...this.matryoshkaDims],
      matryoshkaWeights: [...this.matryoshkaWeights],
      matryoshkaDimsPerStep: this.nDimsPerStep,
    };
  }

  getConfigDict(): Record<string, unknown> {
    return {
      loss: this.loss.name,
      matryoshka_dims: [...this.matryoshkaDims],
      matryoshka_weights: [...this.matryoshkaWeights],
      n_dims_per_step: this.nDimsPerStep,
      ...(this.loss instanceof CachedMultipleNegativesRankingLoss ? { mini_batch_size: this.loss.miniBatchSize } : {}),
    };
  }
}
