import { type SimilarityFunction, toSimilarityFunction } from "./SimilarityFunction.js";

/**
 * Options an evaluator passes to `encode`. Precision and truncation are applied by the evaluators themselves
 * (so `encode` always returns float32 embeddings, and any model with this method can be evaluated).
 */
export interface EvaluationEncodeOptions {
  batchSize?: number;
  showProgressBar?: boolean;
  normalizeEmbeddings?: boolean;
  /** Text put before every sentence (only passed when an evaluator is given one). */
  prompt?: string;
  /** A key of the model's prompts (only passed when an evaluator is given one). */
  promptName?: string;
}

/** What the evaluators need of a model (a SentenceTransformer has it). */
export interface EvaluatedModel {
  /**
   * One Float32Array per sentence. (The wider return type lets a SentenceTransformer, whose generic `encode`
   * can also return quantized arrays, be passed; evaluators check at run time that they got Float32Arrays.)
   */
  encode(sentences: string[], opts?: EvaluationEncodeOptions): Promise<Array<Float32Array | Int8Array | Uint8Array>>;
  /** Queries' and documents' encode (a SentenceTransformer's: their prompts, a Router's routes); encode stands in. */
  encodeQuery?(sentences: string[], opts?: EvaluationEncodeOptions): Promise<Array<Float32Array | Int8Array | Uint8Array>>;
  encodeDocument?(sentences: string[], opts?: EvaluationEncodeOptions): Promise<Array<Float32Array | Int8Array | Uint8Array>>;
  /** The model's similarity, used when an evaluator is not told which similarities to report. Default "cosine". */
  readonly similarityFnName?: string | null;
}

export interface EvaluateOptions {
  /** Folder for the results CSV (created when missing); no file is written without it. */
  outputPath?: string;
  /** -1 (the default) means "not during training". */
  epoch?: number;
  /** -1 (the default) means "at the end of the epoch". */
  steps?: number;
}

/** Checks parallel source and target sentences (same length, at least one pair); returns them. */
export function checkParallelSentences(source: unknown, target: unknown, op: string): [string[], string[]] {
  const src = checkStrings(source, op, "sourceSentences");
  const trg = checkStrings(target, op, "targetSentences");
  if (src.length !== trg.length) throw new RangeError(`${op}: sourceSentences has ${src.length} entries but targetSentences has ${trg.length}`);
  if (src.length === 0) throw new RangeError(`${op}: sourceSentences and targetSentences are empty`);
  return [src, trg];
}

/**
 * Every key of `metrics` prefixed with `name_` (when `name` is set), and the evaluator's primary metric too if it is
 * not yet: what every evaluator's prefixNameToMetrics does.
 */
export function prefixMetrics(evaluator: { primaryMetric: string }, metrics: Record<string, number>, name: string): Record<string, number> {
  if (!name) return { ...metrics };
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(metrics)) out[`${name}_${key}`] = value;
  if (evaluator.primaryMetric && !evaluator.primaryMetric.startsWith(`${name}_`)) evaluator.primaryMetric = `${name}_${evaluator.primaryMetric}`;
  return out;
}

/**
 * Base of all evaluators, as sbert's `SentenceEvaluator`: `evaluate` returns a metrics object, and
 * `primaryMetric` is the (name-prefixed) key of the metric used for model selection.
 */
export abstract class SentenceEvaluator {
  /** Whether a higher primary metric is better. */
  greaterIsBetter = true;
  /**
   * The key of the primary metric in the object `evaluate` returns. Set from the constructor's arguments
   * (assuming a cosine model when the similarity comes from the model) and updated by every `evaluate`.
   */
  primaryMetric = "";

  abstract evaluate(model: EvaluatedModel, options?: EvaluateOptions): Promise<Record<string, number>>;

  /** Prefixes every key with `name_` (when `name` is set), and the primary metric too if it is not yet. */
  prefixNameToMetrics(metrics: Record<string, number>, name: string): Record<string, number> {
    return prefixMetrics(this, metrics, name);
  }

  /** Same as {@link prefixNameToMetrics}. */
  prefixNameToKeys(metrics: Record<string, number>, name: string): Record<string, number> {
    return this.prefixNameToMetrics(metrics, name);
  }

