/**
 * What the sparse evaluators add to the dense ones: a model view that encodes as a SparseEncoder does for
 * evaluation (dense rows over the vocabulary, cut to maxActiveDims) and records the sparsity of every encode call,
 * and the CSV step that appends those statistics to the row the dense evaluator just wrote.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

import type { EvaluatedModel, EvaluationEncodeOptions } from "../../evaluation/SentenceEvaluator.js";
import { formatPythonFloat } from "../../evaluation/output.js";
import type { SparseEncoder } from "../SparseEncoder.js";

/** One encode call as a sparse evaluator saw it. */
export interface SparsityRecord {
  /** "query" for encodeQuery, "document" for encodeDocument, undefined for encode. */
  task: "query" | "document" | undefined;
  /** The texts encoded. */
  count: number;
  activeDims: number;
  sparsityRatio: number;
  /** How many of the call's embeddings are active in each dimension. */
  countVector: Int32Array;
}

/**
 * sentence-transformers' `SparseEncoder.sparsity` of one encode call's embeddings: the mean number of non-zero
 * dimensions (a float32 mean there, hence the rounding) and the share of inactive ones.
 */
export function sparsityStats(embeddings: readonly Float32Array[]): { activeDims: number; sparsityRatio: number; countVector: Int32Array } {
  const dim = embeddings[0]?.length ?? 0;
  const countVector = new Int32Array(dim);
  if (embeddings.length === 0 || dim === 0) return { activeDims: 0, sparsityRatio: 1, countVector };
  let active = 0;
  for (const e of embeddings) {
    for (let j = 0; j < e.length; j++) {
      if (e[j] !== 0) {
        active++;
        countVector[j]!++;
      }
    }
  }
  const activeDims = Math.fround(active / embeddings.length);
  return { activeDims, sparsityRatio: 1 - activeDims / dim, countVector };
}

/**
 * A SparseEncoder seen as the dense evaluators' model: each encode gives dense Float32Arrays over the vocabulary,
 * keeping each embedding's `maxActiveDims` largest values (the model's own setting when undefined), and records
 * its sparsity.
 */
export class SparsityRecorder implements EvaluatedModel {
  readonly records: SparsityRecord[] = [];

  constructor(
    readonly model: SparseEncoder,
    readonly maxActiveDims: number | undefined,
  ) {}

  get similarityFnName(): string {
    return this.model.similarityFnName;
  }

  private async run(task: "query" | "document" | undefined, sentences: string[], opts: EvaluationEncodeOptions = {}): Promise<Float32Array[]> {
    const options = {
      batchSize: opts.batchSize,
      showProgressBar: opts.showProgressBar,
      convertToSparseTensor: false as const,
      maxActiveDims: this.maxActiveDims,
      ...(opts.prompt !== undefined && { prompt: opts.prompt }),
      ...(opts.promptName !== undefined && { promptName: opts.promptName }),
    };
    const out =
      task === "query"
        ? await this.model.encodeQuery(sentences, options)
        : task === "document"
          ? await this.model.encodeDocument(sentences, options)
          : await this.model.encode(sentences, options);
    const rows = out as Float32Array[];
    const stats = sparsityStats(rows);
    this.records.push({ task, count: sentences.length, ...stats });
    return rows;
  }

  encode(sentences: string[], opts?: EvaluationEncodeOptions): Promise<Float32Array[]> {
    return this.run(undefined, sentences, opts);
  }

  encodeQuery(sentences: string[], opts?: EvaluationEncodeOptions): Promise<Float32Array[]> {
    return this.run("query", sentences, opts);
  }

  encodeDocument(sentences: string[], opts?: EvaluationEncodeOptions): Promise<Float32Array[]> {
    return this.run("document", sentences, opts);
  }
}

