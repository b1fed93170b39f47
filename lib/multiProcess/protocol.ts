/**
 * The messages between a MultiProcessPool and its worker processes (Node IPC with "advanced" serialization, so
 * embeddings cross as Float32Array bytes, not JSON numbers).
 */
import type { SbertErrorCode } from "../errors.js";
import type { LinearPrecision } from "../SentenceTransformer.js";
import type { TextInput } from "../tokenization/Tokenizer.js";

/** What a worker loads, sent once after it starts. */
export interface WorkerInit {
  type: "init";
  folder: string;
  device: string;
  /** Encode batches the worker runs side by side, one thread each. */
  threads: number;
  precision: LinearPrecision;
  maxSeqLength: number;
}

/** Everything encode needs, resolved by the parent: the worker's own prompts and truncateDim are not used. */
export interface WorkerEncodeOptions {
  batchSize: number;
  normalizeEmbeddings: boolean;
  truncateDim: number | undefined;
  prompt: string | undefined;
  task: string | undefined;
}

export interface WorkerEncode {
  type: "encode";
  id: number;
  texts: TextInput[];
  options: WorkerEncodeOptions;
}

export type ToWorker = WorkerInit | WorkerEncode;

export interface WorkerReady {
  type: "ready";
}

/** One chunk's embeddings: `count` rows of `dim` float32 values, row after row. */
export interface WorkerResult {
  type: "result";
  id: number;
  dim: number;
  data: Float32Array;
}

/** A failure of loading (no id) or of one chunk. */
export interface WorkerFailure {
  type: "error";
  id?: number;
  code?: SbertErrorCode;
  name: string;
  message: string;
}

export type FromWorker = WorkerReady | WorkerResult | WorkerFailure;
