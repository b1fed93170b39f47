import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoder } from "../CrossEncoder.js";
import { checkOptionalPositiveInt } from "./CrossEncoderLoss.js";
import { ListwiseLoss, type ListwiseLossOptions } from "./ListNetLoss.js";

/** LambdaLoss's weighting schemes, by sentence-transformers' class names; null weighs every pair 1. */
export const LAMBDA_WEIGHTING_SCHEMES = ["NDCGLoss1Scheme", "NDCGLoss2Scheme", "LambdaRankScheme", "NDCGLoss2PPScheme"] as const;
export type LambdaWeightingScheme = (typeof LAMBDA_WEIGHTING_SCHEMES)[number];

export interface LambdaLossOptions extends ListwiseLossOptions {
  /** Default NDCGLoss2PPScheme. */
  weightingScheme?: LambdaWeightingScheme | null;
  /** NDCGLoss2PPScheme's weight of its NDCGLoss2 part. Default 10. */
  mu?: number;
  /** Only pairs among the top k positions count (NDCG@k). Default all. */
  k?: number | null;
  /** Steepness of the pairwise sigmoid. Default 1. */
  sigma?: number;
  eps?: number;
  /** Logarithm of the loss. Default "binary". */
  reductionLog?: "natural" | "binary";
}

/** LambdaLoss: pairwise logistic losses of each query's documents, weighted by how much swapping them moves NDCG. */
export class LambdaLoss extends ListwiseLoss {
  readonly name = "LambdaLoss";
  readonly weightingScheme: LambdaWeightingScheme | null;
  readonly mu: number;
  readonly k: number | null;
  readonly sigma: number;
  readonly eps: number;
  readonly reductionLog: "natural" | "binary";

  constructor(model: CrossEncoder, options: LambdaLossOptions = {}) {
    super(model, options);
    const scheme = options.weightingScheme === undefined ? "NDCGLoss2PPScheme" : options.weightingScheme;
    if (scheme !== null && !LAMBDA_WEIGHTING_SCHEMES.includes(scheme)) {
      throw new RangeError(`${this.name}: weightingScheme must be one of ${LAMBDA_WEIGHTING_SCHEMES.join(", ")} or null, got ${JSON.stringify(scheme)}`);
    }
    this.weightingScheme = scheme;
    const positive = (v: number, name: string) => {
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new RangeError(`${this.name}: ${name} must be a positive number, got ${String(v)}`);
      return v;
    };
    this.mu = positive(options.mu ?? 10, "mu");
    this.k = checkOptionalPositiveInt(options.k, "k", this.name);
    this.sigma = positive(options.sigma ?? 1, "sigma");
    this.eps = positive(options.eps ?? 1e-10, "eps");
    const log = options.reductionLog ?? "binary";
    if (log !== "natural" && log !== "binary") throw new RangeError(`${this.name}: reductionLog must be "natural" or "binary", got ${JSON.stringify(log)}`);
    this.reductionLog = log;
  }

  nativeSpec(): NativeLossSpec {
    return {
      ...this.spec("CrossEncoder.LambdaLoss"),
      weightingScheme: this.weightingScheme ?? "none",
      mu: this.mu,
      ...(this.k !== null && { k: this.k }),
      sigma: this.sigma,
      eps: this.eps,
      reductionLog: this.reductionLog,
    };
  }

  override getConfigDict(): Record<string, unknown> {
    const { activation_fn, mini_batch_size } = super.getConfigDict();
    const scheme = this.weightingScheme === null ? "sentence_transformers.cross_encoder.losses.lambda_loss.NoWeightingScheme" : `sentence_transformers.cross_encoder.losses.lambda_loss.${this.weightingScheme}`;
    return { weighting_scheme: scheme, k: this.k, sigma: this.sigma, eps: this.eps, reduction_log: this.reductionLog, activation_fn, mini_batch_size };
  }
}
