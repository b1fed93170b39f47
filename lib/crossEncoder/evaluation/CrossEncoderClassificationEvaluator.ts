import { findBestAccAndThreshold, findBestF1AndThreshold } from "../../evaluation/BinaryClassificationEvaluator.js";
import { type CsvCell, appendCsvRow } from "../../evaluation/output.js";
import { checkPositiveInt } from "../../evaluation/SentenceEvaluator.js";
import { averagePrecision, f1Score } from "../../evaluation/stats.js";
import type { CrossEncoderPair } from "../CrossEncoder.js";
import {
  CrossEncoderEvaluator,
  type EvaluateOptions,
  type EvaluatedCrossEncoder,
  checkBoolean,
  checkModel,
  checkSentencePairs,
  checkString,
  predictRows,
  predictScores,
} from "./CrossEncoderEvaluator.js";

export interface CrossEncoderClassificationEvaluatorOptions {
  name?: string;
  /** Pairs per predict batch. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  writeCsv?: boolean;
}

const OP = "CrossEncoderClassificationEvaluator";

const BINARY_HEADERS = ["epoch", "steps", "Accuracy", "Accuracy_Threshold", "F1", "F1_Threshold", "Precision", "Recall", "Average_Precision"];
const MULTI_CLASS_HEADERS = ["epoch", "steps", "Macro_F1", "Micro_F1", "Weighted_F1"];

/** The first index of the greatest value, as numpy's argmax. */
function argmax(row: readonly number[]): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
  return best;
}

/**
 * How well a cross-encoder classifies sentence pairs (sentence-transformers' CrossEncoderClassificationEvaluator).
 * A one-label model is a binary classifier of 0/1 labels, its score thresholded: the best accuracy and F1 over
 * thresholds between consecutive scores, with their thresholds, precision and recall at the best F1, and average
 * precision (primary). A model with more labels predicts the label of its highest score: F1 macro (primary),
 * micro and weighted. Which applies is known once `evaluate` sees the model; so are `primaryMetric` and
 * `csvHeaders`.
 */
export class CrossEncoderClassificationEvaluator extends CrossEncoderEvaluator {
  readonly sentencePairs: CrossEncoderPair[];
  readonly labels: number[];
  readonly name: string;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly csvFile: string;
  csvHeaders: string[] = [];

  /** `labels`: one non-negative integer class per pair (0/1 for one-label models; booleans are read as 0/1). */
  constructor(sentencePairs: CrossEncoderPair[], labels: Array<number | boolean>, options: CrossEncoderClassificationEvaluatorOptions = {}) {
    super();
    this.sentencePairs = checkSentencePairs(sentencePairs, OP);
    if (!Array.isArray(labels)) throw new TypeError(`${OP}: labels must be an array of integers`);
    this.labels = labels.map((l, i) => {
      if (typeof l === "boolean") return Number(l);
      if (typeof l !== "number" || !Number.isInteger(l) || l < 0) throw new RangeError(`${OP}: labels[${i}] must be a non-negative integer, got ${JSON.stringify(l)}`);
      return l;
    });
    if (this.labels.length !== this.sentencePairs.length) {
      throw new RangeError(`${OP}: sentencePairs has ${this.sentencePairs.length} entries but labels has ${this.labels.length}`);
    }
    if (this.labels.length === 0) throw new RangeError(`${OP}: sentencePairs and labels are empty`);
    this.name = checkString(options.name ?? "", OP, "name");
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, OP, "batchSize");
    this.showProgressBar = checkBoolean(options.showProgressBar ?? false, OP, "showProgressBar");
    this.writeCsv = checkBoolean(options.writeCsv ?? true, OP, "writeCsv");
    this.csvFile = `CrossEncoderClassificationEvaluator${this.name ? `_${this.name}` : ""}_results.csv`;
  }

  override async evaluate(model: EvaluatedCrossEncoder, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkModel(model, OP);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const settings = { batchSize: this.batchSize, showProgressBar: this.showProgressBar };
    let metrics: Record<string, number>;
    let row: CsvCell[];
    if (model.numLabels === 1) {
      const bad = this.labels.findIndex((l) => l !== 0 && l !== 1);
      if (bad !== -1) throw new RangeError(`${OP}: a one-label model classifies 0/1 labels, but labels[${bad}] is ${this.labels[bad]}`);
      const scores = await predictScores(model, this.sentencePairs, settings, OP);
      const acc = findBestAccAndThreshold(scores, this.labels, true);
      const f1 = findBestF1AndThreshold(scores, this.labels, true);
      // A threshold is the midpoint of two float32 scores, computed in float32; -1 and 0 when no split helps.
      const accThreshold = acc.improved ? Math.fround(acc.threshold) : acc.threshold;
      const f1Threshold = f1.improved ? Math.fround(f1.threshold) : f1.threshold;
      metrics = {
        accuracy: acc.accuracy,
        accuracy_threshold: accThreshold,
        f1: f1.f1,
        f1_threshold: f1Threshold,
        precision: f1.precision,
        recall: f1.recall,
        average_precision: averagePrecision(this.labels, scores),
      };
      this.csvHeaders = [...BINARY_HEADERS];
      this.primaryMetric = "average_precision";
      // The CSV shows each value as Python holds it: untouched initial values as ints, thresholds as float32.
      const kept = (improved: boolean, v: number): CsvCell => (improved ? v : { int: v });
      row = [
        kept(acc.improved, acc.accuracy),
        acc.improved ? { float32: accThreshold } : { int: accThreshold },
        kept(f1.improved, f1.f1),
        f1.improved ? { float32: f1Threshold } : { int: f1Threshold },
        kept(f1.improved, f1.precision),
        kept(f1.improved, f1.recall),
        metrics["average_precision"]!,
      ];
    } else {
      const rows = await predictRows(model, this.sentencePairs, settings, OP);
      const predicted = rows.map(argmax);
      metrics = {
        f1_macro: f1Score(this.labels, predicted, "macro"),
        f1_micro: f1Score(this.labels, predicted, "micro"),
        f1_weighted: f1Score(this.labels, predicted, "weighted"),
      };
      this.csvHeaders = [...MULTI_CLASS_HEADERS];
      this.primaryMetric = "f1_macro";
      row = [metrics["f1_macro"]!, metrics["f1_micro"]!, metrics["f1_weighted"]!];
    }
    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, [{ int: epoch }, { int: steps }, ...row], "\r\n");
    }
    return this.prefixNameToMetrics(metrics, this.name);
  }
}
