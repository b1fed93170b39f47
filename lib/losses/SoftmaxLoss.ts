import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { Loss, type LabelKind } from "./Loss.js";

export interface SoftmaxLossOptions {
  /** The size of the model's sentence embeddings. Default: the model's. */
  sentenceEmbeddingDimension?: number;
  numLabels: number;
  concatenationSentRep?: boolean;
  concatenationSentDifference?: boolean;
  concatenationSentMultiplication?: boolean;
  /** Seeds the classifier's initial weights. Default 0. */
  seed?: number;
}

/** A linear classifier on (u, v, |u − v|) trained with cross-entropy, as in the original SBERT NLI training. */
export class SoftmaxLoss extends Loss {
  readonly name = "SoftmaxLoss";
  readonly columns = [2, 2] as const;
  readonly labelKind: LabelKind = "class";
  readonly numLabels: number;
  readonly sentenceEmbeddingDimension: number;
  readonly concatenationSentRep: boolean;
  readonly concatenationSentDifference: boolean;
  readonly concatenationSentMultiplication: boolean;
  readonly seed: number;

  constructor(model: SentenceTransformer, options: SoftmaxLossOptions) {
    super(model);
    if (typeof options !== "object" || options === null) throw new TypeError("SoftmaxLoss: options with numLabels are required");
    const { numLabels } = options;
    if (!Number.isInteger(numLabels) || numLabels < 2) throw new RangeError(`SoftmaxLoss: numLabels must be an integer >= 2, got ${String(numLabels)}`);
    const dim = options.sentenceEmbeddingDimension ?? model.getSentenceEmbeddingDimension();
    if (dim === undefined || !Number.isInteger(dim) || dim <= 0) throw new RangeError("SoftmaxLoss: sentenceEmbeddingDimension must be a positive integer");
    this.numLabels = numLabels;
    this.sentenceEmbeddingDimension = dim;
    this.concatenationSentRep = options.concatenationSentRep ?? true;
    this.concatenationSentDifference = options.concatenationSentDifference ?? true;
    this.concatenationSentMultiplication = options.concatenationSentMultiplication ?? false;
    if (!this.concatenationSentRep && !this.concatenationSentDifference && !this.concatenationSentMultiplication) {
      throw new RangeError("SoftmaxLoss: at least one of concatenationSentRep, concatenationSentDifference, concatenationSentMultiplication must be true");
    }
    this.seed = options.seed ?? 0;
  }

  protected override checkClass(label: number, where: string): void {
    if (label >= this.numLabels) throw new RangeError(`${where}: SoftmaxLoss has ${this.numLabels} labels (0..${this.numLabels - 1}), got ${label}`);
  }

  nativeSpec(): NativeLossSpec {
    return {
      loss: "SoftmaxLoss",
      numLabels: this.numLabels,
      embeddingDimension: this.sentenceEmbeddingDimension,
      concatRep: this.concatenationSentRep,
      concatDiff: this.concatenationSentDifference,
      concatMul: this.concatenationSentMultiplication,
      seed: this.seed,
    };
  }

  getConfigDict(): Record<string, unknown> {
    return {
      num_labels: this.numLabels,
      concatenation_sent_rep: this.concatenationSentRep,
      concatenation_sent_difference: this.concatenationSentDifference,
      concatenation_sent_multiplication: this.concatenationSentMultiplication,
    };
  }
}
