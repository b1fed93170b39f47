import type { NativeLossSpec, NativeTensorData, NativeTokenBatch } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import type { SparseEncoder } from "../sparseEncoder/SparseEncoder.js";

/** A model whose sentence embeddings a loss trains: a SentenceTransformer, or a SparseEncoder (dense over its vocabulary). */
export type EmbeddingModel = SentenceTransformer | SparseEncoder;

/**
 * What a loss reads from InputExample.label. "scores": a number or a list of numbers per row (a teacher's scores or
 * margins), all rows of a batch the same length.
 */
export type LabelKind = "none" | "score" | "binary" | "class" | "embedding" | "scores";

export type Label = number | number[] | Float32Array;

/**
 * A training objective, as in sentence-transformers: it holds the model and computes its loss from the sentence
 * embeddings of each text column. The math runs natively; this class carries the options and checks the data.
 */
export abstract class Loss {
  /** The class name, as sentence-transformers spells it. */
  abstract readonly name: string;
  /** Smallest and largest number of texts per example. */
  abstract readonly columns: readonly [min: number, max: number];
  abstract readonly labelKind: LabelKind;

  constructor(readonly model: EmbeddingModel) {
    if (!model || typeof (model as { encode?: unknown }).encode !== "function") {
      throw new TypeError(`${new.target.name}: the first argument must be the model being trained (a SentenceTransformer or SparseEncoder)`);
    }
  }

  /** The loss as the native trainer runs it. */
  abstract nativeSpec(): NativeLossSpec;

  /**
   * Labels the loss computes itself from each batch's token batches, in place of the dataset's (GISTEmbedLoss: its
   * guide model's embeddings). Left out: the dataset's labels.
   */
  batchLabels?(columns: NativeTokenBatch[]): Promise<NativeTensorData>;

  /** The loss's options under sentence-transformers' names (for model cards and logs). */
  abstract getConfigDict(): Record<string, unknown>;

  /** Score labels outside this range are refused. */
  protected scoreRange(): readonly [number, number] {
    return [-Infinity, Infinity];
  }

  /** Throws a RangeError naming `where` when `label` is not one this loss can learn from. */
  checkLabel(label: Label, where: string): void {
    const scalar = (): number => {
      if (typeof label !== "number") throw new RangeError(`${where}: ${this.name} needs a number label, got ${describe(label)}`);
      if (!Number.isFinite(label)) throw new RangeError(`${where}: label ${label} is not a finite number`);
      return label;
    };
    switch (this.labelKind) {
      case "none":
        return;
      case "score": {
        const v = scalar();
        const [lo, hi] = this.scoreRange();
        if (v < lo || v > hi) throw new RangeError(`${where}: ${this.name} needs labels in [${lo}, ${hi}], got ${v}`);
        return;
      }
      case "binary": {
        const v = scalar();
        if (v !== 0 && v !== 1) throw new RangeError(`${where}: ${this.name} needs labels 0 or 1, got ${v}`);
        return;
      }
      case "class": {
        const v = scalar();
        if (!Number.isInteger(v) || v < 0) throw new RangeError(`${where}: ${this.name} needs class labels (integers >= 0), got ${v}`);
        this.checkClass(v, where);
        return;
      }
      case "embedding": {
        if (typeof label === "number") throw new RangeError(`${where}: ${this.name} needs a target embedding as label, got a number`);
        const dim = this.model.getSentenceEmbeddingDimension();
        if (dim !== undefined && label.length !== dim) {
          throw new RangeError(`${where}: the target embedding has ${label.length} values but the model's embeddings have ${dim}`);
        }
        for (const v of label) if (!Number.isFinite(v)) throw new RangeError(`${where}: the target embedding holds ${v}`);
        return;
      }
      case "scores": {
        const values = typeof label === "number" ? [label] : label;
        if (!(Array.isArray(values) || values instanceof Float32Array) || values.length === 0) {
          throw new RangeError(`${where}: ${this.name} needs a number or a non-empty list of numbers as label, got ${describe(label)}`);
        }
        for (const v of values) if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`${where}: ${this.name} needs finite numbers as label, got ${String(v)}`);
        return;
      }
    }
  }

  protected checkClass(_label: number, _where: string): void {}

  toString(): string {
    return `${this.name}(${JSON.stringify(this.getConfigDict())})`;
  }
}

export function describe(v: unknown): string {
  if (Array.isArray(v) || v instanceof Float32Array) return `a list of ${v.length} values`;
  if (v === null) return "null";
  return typeof v === "number" ? String(v) : typeof v;
}

export type SimilarityFctName = "cosine" | "dot";
export type DistanceMetricName = "cosine" | "euclidean" | "manhattan";
export const DISTANCE_METRICS: readonly DistanceMetricName[] = ["cosine", "euclidean", "manhattan"];

export function checkPositive(value: number, name: string, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new RangeError(`${where}: ${name} must be a positive number, got ${String(value)}`);
  return value;
}

export function checkPositiveInt(value: number, name: string, where: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${where}: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

export function checkNonNegative(value: number, name: string, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new RangeError(`${where}: ${name} must be a number >= 0, got ${String(value)}`);
  return value;
}

export function checkOneOf<T extends string>(value: T, allowed: readonly T[], name: string, where: string): T {
  if (!allowed.includes(value)) throw new RangeError(`${where}: ${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return value;
}
