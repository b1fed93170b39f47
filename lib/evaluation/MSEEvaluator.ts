import { appendCsvRow, float32Cell } from "./output.js";
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

export interface MSEEvaluatorOptions {
  showProgressBar?: boolean;
  /** Encoding batch size, for the teacher and the evaluated model. Default 32. */
  batchSize?: number;
  name?: string;
  writeCsv?: boolean;
  /** Keep only the first `truncateDim` dimensions of the teacher's and the evaluated model's embeddings. */
  truncateDim?: number | null;
}

/**
 * Mean squared error (x100) between a teacher's embeddings of `sourceSentences` and the evaluated model's
 * embeddings of `targetSentences` (multilingual knowledge distillation), as sbert's `MSEEvaluator`. The metric is
 * `negative_mse` (the MSE x100, negated so that greater is better), also the primary metric.
 *
 * The teacher is a model, encoded once at the first `evaluate` (sbert encodes it in the constructor, which cannot
 * await here), or the teacher's embeddings of `sourceSentences` computed beforehand.
 */
export class MSEEvaluator extends SentenceEvaluator {
  readonly sourceSentences: string[];
  readonly targetSentences: string[];
  readonly showProgressBar: boolean;
  readonly batchSize: number;
  readonly name: string;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  readonly csvFile: string;
  readonly csvHeaders = ["epoch", "steps", "MSE"];
  private readonly teacherModel: EvaluatedModel | undefined;
  private sourceEmbeddings: Promise<Float32Array[]> | undefined;

  constructor(
    sourceSentences: string[],
    targetSentences: string[],
    teacher: EvaluatedModel | readonly Float32Array[],
    options: MSEEvaluatorOptions = {},
  ) {
    super();
    const op = "MSEEvaluator";
    [this.sourceSentences, this.targetSentences] = checkParallelSentences(sourceSentences, targetSentences, op);
    this.showProgressBar = options.showProgressBar ?? false;
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, op, "batchSize");
    this.name = options.name ?? "";
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");

    if (Array.isArray(teacher)) {
      if (teacher.length !== sourceSentences.length) {
        throw new RangeError(`${op}: teacher has ${teacher.length} embeddings but sourceSentences has ${sourceSentences.length} entries`);
      }
      const dim = (teacher[0] as unknown as Float32Array | undefined)?.length;
      teacher.forEach((e, i) => {
        if (!(e instanceof Float32Array)) throw new TypeError(`${op}: teacher[${i}] must be a Float32Array`);
        if (e.length !== dim) throw new RangeError(`${op}: teacher[${i}] has ${e.length} dimensions but teacher[0] has ${dim}`);
      });
      const truncated = teacher.map((e) => (this.truncateDim === undefined ? e : e.subarray(0, this.truncateDim)));
      this.sourceEmbeddings = Promise.resolve(truncated);
    } else if (teacher && typeof (teacher as EvaluatedModel).encode === "function") {
      this.teacherModel = teacher as EvaluatedModel;
    } else {
      throw new TypeError(`${op}: teacher must be a model with an encode method or an array of Float32Array embeddings of sourceSentences`);
    }

    // sbert names the file with the name in the middle even when it is empty ("mse_evaluation__results.csv").
    this.csvFile = `mse_evaluation_${this.name}_results.csv`;
    this.primaryMetric = this.name ? `${this.name}_negative_mse` : "negative_mse";
  }

  /** The teacher's embeddings of `sourceSentences` (encoded on the first call when the teacher is a model). */
  teacherEmbeddings(): Promise<Float32Array[]> {
    if (this.sourceEmbeddings === undefined) {
      const pending = embed(
        this.teacherModel!,
        this.sourceSentences,
        { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim },
        "MSEEvaluator (teacher)",
      );
      // A failed encode is not cached, so the next evaluate tries again.
      pending.catch(() => {
        if (this.sourceEmbeddings === pending) this.sourceEmbeddings = undefined;
      });
      this.sourceEmbeddings = pending;
    }
    return this.sourceEmbeddings;
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "MSEEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const source = await this.teacherEmbeddings();
    const target = await embed(
      model,
      this.targetSentences,
      { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim },
      op,
    );
    let sum = 0;
    for (let i = 0; i < source.length; i++) {
      const s = source[i]!;
      const t = target[i]!;
      if (s.length !== t.length) {
        throw new RangeError(`${op}: the teacher's embeddings have ${s.length} dimensions but the model's have ${t.length}`);
      }
      for (let d = 0; d < s.length; d++) {
        const diff = s[d]! - t[d]!;
        sum += diff * diff;
      }
    }
    // sbert averages float32 arrays and scales by 100 in float32.
    const mse = Math.fround(Math.fround(sum / (source.length * source[0]!.length)) * 100);

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, [{ int: epoch }, { int: steps }, float32Cell(mse)], "\r\n");
    }
    this.primaryMetric = "negative_mse";
    return this.prefixNameToMetrics({ negative_mse: -mse }, this.name);
  }

  override get description(): string {
    return "Knowledge Distillation";
  }

  override getConfigDict(): Record<string, unknown> {
    return this.truncateDim === undefined ? {} : { truncate_dim: this.truncateDim };
  }
}
