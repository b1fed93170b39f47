import { type CsvCell, appendCsvRow } from "./output.js";
import {
  type EvaluateOptions,
  type EvaluatedModel,
  SentenceEvaluator,
  checkFnNames,
  checkModel,
  checkOptionalPositiveInt,
  checkPositiveInt,
  checkStrings,
  embedUnique,
  modelSimilarity,
  pyMax,
} from "./SentenceEvaluator.js";
import { type SimilarityFunction, toSimilarityPairwiseFn } from "./SimilarityFunction.js";
import { averagePrecision, matthewsCorrcoef } from "./stats.js";

export interface BinaryClassificationEvaluatorOptions {
  name?: string;
  /** Encoding batch size. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  writeCsv?: boolean;
  truncateDim?: number | null;
  /** Similarities to report. Default: the model's similarityFnName. */
  similarityFnNames?: SimilarityFunction[];
}

/** The metrics of one similarity, in the order sbert returns them. */
export interface BinaryClassificationScores {
  accuracy: number;
  accuracy_threshold: number;
  f1: number;
  f1_threshold: number;
  precision: number;
  recall: number;
  ap: number;
  mcc: number;
}

// sbert's CSV column order, which differs from the metrics order.
const CSV_METRICS = ["accuracy", "accuracy_threshold", "f1", "precision", "recall", "f1_threshold", "ap", "mcc"] as const;

function sortedRows(scores: readonly number[], labels: readonly number[], highScoreMoreSimilar: boolean): Array<[number, number]> {
  const rows = scores.map((s, i): [number, number] => [s, labels[i]!]);
  // Stable like Python's sorted(reverse=...): equal scores keep their input order either way.
  rows.sort((a, b) => (a[0] === b[0] ? 0 : (a[0] < b[0]) === highScoreMoreSimilar ? 1 : -1));
  return rows;
}

/**
 * sbert's accuracy threshold search: walk the pairs from most to least similar; the threshold between pair i and
 * i+1 classifies the first i+1 as positive. Returns the best accuracy and the midpoint threshold (-1 and 0 when
 * no split improves on 0, as sbert's initial values).
 */
export function findBestAccAndThreshold(
  scores: readonly number[],
  labels: readonly number[],
  highScoreMoreSimilar: boolean,
): { accuracy: number; threshold: number; improved: boolean } {
  if (scores.length !== labels.length) throw new RangeError(`findBestAccAndThreshold: ${scores.length} scores but ${labels.length} labels`);
  const rows = sortedRows(scores, labels, highScoreMoreSimilar);
  let maxAcc = 0;
  let bestThreshold = -1;
  let improved = false;
  let positiveSoFar = 0;
  let remainingNegatives = labels.filter((l) => l === 0).length;
  for (let i = 0; i < rows.length - 1; i++) {
    if (rows[i]![1] === 1) positiveSoFar++;
    else remainingNegatives--;
    const acc = (positiveSoFar + remainingNegatives) / labels.length;
    if (acc > maxAcc) {
      maxAcc = acc;
      bestThreshold = (rows[i]![0] + rows[i + 1]![0]) / 2;
      improved = true;
    }
  }
  return { accuracy: maxAcc, threshold: bestThreshold, improved };
}

/** sbert's F1 threshold search, returning the best F1 with its precision, recall and midpoint threshold. */
export function findBestF1AndThreshold(
  scores: readonly number[],
  labels: readonly number[],
  highScoreMoreSimilar: boolean,
): { f1: number; precision: number; recall: number; threshold: number; improved: boolean } {
  if (scores.length !== labels.length) throw new RangeError(`findBestF1AndThreshold: ${scores.length} scores but ${labels.length} labels`);
  const rows = sortedRows(scores, labels, highScoreMoreSimilar);
  let bestF1 = 0;
  let bestPrecision = 0;
  let bestRecall = 0;
  let threshold = 0;
  let improved = false;
  let nextract = 0;
  let ncorrect = 0;
  const totalNumDuplicates = labels.reduce((a, b) => a + b, 0);
  for (let i = 0; i < rows.length - 1; i++) {
    nextract++;
    if (rows[i]![1] === 1) ncorrect++;
    if (ncorrect > 0) {
      const precision = ncorrect / nextract;
      const recall = ncorrect / totalNumDuplicates;
      const f1 = (2 * precision * recall) / (precision + recall);
      if (f1 > bestF1) {
        bestF1 = f1;
        bestPrecision = precision;
        bestRecall = recall;
        threshold = (rows[i]![0] + rows[i + 1]![0]) / 2;
        improved = true;
      }
    }
  }
  return { f1: bestF1, precision: bestPrecision, recall: bestRecall, threshold, improved };
}

/**
 * Binary classification of sentence pairs (duplicate / not) by thresholding the model's similarity, as sbert
 * v5.7 `BinaryClassificationEvaluator`: for each similarity function the best accuracy and F1 with their
 * thresholds, precision and recall at the best F1, average precision and the Matthews correlation at the F1
 * threshold. Manhattan and Euclidean are scored as (positive) distances, lower meaning more similar.
 * With several similarity functions, `max_{metric}` is added and the primary metric is `max_ap`; otherwise
 * `{fn}_ap`.
 */
export class BinaryClassificationEvaluator extends SentenceEvaluator {
  readonly sentences1: string[];
  readonly sentences2: string[];
  readonly labels: number[];
  readonly name: string;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  similarityFnNames: SimilarityFunction[];
  readonly csvFile: string;
  csvHeaders: string[];

