import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { TopK } from "../util/heap.js";
import { type ScoreFunction, forEachScoreRow } from "../util/similarity.js";
import { type CsvCell, appendCsvRow, pythonJsonDumps } from "./output.js";
import {
  type EvaluateOptions,
  type EvaluatedModel,
  SentenceEvaluator,
  checkModel,
  checkOptionalPositiveInt,
  checkPositiveInt,
  embed,
  modelSimilarity,
} from "./SentenceEvaluator.js";
import { type SimilarityFunction, toSimilarityFn, toSimilarityFunction } from "./SimilarityFunction.js";

/** The options InformationRetrievalEvaluator and NanoBEIREvaluator share. */
export interface RetrievalOptions {
  mrrAtK?: number[];
  ndcgAtK?: number[];
  accuracyAtK?: number[];
  precisionRecallAtK?: number[];
  mapAtK?: number[];
  showProgressBar?: boolean;
  /** Encoding batch size. Default 32. */
  batchSize?: number;
  writeCsv?: boolean;
  truncateDim?: number | null;
  /** Named score functions (e.g. `{ cosine: cosSim }`). Default: the model's similarityFnName. */
  scoreFunctions?: Record<string, ScoreFunction>;
  /** Also write each query's ranked hits as JSON lines, one file per score function. */
  writePredictions?: boolean;
}

export interface InformationRetrievalEvaluatorOptions extends RetrievalOptions {
  /** Corpus entries encoded and scored at once. Default 50000. */
  corpusChunkSize?: number;
  name?: string;
  /** The score function whose NDCG is the primary metric; default: the one with the best NDCG at the first evaluation. */
  mainScoreFunction?: SimilarityFunction | null;
  /** Text put before every query (instead of the model's "query" prompt). */
  queryPrompt?: string | null;
  /** A key of the model's prompts to use for the queries. */
  queryPromptName?: string | null;
  /** Text put before every corpus entry (instead of the model's document prompt). */
  corpusPrompt?: string | null;
  /** A key of the model's prompts to use for the corpus. */
  corpusPromptName?: string | null;
}

/** The metrics computed for every score function and k. */
export type RetrievalMetric = "accuracy" | "precision" | "recall" | "ndcg" | "mrr" | "map";

/** The metrics of one score function, keyed by k. */
export interface RetrievalScores {
  "accuracy@k": Map<number, number>;
  "precision@k": Map<number, number>;
  "recall@k": Map<number, number>;
  "ndcg@k": Map<number, number>;
  "mrr@k": Map<number, number>;
  "map@k": Map<number, number>;
}

/** The k's of each metric. */
export interface RetrievalKs {
  readonly mrrAtK: number[];
  readonly ndcgAtK: number[];
  readonly accuracyAtK: number[];
  readonly precisionRecallAtK: number[];
  readonly mapAtK: number[];
}

/** What InformationRetrievalEvaluator and NanoBEIREvaluator share: the k's of each metric and the score functions. */
export interface RetrievalSettings extends RetrievalKs {
  /** Sorted, as sbert's CSV columns and logs; empty until the model's similarity is known when none were given. */
  readonly scoreFunctionNames: readonly string[];
  readonly mainScoreFunction: SimilarityFunction | undefined;
}

interface Hit {
  corpusId: string;
  score: number;
}

/** A list of k's: positive integers, duplicates dropped; `fallback` when undefined. */
export function checkKs(values: number[] | undefined, fallback: number[], op: string, arg: string): number[] {
  const ks = values ?? fallback;
  if (!Array.isArray(ks) || ks.length === 0) throw new RangeError(`${op}: ${arg} must be a non-empty array of positive integers`);
  ks.forEach((k, i) => checkPositiveInt(k, op, `${arg}[${i}]`));
  // Duplicate k's would collapse into one metric key, as in sbert's dicts.
  return [...new Set(ks)];
}

/** Every metric's k's, checked, with sentence-transformers' defaults. */
export function checkRetrievalKs(options: Partial<RetrievalKs>, op: string): RetrievalKs {
  return {
    mrrAtK: checkKs(options.mrrAtK, [10], op, "mrrAtK"),
    ndcgAtK: checkKs(options.ndcgAtK, [10], op, "ndcgAtK"),
    accuracyAtK: checkKs(options.accuracyAtK, [1, 3, 5, 10], op, "accuracyAtK"),
    precisionRecallAtK: checkKs(options.precisionRecallAtK, [1, 3, 5, 10], op, "precisionRecallAtK"),
    mapAtK: checkKs(options.mapAtK, [100], op, "mapAtK"),
  };
}

