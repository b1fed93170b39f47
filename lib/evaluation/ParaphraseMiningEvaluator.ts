import { paraphraseMiningEmbeddings } from "../util/retrieval.js";
import { type CsvCell, appendCsvRow } from "./output.js";
import {
  type EvaluateOptions,
  type EvaluatedModel,
  SentenceEvaluator,
  checkModel,
  checkOptionalPositiveInt,
  checkPositiveInt,
  embed,
} from "./SentenceEvaluator.js";

/** Sentence ids: strings, or numbers (taken as their string form, as object keys are). */
export type SentenceId = string | number;

export interface ParaphraseMiningEvaluatorOptions {
  /** Pairs of ids that are duplicates (paraphrases); pairs naming an id missing from the sentences are ignored. */
  duplicatesList?: ReadonlyArray<readonly [SentenceId, SentenceId]>;
  /** `duplicatesDict[id1][id2]` true when id1 and id2 are duplicates (either direction counts). */
  duplicatesDict?: Record<string, Record<string, boolean>> | Map<SentenceId, Map<SentenceId, boolean>>;
  /** Also count as duplicates all pairs connected through other duplicates (a~b, b~c gives a~c). Default false. */
  addTransitiveClosure?: boolean;
  /** Sentences scored at once against the corpus chunk. Default 5000. */
  queryChunkSize?: number;
  /** Sentences each query chunk is scored against at once. Default 100000. */
  corpusChunkSize?: number;
  /** Candidate pairs kept at most. Default 500000. */
  maxPairs?: number;
  /** Neighbours considered per sentence. Default 100. */
  topK?: number;
  showProgressBar?: boolean;
  /** Encoding batch size. Default 16. */
  batchSize?: number;
  name?: string;
  writeCsv?: boolean;
  truncateDim?: number | null;
}

type DuplicateGraph = Map<string, Map<string, boolean>>;

function checkId(value: unknown, op: string, arg: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new TypeError(`${op}: ${arg} must be a string or number id, got ${typeof value}`);
}

/** The entries of a Map or of a plain object; anything else is a TypeError naming `arg`. */
function entriesOf(value: unknown, op: string, arg: string, expected: string): Array<[unknown, unknown]> {
  if (value instanceof Map) return [...value.entries()];
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return Object.entries(value);
  throw new TypeError(`${op}: ${arg} must be ${expected}`);
}

function neighbours(graph: DuplicateGraph, id: string): Map<string, boolean> {
  let row = graph.get(id);
  if (row === undefined) {
    row = new Map();
    graph.set(id, row);
  }
  return row;
}

/**
 * Connects every pair within each connected part of the graph. As sbert, an entry links two ids whatever its
 * value, so an explicit `false` still joins them for the closure.
 */
function closeTransitively(graph: DuplicateGraph): void {
  const visited = new Set<string>();
  for (const start of [...graph.keys()]) {
    if (visited.has(start)) continue;
    const component = new Set<string>([start]);
    const queue = [...neighbours(graph, start).keys()];
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      if (component.has(node)) continue;
      component.add(node);
      queue.push(...neighbours(graph, node).keys());
    }
    const members = [...component];
    for (let i = 0; i < members.length - 1; i++) {
      for (let j = i + 1; j < members.length; j++) {
        neighbours(graph, members[i]!).set(members[j]!, true);
        neighbours(graph, members[j]!).set(members[i]!, true);
        visited.add(members[i]!);
        visited.add(members[j]!);
      }
    }
  }
}

/**
 * Paraphrase mining against known duplicates, as sbert's `ParaphraseMiningEvaluator`: all sentences are mined for
 * their most cosine-similar pairs ({@link paraphraseMiningEmbeddings}), and the ranked candidates are scored
 * against the duplicates: `average_precision` (the primary metric), and the `f1`, `precision`, `recall` at the
 * best-F1 cut with its score `threshold` (midway to the next candidate's score).
 *
 * `sentencesMap` maps ids to sentences; a Map keeps insertion order for numeric ids, which an object would sort
 * (the order only decides between equal scores).
 */
