/**
 * Sparse embeddings (what SparseEncoder gives) and search over them: dot products over the dimensions two
 * embeddings share, and an inverted index for semantic search, so a query costs time in the corpus entries that
 * share its active dimensions rather than in the vocabulary's size.
 */
import { TopK } from "./heap.js";
import type { SearchHit } from "./retrieval.js";

/** One sparse embedding: the active dimensions in increasing order, their values, and the vector's full size. */
export interface SparseEmbedding {
  indices: Int32Array;
  values: Float32Array;
  dim: number;
}

export interface SparseSemanticSearchOptions {
  /** Hits per query. Default 10. */
  topK?: number;
  /** "dot" (default, SparseEncoder's similarity) or "cosine". */
  scoreFunction?: "dot" | "cosine";
}

/** The dimensions of `dense` that are not zero, keeping only the `maxActiveDims` largest in magnitude (ties: the lower index). */
export function toSparse(dense: Float32Array, maxActiveDims?: number): SparseEmbedding {
  let active: number[] = [];
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) active.push(i);
  if (maxActiveDims !== undefined && active.length > maxActiveDims) {
    active.sort((a, b) => Math.abs(dense[b]!) - Math.abs(dense[a]!) || a - b);
    active = active.slice(0, maxActiveDims).sort((a, b) => a - b);
  }
  return { indices: Int32Array.from(active), values: Float32Array.from(active, (i) => dense[i]!), dim: dense.length };
}

/** A dense Float32Array of a sparse embedding (a dense one is returned as is). */
export function toDense(e: SparseEmbedding | Float32Array): Float32Array {
  if (e instanceof Float32Array) return e;
  const out = new Float32Array(e.dim);
  for (let k = 0; k < e.indices.length; k++) out[e.indices[k]!] = e.values[k]!;
  return out;
}

/** Whether `e` is a well-formed sparse embedding (indices strictly increasing, inside dim, one value each). */
export function isSparseEmbedding(e: unknown): e is SparseEmbedding {
  if (typeof e !== "object" || e === null) return false;
  const { indices, values, dim } = e as Partial<SparseEmbedding>;
  if (!(indices instanceof Int32Array) || !(values instanceof Float32Array) || indices.length !== values.length) return false;
  if (typeof dim !== "number" || !Number.isInteger(dim) || dim < 0) return false;
  for (let k = 0; k < indices.length; k++) {
    if (indices[k]! < 0 || indices[k]! >= dim || (k > 0 && indices[k]! <= indices[k - 1]!)) return false;
  }
  return true;
}

/** The dot product of two sparse embeddings, over the indices they share. */
export function sparseDotScore(a: SparseEmbedding, b: SparseEmbedding): number {
  let i = 0;
  let j = 0;
  let sum = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const x = a.indices[i]!;
    const y = b.indices[j]!;
    if (x === y) sum += a.values[i++]! * b.values[j++]!;
    else if (x < y) i++;
    else j++;
  }
  return sum;
}

/** Cosine similarity of two sparse embeddings (0 where either is all zeros). */
export function sparseCosSim(a: SparseEmbedding, b: SparseEmbedding): number {
  const norms = Math.sqrt(sparseDotScore(a, a)) * Math.sqrt(sparseDotScore(b, b));
  return sparseDotScore(a, b) / Math.max(norms, 1e-8);
}

function checkAll(list: unknown, fn: string, arg: string): SparseEmbedding[] {
  if (!Array.isArray(list)) throw new TypeError(`${fn}: ${arg} must be an array of sparse embeddings`);
  list.forEach((e, i) => {
    if (!isSparseEmbedding(e)) throw new TypeError(`${fn}: ${arg}[${i}] must be a sparse embedding {indices: Int32Array (increasing), values: Float32Array, dim}`);
  });
  return list as SparseEmbedding[];
}

/**
 * For every query, the `topK` corpus entries with the highest score, best first, as sentence-transformers'
 * `semantic_search` on sparse tensors; equal scores are ordered by corpus index. Entries sharing no active
 * dimension with a query score 0 and fill the list only when fewer than `topK` entries share one.
 */
export function sparseSemanticSearch(queries: SparseEmbedding[], corpus: SparseEmbedding[], options: SparseSemanticSearchOptions = {}): SearchHit[][] {
  const fn = "sparseSemanticSearch";
  const topK = options.topK ?? 10;
  if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`${fn}: topK must be a non-negative integer, got ${String(topK)}`);
  const scoreFunction = options.scoreFunction ?? "dot";
  if (scoreFunction !== "dot" && scoreFunction !== "cosine") throw new RangeError(`${fn}: scoreFunction must be "dot" or "cosine", got ${JSON.stringify(scoreFunction)}`);
  const qs = checkAll(queries, fn, "queries");
  const docs = checkAll(corpus, fn, "corpus");

  // Postings: for each dimension, the corpus entries active there and their values.
  const postings = new Map<number, { ids: number[]; values: number[] }>();
  docs.forEach((d, id) => {
    for (let k = 0; k < d.indices.length; k++) {
      let p = postings.get(d.indices[k]!);
      if (p === undefined) postings.set(d.indices[k]!, (p = { ids: [], values: [] }));
      p.ids.push(id);
      p.values.push(d.values[k]!);
    }
  });
  const norms = scoreFunction === "cosine" ? docs.map((d) => Math.sqrt(sparseDotScore(d, d))) : undefined;
  const scores = new Float64Array(docs.length);
  const seen = new Uint8Array(docs.length);
  return qs.map((q) => {
    scores.fill(0);
    seen.fill(0);
    const touched: number[] = [];
    for (let k = 0; k < q.indices.length; k++) {
      const p = postings.get(q.indices[k]!);
      if (p === undefined) continue;
      const qv = q.values[k]!;
      for (let n = 0; n < p.ids.length; n++) {
        const id = p.ids[n]!;
        if (seen[id] === 0) {
          seen[id] = 1;
          touched.push(id);
        }
        scores[id] += qv * p.values[n]!;
      }
    }
    if (norms !== undefined) {
      const qn = Math.sqrt(sparseDotScore(q, q));
      for (const id of touched) scores[id] = scores[id]! / Math.max(qn * norms[id]!, 1e-8);
    }
    const heap = new TopK(Math.min(topK, docs.length));
    for (const id of touched) heap.push(scores[id]!, id);
    // Entries sharing nothing with the query (score 0), lowest ids first, while there is room or they beat a kept score.
    for (let id = 0; id < docs.length && heap.threshold <= 0; id++) if (seen[id] === 0) heap.push(0, id);
    return heap.sorted().map(({ id, score }) => ({ corpusId: id, score }));
  });
}