/** The named score functions given, checked and copied, with their names sorted; none given: none, until the model's similarity is known. */
export function checkScoreFunctions(
  fns: Record<string, ScoreFunction> | undefined,
  op: string,
): { scoreFunctions: Record<string, ScoreFunction> | undefined; scoreFunctionNames: string[] } {
  if (fns === undefined) return { scoreFunctions: undefined, scoreFunctionNames: [] };
  if (typeof fns !== "object" || fns === null || Object.keys(fns).length === 0) {
    throw new TypeError(`${op}: scoreFunctions must be a non-empty object of named score functions`);
  }
  for (const [key, fn] of Object.entries(fns)) {
    if (typeof fn !== "function") throw new TypeError(`${op}: scoreFunctions.${key} must be a function`);
  }
  // sbert sorts the names for the CSV columns and logs.
  return { scoreFunctions: { ...fns }, scoreFunctionNames: Object.keys(fns).sort() };
}

/** The model's similarity function as the only score function, for when none were given. */
export function modelScoreFunctions(model: EvaluatedModel, op: string): Record<string, ScoreFunction> {
  const fn = modelSimilarity(model, op);
  return { [fn]: toSimilarityFn(fn) };
}

/** The CSV columns of every score function's metrics (after "epoch" and "steps"). */
export function retrievalCsvHeaders(settings: RetrievalKs, scoreFunctionNames: readonly string[]): string[] {
  const headers: string[] = [];
  for (const fn of scoreFunctionNames) {
    for (const k of settings.accuracyAtK) headers.push(`${fn}-Accuracy@${k}`);
    for (const k of settings.precisionRecallAtK) headers.push(`${fn}-Precision@${k}`, `${fn}-Recall@${k}`);
    for (const k of settings.mrrAtK) headers.push(`${fn}-MRR@${k}`);
    for (const k of settings.ndcgAtK) headers.push(`${fn}-NDCG@${k}`);
    for (const k of settings.mapAtK) headers.push(`${fn}-MAP@${k}`);
  }
  return headers;
}

/** A CSV row: epoch, steps, then `value(fn, metric, k)` in the order of the columns of retrievalCsvHeaders. */
export function retrievalCsvRow(
  settings: RetrievalSettings,
  epoch: number,
  steps: number,
  value: (fn: string, metric: RetrievalMetric, k: number) => number,
): CsvCell[] {
  const row: CsvCell[] = [{ int: epoch }, { int: steps }];
  for (const fn of settings.scoreFunctionNames) {
    for (const k of settings.accuracyAtK) row.push(value(fn, "accuracy", k));
    for (const k of settings.precisionRecallAtK) row.push(value(fn, "precision", k), value(fn, "recall", k));
    for (const k of settings.mrrAtK) row.push(value(fn, "mrr", k));
    for (const k of settings.ndcgAtK) row.push(value(fn, "ndcg", k));
    for (const k of settings.mapAtK) row.push(value(fn, "map", k));
  }
  return row;
}

/** The primary metric until the first evaluation chooses it: the main score function's, or the only one's, or cosine's NDCG at the largest k. */
export function provisionalPrimaryMetric(settings: RetrievalSettings): string {
  const guess = settings.mainScoreFunction ?? (settings.scoreFunctionNames.length === 1 ? settings.scoreFunctionNames[0]! : "cosine");
  return `${guess}_ndcg@${Math.max(...settings.ndcgAtK)}`;
}

/** The primary metric, `{fn}_ndcg@{largest k}`: the main score function's, else the one whose `ndcg(fn, k)` is best (the first on ties). */
export function choosePrimaryMetric(settings: RetrievalSettings, ndcg: (fn: string, k: number) => number): string {
  const maxK = Math.max(...settings.ndcgAtK);
  let fn: string;
  if (settings.mainScoreFunction !== undefined) {
    fn = settings.mainScoreFunction;
  } else {
    fn = settings.scoreFunctionNames[0]!;
    for (const name of settings.scoreFunctionNames) if (ndcg(name, maxK) > ndcg(fn, maxK)) fn = name;
  }
  return `${fn}_ndcg@${maxK}`;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function dcgAtK(relevances: number[], k: number): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(relevances.length, k); i++) dcg += relevances[i]! / Math.log2(i + 2);
  return dcg;
}

