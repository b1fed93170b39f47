import { describe, expect, it } from "vitest";

import {
  communityDetection,
  cosSim,
  dotScore,
  euclideanSim,
  manhattanSim,
  pairwiseCosSim,
  pairwiseDotScore,
  pairwiseEuclideanSim,
  pairwiseManhattanSim,
  paraphraseMiningEmbeddings,
  quantizeEmbeddings,
  semanticSearch,
  type QuantizationPrecision,
  type ScoreFunction,
} from "../../lib/util/index.js";
import { runPython } from "../helpers/python.js";
import { seededRandom as rng } from "../../lib/internal/random.js";

const SCRIPT = new URL("./py/util_ref.py", import.meta.url).pathname;

const r = rng(42);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const uniformRows = (n: number, d: number, scale = 1): Float32Array[] =>
  Array.from({ length: n }, () => Float32Array.from({ length: d }, () => (r() * 2 - 1) * scale));
const normalRows = (n: number, d: number, scale = 1): Float32Array[] =>
  Array.from({ length: n }, () => Float32Array.from({ length: d }, () => normal() * scale));
const plain = (rows: readonly Float32Array[]): number[][] => rows.map((x) => Array.from(x));

// --- similarity inputs (a zero row checks sbert's eps-clamped normalisation) ---
const simA = [...uniformRows(6, 37), new Float32Array(37)];
const simB = uniformRows(11, 37, 3);
const pairA = uniformRows(9, 37);
const pairB = [...uniformRows(8, 37), new Float32Array(37)];

// --- quantization cases ---
const qEmb = normalRows(20, 24, 0.1);
// A row exactly at each column minimum and one a hair above it: (v - start) / step - 128 rounds in float32.
const qMin = new Float32Array(24).map((_, k) => Math.min(...qEmb.map((e) => e[k]!)));
qEmb.push(qMin, qMin.map((v) => v + 1e-7));
// Columns whose start is small next to their range, and rows one float32 step above the start: there
// (v - start) / step - 128 rounds to exactly -128 in float32 arithmetic, where float64 would give -127.
const nearStart = normalRows(30, 24, 0.3).map((e) => e.map((v) => Math.abs(v)));
const startRow = Float32Array.from({ length: 24 }, (_, k) => -0.001 * (1 + k / 24));
const nextUp = (x: number): number => {
  const b = new Float32Array([x]);
  const u = new Int32Array(b.buffer);
  u[0]! += x < 0 ? -1 : 1;
  return b[0]!;
};
nearStart.push(startRow, startRow.map(nextUp), startRow.map((v) => nextUp(nextUp(nextUp(v)))));
const qCal = normalRows(100, 24, 0.08);
const qOut = normalRows(10, 24, 0.5); // far outside the calibration ranges: exercises numpy's cast wraparound
const constCol = normalRows(12, 16).map((e) => {
  e[3] = 0.25;
  return e;
});
const bin13 = normalRows(7, 13);
const ranges64: [number[], number[]] = [Array.from({ length: 24 }, () => -0.15), Array.from({ length: 24 }, () => 0.2 + r() * 0.05)];
const ranges32: [Float32Array, Float32Array] = [Float32Array.from(ranges64[0]), Float32Array.from(ranges64[1])];

interface QuantCase {
  name: string;
  embeddings: Float32Array[];
  precision: QuantizationPrecision;
  ranges?: [ArrayLike<number>, ArrayLike<number>];
  calibration?: Float32Array[];
}
const quantCases: QuantCase[] = [];
for (const precision of ["int8", "uint8"] as const) {
  quantCases.push(
    { name: `${precision}, ranges from the embeddings`, embeddings: qEmb, precision },
    { name: `${precision}, calibration embeddings`, embeddings: qEmb, precision, calibration: qCal },
    { name: `${precision}, values far outside the calibration ranges`, embeddings: qOut, precision, calibration: qCal },
    { name: `${precision}, float64 ranges`, embeddings: [...qEmb, ...qOut], precision, ranges: ranges64 },
    { name: `${precision}, float32 ranges`, embeddings: [...qEmb, ...qOut], precision, ranges: ranges32 },
    { name: `${precision}, a constant dimension`, embeddings: constCol, precision },
    { name: `${precision}, values one float32 step above the range start`, embeddings: nearStart, precision },
  );
}
for (const precision of ["binary", "ubinary", "float32"] as const) {
  quantCases.push(
    { name: `${precision}, dim 24`, embeddings: qEmb, precision },
    { name: `${precision}, dim 13 (padded last byte)`, embeddings: bin13, precision },
  );
}

