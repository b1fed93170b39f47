import type { NativeModule } from "../../types/native.js";
import type { EncodedBatch, TextInput, Tokenizer } from "../tokenization/Tokenizer.js";
import type { WhitespaceTokenizer } from "./tokenizer/WhitespaceTokenizer.js";

/**
 * One step of a SentenceTransformer pipeline. Each module runs natively and saves and loads its own folder,
 * as sentence-transformers modules do.
 */
export interface SentenceModule {
  /** The `type` written to modules.json (the legacy spelling every sentence-transformers version reads). */
  readonly moduleType: string;
  /** The class name used for the module's folder, `{idx}_{className}`. */
  readonly className: string;
  /** Saved into the model's root folder instead of a subfolder (the Transformer). */
  readonly saveInRoot: boolean;
  /** The native handle; internal to sbert-node. */
  readonly native: NativeModule;
  save(dir: string): Promise<void>;
  dispose(): void;
}

/** The first module of a pipeline, which turns texts into token ids (Transformer, WordEmbeddings, StaticEmbedding, Router). */
export interface InputModule extends SentenceModule {
  /** A Transformer's Hugging Face tokenizer, a WordEmbeddings' WhitespaceTokenizer. */
  readonly tokenizer: Tokenizer | WhitespaceTokenizer;
  /** Texts are cut to this many tokens. */
  maxSeqLength: number;
  /**
   * Tokenizes and pads a batch as encode and fit do. `task` ("query", "document", ...) matters to a Router, whose
   * batch then names the route it takes; other modules ignore it.
   */
  tokenize(texts: TextInput[], options?: { task?: string }): EncodedBatch & { route?: string };
  /**
   * The tokens a prompt puts at the start of a text, which Pooling with includePrompt false leaves out;
   * undefined where sentence-transformers does not count them.
   */
  promptLength(prompt: string, options?: { task?: string }): number | undefined;
}

export function isInputModule(module: SentenceModule): module is InputModule {
  return typeof (module as Partial<InputModule>).tokenize === "function" && typeof (module as Partial<InputModule>).promptLength === "function";
}

export const LEGACY_TYPE_PREFIX = "sentence_transformers.models.";

/** Checks an option that must be a positive integer. */
export function assertPositiveInt(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

/** An embedding matrix as the modules that look rows up take it: a list of rows, or row-major values with their shape. */
export type EmbeddingWeights = ArrayLike<number>[] | { data: Float32Array; shape: [number, number] };

/** The matrix as one row-major Float32Array, its rows checked to have one width; `where` starts the messages. */
export function embeddingMatrix(weights: EmbeddingWeights, where: string): { data: Float32Array; shape: [number, number] } {
  if (Array.isArray(weights)) {
    if (weights.length === 0) throw new RangeError(`${where}: embeddingWeights has no rows`);
    const dim = weights[0]!.length;
    assertPositiveInt(dim, `${where}: the embedding dimension`);
    const data = new Float32Array(weights.length * dim);
    weights.forEach((row, i) => {
      if (row.length !== dim) throw new RangeError(`${where}: embeddingWeights row ${i} has ${row.length} values, row 0 has ${dim}`);
      data.set(row, i * dim);
    });
    return { data, shape: [weights.length, dim] };
  }
  const w = weights as { data: Float32Array; shape: [number, number] };
  if (typeof w !== "object" || w === null || !(w.data instanceof Float32Array) || !Array.isArray(w.shape) || w.shape.length !== 2) {
    throw new TypeError(`${where}: embeddingWeights must be a list of rows or {data: Float32Array, shape: [rows, dimension]}`);
  }
  assertPositiveInt(w.shape[0], `${where}: embeddingWeights rows`);
  assertPositiveInt(w.shape[1], `${where}: embeddingWeights dimension`);
  if (w.data.length !== w.shape[0] * w.shape[1]) throw new RangeError(`${where}: embeddingWeights holds ${w.data.length} values, not ${w.shape[0]} x ${w.shape[1]}`);
  return { data: w.data, shape: [w.shape[0], w.shape[1]] };
}

/** Token ids of each text padded with 0 to the longest (at least one position); the mask marks the real ones. */
export function paddedBatch(rows: number[][]): EncodedBatch {
  const seqLength = rows.reduce((m, r) => Math.max(m, r.length), 1);
  const batchSize = rows.length;
  const inputIds = new Int32Array(batchSize * seqLength);
  const attentionMask = new Int32Array(batchSize * seqLength);
  rows.forEach((ids, b) => {
    inputIds.set(ids, b * seqLength);
    attentionMask.fill(1, b * seqLength, b * seqLength + ids.length);
  });
  return { inputIds, attentionMask, tokenTypeIds: new Int32Array(batchSize * seqLength), batchSize, seqLength };
}
