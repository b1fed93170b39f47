import { cosSim } from "../util/similarity.js";
import { appendCsvRow } from "./output.js";
import {
  type EvaluateOptions,
  type EvaluatedModel,
  SentenceEvaluator,
  checkModel,
  checkOptionalPositiveInt,
  checkParallelSentences,
  checkPositiveInt,
  embed,
} from "./SentenceEvaluator.js";

export interface TranslationEvaluatorOptions {
  showProgressBar?: boolean;
  /** Encoding batch size. Default 16. */
  batchSize?: number;
  name?: string;
  writeCsv?: boolean;
  truncateDim?: number | null;
}

/** Index of the first largest value, as numpy's argmax (a NaN wins). */
function argmax(row: readonly number[]): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) {
    if (Number.isNaN(row[best]!)) return best;
    if (row[j]! > row[best]! || Number.isNaN(row[j]!)) best = j;
  }
  return best;
}

/**
 * Translation matching, as sbert's `TranslationEvaluator`: `targetSentences[i]` is the translation of
 * `sourceSentences[i]`; `src2trg_accuracy` is the share of sources whose most cosine-similar target is their
 * translation, `trg2src_accuracy` the same the other way, and `mean_accuracy` (the primary metric) their mean.
 */
export class TranslationEvaluator extends SentenceEvaluator {
  readonly sourceSentences: string[];
  readonly targetSentences: string[];
  readonly showProgressBar: boolean;
  readonly batchSize: number;
  readonly name: string;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  readonly csvFile: string;
  readonly csvHeaders = ["epoch", "steps", "src2trg", "trg2src"];

  constructor(sourceSentences: string[], targetSentences: string[], options: TranslationEvaluatorOptions = {}) {
    super();
    const op = "TranslationEvaluator";
    [this.sourceSentences, this.targetSentences] = checkParallelSentences(sourceSentences, targetSentences, op);
    this.showProgressBar = options.showProgressBar ?? false;
    this.batchSize = checkPositiveInt(options.batchSize ?? 16, op, "batchSize");
    this.name = options.name ?? "";
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");
    this.csvFile = `translation_evaluation${this.name ? `_${this.name}` : ""}_results.csv`;
    this.primaryMetric = this.name ? `${this.name}_mean_accuracy` : "mean_accuracy";
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "TranslationEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const embedOptions = { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim };
    // Two encode calls, as sbert: a sentence in both lists is encoded in each.
    const source = await embed(model, this.sourceSentences, embedOptions, op);
    const target = await embed(model, this.targetSentences, embedOptions, op);
    const scores = cosSim(source, target);
    const n = scores.length;
    let src2trg = 0;
    for (let i = 0; i < n; i++) if (argmax(scores[i]!) === i) src2trg++;
    let trg2src = 0;
    for (let j = 0; j < n; j++) if (argmax(scores.map((row) => row[j]!)) === j) trg2src++;
    const accSrc2trg = src2trg / n;
    const accTrg2src = trg2src / n;

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, [{ int: epoch }, { int: steps }, accSrc2trg, accTrg2src], "\r\n");
    }
    this.primaryMetric = "mean_accuracy";
    return this.prefixNameToMetrics(
      { src2trg_accuracy: accSrc2trg, trg2src_accuracy: accTrg2src, mean_accuracy: (accSrc2trg + accTrg2src) / 2 },
      this.name,
    );
  }

  override getConfigDict(): Record<string, unknown> {
    return this.truncateDim === undefined ? {} : { truncate_dim: this.truncateDim };
  }
}
