/**
 * Similarity functions of `sentence_transformers.util`: matrix forms (every row of `a` against every row of `b`)
 * and pairwise forms (`a[i]` against `b[i]`). Arithmetic is done in float64 on the float32 inputs, so results are
 * at least as accurate as sbert's float32 torch results.
 */

/** One embedding, or a batch of embeddings (one Float32Array per sentence). */
export type EmbeddingsInput = Float32Array | readonly Float32Array[];

/** A matrix score function such as {@link cosSim}: `result[i][j]` scores `a[i]` against `b[j]`. */
export type ScoreFunction = (a: EmbeddingsInput, b: EmbeddingsInput) => number[][];

/** A pairwise score function such as {@link pairwiseCosSim}: `result[i]` scores `a[i]` against `b[i]`. */
export type PairwiseScoreFunction = (a: EmbeddingsInput, b: EmbeddingsInput) => number[];

// torch.nn.functional.normalize divides by max(norm, eps); sbert relies on it so a zero vector scores 0.
const NORM_EPS = 1e-12;

/** A single vector becomes a batch of one, as sbert's `_convert_to_batch_tensor` does. */
export function toBatch(x: EmbeddingsInput, fn: string, arg: string): readonly Float32Array[] {
  if (x instanceof Float32Array) return [x];
  if (!Array.isArray(x)) throw new TypeError(`${fn}: ${arg} must be a Float32Array or an array of Float32Array`);
  for (let i = 0; i < x.length; i++) {
    if (!(x[i] instanceof Float32Array)) throw new TypeError(`${fn}: ${arg}[${i}] is not a Float32Array`);
  }
  return x;
}

/** The common dimension of both batches; rows of differing length are a RangeError. */
export function commonDim(a: readonly Float32Array[], b: readonly Float32Array[], fn: string): number {
  const dim = a.length > 0 ? a[0]!.length : b.length > 0 ? b[0]!.length : 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.length !== dim) throw new RangeError(`${fn}: a[${i}] has dimension ${a[i]!.length} but expected ${dim}`);
  }
  for (let i = 0; i < b.length; i++) {
    if (b[i]!.length !== dim) throw new RangeError(`${fn}: b[${i}] has dimension ${b[i]!.length} but expected ${dim}`);
  }
  return dim;
}

export function dot(x: Float32Array, y: Float32Array): number {
  const n = x.length;
  // Four accumulators: fewer loop-carried dependencies, noticeably faster in V8.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += x[k]! * y[k]!;
    s1 += x[k + 1]! * y[k + 1]!;
    s2 += x[k + 2]! * y[k + 2]!;
    s3 += x[k + 3]! * y[k + 3]!;
  }
  for (; k < n; k++) s0 += x[k]! * y[k]!;
  return s0 + s1 + (s2 + s3);
}

export function l1(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let k = 0; k < x.length; k++) s += Math.abs(x[k]! - y[k]!);
  return s;
}

export function l2(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let k = 0; k < x.length; k++) {
    const d = x[k]! - y[k]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/** 1 / max(||x||, eps) for every row: multiplying a dot product by two of these gives the cosine. */
export function inverseNorms(rows: readonly Float32Array[]): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = 1 / Math.max(Math.sqrt(dot(rows[i]!, rows[i]!)), NORM_EPS);
  return out;
}

function matrix(
  a: EmbeddingsInput,
  b: EmbeddingsInput,
  fn: string,
  score: (x: Float32Array, y: Float32Array, i: number, j: number) => number,
  prepare?: (rowsA: readonly Float32Array[], rowsB: readonly Float32Array[]) => void,
): number[][] {
  const rowsA = toBatch(a, fn, "a");
  const rowsB = toBatch(b, fn, "b");
  commonDim(rowsA, rowsB, fn);
  prepare?.(rowsA, rowsB);
  const out: number[][] = new Array(rowsA.length);
  for (let i = 0; i < rowsA.length; i++) {
    const row: number[] = new Array(rowsB.length);
    const x = rowsA[i]!;
    for (let j = 0; j < rowsB.length; j++) row[j] = score(x, rowsB[j]!, i, j);
    out[i] = row;
  }
  return out;
}

function pairwise(
  a: EmbeddingsInput,
  b: EmbeddingsInput,
  fn: string,
  score: (x: Float32Array, y: Float32Array) => number,
): number[] {
  const rowsA = toBatch(a, fn, "a");
  const rowsB = toBatch(b, fn, "b");
  if (rowsA.length !== rowsB.length) {
    throw new RangeError(`${fn}: a has ${rowsA.length} rows but b has ${rowsB.length}`);
  }
  commonDim(rowsA, rowsB, fn);
  const out: number[] = new Array(rowsA.length);
  for (let i = 0; i < rowsA.length; i++) out[i] = score(rowsA[i]!, rowsB[i]!);
  return out;
}

/** Cosine similarity of every row of `a` with every row of `b`; a zero vector scores 0 (as sbert). */
export function cosSim(a: EmbeddingsInput, b: EmbeddingsInput): number[][] {
  let invA: Float64Array = new Float64Array(0);
  let invB: Float64Array = new Float64Array(0);
  return matrix(
    a,
    b,
    "cosSim",
    (x, y, i, j) => dot(x, y) * invA[i]! * invB[j]!,
    (rowsA, rowsB) => {
      invA = inverseNorms(rowsA);
      invB = inverseNorms(rowsB);
    },
  );
}