  constructor(sentences1: string[], sentences2: string[], labels: Array<number | boolean>, options: BinaryClassificationEvaluatorOptions = {}) {
    super();
    const op = "BinaryClassificationEvaluator";
    this.sentences1 = checkStrings(sentences1, op, "sentences1");
    this.sentences2 = checkStrings(sentences2, op, "sentences2");
    if (!Array.isArray(labels)) throw new TypeError(`${op}: labels must be an array of 0/1`);
    if (sentences1.length !== sentences2.length) {
      throw new RangeError(`${op}: sentences1 has ${sentences1.length} entries but sentences2 has ${sentences2.length}`);
    }
    if (sentences1.length !== labels.length) {
      throw new RangeError(`${op}: sentences1 has ${sentences1.length} entries but labels has ${labels.length}`);
    }
    if (sentences1.length === 0) throw new RangeError(`${op}: sentences1, sentences2 and labels are empty`);
    this.labels = labels.map((l, i) => {
      // Python's `label == 0 or label == 1` accepts booleans too.
      if (l === 0 || l === 1 || l === false || l === true) return Number(l);
      throw new RangeError(`${op}: labels[${i}] must be 0 or 1, got ${JSON.stringify(l)}`);
    });
    this.name = options.name ?? "";
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, op, "batchSize");
    this.showProgressBar = options.showProgressBar ?? false;
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");
    this.similarityFnNames = checkFnNames(options.similarityFnNames, op);

    this.csvFile = `binary_classification_evaluation${this.name ? `_${this.name}` : ""}_results.csv`;
    this.csvHeaders = ["epoch", "steps"];
    this.appendCsvHeaders(this.similarityFnNames);
    this.primaryMetric = this.similarityFnNames.length > 1 ? "max_ap" : `${this.similarityFnNames[0] ?? "cosine"}_ap`;
    if (this.name) this.primaryMetric = `${this.name}_${this.primaryMetric}`;
  }

  protected appendCsvHeaders(names: readonly string[]): void {
    for (const fn of names) for (const m of CSV_METRICS) this.csvHeaders.push(`${fn}_${m}`);
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "BinaryClassificationEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    if (this.similarityFnNames.length === 0) {
      this.similarityFnNames = [modelSimilarity(model, op)];
      this.appendCsvHeaders(this.similarityFnNames);
    }
    const { scores, pythonInts } = await this.computeMetrics(model);

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const row: CsvCell[] = [{ int: epoch }, { int: steps }];
      for (const fn of this.similarityFnNames) {
        for (const m of CSV_METRICS) {
          const v = scores[fn]![m];
          // sbert's untouched initial values are Python ints and print without ".0".
          row.push(pythonInts.has(`${fn}_${m}`) ? { int: v } : v);
        }
      }
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\r\n");
    }

    const metrics: Record<string, number> = {};
    for (const fn of this.similarityFnNames) {
      for (const [m, v] of Object.entries(scores[fn]!)) metrics[`${fn}_${m}`] = v;
    }
    if (this.similarityFnNames.length > 1) {
      for (const m of Object.keys(scores[this.similarityFnNames[0]!]!) as Array<keyof BinaryClassificationScores>) {
        metrics[`max_${m}`] = pyMax(this.similarityFnNames.map((fn) => scores[fn]![m]));
      }
      this.primaryMetric = "max_ap";
    } else {
      this.primaryMetric = `${this.similarityFnNames[0]}_ap`;
    }
    return this.prefixNameToMetrics(metrics, this.name);
  }

  /** The metrics of every similarity function, plus which values are still sbert's integer initial values. */
  async computeMetrics(model: EvaluatedModel): Promise<{ scores: Record<string, BinaryClassificationScores>; pythonInts: Set<string> }> {
    const op = "BinaryClassificationEvaluator";
    const [embeddings1, embeddings2] = await embedUnique(
      model,
      [this.sentences1, this.sentences2],
      { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim },
      op,
    );
    const labels = this.labels;
    const scores: Record<string, BinaryClassificationScores> = {};
    const pythonInts = new Set<string>();
    for (const fn of this.similarityFnNames) {
      const greaterIsBetter = fn === "cosine" || fn === "dot";
      let values = toSimilarityPairwiseFn(fn)(embeddings1!, embeddings2!);
      // The pairwise functions give negative distances; sbert turns them back into distances (lower = closer).
      if (!greaterIsBetter) values = values.map((v) => -v);
      const acc = findBestAccAndThreshold(values, labels, greaterIsBetter);
      const f1 = findBestF1AndThreshold(values, labels, greaterIsBetter);
      const ap = averagePrecision(labels, greaterIsBetter ? values : values.map((v) => -v));
      const predicted = values.map((v) => (greaterIsBetter ? v >= f1.threshold : v <= f1.threshold));
      const mcc = matthewsCorrcoef(labels, predicted);
      scores[fn] = {
        accuracy: acc.accuracy,
        accuracy_threshold: acc.threshold,
        f1: f1.f1,
        f1_threshold: f1.threshold,
        precision: f1.precision,
        recall: f1.recall,
        ap,
        mcc,
      };
      if (!acc.improved) pythonInts.add(`${fn}_accuracy`).add(`${fn}_accuracy_threshold`);
      if (!f1.improved) pythonInts.add(`${fn}_f1`).add(`${fn}_precision`).add(`${fn}_recall`).add(`${fn}_f1_threshold`);
    }
    return { scores, pythonInts };
  }

  override get description(): string {
    return "Binary Classification";
  }

  override getConfigDict(): Record<string, unknown> {
    return this.truncateDim === undefined ? {} : { truncate_dim: this.truncateDim };
  }
}