  /** A human-readable name for model cards, e.g. "Semantic Similarity". */
  get description(): string {
    return this.constructor.name.replace(/Evaluator.*$/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  }

  /** Configuration values worth recording in a model card (sbert's snake_case keys). */
  getConfigDict(): Record<string, unknown> {
    return {};
  }
}

// ---- helpers shared by the evaluators ----

export function checkStrings(values: unknown, op: string, arg: string): string[] {
  if (!Array.isArray(values)) throw new TypeError(`${op}: ${arg} must be an array of strings`);
  values.forEach((v, i) => {
    if (typeof v !== "string") throw new TypeError(`${op}: ${arg}[${i}] must be a string, got ${typeof v}`);
  });
  return values as string[];
}

export function checkPositiveInt(value: number, op: string, arg: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${op}: ${arg} must be a positive integer, got ${value}`);
  return value;
}

export function checkOptionalPositiveInt(value: number | undefined | null, op: string, arg: string): number | undefined {
  return value === undefined || value === null ? undefined : checkPositiveInt(value, op, arg);
}

export function checkFnNames(names: readonly string[] | undefined, op: string): SimilarityFunction[] {
  if (names === undefined || names === null) return [];
  if (!Array.isArray(names)) throw new TypeError(`${op}: similarityFnNames must be an array`);
  return names.map((n, i) => toSimilarityFunction(n, `${op}: similarityFnNames[${i}]`));
}

/** The model's similarity, as sbert's evaluators fall back to `model.similarity_fn_name` (cosine when unset). */
export function modelSimilarity(model: EvaluatedModel, op: string): SimilarityFunction {
  return toSimilarityFunction(model.similarityFnName ?? "cosine", `${op}: model.similarityFnName`);
}

export function checkModel(model: EvaluatedModel, op: string): void {
  if (!model || typeof model.encode !== "function") throw new TypeError(`${op}: model must have an encode method`);
}

export interface EmbedOptions {
  batchSize: number;
  showProgressBar: boolean;
  truncateDim?: number | undefined;
  /** Encode as queries or documents (encodeQuery / encodeDocument where the model has them), as Python's evaluators do. */
  task?: "query" | "document";
  prompt?: string | undefined;
  promptName?: string | undefined;
}

/** Encodes `texts` and checks the model returned one Float32Array each, truncated to `truncateDim` if set. */
export async function embed(model: EvaluatedModel, texts: string[], options: EmbedOptions, op: string): Promise<Float32Array[]> {
  const encode = (options.task === "query" ? model.encodeQuery : options.task === "document" ? model.encodeDocument : undefined) ?? model.encode;
  const embeddings = await encode.call(model, texts, {
    batchSize: options.batchSize,
    showProgressBar: options.showProgressBar,
    ...(options.prompt !== undefined && { prompt: options.prompt }),
    ...(options.promptName !== undefined && { promptName: options.promptName }),
  });
  if (!Array.isArray(embeddings) || embeddings.length !== texts.length) {
    throw new TypeError(`${op}: model.encode returned ${Array.isArray(embeddings) ? embeddings.length : "no"} embeddings for ${texts.length} sentences`);
  }
  return embeddings.map((e, i) => {
    if (!(e instanceof Float32Array)) throw new TypeError(`${op}: model.encode returned a non-Float32Array embedding at index ${i}`);
    return options.truncateDim === undefined ? e : e.subarray(0, options.truncateDim);
  });
}

/** Encodes every distinct text of `lists` once and returns the embeddings of each list, in order. */
export async function embedUnique(
  model: EvaluatedModel,
  lists: readonly (readonly string[])[],
  options: EmbedOptions,
  op: string,
): Promise<Float32Array[][]> {
  const index = new Map<string, number>();
  const unique: string[] = [];
  for (const list of lists) {
    for (const t of list) {
      if (!index.has(t)) {
        index.set(t, unique.length);
        unique.push(t);
      }
    }
  }
  const embeddings = await embed(model, unique, options, op);
  return lists.map((list) => list.map((t) => embeddings[index.get(t)!]!));
}

/** Python's max(): the first value unless a later one is greater, so a leading NaN wins and a later one is skipped. */
export function pyMax(values: readonly number[]): number {
  let best = values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i]! > best) best = values[i]!;
  return best;
}