/** Dot product of every row of `a` with every row of `b`. */
export function dotScore(a: EmbeddingsInput, b: EmbeddingsInput): number[][] {
  return matrix(a, b, "dotScore", dot);
}

/** Negative Manhattan (L1) distance of every row of `a` to every row of `b`. */
export function manhattanSim(a: EmbeddingsInput, b: EmbeddingsInput): number[][] {
  return matrix(a, b, "manhattanSim", (x, y) => -l1(x, y));
}

/** Negative Euclidean (L2) distance of every row of `a` to every row of `b`. */
export function euclideanSim(a: EmbeddingsInput, b: EmbeddingsInput): number[][] {
  return matrix(a, b, "euclideanSim", (x, y) => -l2(x, y));
}

/** Cosine similarity of `a[i]` and `b[i]`. */
export function pairwiseCosSim(a: EmbeddingsInput, b: EmbeddingsInput): number[] {
  return pairwise(a, b, "pairwiseCosSim", (x, y) => {
    const nx = Math.max(Math.sqrt(dot(x, x)), NORM_EPS);
    const ny = Math.max(Math.sqrt(dot(y, y)), NORM_EPS);
    return dot(x, y) / nx / ny;
  });
}

/** Dot product of `a[i]` and `b[i]`. */
export function pairwiseDotScore(a: EmbeddingsInput, b: EmbeddingsInput): number[] {
  return pairwise(a, b, "pairwiseDotScore", dot);
}

/** Negative Manhattan distance of `a[i]` and `b[i]`. */
export function pairwiseManhattanSim(a: EmbeddingsInput, b: EmbeddingsInput): number[] {
  return pairwise(a, b, "pairwiseManhattanSim", (x, y) => -l1(x, y));
}

/** Negative Euclidean distance of `a[i]` and `b[i]`. */
export function pairwiseEuclideanSim(a: EmbeddingsInput, b: EmbeddingsInput): number[] {
  return pairwise(a, b, "pairwiseEuclideanSim", (x, y) => -l2(x, y));
}

/** Unit-length copies of the embeddings (a zero vector stays zero, as torch's eps-clamped normalize). */
export function normalizeEmbeddings(embeddings: readonly Float32Array[]): Float32Array[] {
  const rows = toBatch(embeddings, "normalizeEmbeddings", "embeddings");
  const inv = inverseNorms(rows);
  return rows.map((row, i) => {
    const out = new Float32Array(row.length);
    const s = inv[i]!;
    for (let k = 0; k < row.length; k++) out[k] = row[k]! * s;
    return out;
  });
}

/**
 * Calls `onRow(i, scores)` with the scores of `queries[i]` against all of `corpus`, without building the full
 * matrix for the built-in functions (the scores buffer is reused: copy what must outlive the call). Other score functions are
 * called once on the whole pair of chunks, as sbert does.
 */
export function forEachScoreRow(
  scoreFunction: ScoreFunction,
  queries: readonly Float32Array[],
  corpus: readonly Float32Array[],
  onRow: (queryIndex: number, scores: ArrayLike<number>) => void,
  fn: string,
): void {
  if (queries.length === 0 || corpus.length === 0) {
    for (let i = 0; i < queries.length; i++) onRow(i, []);
    return;
  }
  const builtin =
    scoreFunction === cosSim
      ? "cos"
      : scoreFunction === dotScore
        ? "dot"
        : scoreFunction === manhattanSim
          ? "l1"
          : scoreFunction === euclideanSim
            ? "l2"
            : undefined;
  if (builtin === undefined) {
    const scores = scoreFunction(queries, corpus);
    if (!Array.isArray(scores) || scores.length !== queries.length) {
      throw new TypeError(`${fn}: scoreFunction must return one row per query (${queries.length})`);
    }
    for (let i = 0; i < queries.length; i++) {
      const row = scores[i]!;
      if (row.length !== corpus.length) {
        throw new TypeError(`${fn}: scoreFunction returned a row of ${row.length} scores for ${corpus.length} documents`);
      }
      onRow(i, row);
    }
    return;
  }
  commonDim(queries, corpus, fn);
  const buf = new Float64Array(corpus.length);
  const invC = builtin === "cos" ? inverseNorms(corpus) : undefined;
  const invQ = builtin === "cos" ? inverseNorms(queries) : undefined;
  for (let i = 0; i < queries.length; i++) {
    const q = queries[i]!;
    if (builtin === "cos") {
      // Same value as normalizing first (sbert), without making normalized copies of the corpus.
      const iq = invQ![i]!;
      for (let j = 0; j < corpus.length; j++) buf[j] = dot(q, corpus[j]!) * iq * invC![j]!;
    } else if (builtin === "dot") {
      for (let j = 0; j < corpus.length; j++) buf[j] = dot(q, corpus[j]!);
    } else if (builtin === "l1") {
      for (let j = 0; j < corpus.length; j++) buf[j] = -l1(q, corpus[j]!);
    } else {
      for (let j = 0; j < corpus.length; j++) buf[j] = -l2(q, corpus[j]!);
    }
    onRow(i, buf);
  }
}
