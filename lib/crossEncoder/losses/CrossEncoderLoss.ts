import type { NativeLossSpec, NativeTensorData } from "../../../types/native.js";
import { type CrossEncoderActivation, resolveActivation, TORCH_PATHS } from "../activation.js";
import type { CrossEncoder, CrossEncoderPair } from "../CrossEncoder.js";

/**
 * What a cross-encoder loss reads from the label column: nothing, one number (a 0..1 target, any score, a class), the
 * scores of a query's documents ("list"), or MarginMSE's margins (a number, or a list per negative).
 */
export type CrossEncoderLabelKind = "none" | "probability" | "score" | "class" | "list" | "margins";

/** One batch as the native loss takes it: the pair columns the model scores, and the labels. */
export interface CrossEncoderLossBatch {
  pairs: CrossEncoderPair[][];
  labels: NativeTensorData | null;
}

/**
 * A cross-encoder training objective, as sentence-transformers' `cross_encoder.losses`: it holds the model, turns a
 * batch's columns into the text pairs the model scores, and computes its loss from their logits natively.
 */
export abstract class CrossEncoderLoss {
  /** The class name, as sentence-transformers spells it. */
  abstract readonly name: string;
  /** Smallest and largest number of input columns per example. */
  abstract readonly columns: readonly [min: number, max: number];
  abstract readonly labelKind: CrossEncoderLabelKind;
  readonly activationFn: CrossEncoderActivation;

  constructor(
    readonly model: CrossEncoder,
    activationFn: CrossEncoderActivation | string | null | undefined,
    defaultActivation: CrossEncoderActivation,
    singleLabel: boolean,
  ) {
    const name = new.target.name;
    if (!model || typeof (model as { predict?: unknown }).predict !== "function" || typeof (model as { numLabels?: unknown }).numLabels !== "number") {
      throw new TypeError(`${name}: the first argument must be the CrossEncoder being trained`);
    }
    if (singleLabel && model.numLabels !== 1) throw new RangeError(`${name} needs a model with 1 output label, but the model has ${model.numLabels}`);
    this.activationFn = activationFn === undefined || activationFn === null ? (activationFn === null ? "identity" : defaultActivation) : resolveActivation(activationFn, `${name}: activationFn`);
  }

  /** The loss as the native trainer runs it. */
  abstract nativeSpec(): NativeLossSpec;

  /** The pair columns of a batch (values[c][i]: input column c of row i) and its labels. `random` draws in [0, 1). */
  abstract batch(values: unknown[][], labels: unknown[] | null, random: () => number): CrossEncoderLossBatch;

  /** The loss's options under sentence-transformers' names (for model cards and logs). */
  getConfigDict(): Record<string, unknown> {
    return { activation_fn: TORCH_PATHS[this.activationFn] };
  }

  /** Throws a TypeError naming `where` unless `value` is what input column `column` holds. */
  checkInput(value: unknown, column: number, where: string): void {
    if (typeof value !== "string") throw new TypeError(`${where}: expected text, got ${describe(value)}`);
    void column;
  }

  /** Throws a RangeError naming `where` when `label` is not one this loss can learn from. */
  checkLabel(label: unknown, where: string): void {
    const finite = (v: unknown, what = "label"): number => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`${where}: ${this.name} needs a finite number as ${what}, got ${describe(v)}`);
      return v;
    };
    switch (this.labelKind) {
      case "none":
      case "list":
      case "margins":
        return;
      case "score":
        finite(label);
        return;
      case "probability": {
        const v = finite(label);
        if (v < 0 || v > 1) throw new RangeError(`${where}: ${this.name} needs labels in [0, 1], got ${v}`);
        return;
      }
      case "class": {
        const v = finite(label);
        if (!Number.isInteger(v) || v < 0 || v >= this.model.numLabels) {
          throw new RangeError(`${where}: ${this.name} needs class labels 0..${this.model.numLabels - 1} (the model's labels), got ${v}`);
        }
        return;
      }
    }
  }

  /** Native spec fields every cross-encoder loss shares. */
  protected spec(loss: NativeLossSpec["loss"]): NativeLossSpec {
    return { loss, activation: this.activationFn };
  }

  toString(): string {
    return `${this.name}(${JSON.stringify(this.getConfigDict())})`;
  }
}

/** A loss over one (text, text) pair per row and its label: the pairs of columns 0 and 1, one label per row. */
export abstract class PairLoss extends CrossEncoderLoss {
  readonly columns = [2, 2] as const;

  batch(values: unknown[][], labels: unknown[] | null): CrossEncoderLossBatch {
    return { pairs: [pairsWith(values, 1)], labels: labelVector(labels) };
  }
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return typeof v === "number" ? String(v) : typeof v;
}

/** (query, text) pairs of column `c` against the queries of column 0. */
export function pairsWith(values: unknown[][], c: number): CrossEncoderPair[] {
  const queries = values[0] as string[];
  return (values[c] as string[]).map((t, i) => [queries[i]!, t]);
}

/** One number per row. */
export function labelVector(labels: unknown[] | null): NativeTensorData {
  return { data: Float32Array.from(labels as number[]), shape: [labels!.length] };
}

export function checkOptionalPositiveInt(v: number | null | undefined, name: string, where: string): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${where}: ${name} must be a positive integer or null, got ${String(v)}`);
  return v;
}
