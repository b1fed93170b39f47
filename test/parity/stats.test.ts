import { describe, expect, it } from "vitest";

import { averagePrecision, matthewsCorrcoef, pearson, rankAverage, spearman } from "../../lib/evaluation/stats.js";
import { runPython } from "../helpers/python.js";
import { seededRandom as rng } from "../../lib/internal/random.js";

const SCRIPT = new URL("./py/stats_ref.py", import.meta.url).pathname;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const r = rng(1234);
const n200x = Array.from({ length: 200 }, () => normal(r));
const n200y = n200x.map((v) => 0.6 * v + 0.8 * normal(r));
const tiedX = Array.from({ length: 150 }, () => Math.floor(r() * 4));
const tiedY = tiedX.map((v) => Math.floor((v + r() * 3) / 1.5));
const big = Array.from({ length: 3000 }, () => normal(r));
const bigY = big.map((v) => Math.sin(v) + 0.3 * normal(r));

const pairs: Array<{ name: string; x: number[]; y: number[] }> = [
  { name: "random normal, n=200", x: n200x, y: n200y },
  { name: "random, n=3000, nonlinear", x: big, y: bigY },
  { name: "heavily tied integers", x: tiedX, y: tiedY },
  { name: "ties in x only", x: tiedX, y: tiedX.map((v) => v + normal(r)) },
  { name: "n=2", x: [0.3, 0.1], y: [1, 2] },
  { name: "n=3", x: [1, 2, 4], y: [3, 1, 2] },
  { name: "n=3 with a tie", x: [1, 1, 2], y: [5, 6, 7] },
  { name: "large offset, tiny spread", x: n200x.map((v) => 1e6 + v * 1e-3), y: n200y.map((v) => -5e5 + v * 1e-4) },
  { name: "perfectly correlated", x: [1, 2, 3, 4, 5, 6], y: [2, 4, 6, 8, 10, 12] },
  { name: "anti-correlated", x: [1, 2, 3, 4, 5, 6], y: [6, 5, 4, 3, 2, 1] },
  { name: "constant x", x: [2, 2, 2, 2], y: [1, 2, 3, 4] },
  { name: "constant y", x: [1, 2, 3, 4], y: [0.5, 0.5, 0.5, 0.5] },
  { name: "scores in [0, 5] with repeats", x: Array.from({ length: 60 }, (_, i) => (i % 11) / 2), y: Array.from({ length: 60 }, () => Math.round(r() * 20) / 4) },
];

const rankInputs: number[][] = [
  [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],
  [0, 0, 0],
  [-1.5, 2, -1.5, 2, 2, 0],
  [7],
  [],
  tiedX,
  n200x,
];

const apInputs: Array<{ labels: number[]; scores: number[] }> = [
  { labels: [1, 0, 1, 1, 0, 0, 1, 0], scores: [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.1] },
  { labels: [1, 0, 1, 0, 1, 0], scores: [0.5, 0.5, 0.2, 0.2, 0.9, 0.9] },
  { labels: Array.from({ length: 300 }, () => (r() < 0.4 ? 1 : 0)), scores: Array.from({ length: 300 }, () => Math.round(r() * 20) / 20) },
  { labels: Array.from({ length: 300 }, () => (r() < 0.3 ? 1 : 0)), scores: Array.from({ length: 300 }, () => normal(r)) },
  { labels: [1, 1, 1], scores: [0.1, 0.5, 0.2] },
  { labels: [0, 0, 0], scores: [0.1, 0.5, 0.2] },
];

const mccInputs: Array<{ labels: number[]; predicted: number[] }> = [
  { labels: [1, 0, 1, 1, 0, 0, 1, 0], predicted: [1, 0, 0, 1, 1, 0, 1, 0] },
  { labels: Array.from({ length: 200 }, () => (r() < 0.5 ? 1 : 0)), predicted: Array.from({ length: 200 }, () => (r() < 0.6 ? 1 : 0)) },
  { labels: [1, 1, 0, 0], predicted: [1, 1, 1, 1] },
  { labels: [1, 1, 1], predicted: [1, 1, 1] },
  { labels: [0, 1, 0, 1], predicted: [1, 0, 1, 0] },
];

interface Ref {
  pairs: Array<{ pearson: number | null; spearman: number | null }>;
  ranks: Array<Array<number | null>>;
  ap: number[];
  mcc: number[];
}

const ref = await runPython<Ref>(SCRIPT, { pairs: pairs.map(({ x, y }) => ({ x, y })), ranks: rankInputs, ap: apInputs, mcc: mccInputs });

function expectClose(actual: number, expected: number | null, tol: number): void {
  if (expected === null) {
    expect(actual).toBeNaN();
  } else {
    expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol);
  }
}

describe("pearson and spearman equal scipy.stats.pearsonr / spearmanr (|diff| <= 1e-9)", () => {
  pairs.forEach((p, i) => {
    it(p.name, () => {
      expectClose(pearson(p.x, p.y), ref.pairs[i]!.pearson, 1e-9);
      expectClose(spearman(p.x, p.y), ref.pairs[i]!.spearman, 1e-9);
    });
  });

  it("the references are not degenerate (the tests can fail)", () => {
    expect(ref.pairs[0]!.pearson).toBeGreaterThan(0.3);
    expect(ref.pairs[0]!.pearson).toBeLessThan(0.9);
    expect(ref.pairs[2]!.spearman).not.toBe(ref.pairs[2]!.pearson);
    expect(ref.pairs[10]!.pearson).toBeNull();
  });

  it("pearson rejects fewer than 2 values and mismatched lengths; spearman gives NaN for n < 2", () => {
    expect(() => pearson([1], [2])).toThrow(RangeError);
    expect(() => pearson([1, 2, 3], [1, 2])).toThrow(RangeError);
    expect(() => spearman([1, 2, 3], [1, 2])).toThrow(RangeError);
    expect(spearman([1], [2])).toBeNaN();
    expect(spearman([], [])).toBeNaN();
  });
});

describe("rankAverage equals scipy.stats.rankdata (exactly)", () => {
  rankInputs.forEach((x, i) => {
    it(`input ${i} (n=${x.length})`, () => {
      expect(Array.from(rankAverage(x))).toEqual(ref.ranks[i]);
    });
  });
});

describe("averagePrecision and matthewsCorrcoef equal numpy re-derivations of scikit-learn's (|diff| <= 1e-12)", () => {
  apInputs.forEach((c, i) => {
    it(`average precision case ${i}`, () => {
      expectClose(averagePrecision(c.labels, c.scores), ref.ap[i]!, 1e-12);
    });
  });
  mccInputs.forEach((c, i) => {
    it(`MCC case ${i}`, () => {
      expectClose(matthewsCorrcoef(c.labels, c.predicted), ref.mcc[i]!, 1e-12);
    });
  });
});
