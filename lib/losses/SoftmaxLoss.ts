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

/** SoftmaxLoss's linear classifier, as torch's nn.Linear holds it: `weight` row-major [outFeatures, inFeatures]. */
export interface SoftmaxClassifier {
  weight: Float32Array;
  bias: Float32Array;
  inFeatures: number;
  outFeatures: number;
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
  #classifier: SoftmaxClassifier | undefined;

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

  /** Features the classifier reads: the embedding dimension times the number of concatenated vectors. */
  get classifierInFeatures(): number {
    const vectors = (this.concatenationSentRep ? 2 : 0) + (this.concatenationSentDifference ? 1 : 0) + (this.concatenationSentMultiplication ? 1 : 0);
    return vectors * this.sentenceEmbeddingDimension;
  }

  /**
   * The classifier as the trainer last left it (refreshed before each evaluation and at the end of training);
   * undefined before this loss has been trained with.
   */
  get classifier(): SoftmaxClassifier | undefined {
    return this.#classifier;
  }

  /** Takes the classifier's weights as the native trainer holds them (`weight`, `bias`). */
  loadHeadState(tensors: readonly { name: string; shape: readonly number[]; data: Float32Array }[]): void {
    const inFeatures = this.classifierInFeatures;
    const outFeatures = this.numLabels;
    const find = (name: string, shape: number[]): Float32Array => {
      const t = tensors.find((x) => x.name === name);
      if (t === undefined || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new RangeError(`SoftmaxLoss: the classifier's ${name} must have shape [${shape.join(", ")}], got ${t === undefined ? "none" : `[${t.shape.join(", ")}]`}`);
      }
      return Float32Array.from(t.data);
    };
    this.#classifier = { weight: find("weight", [outFeatures, inFeatures]), bias: find("bias", [outFeatures]), inFeatures, outFeatures };
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