/** The plain mean of the calls' statistics, as the sparse evaluators average `sparsity()` over their encode calls. */
export function meanStats(records: readonly SparsityRecord[]): { active_dims: number; sparsity_ratio: number } {
  if (records.length === 0) return { active_dims: 0, sparsity_ratio: 1 };
  let active = 0;
  let ratio = 0;
  for (const r of records) {
    active += r.activeDims;
    ratio += r.sparsityRatio;
  }
  return { active_dims: active / records.length, sparsity_ratio: ratio / records.length };
}

/** Checks a sparse evaluator's `maxActiveDims` option (undefined or null: the model's own). */
export function checkMaxActiveDims(value: number | null | undefined, op: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${op}: maxActiveDims must be a positive integer, got ${String(value)}`);
  return value;
}

/** Checks that an evaluator was given a SparseEncoder (its encode with convertToSparseTensor and maxActiveDims). */
export function checkSparseModel(model: unknown, op: string): asserts model is SparseEncoder {
  const m = model as Partial<SparseEncoder> | null;
  if (!m || typeof m.encode !== "function" || typeof m.encodeQuery !== "function" || typeof m.encodeDocument !== "function" || typeof m.similarityFnName !== "string") {
    throw new TypeError(`${op}: model must be a SparseEncoder`);
  }
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Appends `values` to the last data row of the CSV at `path` and rewrites the whole file as Python's csv.writer
 * does ("\r\n" line ends), as sentence-transformers' `append_to_last_row`; a file with no data row is left alone.
 * The file is replaced by a rename, so a crash leaves the old one whole.
 */
export async function appendToLastRow(path: string, values: readonly number[]): Promise<boolean> {
  // The dense evaluators end some rows with "\n" alone, so a file may mix both line ends (Python's reader takes either).
  const rows = parse(await readFile(path, "utf8"), { relax_column_count: true, record_delimiter: ["\r\n", "\n"] }) as string[][];
  if (rows.length <= 1) return false;
  rows[rows.length - 1]!.push(...values.map(formatPythonFloat));
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, rows.map((r) => r.map(csvField).join(",") + "\r\n").join(""), "utf8");
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return true;
}

/** What evaluateSparse needs of an evaluator. */
interface SparseEvaluatorLike {
  readonly name: string;
  readonly writeCsv: boolean;
  readonly csvFile: string;
  prefixNameToMetrics(metrics: Record<string, number>, name: string): Record<string, number>;
}

/**
 * One sparse evaluation: the dense evaluator's `evaluate` run on a SparsityRecorder over `model`, then the
 * statistics `statsOf` makes of the recorded encode calls added to the metrics (name-prefixed) and to the CSV row.
 */
export async function evaluateSparse(
  evaluator: SparseEvaluatorLike,
  model: unknown,
  maxActiveDims: number | undefined,
  outputPath: string | undefined,
  evaluate: (recorder: SparsityRecorder) => Promise<Record<string, number>>,
  statsOf: (records: readonly SparsityRecord[]) => Record<string, number>,
  op: string,
): Promise<Record<string, number>> {
  checkSparseModel(model, op);
  const recorder = new SparsityRecorder(model, maxActiveDims);
  const metrics = await evaluate(recorder);
  const stats = statsOf(recorder.records);
  Object.assign(metrics, evaluator.prefixNameToMetrics(stats, evaluator.name));
  if (outputPath !== undefined && outputPath !== null && evaluator.writeCsv) await appendToLastRow(join(outputPath, evaluator.csvFile), Object.values(stats));
  return metrics;
}

/** Queries' (encode and encodeQuery) and documents' statistics, each the plain mean over its calls. */
export function queryCorpusStats(records: readonly SparsityRecord[]): Record<string, number> {
  const stats: Record<string, number> = {};
  for (const [prefix, part] of [
    ["query", records.filter((r) => r.task !== "document")],
    ["corpus", records.filter((r) => r.task === "document")],
  ] as const) {
    if (part.length === 0) continue;
    const m = meanStats(part);
    stats[`${prefix}_active_dims`] = m.active_dims;
    stats[`${prefix}_sparsity_ratio`] = m.sparsity_ratio;
  }
  return stats;
}
