import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { checkOneOf, checkPositive, Loss, type LabelKind, type SimilarityFctName } from "./Loss.js";

export interface MultipleNegativesRankingLossOptions {
  /** Inverse temperature. Default 20. */
  scale?: number;
  /** "cosine" (default) or "dot" (then scale 1 is usual). */
  similarityFct?: SimilarityFctName;
}

/**
 * In-batch negatives (InfoNCE): each anchor must pick its own positive among every positive (and hard negative,
 * from a third and further columns) of the batch. Labels are ignored.
 */
export class MultipleNegativesRankingLoss extends Loss {
  readonly name: string = "MultipleNegativesRankingLoss";
  readonly columns: readonly [number, number] = [2, Infinity];
  readonly labelKind: LabelKind = "none";
  readonly scale: number;
  readonly similarityFct: SimilarityFctName;

  constructor(model: SentenceTransformer, options: MultipleNegativesRankingLossOptions = {}) {
    super(model);
    this.scale = checkPositive(options.scale ?? 20, "scale", new.target.name);
    this.similarityFct = checkOneOf(options.similarityFct ?? "cosine", ["cosine", "dot"], "similarityFct", new.target.name);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "MultipleNegativesRankingLoss", scale: this.scale, similarity: this.similarityFct };
  }

  getConfigDict(): Record<string, unknown> {
    return { scale: this.scale, similarity_fct: this.similarityFct === "cosine" ? "cos_sim" : "dot_score" };
  }
}

/** MultipleNegativesRankingLoss plus the reverse direction: each positive must also pick its anchor. */
export class MultipleNegativesSymmetricRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name = "MultipleNegativesSymmetricRankingLoss";

  override nativeSpec(): NativeLossSpec {
    return { ...super.nativeSpec(), loss: "MultipleNegativesSymmetricRankingLoss" };
  }
}

export interface CachedMultipleNegativesRankingLossOptions extends MultipleNegativesRankingLossOptions {
  /** Texts embedded at once; the batch itself can be much larger. Default 32. */
  miniBatchSize?: number;
}

/**
 * MultipleNegativesRankingLoss with a gradient cache: the whole batch's embeddings take part in the loss, but only
 * a mini-batch's activations are kept in memory at a time. Same gradients, more time.
 */
export class CachedMultipleNegativesRankingLoss extends MultipleNegativesRankingLoss {
  override readonly name = "CachedMultipleNegativesRankingLoss";
  readonly miniBatchSize: number;

  constructor(model: SentenceTransformer, options: CachedMultipleNegativesRankingLossOptions = {}) {
    super(model, options);
    const mb = options.miniBatchSize ?? 32;
    if (!Number.isInteger(mb) || mb <= 0) throw new RangeError(`${this.name}: miniBatchSize must be a positive integer, got ${String(mb)}`);
    this.miniBatchSize = mb;
  }

  override nativeSpec(): NativeLossSpec {
    return { ...super.nativeSpec(), miniBatchSize: this.miniBatchSize };
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), mini_batch_size: this.miniBatchSize };
  }
}
