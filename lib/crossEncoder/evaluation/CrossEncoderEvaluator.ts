/**
 * What the cross-encoder evaluators share: the model they need (anything with `predict` and `numLabels`, as a
 * CrossEncoder), the base class with the primary metric and name prefixing, and the checks of their inputs.
 */
import { type EvaluateOptions, prefixMetrics } from "../../evaluation/SentenceEvaluator.js";
import type { CrossEncoderPair } from "../CrossEncoder.js";

export type { EvaluateOptions };

/** What the cross-encoder evaluators need of a model (a CrossEncoder has it). */
export interface EvaluatedCrossEncoder {
  /** The classifier's label count: one gives a score per pair, more give a row of scores per pair. */
  readonly numLabels: number;
  /** Scores after the model's activation: number[] with one label, number[][] (one row per pair) otherwise. */
  predict(pairs: CrossEncoderPair[], options?: { batchSize?: number; showProgressBar?: boolean }): Promise<number[] | number[][]>;
}

/**
 * Base of the cross-encoder evaluators, as sentence-transformers' evaluators: `evaluate` returns a metrics object
 * whose keys carry the evaluator's name as prefix, and `primaryMetric` is the key used for model selection.
 */
export abstract class CrossEncoderEvaluator {
  /** Whether a higher primary metric is better. */
  greaterIsBetter = true;
  /**
   * The key of the primary metric in the object `evaluate` returns, name prefix included: set by the constructor
   * where its arguments tell it, else by `evaluate` ("" until then).
   */
  primaryMetric = "";

  abstract evaluate(model: EvaluatedCrossEncoder, options?: EvaluateOptions): Promise<Record<string, number>>;

  /** Prefixes every key with `name_` (when `name` is set), and the primary metric too if it is not yet. */
  prefixNameToMetrics(metrics: Record<string, number>, name: string): Record<string, number> {
    return prefixMetrics(this, metrics, name);
  }

  /** A human-readable name for model cards: CrossEncoderRerankingEvaluator → "Cross Encoder Reranking". */
  get description(): string {
    return this.constructor.name.replace(/Evaluator.*$/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  }

  /** Configuration values worth recording in a model card (snake_case keys, as in Python). */
  getConfigDict(): Record<string, unknown> {
    return {};
  }
}

// ---- checks shared by the evaluators ----

export function checkString(value: unknown, op: string, arg: string): string {
  if (typeof value !== "string") throw new TypeError(`${op}: ${arg} must be a string, got ${value === null ? "null" : typeof value}`);
  return value;
}

export function checkSentencePairs(pairs: unknown, op: string): CrossEncoderPair[] {
  if (!Array.isArray(pairs)) throw new TypeError(`${op}: sentencePairs must be an array of [string, string] pairs`);
  pairs.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || typeof p[1] !== "string") {
      throw new TypeError(`${op}: sentencePairs[${i}] must be a [string, string] pair`);
    }
  });
  return (pairs as CrossEncoderPair[]).map(([a, b]) => [a, b]);
}

export function checkBoolean(value: unknown, op: string, arg: string): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${op}: ${arg} must be a boolean, got ${value === null ? "null" : typeof value}`);
  return value;
}

export function checkModel(model: EvaluatedCrossEncoder, op: string): void {
  if (!model || typeof model.predict !== "function") throw new TypeError(`${op}: model must have a predict method`);
  if (!Number.isInteger(model.numLabels) || model.numLabels < 1) throw new TypeError(`${op}: model.numLabels must be a positive integer, got ${String(model.numLabels)}`);
}

export interface PredictSettings {
  batchSize: number;
  showProgressBar: boolean;
}

/** One score per pair from a one-label model, checked. */
export async function predictScores(model: EvaluatedCrossEncoder, pairs: CrossEncoderPair[], settings: PredictSettings, op: string): Promise<number[]> {
  if (model.numLabels !== 1) throw new RangeError(`${op}: needs a model with one label (one score per pair); this one has ${model.numLabels}`);
  if (pairs.length === 0) return [];
  const scores = await model.predict(pairs, settings);
  if (!Array.isArray(scores) || scores.length !== pairs.length) {
    throw new TypeError(`${op}: model.predict returned ${Array.isArray(scores) ? scores.length : "no"} scores for ${pairs.length} pairs`);
  }
  scores.forEach((s, i) => {
    if (typeof s !== "number") throw new TypeError(`${op}: model.predict returned a non-number score at index ${i}`);
  });
  return scores as number[];
}

/** One row of numLabels scores per pair from a model with several labels, checked. */
export async function predictRows(model: EvaluatedCrossEncoder, pairs: CrossEncoderPair[], settings: PredictSettings, op: string): Promise<number[][]> {
  const rows = await model.predict(pairs, settings);
  if (!Array.isArray(rows) || rows.length !== pairs.length) {
    throw new TypeError(`${op}: model.predict returned ${Array.isArray(rows) ? rows.length : "no"} rows for ${pairs.length} pairs`);
  }
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== model.numLabels || r.some((x) => typeof x !== "number")) {
      throw new TypeError(`${op}: model.predict returned no row of ${model.numLabels} numbers at index ${i}`);
    }
  });
  return rows as number[][];
}
