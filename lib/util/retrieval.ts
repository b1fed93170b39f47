/**
 * Retrieval helpers of `sentence_transformers.util`: semantic search, paraphrase mining and community detection.
 */
import { MinHeap, TopK } from "./heap.js";
import { type EmbeddingsInput, type ScoreFunction, cosSim, dot, forEachScoreRow, inverseNorms, toBatch } from "./similarity.js";

export interface SemanticSearchOptions {
  /** Hits returned per query. Default 10. */
  topK?: number;
  /** Queries scored at once. Default 100. */
  queryChunkSize?: number;
  /** Corpus entries scored at once. Default 500000. */
  corpusChunkSize?: number;
  /** Default {@link cosSim}. */
  scoreFunction?: ScoreFunction;
}

export interface SearchHit {
  corpusId: number;
  score: number;
}

/** The part of a model that paraphrase mining needs. */
export interface EncodingModel {
  /** One Float32Array per sentence (the wider type admits a SentenceTransformer's generic encode). */
  encode(sentences: string[], opts?: { batchSize?: number; showProgressBar?: boolean }): Promise<Array<Float32Array | Int8Array | Uint8Array>>;
}

export interface ParaphraseMiningEmbeddingsOptions {
  /** Queries scored at once. Default 5000. */
  queryChunkSize?: number;
  /** Corpus entries scored at once. Default 100000. */
  corpusChunkSize?: number;
  /** Upper bound on the pairs kept (sbert keeps at most maxPairs - 1 before removing duplicates). Default 500000. */
  maxPairs?: number;
  /** Neighbours considered per sentence. Default 100. */
  topK?: number;
  /** Default {@link cosSim}. */
  scoreFunction?: ScoreFunction;
}

export interface ParaphraseMiningOptions extends ParaphraseMiningEmbeddingsOptions {
  /** Encoding batch size. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  /** Keep only the first `truncateDim` dimensions of each embedding. */
  truncateDim?: number;
}

export interface CommunityDetectionOptions {
  /** Cosine similarity at or above which two embeddings are close. Default 0.75. */
  threshold?: number;
  /** Communities smaller than this are dropped. Default 10. */
  minCommunitySize?: number;
  /** Rows scored at once. Default 1024. */
  batchSize?: number;
  /** Accepted for parity with sbert's signature; nothing is drawn. */
  showProgressBar?: boolean;
}