// --- search, community and paraphrase inputs ---
const queries = normalRows(13, 16);
const corpus = normalRows(257, 16);
const searchCases: Array<{ name: string; score: "cos" | "dot" | "euclidean"; fn: ScoreFunction; topK: number; q: number; c: number }> = [
  { name: "cosine, default chunks", score: "cos", fn: cosSim, topK: 10, q: 100, c: 500000 },
  { name: "cosine, small chunks", score: "cos", fn: cosSim, topK: 7, q: 4, c: 50 },
  { name: "dot, small chunks", score: "dot", fn: dotScore, topK: 12, q: 5, c: 31 },
  { name: "euclidean, small chunks", score: "euclidean", fn: euclideanSim, topK: 5, q: 3, c: 64 },
  { name: "custom score function (not a built-in)", score: "cos", fn: (a, b) => cosSim(a, b), topK: 6, q: 6, c: 100 },
  { name: "topK above the corpus chunk size", score: "cos", fn: cosSim, topK: 40, q: 13, c: 17 },
];

const centers = normalRows(5, 16);
const clustered: Float32Array[] = [];
centers.forEach((c, ci) => {
  for (let i = 0; i < 4 + 3 * ci; i++) clustered.push(c.map((v) => v + normal() * 0.15));
});
clustered.push(...normalRows(20, 16));
// Shuffle so communities are not contiguous.
for (let i = clustered.length - 1; i > 0; i--) {
  const j = Math.floor(r() * (i + 1));
  [clustered[i], clustered[j]] = [clustered[j]!, clustered[i]!];
}
const communityCases = [
  { threshold: 0.8, minCommunitySize: 3, batchSize: 7 },
  { threshold: 0.9, minCommunitySize: 5, batchSize: 1024 },
  { threshold: 0.5, minCommunitySize: 2, batchSize: 16 },
];

const para = normalRows(80, 8);
const paraCases = [
  { score: "cos" as const, fn: cosSim, topK: 5, queryChunkSize: 13, corpusChunkSize: 17, maxPairs: 50 },
  { score: "cos" as const, fn: cosSim, topK: 100, queryChunkSize: 5000, corpusChunkSize: 100000, maxPairs: 500000 },
  { score: "dot" as const, fn: dotScore, topK: 3, queryChunkSize: 20, corpusChunkSize: 30, maxPairs: 1000 },
  // Small queues: the pair count depends on exactly when sbert trims the queue.
  ...[7, 8, 9, 24, 25].map((maxPairs) => ({ score: "cos" as const, fn: cosSim, topK: 2, queryChunkSize: 11, corpusChunkSize: 80, maxPairs })),
];

interface SimRef {
  cos: number[][];
  dot: number[][];
  manhattan: number[][];
  euclidean: number[][];
  pairwise?: { cos: number[]; dot: number[]; manhattan: number[]; euclidean: number[] };
}
type Ref = [
  { f64: SimRef; f32: SimRef },
  { f64: SimRef; f32: SimRef },
  ...unknown[],
];

const tasks: unknown[] = [
  { op: "similarity", a: plain(simA), b: plain(simB) },
  { op: "similarity", a: plain(pairA), b: plain(pairB) },
  ...quantCases.map((c) => ({
    op: "quantize",
    embeddings: plain(c.embeddings),
    precision: c.precision,
    ranges: c.ranges ? c.ranges.map((x) => Array.from(x)) : undefined,
    rangesFloat32: c.ranges ? c.ranges[0] instanceof Float32Array : undefined,
    calibration: c.calibration ? plain(c.calibration) : undefined,
  })),
  ...searchCases.map((c) => ({ op: "search", score: c.score, queries: plain(queries), corpus: plain(corpus), topK: c.topK })),
  ...communityCases.map((c) => ({ op: "community", embeddings: plain(clustered), ...c })),
  ...paraCases.map(({ fn: _fn, ...c }) => ({ op: "paraphrase", embeddings: plain(para), ...c })),
];
const { results } = await runPython<{ results: unknown[] }>(SCRIPT, { tasks });
const ref = results as Ref;
let at = 2;
const quantRefs = results.slice(at, (at += quantCases.length)) as Array<{ values: number[][]; dtype: string }>;
const searchRefs = results.slice(at, (at += searchCases.length)) as Array<Array<Array<{ corpusId: number; score: number }>>>;
const communityRefs = results.slice(at, (at += communityCases.length)) as number[][][];
const paraRefs = results.slice(at, (at += paraCases.length)) as Array<Array<[number, number, number]>>;

function maxAbsDiff(a: number[][] | number[], b: number[][] | number[]): number {
  const fa = (a as unknown[]).flat(2) as number[];
  const fb = (b as unknown[]).flat(2) as number[];
  expect(fa.length).toBe(fb.length);
  return Math.max(...fa.map((v, i) => Math.abs(v - fb[i]!)));
}

function maxRelDiff(a: number[][] | number[], b: number[][] | number[]): number {
  const fa = (a as unknown[]).flat(2) as number[];
  const fb = (b as unknown[]).flat(2) as number[];
  return Math.max(...fa.map((v, i) => Math.abs(v - fb[i]!) / Math.max(1, Math.abs(fb[i]!))));
}

