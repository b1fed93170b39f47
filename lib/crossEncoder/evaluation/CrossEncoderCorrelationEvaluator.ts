import { type CsvCell, appendCsvRow } from "../../evaluation/output.js";
import { checkPositiveInt } from "../../evaluation/SentenceEvaluator.js";
import { pearson, spearman } from "../../evaluation/stats.js";
import type { InputExample } from "../../InputExample.js";
import type { CrossEncoderPair } from "../CrossEncoder.js";
import {
  CrossEncoderEvaluator,
  type EvaluateOptions,
  type EvaluatedCrossEncoder,
  checkBoolean,
  checkModel,
  checkSentencePairs,
  checkString,
  predictScores,
} from "./CrossEncoderEvaluator.js";

export interface CrossEncoderCorrelationEvaluatorOptions {
  name?: string;
  /** Pairs per predict batch. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  writeCsv?: boolean;
}

const OP = "CrossEncoderCorrelationEvaluator";

/**
 * Pearson and Spearman (primary) correlation between gold scores of sentence pairs and a one-label
 * cross-encoder's scores of them (sentence-transformers' CrossEncoderCorrelationEvaluator): metrics `pearson`
 * and `spearman`.
 */
export class CrossEncoderCorrelationEvaluator extends CrossEncoderEvaluator {
  readonly sentencePairs: CrossEncoderPair[];
  readonly scores: number[];
  readonly name: string;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly csvFile: string;
  readonly csvHeaders = ["epoch", "steps", "Pearson_Correlation", "Spearman_Correlation"];

  constructor(sentencePairs: CrossEncoderPair[], scores: number[], options: CrossEncoderCorrelationEvaluatorOptions = {}) {
    super();
    this.sentencePairs = checkSentencePairs(sentencePairs, OP);
    if (!Array.isArray(scores)) throw new TypeError(`${OP}: scores must be an array of numbers`);
    scores.forEach((s, i) => {
      if (typeof s !== "number" || !Number.isFinite(s)) throw new TypeError(`${OP}: scores[${i}] must be a finite number, got ${String(s)}`);
    });
    if (scores.length !== this.sentencePairs.length) {
      throw new RangeError(`${OP}: sentencePairs has ${this.sentencePairs.length} entries but scores has ${scores.length}`);
    }
    // A correlation needs two pairs at least (scipy's pearsonr refuses fewer).
    if (scores.length < 2) throw new RangeError(`${OP}: needs at least 2 sentence pairs, got ${scores.length}`);
    this.scores = [...scores];
    this.name = checkString(options.name ?? "", OP, "name");
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, OP, "batchSize");
    this.showProgressBar = checkBoolean(options.showProgressBar ?? false, OP, "showProgressBar");
    this.writeCsv = checkBoolean(options.writeCsv ?? true, OP, "writeCsv");
    this.csvFile = `CrossEncoderCorrelationEvaluator${this.name ? `_${this.name}` : ""}_results.csv`;
    this.primaryMetric = `${this.name ? `${this.name}_` : ""}spearman`;
  }

  /** From InputExamples with two texts and a numeric label each. */
  static fromInputExamples(examples: InputExample[], options: CrossEncoderCorrelationEvaluatorOptions = {}): CrossEncoderCorrelationEvaluator {
    if (!Array.isArray(examples)) throw new TypeError(`${OP}.fromInputExamples: examples must be an array of InputExamples`);
    const pairs = examples.map((e, i) => {
      if (!e || !Array.isArray(e.texts) || e.texts.length !== 2) throw new TypeError(`${OP}.fromInputExamples: examples[${i}] must have two texts`);
      return [e.texts[0], e.texts[1]] as CrossEncoderPair;
    });
    const scores = examples.map((e, i) => {
      if (typeof e.label !== "number") throw new TypeError(`${OP}.fromInputExamples: examples[${i}].label must be a number`);
      return e.label;
    });
    return new CrossEncoderCorrelationEvaluator(pairs, scores, options);
  }

  override async evaluate(model: EvaluatedCrossEncoder, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkModel(model, OP);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const predicted = await predictScores(model, this.sentencePairs, { batchSize: this.batchSize, showProgressBar: this.showProgressBar }, OP);
    const metrics = { pearson: pearson(this.scores, predicted), spearman: spearman(this.scores, predicted) };
    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const row: CsvCell[] = [{ int: epoch }, { int: steps }, metrics.pearson, metrics.spearman];
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\r\n");
    }
    return this.prefixNameToMetrics(metrics, this.name);
  }
}
