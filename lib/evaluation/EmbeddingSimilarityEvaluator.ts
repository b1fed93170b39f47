import { type QuantizationPrecision, quantizeEmbeddings } from "../util/quantization.js";
import { normalizeEmbeddings } from "../util/similarity.js";
import { type CsvCell, appendCsvRow } from "./output.js";
import {
  type EmbedOptions,
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
import { type SimilarityFunction, toSimilarityFunction, toSimilarityPairwiseFn } from "./SimilarityFunction.js";
import { pearson, spearman } from "./stats.js";

export interface EmbeddingSimilarityEvaluatorOptions {
  /** Encoding batch size. Default 16. */
  batchSize?: number;
  /** The similarity whose Spearman correlation is the primary metric. */
  mainSimilarity?: SimilarityFunction | null;
  /** Similarities to report. Default: `[mainSimilarity]` if set, else the model's similarityFnName. */
  similarityFnNames?: SimilarityFunction[];
  name?: string;
  showProgressBar?: boolean;
  writeCsv?: boolean;
  /** Normalize, then quantize the embeddings of each side before scoring (as sbert's `precision`). */
  precision?: QuantizationPrecision | null;
  /** Keep only the first `truncateDim` dimensions. */
  truncateDim?: number | null;
}

const PRECISIONS: readonly string[] = ["float32", "int8", "uint8", "binary", "ubinary"];

/**
 * Pearson and Spearman correlation between gold similarity scores and the model's similarities of sentence
 * pairs (sbert v5 `EmbeddingSimilarityEvaluator`): metrics `pearson_{fn}` and `spearman_{fn}` for each similarity
 * function, plus `pearson_max`/`spearman_max` when there are several. Distances enter as their negatives.
 */
export class EmbeddingSimilarityEvaluator extends SentenceEvaluator {
  readonly sentences1: string[];
  readonly sentences2: string[];
  readonly scores: number[];
  readonly batchSize: number;
  readonly mainSimilarity: SimilarityFunction | undefined;
  similarityFnNames: SimilarityFunction[];
  readonly name: string;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly precision: QuantizationPrecision | undefined;
  readonly truncateDim: number | undefined;
  readonly csvFile: string;
  csvHeaders: string[];

  constructor(sentences1: string[], sentences2: string[], scores: number[], options: EmbeddingSimilarityEvaluatorOptions = {}) {
    super();
    const op = "EmbeddingSimilarityEvaluator";
    this.sentences1 = checkStrings(sentences1, op, "sentences1");
    this.sentences2 = checkStrings(sentences2, op, "sentences2");
    if (!Array.isArray(scores)) throw new TypeError(`${op}: scores must be an array of numbers`);
    scores.forEach((s, i) => {
      if (typeof s !== "number" || !Number.isFinite(s)) throw new TypeError(`${op}: scores[${i}] must be a finite number, got ${s}`);
    });
    this.scores = scores;
    if (sentences1.length !== sentences2.length) {
      throw new RangeError(`${op}: sentences1 has ${sentences1.length} entries but sentences2 has ${sentences2.length}`);
    }
    if (sentences1.length !== scores.length) {
      throw new RangeError(`${op}: sentences1 has ${sentences1.length} entries but scores has ${scores.length}`);
    }
    // A correlation needs at least two pairs (scipy's pearsonr raises otherwise).
    if (sentences1.length < 2) throw new RangeError(`${op}: needs at least 2 sentence pairs, got ${sentences1.length}`);

    this.batchSize = checkPositiveInt(options.batchSize ?? 16, op, "batchSize");
    this.mainSimilarity = options.mainSimilarity ? toSimilarityFunction(options.mainSimilarity, `${op}: mainSimilarity`) : undefined;
    this.similarityFnNames = checkFnNames(options.similarityFnNames, op);
    if (this.similarityFnNames.length === 0 && this.mainSimilarity !== undefined) this.similarityFnNames = [this.mainSimilarity];
    if (this.mainSimilarity !== undefined && !this.similarityFnNames.includes(this.mainSimilarity)) {
      throw new RangeError(`${op}: mainSimilarity "${this.mainSimilarity}" is not in similarityFnNames (${this.similarityFnNames.join(", ")})`);
    }
    this.name = options.name ?? "";
    this.showProgressBar = options.showProgressBar ?? false;
    this.writeCsv = options.writeCsv ?? true;
    if (options.precision !== undefined && options.precision !== null && !PRECISIONS.includes(options.precision)) {
      throw new RangeError(`${op}: precision must be one of ${PRECISIONS.join(", ")}, got ${JSON.stringify(options.precision)}`);
    }
    this.precision = options.precision ?? undefined;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");

    this.csvFile = `similarity_evaluation${this.name ? `_${this.name}` : ""}${this.precision ? `_${this.precision}` : ""}_results.csv`;
    this.csvHeaders = ["epoch", "steps"];
    this.appendCsvHeaders(this.similarityFnNames);
    this.primaryMetric = this.primaryFor(this.similarityFnNames.length > 0 ? this.similarityFnNames : ["cosine"]);
    if (this.name) this.primaryMetric = `${this.name}_${this.primaryMetric}`;
  }

  protected appendCsvHeaders(names: readonly string[]): void {
    for (const fn of names) this.csvHeaders.push(`${fn}_pearson`, `${fn}_spearman`);
  }

  private primaryFor(names: readonly SimilarityFunction[]): string {
    if (this.mainSimilarity !== undefined) return `spearman_${this.mainSimilarity}`;
    return names.length > 1 ? "spearman_max" : `spearman_${names[0]}`;
  }

  /** The embeddings of sentences1 and sentences2: every distinct sentence encoded once. */
  protected async embedPairs(model: EvaluatedModel, options: EmbedOptions, op: string): Promise<Float32Array[][]> {
    return embedUnique(model, [this.sentences1, this.sentences2], options, op);
  }

  /** Embeddings of one side as sbert scores them: normalized and quantized when a precision is set. */
  private prepare(embeddings: Float32Array[]): Float32Array[] {
    if (this.precision === undefined) return embeddings;
    // sbert encodes each side in its own call, so int8/uint8 ranges come from that side's embeddings.
    const normalized = normalizeEmbeddings(embeddings);
    const quantized = quantizeEmbeddings(normalized, this.precision);
    if (this.precision === "binary" || this.precision === "ubinary") {
      // Packed bits are unpacked to 0/1 vectors before scoring, as sbert does with np.unpackbits.
      const dim = normalized[0]?.length ?? 0;
      const bytes = Math.ceil(dim / 8);
      return quantized.map((q) => {
        const bits = new Float32Array(bytes * 8);
        for (let k = 0; k < bytes * 8; k++) {
          const byte = this.precision === "binary" ? (q[k >> 3]! + 128) & 0xff : q[k >> 3]!;
          bits[k] = (byte >> (7 - (k & 7))) & 1;
        }
        return bits;
      });
    }
    return quantized.map((q) => Float32Array.from(q));
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "EmbeddingSimilarityEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    if (this.similarityFnNames.length === 0) {
      this.similarityFnNames = [modelSimilarity(model, op)];
      this.appendCsvHeaders(this.similarityFnNames);
    }
    const [raw1, raw2] = await this.embedPairs(model, { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim }, op);
    const embeddings1 = this.prepare(raw1!);
    const embeddings2 = this.prepare(raw2!);

    const metrics: Record<string, number> = {};
    for (const fn of this.similarityFnNames) {
      const predicted = toSimilarityPairwiseFn(fn)(embeddings1, embeddings2);
      metrics[`pearson_${fn}`] = pearson(this.scores, predicted);
      metrics[`spearman_${fn}`] = spearman(this.scores, predicted);
    }

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const row: CsvCell[] = [{ int: epoch }, { int: steps }];
      for (const fn of this.similarityFnNames) row.push(metrics[`pearson_${fn}`]!, metrics[`spearman_${fn}`]!);
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\r\n");
    }

    if (this.similarityFnNames.length > 1) {
      metrics["pearson_max"] = pyMax(this.similarityFnNames.map((fn) => metrics[`pearson_${fn}`]!));
      metrics["spearman_max"] = pyMax(this.similarityFnNames.map((fn) => metrics[`spearman_${fn}`]!));
    }
    this.primaryMetric = this.primaryFor(this.similarityFnNames);
    return this.prefixNameToMetrics(metrics, this.name);
  }

  override get description(): string {
    return "Semantic Similarity";
  }

  override getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = {};
    if (this.truncateDim !== undefined) config["truncate_dim"] = this.truncateDim;
    if (this.precision !== undefined) config["precision"] = this.precision;
    return config;
  }
}