function positiveInt(value: number, fn: string, arg: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${fn}: ${arg} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInt(value: number, fn: string, arg: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${fn}: ${arg} must be a non-negative integer, got ${value}`);
  return value;
}

function scoreFn(value: unknown, fn: string): ScoreFunction {
  if (typeof value !== "function") throw new TypeError(`${fn}: scoreFunction must be a function`);
  return value as ScoreFunction;
}

/**
 * For every query, the `topK` corpus entries with the highest score, best first. Equal scores are ordered by
 * corpus index (sbert leaves their order to torch.topk).
 */
export function semanticSearch(
  queryEmbeddings: EmbeddingsInput,
  corpusEmbeddings: EmbeddingsInput,
  options: SemanticSearchOptions = {},
): SearchHit[][] {
  const fn = "semanticSearch";
  const topK = nonNegativeInt(options.topK ?? 10, fn, "topK");
  const queryChunkSize = positiveInt(options.queryChunkSize ?? 100, fn, "queryChunkSize");
  const corpusChunkSize = positiveInt(options.corpusChunkSize ?? 500000, fn, "corpusChunkSize");
  const scoreFunction = scoreFn(options.scoreFunction ?? cosSim, fn);
  const queries = toBatch(queryEmbeddings, fn, "queryEmbeddings");
  const corpus = toBatch(corpusEmbeddings, fn, "corpusEmbeddings");

  const heaps = queries.map(() => new TopK(topK));
  for (let qs = 0; qs < queries.length; qs += queryChunkSize) {
    const qChunk = queries.slice(qs, qs + queryChunkSize);
    for (let cs = 0; cs < corpus.length; cs += corpusChunkSize) {
      const cChunk = corpus.slice(cs, cs + corpusChunkSize);
      forEachScoreRow(
        scoreFunction,
        qChunk,
        cChunk,
        (qi, row) => {
          // Corpus ids only grow from chunk to chunk.
          heaps[qs + qi]!.pushRow(row, cs);
        },
        fn,
      );
    }
  }
  return heaps.map((h) => h.sorted().map(({ id, score }) => ({ corpusId: id, score })));
}

/**
 * The most similar pairs among `embeddings` as `[score, i, j]` with `i < j`, best first, with sbert's
 * semantics: each sentence contributes its `topK` best neighbours per corpus chunk, only scores above the running
 * minimum (initially -1) enter the queue, and the queue is trimmed once `maxPairs` entries have been added.
 */
export function paraphraseMiningEmbeddings(
  embeddings: readonly Float32Array[],
  options: ParaphraseMiningEmbeddingsOptions = {},
): Array<[number, number, number]> {
  const fn = "paraphraseMiningEmbeddings";
  const queryChunkSize = positiveInt(options.queryChunkSize ?? 5000, fn, "queryChunkSize");
  const corpusChunkSize = positiveInt(options.corpusChunkSize ?? 100000, fn, "corpusChunkSize");
  const maxPairs = positiveInt(options.maxPairs ?? 500000, fn, "maxPairs");
  // +1: a sentence is its own best match, and self-pairs are skipped.
  const topK = nonNegativeInt(options.topK ?? 100, fn, "topK") + 1;
  const scoreFunction = scoreFn(options.scoreFunction ?? cosSim, fn);
  const rows = toBatch(embeddings, fn, "embeddings");

  type Entry = [number, number, number];
  // Python compares the (score, i, j) tuples lexicographically.
  const less = (a: Entry, b: Entry): boolean =>
    a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])));
  const pairs = new MinHeap<Entry>(less);
  let minScore = -1;
  let numAdded = 0;

  for (let cs = 0; cs < rows.length; cs += corpusChunkSize) {
    const cChunk = rows.slice(cs, cs + corpusChunkSize);
    const best = new TopK(Math.min(topK, cChunk.length));
    for (let qs = 0; qs < rows.length; qs += queryChunkSize) {
      const qChunk = rows.slice(qs, qs + queryChunkSize);
      forEachScoreRow(
        scoreFunction,
        qChunk,
        cChunk,
        (qi, row) => {
          best.clear();
          best.pushRow(row);
          const i = qs + qi;
          for (const { id, score } of best.sorted()) {
            const j = cs + id;
            if (i !== j && score > minScore) {
              pairs.push([score, i, j]);
              numAdded++;
              if (numAdded >= maxPairs) minScore = pairs.pop()![0];
            }
          }
        },
        fn,
      );
    }
  }

  // Popping the queue yields ascending (score, i, j); the first occurrence of each unordered pair is kept.
  const entries = pairs.toArray().sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
  const seen = new Set<number>();
  const n = rows.length;
  const out: Array<[number, number, number]> = [];
  for (const [score, i, j] of entries) {
    const lo = Math.min(i, j);
    const hi = Math.max(i, j);
    const key = lo * n + hi;
    if (lo !== hi && !seen.has(key)) {
      seen.add(key);
      out.push([score, lo, hi]);
    }
  }
  // Stable, like Python's sorted(reverse=True): equal scores keep their ascending (score, i, j) order.
  out.sort((a, b) => (b[0] > a[0] ? 1 : b[0] < a[0] ? -1 : 0));
  return out;
}

/** Encodes `sentences` with `model` and runs {@link paraphraseMiningEmbeddings} on the embeddings. */
export async function paraphraseMining(
  model: EncodingModel,
  sentences: string[],
  options: ParaphraseMiningOptions = {},
): Promise<Array<[number, number, number]>> {
  const fn = "paraphraseMining";
  if (!Array.isArray(sentences)) throw new TypeError(`${fn}: sentences must be an array of strings`);
  const batchSize = positiveInt(options.batchSize ?? 32, fn, "batchSize");
  const truncateDim = options.truncateDim === undefined ? undefined : positiveInt(options.truncateDim, fn, "truncateDim");
  // Validate the mining options before the (possibly long) encoding.
  paraphraseMiningEmbeddings([], options);
  const encoded = await model.encode(sentences, { batchSize, showProgressBar: options.showProgressBar ?? false });
  if (!Array.isArray(encoded) || encoded.length !== sentences.length) {
    throw new TypeError(`${fn}: model.encode returned ${Array.isArray(encoded) ? encoded.length : "no"} embeddings for ${sentences.length} sentences`);
  }
  const embeddings = encoded.map((e, i) => {
    if (!(e instanceof Float32Array)) throw new TypeError(`${fn}: model.encode returned a non-Float32Array embedding at index ${i}`);
    return truncateDim === undefined ? e : e.subarray(0, truncateDim);
  });
  return paraphraseMiningEmbeddings(embeddings, options);
}

/**
 * Fast community detection as sbert: every embedding with at least `minCommunitySize` neighbours (itself
 * included) at cosine similarity >= `threshold` seeds a community of those neighbours, ordered by decreasing
 * similarity to it (ties by index). Communities are then taken largest first, each dropping members already
 * used, and kept if still at least `minCommunitySize` large; the result is ordered by decreasing size.
 */
export function communityDetection(
  embeddings: readonly Float32Array[],
  options: CommunityDetectionOptions = {},
): number[][] {
  const fn = "communityDetection";
  const threshold = options.threshold ?? 0.75;
  if (typeof threshold !== "number" || Number.isNaN(threshold)) throw new RangeError(`${fn}: threshold must be a number`);
  let minCommunitySize = positiveInt(options.minCommunitySize ?? 10, fn, "minCommunitySize");
  const batchSize = positiveInt(options.batchSize ?? 1024, fn, "batchSize");
  const rows = toBatch(embeddings, fn, "embeddings");
  const n = rows.length;
  if (n === 0) return [];
  const dim = rows[0]!.length;
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new RangeError(`${fn}: embeddings[${i}] has dimension ${r.length} but expected ${dim}`);
  });
  minCommunitySize = Math.min(minCommunitySize, n);

  const inv = inverseNorms(rows);
  const scores = new Float64Array(n);
  const extracted: Int32Array[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(start + batchSize, n);
    for (let i = start; i < end; i++) {
      const x = rows[i]!;
      const ix = inv[i]!;
      let count = 0;
      for (let j = 0; j < n; j++) {
        const s = dot(x, rows[j]!) * ix * inv[j]!;
        scores[j] = s;
        if (s >= threshold) count++;
      }
      if (count < minCommunitySize) continue;
      const members = new Int32Array(count);
      let m = 0;
      for (let j = 0; j < n; j++) if (scores[j]! >= threshold) members[m++] = j;
      members.sort((a, b) => (scores[b]! > scores[a]! ? 1 : scores[b]! < scores[a]! ? -1 : a - b));
      extracted.push(members);
    }
  }

  // Array.prototype.sort is stable, as Python's sorted.
  extracted.sort((a, b) => b.length - a.length);
  const used = new Uint8Array(n);
  const unique: number[][] = [];
  for (const community of extracted) {
    const fresh: number[] = [];
    for (const j of community) if (!used[j]) fresh.push(j);
    if (fresh.length >= minCommunitySize) {
      unique.push(fresh);
      for (const j of fresh) used[j] = 1;
    }
  }
  unique.sort((a, b) => b.length - a.length);
  return unique;
}