/**
 * Retrieval quality of queries against a corpus, as sbert v5 `InformationRetrievalEvaluator`: for each score
 * function, accuracy@k (a relevant document in the top k), precision@k and recall@k, NDCG@k (binary relevance),
 * MRR@k and MAP@k (average precision normalised by min(k, #relevant)). Queries without relevant documents are
 * skipped. Metric keys are `{fn}_{metric}@{k}`; the primary metric is `{fn}_ndcg@{max ndcg k}`.
 */
export class InformationRetrievalEvaluator extends SentenceEvaluator {
  readonly queriesIds: string[];
  readonly queries: string[];
  readonly corpusIds: string[];
  readonly corpus: string[];
  readonly relevantDocs: Map<string, Set<string>>;
  readonly corpusChunkSize: number;
  readonly mrrAtK: number[];
  readonly ndcgAtK: number[];
  readonly accuracyAtK: number[];
  readonly precisionRecallAtK: number[];
  readonly mapAtK: number[];
  readonly showProgressBar: boolean;
  readonly batchSize: number;
  readonly name: string;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  scoreFunctions: Record<string, ScoreFunction> | undefined;
  scoreFunctionNames: string[];
  readonly mainScoreFunction: SimilarityFunction | undefined;
  readonly writePredictions: boolean;
  readonly queryPrompt: string | undefined;
  readonly queryPromptName: string | undefined;
  readonly corpusPrompt: string | undefined;
  readonly corpusPromptName: string | undefined;
  readonly csvFile: string;
  readonly predictionsFile: string | undefined;
  csvHeaders: string[];
  private primaryChosen = false;

  constructor(
    queries: Record<string, string>,
    corpus: Record<string, string>,
    relevantDocs: Record<string, Set<string> | string[]>,
    options: InformationRetrievalEvaluatorOptions = {},
  ) {
    super();
    const op = "InformationRetrievalEvaluator";
    for (const [arg, value] of [["queries", queries], ["corpus", corpus], ["relevantDocs", relevantDocs]] as const) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TypeError(`${op}: ${arg} must be an object keyed by id`);
    }
    this.relevantDocs = new Map();
    for (const [qid, docs] of Object.entries(relevantDocs)) {
      if (!(docs instanceof Set) && !Array.isArray(docs)) throw new TypeError(`${op}: relevantDocs["${qid}"] must be a Set or an array of corpus ids`);
      this.relevantDocs.set(qid, new Set([...docs].map(String)));
    }
    this.queriesIds = [];
    for (const qid of Object.keys(queries)) {
      if (typeof queries[qid] !== "string") throw new TypeError(`${op}: queries["${qid}"] must be a string`);
      if ((this.relevantDocs.get(qid)?.size ?? 0) > 0) this.queriesIds.push(qid);
    }
    this.queries = this.queriesIds.map((qid) => queries[qid]!);
    this.corpusIds = Object.keys(corpus);
    this.corpus = this.corpusIds.map((cid) => {
      if (typeof corpus[cid] !== "string") throw new TypeError(`${op}: corpus["${cid}"] must be a string`);
      return corpus[cid]!;
    });
    if (this.queriesIds.length === 0) throw new RangeError(`${op}: no query has relevant documents in relevantDocs`);
    if (this.corpusIds.length === 0) throw new RangeError(`${op}: corpus is empty`);

