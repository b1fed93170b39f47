import { describe, expect, it } from "vitest";

import {
  communityDetection,
  cosSim,
  dotScore,
  euclideanSim,
  manhattanSim,
  normalizeEmbeddings,
  pairwiseCosSim,
  pairwiseDotScore,
  pairwiseEuclideanSim,
  pairwiseManhattanSim,
  paraphraseMining,
  paraphraseMiningEmbeddings,
  quantizeEmbeddings,
  semanticSearch,
} from "../../lib/util/index.js";

const v = (...xs: number[]) => Float32Array.from(xs);

describe("similarity functions (hand-computed)", () => {
  const a = [v(1, 0), v(3, 4)];
  const b = [v(0, 2), v(1, 1), v(0, 0)];

  it("cosSim: rows of a x rows of b; a zero vector scores 0", () => {
    const m = cosSim(a, b);
    expect(m).toHaveLength(2);
    expect(m[0]).toEqual([0, expect.closeTo(Math.SQRT1_2, 15), 0]);
    expect(m[1]![0]).toBeCloseTo(0.8, 15);
    expect(m[1]![1]).toBeCloseTo(7 / 5 / Math.SQRT2, 15);
    expect(m[1]![2]).toBe(0);
  });

  it("a single vector is a batch of one", () => {
    expect(dotScore(v(1, 2), v(3, 4))).toEqual([[11]]);
    expect(dotScore(v(1, 2), [v(3, 4), v(-1, 0)])).toEqual([[11, -1]]);
  });

  it("dot, negative Manhattan and negative Euclidean", () => {
    expect(dotScore(a, b)).toEqual([
      [0, 1, 0],
      [8, 7, 0],
    ]);
    expect(manhattanSim(a, b)).toEqual([
      [-3, -1, -1],
      [-5, -5, -7],
    ]);
    expect(euclideanSim(a, b)).toEqual([
      [-Math.sqrt(5), -1, -1],
      [-Math.sqrt(13), -Math.sqrt(13), -5],
    ]);
  });

  it("pairwise forms", () => {
    const x = [v(1, 0), v(3, 4), v(0, 0)];
    const y = [v(0, 2), v(6, 8), v(1, 1)];
    expect(pairwiseCosSim(x, y)).toEqual([0, expect.closeTo(1, 15), 0]);
    expect(pairwiseDotScore(x, y)).toEqual([0, 50, 0]);
    expect(pairwiseManhattanSim(x, y)).toEqual([-3, -7, -2]);
    expect(pairwiseEuclideanSim(x, y)).toEqual([-Math.sqrt(5), -5, -Math.SQRT2]);
  });

  it("dimension and length mismatches are RangeErrors; wrong types are TypeErrors", () => {
    expect(() => cosSim([v(1, 2)], [v(1, 2, 3)])).toThrow(RangeError);
    expect(() => dotScore([v(1, 2), v(1)], [v(1, 2)])).toThrow(/a\[1\] has dimension 1 but expected 2/);
    expect(() => pairwiseDotScore([v(1)], [v(1), v(2)])).toThrow(/a has 1 rows but b has 2/);
    expect(() => cosSim([[1, 2] as unknown as Float32Array], [v(1, 2)])).toThrow(TypeError);
  });

  it("normalizeEmbeddings gives unit rows and leaves zero rows at zero", () => {
    const n = normalizeEmbeddings([v(3, 4), v(0, 0)]);
    expect(Array.from(n[0]!)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(n[1]!)).toEqual([0, 0]);
  });
});

describe("semanticSearch", () => {
  const corpus = [v(1, 0), v(0, 1), v(1, 1), v(-1, 0), v(2, 0.1)];

  it("returns the topK hits best first, with corpus ids", () => {
    const hits = semanticSearch([v(1, 0.05)], corpus, { topK: 3 });
    expect(hits).toHaveLength(1);
    expect(hits[0]!.map((h) => h.corpusId)).toEqual([4, 0, 2]);
    expect(hits[0]![1]!.score).toBeCloseTo(1 / Math.hypot(1, Math.fround(0.05)), 12);
  });

  it("dot product ranks by magnitude too; topK above the corpus size returns everything", () => {
    const hits = semanticSearch([v(1, 0), v(0, 1)], corpus, { topK: 10, scoreFunction: dotScore, corpusChunkSize: 2, queryChunkSize: 1 });
    expect(hits[0]!.map((h) => h.corpusId)).toEqual([4, 0, 2, 1, 3]);
    expect(hits[1]!.map((h) => h.score)).toEqual([1, 1, expect.closeTo(0.1, 6), 0, 0]);
    // Equal scores: the lower corpus id first.
    expect(hits[1]!.map((h) => h.corpusId)).toEqual([1, 2, 4, 0, 3]);
  });

  it("topK 0 and an empty corpus give empty hit lists; bad options are RangeErrors", () => {
    expect(semanticSearch([v(1, 0)], corpus, { topK: 0 })).toEqual([[]]);
    expect(semanticSearch([v(1, 0)], [])).toEqual([[]]);
    expect(() => semanticSearch([v(1, 0)], corpus, { topK: -1 })).toThrow(RangeError);
    expect(() => semanticSearch([v(1, 0)], corpus, { corpusChunkSize: 0 })).toThrow(/corpusChunkSize/);
    expect(() => semanticSearch([v(1, 0, 0)], corpus)).toThrow(RangeError);
  });
});

