import { SbertError } from "../../errors.js";
import type { SparseEncoder } from "../SparseEncoder.js";

export interface FlopsLossOptions {
  /** Only embeddings with more than this many active (non-zero) values count. Default: all. */
  threshold?: number;
}

/**
 * The FLOPS regularizer: the squared L2 norm of the batch's mean embedding, which pushes each vocabulary entry to
 * zero in most texts (fewer operations at search time). It is a part of SpladeLoss, not a loss of its own.
 */
export class FlopsLoss {
  readonly name = "FlopsLoss";
  readonly threshold: number | undefined;

  constructor(
    readonly model: SparseEncoder,
    options: FlopsLossOptions = {},
  ) {
    const t = options.threshold;
    if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t) || t < 0)) {
      throw new RangeError(`FlopsLoss: threshold must be a number >= 0, got ${String(t)}`);
    }
    this.threshold = t;
  }

  /** Refused: FlopsLoss regularizes inside SpladeLoss. */
  nativeSpec(): never {
    throw new SbertError("ERR_INPUT", "FlopsLoss is not a training loss of its own: use it as a regularizer of SpladeLoss", { op: "FlopsLoss" });
  }

  getConfigDict(): Record<string, unknown> {
    return { threshold: this.threshold ?? null };
  }
}