export class ParaphraseMiningEvaluator extends SentenceEvaluator {
  readonly ids: string[];
  readonly sentences: string[];
  readonly duplicates: DuplicateGraph;
  readonly addTransitiveClosure: boolean;
  readonly queryChunkSize: number;
  readonly corpusChunkSize: number;
  readonly maxPairs: number;
  readonly topK: number;
  readonly showProgressBar: boolean;
  readonly batchSize: number;
  readonly name: string;
  readonly writeCsv: boolean;
  readonly truncateDim: number | undefined;
  /** Distinct duplicate pairs among the sentences: the recall's denominator. */
  readonly totalNumDuplicates: number;
  readonly csvFile: string;
  readonly csvHeaders = ["epoch", "steps", "precision", "recall", "f1", "threshold", "average_precision"];

  constructor(sentencesMap: Record<string, string> | Map<SentenceId, string>, options: ParaphraseMiningEvaluatorOptions = {}) {
    super();
    const op = "ParaphraseMiningEvaluator";
    const entries = entriesOf(sentencesMap, op, "sentencesMap", "an object or a Map from ids to sentences");
    this.ids = [];
    this.sentences = [];
    for (const [id, sentence] of entries) {
      const key = checkId(id, op, "sentencesMap key");
      if (typeof sentence !== "string") throw new TypeError(`${op}: sentencesMap["${key}"] must be a string, got ${typeof sentence}`);
      this.ids.push(key);
      this.sentences.push(sentence);
    }
    if (this.ids.length === 0) throw new RangeError(`${op}: sentencesMap is empty`);
    const known = new Set(this.ids);
    if (known.size !== this.ids.length) {
      const twice = this.ids.find((id, i) => this.ids.indexOf(id) !== i);
      throw new RangeError(`${op}: sentencesMap has the id "${twice}" twice (numbers count as their string form)`);
    }

    this.duplicates = new Map();
    const dict = options.duplicatesDict;
    if (dict !== undefined && dict !== null) {
      for (const [id1, row] of entriesOf(dict, op, "duplicatesDict", "an object or a Map of objects or Maps of booleans")) {
        const key1 = checkId(id1, op, "duplicatesDict key");
        const target = neighbours(this.duplicates, key1);
        for (const [id2, flag] of entriesOf(row, op, `duplicatesDict["${key1}"]`, "an object or a Map of booleans")) {
          const key2 = checkId(id2, op, `duplicatesDict["${key1}"] key`);
          if (typeof flag !== "boolean") throw new TypeError(`${op}: duplicatesDict["${key1}"]["${key2}"] must be a boolean`);
          target.set(key2, flag);
        }
      }
    }
    const list = options.duplicatesList;
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list)) throw new TypeError(`${op}: duplicatesList must be an array of [id1, id2] pairs`);
      list.forEach((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`${op}: duplicatesList[${i}] must be an [id1, id2] pair`);
        const id1 = checkId(pair[0], op, `duplicatesList[${i}][0]`);
        const id2 = checkId(pair[1], op, `duplicatesList[${i}][1]`);
        if (known.has(id1) && known.has(id2)) {
          neighbours(this.duplicates, id1).set(id2, true);
          neighbours(this.duplicates, id2).set(id1, true);
        }
      });
    }
    this.addTransitiveClosure = options.addTransitiveClosure ?? false;
    if (typeof this.addTransitiveClosure !== "boolean") throw new TypeError(`${op}: addTransitiveClosure must be a boolean`);
    if (this.addTransitiveClosure) closeTransitively(this.duplicates);

    const positivePairs = new Set<string>();
    for (const [key1, row] of this.duplicates) {
      for (const key2 of row.keys()) {
        if (known.has(key1) && known.has(key2) && this.isDuplicate(key1, key2)) {
          positivePairs.add(JSON.stringify(key1 < key2 ? [key1, key2] : [key2, key1]));
        }
      }
    }
    this.totalNumDuplicates = positivePairs.size;

    this.queryChunkSize = checkPositiveInt(options.queryChunkSize ?? 5000, op, "queryChunkSize");
    this.corpusChunkSize = checkPositiveInt(options.corpusChunkSize ?? 100000, op, "corpusChunkSize");
    this.maxPairs = checkPositiveInt(options.maxPairs ?? 500000, op, "maxPairs");
    this.topK = options.topK ?? 100;
    if (!Number.isInteger(this.topK) || this.topK < 0) throw new RangeError(`${op}: topK must be a non-negative integer, got ${this.topK}`);
    this.showProgressBar = options.showProgressBar ?? false;
    this.batchSize = checkPositiveInt(options.batchSize ?? 16, op, "batchSize");
    this.name = options.name ?? "";
    this.writeCsv = options.writeCsv ?? true;
    this.truncateDim = checkOptionalPositiveInt(options.truncateDim, op, "truncateDim");
    this.csvFile = `paraphrase_mining_evaluation${this.name ? `_${this.name}` : ""}_results.csv`;
    this.primaryMetric = this.name ? `${this.name}_average_precision` : "average_precision";
  }

  /** Whether the two ids are marked duplicates, in either direction. */
  isDuplicate(id1: string, id2: string): boolean {
    return this.duplicates.get(id1)?.get(id2) === true || this.duplicates.get(id2)?.get(id1) === true;
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const op = "ParaphraseMiningEvaluator";
    checkModel(model, op);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const embeddings = await embed(
      model,
      this.sentences,
      { batchSize: this.batchSize, showProgressBar: this.showProgressBar, truncateDim: this.truncateDim },
      op,
    );
    const pairs = paraphraseMiningEmbeddings(embeddings, {
      queryChunkSize: this.queryChunkSize,
      corpusChunkSize: this.corpusChunkSize,
      maxPairs: this.maxPairs,
      topK: this.topK,
    });

    // The cells start as Python ints (written "0") and become floats once set, as in sbert's CSV.
    let threshold: CsvCell = { int: 0 };
    let bestF1: CsvCell = { int: 0 };
    let bestPrecision: CsvCell = { int: 0 };
    let bestRecall: CsvCell = { int: 0 };
    let f1Max = 0;
    let nExtract = 0;
    let nCorrect = 0;
    let precisionSum = 0;
    for (let idx = 0; idx < pairs.length; idx++) {
      const [, i, j] = pairs[idx]!;
      nExtract++;
      if (!this.isDuplicate(this.ids[i]!, this.ids[j]!)) continue;
      nCorrect++;
      const precision = nCorrect / nExtract;
      const recall = this.totalNumDuplicates > 0 ? nCorrect / this.totalNumDuplicates : 0;
      const f1 = (2 * precision * recall) / (precision + recall);
      precisionSum += precision;
      if (f1 > f1Max) {
        f1Max = f1;
        bestF1 = f1;
        bestPrecision = precision;
        bestRecall = recall;
        threshold = (pairs[idx]![0] + pairs[Math.min(idx + 1, pairs.length - 1)]![0]) / 2;
      }
    }
    const averagePrecision: CsvCell = this.totalNumDuplicates > 0 ? precisionSum / this.totalNumDuplicates : { int: 0 };

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      const row: CsvCell[] = [{ int: epoch }, { int: steps }, bestPrecision, bestRecall, bestF1, threshold, averagePrecision];
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, row, "\r\n");
    }
    const value = (cell: CsvCell): number => (typeof cell === "number" ? cell : (cell as { int: number }).int);
    this.primaryMetric = "average_precision";
    return this.prefixNameToMetrics(
      {
        average_precision: value(averagePrecision),
        f1: value(bestF1),
        precision: value(bestPrecision),
        recall: value(bestRecall),
        threshold: value(threshold),
      },
      this.name,
    );
  }

  override getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = {
      add_transitive_closure: this.addTransitiveClosure,
      max_pairs: this.maxPairs,
      top_k: this.topK,
    };
    if (this.truncateDim !== undefined) config["truncate_dim"] = this.truncateDim;
    return config;
  }
}