describe("paraphrase mining", () => {
  const emb = [v(1, 0), v(0.9, 0.1), v(0, 1), v(0.1, 0.9), v(-1, -1)];

  it("returns [score, i, j] pairs with i < j, best first, without duplicates", () => {
    const pairs = paraphraseMiningEmbeddings(emb, { topK: 1 });
    expect(pairs.map(([, i, j]) => [i, j])).toEqual([
      [0, 1],
      [2, 3],
      // (-1, -1) is equally far from (1, 0) and (0, 1): the lower index wins the tie.
      [0, 4],
    ]);
    expect(pairs[0]![0]).toBeCloseTo(0.9 / Math.hypot(0.9, 0.1), 6);
    for (const [, i, j] of pairs) expect(i).toBeLessThan(j);
  });

  it("scores at or below -1 never enter sbert's queue", () => {
    const pairs = paraphraseMiningEmbeddings([v(1, 0), v(-1, 0)], { topK: 5 });
    expect(pairs).toEqual([]);
  });

  it("paraphraseMining encodes with the model then mines", async () => {
    const seen: Array<{ batchSize?: number; showProgressBar?: boolean }> = [];
    const model = {
      async encode(sentences: string[], opts?: { batchSize?: number; showProgressBar?: boolean }) {
        seen.push(opts ?? {});
        return sentences.map((s) => v(s.length, s.includes("x") ? 5 : 0));
      },
    };
    const pairs = await paraphraseMining(model, ["aa", "bb", "xx"], { batchSize: 8 });
    expect(seen).toEqual([{ batchSize: 8, showProgressBar: false }]);
    expect(pairs[0]!.slice(1)).toEqual([0, 1]);
    expect(pairs[0]![0]).toBeCloseTo(1, 6);
    await expect(paraphraseMining({ encode: async () => [v(1)] }, ["a", "b"])).rejects.toThrow(/returned 1 embeddings for 2 sentences/);
  });
});

describe("communityDetection", () => {
  it("finds non-overlapping communities, largest first, members by similarity to the centre", () => {
    const emb = [v(1, 0), v(0, 1), v(0.99, 0.05), v(0.05, 0.99), v(0.98, -0.1), v(-1, 0), v(0.1, 1)];
    const communities = communityDetection(emb, { threshold: 0.9, minCommunitySize: 2 });
    expect(communities).toEqual([
      [0, 2, 4],
      [1, 3, 6],
    ]);
    expect(communityDetection(emb, { threshold: 0.9, minCommunitySize: 4 })).toEqual([]);
    expect(communityDetection([], {})).toEqual([]);
    expect(() => communityDetection(emb, { minCommunitySize: 0 })).toThrow(RangeError);
  });
});

describe("quantizeEmbeddings (hand-computed)", () => {
  const emb = [v(-1, 0, 0.5), v(1, 0.5, 0.5), v(0, 1, 0.5)];

  it("uint8/int8: 255 steps over the per-dimension range, truncated toward zero", () => {
    // Column 0: start -1, step 2/255. In float32 the step rounds up, so the maximum lands on 254.99998 -> 254
    // (as numpy gives), the middle on 127.49999 -> 127. Column 2 is constant: step 1.
    const u = quantizeEmbeddings(emb, "uint8");
    expect(u[0]).toBeInstanceOf(Uint8Array);
    expect(u.map((r) => Array.from(r))).toEqual([
      [0, 0, 0],
      [254, 127, 0],
      [127, 254, 0],
    ]);
    // int8 = trunc(x - 128): 127.49999 - 128 = -0.50001 -> 0 (not -1 as floor would give).
    const i = quantizeEmbeddings(emb, "int8");
    expect(i[0]).toBeInstanceOf(Int8Array);
    expect(i.map((r) => Array.from(r))).toEqual([
      [-128, -128, -128],
      [126, 0, -128],
      [0, 126, -128],
    ]);
  });

  it("explicit ranges and calibration embeddings", () => {
    const ranges: [number[], number[]] = [[0, 0, 0], [2.55, 2.55, 2.55]];
    expect(Array.from(quantizeEmbeddings([v(1, 2, 0.015)], "uint8", { ranges })[0]!)).toEqual([100, 200, 1]);
    // Outside the range, numpy's cast wraps (x86-64): -1 / 0.01 = -100 -> 156.
    expect(Array.from(quantizeEmbeddings([v(-1, 3, 0)], "uint8", { ranges })[0]!)).toEqual([156, 44, 0]);
    const cal = quantizeEmbeddings([v(0.5, 0.5, 0.5)], "uint8", { calibrationEmbeddings: emb });
    expect(Array.from(cal[0]!)).toEqual([191, 127, 0]);
  });

  it("binary/ubinary pack sign bits big-endian per row, padding the last byte", () => {
    const e = [v(1, -1, 0, 2, 3, -4, 5, 6, 7, -1)];
    const u = quantizeEmbeddings(e, "ubinary");
    expect(u[0]).toBeInstanceOf(Uint8Array);
    expect(Array.from(u[0]!)).toEqual([0b10011011, 0b10000000]);
    expect(Array.from(quantizeEmbeddings(e, "binary")[0]!)).toEqual([0b10011011 - 128, 0]);
  });

  it("float32 copies; bad input is rejected", () => {
    const f = quantizeEmbeddings(emb, "float32");
    expect(f[0]).not.toBe(emb[0]);
    expect(f).toEqual(emb);
    expect(() => quantizeEmbeddings([Int8Array.of(1) as unknown as Float32Array], "int8")).toThrow(TypeError);
    // @ts-expect-error not a precision
    expect(() => quantizeEmbeddings(emb, "int4")).toThrow(RangeError);
    expect(() => quantizeEmbeddings([], "int8")).toThrow(RangeError);
    expect(quantizeEmbeddings([], "int8", { ranges: [[0], [1]] })).toEqual([]);
  });
});
