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

export interface TripletEvaluatorOptions {
  /** The similarity whose accuracy is the primary metric. */
  mainSimilarityFunction?: SimilarityFunction | null;
  /** Former name of `mainSimilarityFunction` (sbert still accepts it, deprecated). */
  mainDistanceFunction?: SimilarityFunction | null;
  /**
   * How much more similar the positive must be than the negative: one number for all similarities, or per
   * similarity (missing ones are 0). Default 0.
   */
  margin?: number | Partial<Record<SimilarityFunction, number>>;
  name?: string;
  /** Encoding batch size. Default 16. */
  batchSize?: number;
  showProgressBar?: boolean;
  writeCsv?: boolean;
  truncateDim?: number | null;
  /** Similarities to report. Default: `[mainSimilarityFunction]` if set, else the model's similarityFnName. */
  similarityFnNames?: SimilarityFunction[];
}

/**
 * Share of (anchor, positive, negative) triplets where the anchor is more similar to the positive than to the
 * negative by more than the margin, as sbert v5 `TripletEvaluator`: metrics `{fn}_accuracy`, plus
 * `max_accuracy` with several similarity functions (then the primary metric unless `mainSimilarityFunction`).
 */
export class TripletEvaluator extends SentenceEvaluator {
  readonly anchors: string[];
  readonly positives: string[];
  readonly negatives: string[];
  readonly mainSimilarityFunction: SimilarityFunction | undefined;
  readonly margin: Record<"cosine" | "dot" | "manhattan" | "euclidean", number>;
  readonly name: string;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  similarityFnNames: SimilarityFunction[];
  readonly csvFile: string;
  csvHeaders: string[];

  constructor(anchors: string[], positives: string[], negatives: string[], options: TripletEvaluatorOptions = {}) {
    super();
    const op = "TripletEvaluator";
    this.anchors = checkStrings(anchors, op, "anchors");
    this.positives = checkStrings(positives, op, "positives");
    this.negatives = checkStrings(negatives, op, "negatives");
    if (anchors.length !== positives.length) {
      throw new RangeError(`${op}: anchors has ${anchors.length} entries but positives has ${positives.length}`);
    }
    if (anchors.length !== negatives.length) {
      throw new RangeError(`${op}: anchors has ${anchors.length} entries but negatives has ${negatives.length}`);
    }
    if (anchors.length === 0) throw new RangeError(`${op}: anchors, positives and negatives are empty`);

    const main = options.mainSimilarityFunction ?? options.mainDistanceFunction;
    this.mainSimilarityFunction = main ? toSimilarityFunction(main, `${op}: mainSimilarityFunction`) : undefined;
    this.similarityFnNames = checkFnNames(options.similarityFnNames, op);
    if (this.similarityFnNames.length === 0 && this.mainSimilarityFunction !== undefined) {
      this.similarityFnNames = [this.mainSimilarityFunction];
    }
    if (this.mainSimilarityFunction !== undefined && !this.similarityFnNames.includes(this.mainSimilarityFunction)) {
      throw new RangeError(
        `${op}: mainSimilarityFunction "${this.mainSimilarityFunction}" is not in similarityFnNames (${this.similarityFnNames.join(", ")})`,
      );
    }

    const margin = options.margin ?? 0;
    if (typeof margin === "number") {
      if (!Number.isFinite(margin)) throw new RangeError(`${op}: margin must be a finite number, got ${margin}`);
      this.margin = { cosine: margin, dot: margin, manhattan: margin, euclidean: margin };
    } else if (typeof margin === "object" && margin !== null) {
      this.margin = { cosine: 0, dot: 0, manhattan: 0, euclidean: 0 };
      for (const [key, value] of Object.entries(margin)) {
        const fn = toSimilarityFunction(key, `${op}: margin key`);
        if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`${op}: margin.${key} must be a finite number`);
        this.margin[fn] = value;
      }
    } else {
      throw new TypeError(`${op}: margin must be a number or an object with keys cosine, dot, manhattan, euclidean`);
    }

    this.name = options.name ?? "";
    this.batchSize = checkPositiveInt(options.batchSize ?? 16, op, "batchSize");
    this.showProgressBar = options.showProgressBar ?? false;
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");

    this.csvFile = `triplet_evaluation${this.name ? `_${this.name}` : ""}_results.csv`;
    this.csvHeaders = ["epoch", "steps"];
    this.appendCsvHeaders(this.similarityFnNames);
    this.primaryMetric = this.primaryFor(this.similarityFnNames.length > 0 ? this.similarityFnNames : ["cosine"]);
    if (this.name) this.primaryMetric = `${this.name}_${this.primaryMetric}`;
  }

  protected appendCsvHeaders(names: readonly string[]): void {
    // sbert's CSV header says accuracy_{fn} while the metric key is {fn}_accuracy.
    for (const fn of names) this.csvHeaders.push(`accuracy_${fn}`);
  }

  /** The embeddings of anchors, positives and negatives: every distinct text encoded once. */
  protected async embedTriplets(model: EvaluatedModel, options: EmbedOptions, op: string): Promise<Float32Array[][]> {
    return embedUnique(model, [this.anchors, this.positives, this.negatives], options, op);
  }

  private primaryFor(names: readonly SimilarityFunction[]): string {
    if (this.mainSimilarityFunction !== undefined) return `${this.mainSimilarityFunction}_accuracy`;
    return names.length > 1 ? "max_accuracy" : `${names[0]}_accuracy`;
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "TripletEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const [anchors, positives, negatives] = await this.embedTriplets(model, { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim }, op);
    if (this.similarityFnNames.length === 0) {
      this.similarityFnNames = [modelSimilarity(model, op)];
      this.appendCsvHeaders(this.similarityFnNames);
    }

    const metrics: Record<string, number> = {};
    for (const fn of this.similarityFnNames) {
      const pairwise = toSimilarityPairwiseFn(fn);
      const positiveScores = pairwise(anchors!, positives!);
      const negativeScores = pairwise(anchors!, negatives!);
      let correct = 0;
      for (let i = 0; i < positiveScores.length; i++) {
        if (positiveScores[i]! > negativeScores[i]! + this.margin[fn]) correct++;
      }
      // sbert averages a float32 tensor: the accuracy is the float32 nearest to correct / n.
      metrics[`${fn}_accuracy`] = Math.fround(correct / positiveScores.length);
    }

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const row: CsvCell[] = [{ int: epoch }, { int: steps }, ...Object.values(metrics)];
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\r\n");
    }

    if (this.similarityFnNames.length > 1) metrics["max_accuracy"] = pyMax(Object.values(metrics));
    this.primaryMetric = this.primaryFor(this.similarityFnNames);
    return this.prefixNameToMetrics(metrics, this.name);
  }

  override get description(): string {
    return "Triplet";
  }

  override getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = {};
    if (Object.values(this.margin).some((m) => m !== 0)) config["margin"] = { ...this.margin };
    if (this.truncateDim !== undefined) config["truncate_dim"] = this.truncateDim;
    return config;
  }
}