describe("similarity matrices equal torch (float64: |diff| <= 1e-9; sbert's float32 torch: relative <= 1e-5)", () => {
  const fns = { cos: cosSim, dot: dotScore, manhattan: manhattanSim, euclidean: euclideanSim } as const;
  for (const [key, fn] of Object.entries(fns) as Array<[keyof typeof fns, ScoreFunction]>) {
    it(`${key} matrix (7x37 against 11x37, with a zero row)`, () => {
      const ours = fn(simA, simB);
      expect(ours.length).toBe(7);
      expect(ours[0]!.length).toBe(11);
      expect(maxAbsDiff(ours, ref[0].f64[key])).toBeLessThanOrEqual(1e-9);
      expect(maxRelDiff(ours, ref[0].f32[key])).toBeLessThanOrEqual(1e-5);
    });
  }

  const pairwiseFns = { cos: pairwiseCosSim, dot: pairwiseDotScore, manhattan: pairwiseManhattanSim, euclidean: pairwiseEuclideanSim } as const;
  for (const [key, fn] of Object.entries(pairwiseFns) as Array<[keyof typeof pairwiseFns, (a: Float32Array[], b: Float32Array[]) => number[]]>) {
    it(`pairwise ${key} (9 pairs, one with a zero vector)`, () => {
      const ours = fn(pairA, pairB);
      expect(maxAbsDiff(ours, ref[1].f64.pairwise![key])).toBeLessThanOrEqual(1e-9);
      expect(maxRelDiff(ours, ref[1].f32.pairwise![key])).toBeLessThanOrEqual(1e-5);
    });
  }

  it("a zero vector has cosine 0 with everything, as sbert", () => {
    expect(ref[0].f64.cos[6]!.every((v) => v === 0)).toBe(true);
    expect(cosSim(simA, simB)[6]!.every((v) => v === 0)).toBe(true);
  });
});

describe("quantizeEmbeddings equals a numpy implementation of sbert's formula (exact integers)", () => {
  quantCases.forEach((c, i) => {
    it(c.name, () => {
      const ours = quantizeEmbeddings(c.embeddings, c.precision, { ranges: c.ranges, calibrationEmbeddings: c.calibration });
      const expected = quantRefs[i]!;
      const ctor = { int8: Int8Array, uint8: Uint8Array, float32: Float32Array }[expected.dtype as "int8" | "uint8" | "float32"];
      for (const row of ours) expect(row).toBeInstanceOf(ctor);
      expect(ours.map((row) => Array.from(row))).toEqual(expected.values);
    });
  });

  it("the int8 cases cover the whole range and the wraparound cases really wrap", () => {
    const int8 = quantRefs[0]!.values.flat();
    expect(Math.min(...int8)).toBe(-128);
    expect(Math.max(...int8)).toBe(127);
    // Out-of-range values with truncation + wraparound produce small values where a clip would give 0/255.
    const uint8Out = quantRefs[quantCases.findIndex((c) => c.precision === "uint8" && c.name.includes("far outside"))]!.values.flat();
    expect(uint8Out.some((v) => v > 0 && v < 255)).toBe(true);
  });
});

describe("semanticSearch equals a numpy stable argsort of the full score matrix", () => {
  searchCases.forEach((c, i) => {
    it(`${c.name}, topK ${c.topK}`, () => {
      const ours = semanticSearch(queries, corpus, { topK: c.topK, queryChunkSize: c.q, corpusChunkSize: c.c, scoreFunction: c.fn });
      const expected = searchRefs[i]!;
      expect(ours.map((hits) => hits.map((h) => h.corpusId))).toEqual(expected.map((hits) => hits.map((h) => h.corpusId)));
      expect(maxAbsDiff(ours.map((h) => h.map((x) => x.score)), expected.map((h) => h.map((x) => x.score)))).toBeLessThanOrEqual(1e-9);
    });
  });
});

describe("communityDetection equals a numpy re-implementation of sbert's algorithm", () => {
  communityCases.forEach((c, i) => {
    it(`threshold ${c.threshold}, minCommunitySize ${c.minCommunitySize}, batchSize ${c.batchSize}`, () => {
      const ours = communityDetection(clustered, c);
      expect(ours).toEqual(communityRefs[i]);
      expect(ours.length).toBeGreaterThan(0);
    });
  });
});

describe("paraphraseMiningEmbeddings equals a Python port of sbert's algorithm (numpy scores, stable top-k)", () => {
  paraCases.forEach((c, i) => {
    it(`${c.score}, topK ${c.topK}, chunks ${c.queryChunkSize}/${c.corpusChunkSize}, maxPairs ${c.maxPairs}`, () => {
      const { score: _score, fn, ...opts } = c;
      const ours = paraphraseMiningEmbeddings(para, { ...opts, scoreFunction: fn });
      const expected = paraRefs[i]!;
      expect(ours.map(([, a, b]) => [a, b])).toEqual(expected.map(([, a, b]) => [a, b]));
      expect(maxAbsDiff(ours.map((p) => p[0]), expected.map((p) => p[0]))).toBeLessThanOrEqual(1e-9);
      expect(ours.length).toBeGreaterThan(0);
    });
  });
});