    this.corpusChunkSize = checkPositiveInt(options.corpusChunkSize ?? 50000, op, "corpusChunkSize");
    ({ mrrAtK: this.mrrAtK, ndcgAtK: this.ndcgAtK, accuracyAtK: this.accuracyAtK, precisionRecallAtK: this.precisionRecallAtK, mapAtK: this.mapAtK } =
      checkRetrievalKs(options, op));
    this.showProgressBar = options.showProgressBar ?? false;
    this.batchSize = checkPositiveInt(options.batchSize ?? 32, op, "batchSize");
    this.name = options.name ?? "";
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");
    ({ scoreFunctions: this.scoreFunctions, scoreFunctionNames: this.scoreFunctionNames } = checkScoreFunctions(options.scoreFunctions, op));
    this.mainScoreFunction = options.mainScoreFunction ? toSimilarityFunction(options.mainScoreFunction, `${op}: mainScoreFunction`) : undefined;
    this.writePredictions = options.writePredictions ?? false;
    const optionalString = (arg: "queryPrompt" | "queryPromptName" | "corpusPrompt" | "corpusPromptName"): string | undefined => {
      const v = options[arg];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "string") throw new TypeError(`${op}: ${arg} must be a string`);
      return v;
    };
    this.queryPrompt = optionalString("queryPrompt");
    this.queryPromptName = optionalString("queryPromptName");
    this.corpusPrompt = optionalString("corpusPrompt");
    this.corpusPromptName = optionalString("corpusPromptName");

    const suffix = this.name ? `_${this.name}` : "";
    this.csvFile = `Information-Retrieval_evaluation${suffix}_results.csv`;
    this.predictionsFile = this.writePredictions ? `Information-Retrieval_evaluation${suffix}_predictions.jsonl` : undefined;
    this.csvHeaders = ["epoch", "steps"];
    this.appendCsvHeaders(this.scoreFunctionNames);

    this.primaryMetric = `${this.name ? `${this.name}_` : ""}${provisionalPrimaryMetric(this)}`;
  }

  protected appendCsvHeaders(names: readonly string[]): void {
    this.csvHeaders.push(...retrievalCsvHeaders(this, names));
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "InformationRetrievalEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    if (this.scoreFunctions === undefined) {
      this.scoreFunctions = modelScoreFunctions(model, op);
      this.scoreFunctionNames = Object.keys(this.scoreFunctions);
      this.appendCsvHeaders(this.scoreFunctionNames);
    }
    const scores = await this.computeMetrics(model, outputPath);
    const value = (fn: string, metric: RetrievalMetric, k: number): number => scores[fn]![`${metric}@k`].get(k)!;

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      // sbert writes this file by joining str() values with commas and "\n".
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, retrievalCsvRow(this, epoch, steps, value), "\n");
    }

    // As sbert, the primary metric is chosen once, at the first evaluation.
    if (!this.primaryChosen) {
      this.primaryMetric = choosePrimaryMetric(this, (fn, k) => value(fn, "ndcg", k));
      this.primaryChosen = true;
    }

    const metrics: Record<string, number> = {};
    // Metric order follows the score functions as given, like sbert's dict.
    for (const fn of Object.keys(this.scoreFunctions)) {
      for (const [metric, values] of Object.entries(scores[fn]!) as Array<[string, Map<number, number>]>) {
        for (const [k, value] of values) metrics[`${fn}_${metric.replace("@k", `@${k}`)}`] = value;
      }
    }
    return this.prefixNameToMetrics(metrics, this.name);
  }

  /** Ranks the corpus for every query with every score function and computes the metrics. */
  async computeMetrics(model: EvaluatedModel, outputPath?: string): Promise<Record<string, RetrievalScores>> {
    const op = "InformationRetrievalEvaluator";
    const scoreFunctions = this.scoreFunctions ?? modelScoreFunctions(model, op);
    const maxK = Math.max(...this.mrrAtK, ...this.ndcgAtK, ...this.accuracyAtK, ...this.precisionRecallAtK, ...this.mapAtK);
    const embedOptions = { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim };
    // Queries and corpus as sentence-transformers embeds them: encode_query and encode_document.
    const queryEmbeddings = await embed(model, this.queries, { ...embedOptions, task: "query", prompt: this.queryPrompt, promptName: this.queryPromptName }, op);

    const heaps: Record<string, TopK[]> = {};
    for (const name of Object.keys(scoreFunctions)) heaps[name] = queryEmbeddings.map(() => new TopK(maxK));

    for (let start = 0; start < this.corpus.length; start += this.corpusChunkSize) {
      const chunk = await embed(
        model,
        this.corpus.slice(start, start + this.corpusChunkSize),
        { ...embedOptions, task: "document", prompt: this.corpusPrompt, promptName: this.corpusPromptName },
        op,
      );
      for (const [name, fn] of Object.entries(scoreFunctions)) {
        forEachScoreRow(
          fn,
          queryEmbeddings,
          chunk,
          (qi, row) => {
            // Corpus ids only grow from chunk to chunk.
            heaps[name]![qi]!.pushRow(row, start);
          },
          op,
        );
      }
    }

    const results: Record<string, Hit[][]> = {};
    for (const name of Object.keys(scoreFunctions)) {
      results[name] = heaps[name]!.map((h) => h.sorted().map(({ id, score }) => ({ corpusId: this.corpusIds[id]!, score })));
    }

    if (this.writePredictions && this.predictionsFile !== undefined && outputPath !== undefined && outputPath !== null) {
      await mkdir(outputPath, { recursive: true });
      for (const name of Object.keys(results)) {
        const lines = results[name]!.map((hits, qi) =>
          pythonJsonDumps({
            query_id: this.queriesIds[qi],
            query: this.queries[qi],
            results: hits.map((h) => ({ corpus_id: h.corpusId, score: h.score })),
          }),
        );
        await writeFile(join(outputPath, this.predictionsFile.replace(".jsonl", `_${name}.jsonl`)), lines.map((l) => `${l}\n`).join(""), "utf8");
      }
    }

    const scores: Record<string, RetrievalScores> = {};
    for (const name of Object.keys(results)) scores[name] = this.computeMetricsFromHits(results[name]!);
    return scores;
  }

  /** sbert's metric definitions over each query's hits (best first). */
  computeMetricsFromHits(queriesResults: ReadonlyArray<ReadonlyArray<{ corpusId: string; score: number }>>): RetrievalScores {
    const numHits = new Map(this.accuracyAtK.map((k) => [k, 0]));
    const precisions = new Map(this.precisionRecallAtK.map((k): [number, number[]] => [k, []]));
    const recalls = new Map(this.precisionRecallAtK.map((k): [number, number[]] => [k, []]));
    const mrr = new Map(this.mrrAtK.map((k) => [k, 0]));
    const ndcg = new Map(this.ndcgAtK.map((k): [number, number[]] => [k, []]));
    const aveP = new Map(this.mapAtK.map((k): [number, number[]] => [k, []]));

    queriesResults.forEach((hits, qi) => {
      const relevant = this.relevantDocs.get(this.queriesIds[qi]!)!;
      const isRelevant = hits.map((h) => relevant.has(h.corpusId));
      for (const k of this.accuracyAtK) {
        if (isRelevant.slice(0, k).some(Boolean)) numHits.set(k, numHits.get(k)! + 1);
      }
      for (const k of this.precisionRecallAtK) {
        const correct = isRelevant.slice(0, k).filter(Boolean).length;
        precisions.get(k)!.push(correct / k);
        recalls.get(k)!.push(correct / relevant.size);
      }
      for (const k of this.mrrAtK) {
        const rank = isRelevant.slice(0, k).indexOf(true);
        if (rank >= 0) mrr.set(k, mrr.get(k)! + 1 / (rank + 1));
      }
      for (const k of this.ndcgAtK) {
        const predicted = isRelevant.slice(0, k).map(Number);
        const ideal = new Array<number>(relevant.size).fill(1);
        ndcg.get(k)!.push(dcgAtK(predicted, k) / dcgAtK(ideal, k));
      }
      for (const k of this.mapAtK) {
        let correct = 0;
        let sumPrecisions = 0;
        isRelevant.slice(0, k).forEach((rel, rank) => {
          if (rel) {
            correct++;
            sumPrecisions += correct / (rank + 1);
          }
        });
        aveP.get(k)!.push(sumPrecisions / Math.min(k, relevant.size));
      }
    });

    const n = this.queries.length;
    const avg = (m: Map<number, number[]>) => new Map([...m].map(([k, v]): [number, number] => [k, mean(v)]));
    return {
      "accuracy@k": new Map([...numHits].map(([k, v]): [number, number] => [k, v / n])),
      "precision@k": avg(precisions),
      "recall@k": avg(recalls),
      "ndcg@k": avg(ndcg),
      "mrr@k": new Map([...mrr].map(([k, v]): [number, number] => [k, v / n])),
      "map@k": avg(aveP),
    };
  }

  override get description(): string {
    return "Information Retrieval";
  }

  override getConfigDict(): Record<string, unknown> {
    return {
      ...(this.truncateDim !== undefined && { truncate_dim: this.truncateDim }),
      ...(this.queryPrompt !== undefined && { query_prompt: this.queryPrompt }),
      ...(this.queryPromptName !== undefined && { query_prompt_name: this.queryPromptName }),
      ...(this.corpusPrompt !== undefined && { corpus_prompt: this.corpusPrompt }),
      ...(this.corpusPromptName !== undefined && { corpus_prompt_name: this.corpusPromptName }),
    };
  }
}
