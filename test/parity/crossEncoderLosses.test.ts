// The cross-encoder losses against sentence-transformers' own loss classes (py/ce_losses_ref.py), on the same
// logits: each loss turns the same dataset columns into its (text, text) pairs here and there, every pair's logits
// come from one seeded table, and the native loss (native()._testing.lossAndGrad) and Python's loss module give
// the value and each pair's gradient:
//   loss:      |ours - reference| <= 1e-5 * max(1, |reference|)
//   gradients: max |ours - reference| <= 1e-5 over every pair (pairs scored twice add up their gradients)
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import * as ceLosses from "../../lib/crossEncoder/losses/index.js";
import type { CrossEncoderLoss } from "../../lib/crossEncoder/losses/index.js";
import type { CrossEncoder } from "../../lib/index.js";
import { seededRandom } from "../../lib/internal/random.js";
import { native } from "../../lib/native.js";
import type { NativeTensorData } from "../../types/native.js";
import { gaussian } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/cross_encoder_model.py", import.meta.url));
const REF = fileURLToPath(new URL("py/ce_losses_ref.py", import.meta.url));
const TOL = 1e-5;

const Q = ["how do cats sleep", "where do dogs run", "what is the weather today", "who wrote the book", "why is the sky blue"];
const P = ["cats sleep curled up", "dogs run in the park", "it is sunny and warm", "the author is unknown", "light scatters in air"];
const N1 = ["the stock market fell", "a recipe for bread", "trains leave at noon", "the sea is deep", "music of the night"];
const N2 = ["an old wooden door", "the garden needs water", "a red bicycle", "snow on the hills", "the last chapter"];
const DOCS = [
  ["cats sleep a lot", "cats purr", "dogs bark at night"],
  ["dogs love the park", "parks have trees"],
  ["rain is expected", "sunny skies", "wind from the north", "a cold front"],
  ["the author wrote novels", "books have pages", "ink and paper"],
  ["blue light scatters", "the sky at dusk"],
];
const GRADES = [
  [2, 1, 0],
  [1, 0],
  [0, 3, 1, 0],
  [3, 0.5, 0],
  [1, 0],
];

/** The model a loss is built for: only its label count matters to the losses' math. */
function fakeModel(numLabels: number): CrossEncoder {
  return { numLabels, predict: async () => [], tokenizePairs: () => ({}) } as unknown as CrossEncoder;
}

interface Case {
  name: string;
  numLabels: 1 | 3;
  make: (m: CrossEncoder) => CrossEncoderLoss;
  /** sentence-transformers' class and keyword arguments */
  loss: string;
  options?: Record<string, unknown>;
  inputs: unknown[][];
  labels: unknown[] | null;
}

const L = ceLosses;
const CASES: Case[] = [
  { name: "BCE", numLabels: 1, make: (m) => new L.BinaryCrossEntropyLoss(m), loss: "BinaryCrossEntropyLoss", inputs: [Q, P], labels: [1, 0, 0.3, 1, 0.8] },
  {
    name: "BCE, sigmoid, posWeight",
    numLabels: 1,
    make: (m) => new L.BinaryCrossEntropyLoss(m, { activationFn: "sigmoid", posWeight: 2.5 }),
    loss: "BinaryCrossEntropyLoss",
    options: { activation_fn: "sigmoid", pos_weight: 2.5 },
    inputs: [Q, N1],
    labels: [0, 1, 1, 0, 0],
  },
  { name: "CrossEntropy", numLabels: 3, make: (m) => new L.CrossEntropyLoss(m), loss: "CrossEntropyLoss", inputs: [Q, P], labels: [0, 2, 1, 2, 1] },
  {
    name: "CrossEntropy, tanh",
    numLabels: 3,
    make: (m) => new L.CrossEntropyLoss(m, { activationFn: "torch.nn.modules.activation.Tanh" }),
    loss: "CrossEntropyLoss",
    options: { activation_fn: "tanh" },
    inputs: [Q, N2],
    labels: [1, 1, 0, 2, 0],
  },
  { name: "MSE", numLabels: 1, make: (m) => new L.MSELoss(m), loss: "MSELoss", inputs: [Q, P], labels: [0.9, -0.2, 1.5, 0.1, 0.4] },
  { name: "MSE, sigmoid", numLabels: 1, make: (m) => new L.MSELoss(m, { activationFn: "sigmoid" }), loss: "MSELoss", options: { activation_fn: "sigmoid" }, inputs: [Q, P], labels: [0.9, 0.2, 0.5, 0.1, 0.4] },
  { name: "MarginMSE, one margin", numLabels: 1, make: (m) => new L.MarginMSELoss(m), loss: "MarginMSELoss", inputs: [Q, P, N1], labels: [2.0, 0.5, -1.0, 3.0, 1.2] },
  {
    name: "MarginMSE, teacher scores of the positive and two negatives",
    numLabels: 1,
    make: (m) => new L.MarginMSELoss(m),
    loss: "MarginMSELoss",
    inputs: [Q, P, N1, N2],
    labels: [
      [5, 1, 2],
      [4, 4.5, 0],
      [3, 1, 1],
      [6, 2, -1],
      [2, 0, 1],
    ],
  },
  {
    name: "MarginMSE, two margins, sigmoid",
    numLabels: 1,
    make: (m) => new L.MarginMSELoss(m, { activationFn: "sigmoid" }),
    loss: "MarginMSELoss",
    options: { activation_fn: "sigmoid" },
    inputs: [Q, P, N1, N2],
    labels: [
      [0.5, 0.2],
      [0.1, 0.3],
      [0.4, 0.4],
      [-0.2, 0.6],
      [0.3, 0.0],
    ],
  },
  {
    name: "MNRL, every in-batch negative",
    numLabels: 1,
    make: (m) => new L.MultipleNegativesRankingLoss(m, { numNegatives: null }),
    loss: "MultipleNegativesRankingLoss",
    options: { num_negatives: null },
    inputs: [Q, P],
    labels: null,
  },
  {
    name: "MNRL, hard negatives, numNegatives above the valid count, identity, scale 5",
    numLabels: 1,
    make: (m) => new L.MultipleNegativesRankingLoss(m, { numNegatives: 50, scale: 5, activationFn: "identity" }),
    loss: "MultipleNegativesRankingLoss",
    options: { num_negatives: 50, scale: 5, activation_fn: "identity" },
    inputs: [Q, P, N1],
    labels: null,
  },
  {
    name: "MNRL, no activation, no scale",
    numLabels: 1,
    make: (m) => new L.MultipleNegativesRankingLoss(m, { numNegatives: null, scale: 0, activationFn: null }),
    loss: "MultipleNegativesRankingLoss",
    options: { num_negatives: null, scale: 0, activation_fn: null },
    inputs: [Q, P, N1, N2],
    labels: null,
  },
  {
    name: "CachedMNRL",
    numLabels: 1,
    make: (m) => new L.CachedMultipleNegativesRankingLoss(m, { numNegatives: null, miniBatchSize: 3 }),
    loss: "CachedMultipleNegativesRankingLoss",
    options: { num_negatives: null, mini_batch_size: 3 },
    inputs: [Q, P, N1],
    labels: null,
  },
  { name: "ListNet", numLabels: 1, make: (m) => new L.ListNetLoss(m), loss: "ListNetLoss", inputs: [Q, DOCS], labels: GRADES },
  {
    name: "ListNet, sigmoid",
    numLabels: 1,
    make: (m) => new L.ListNetLoss(m, { activationFn: "sigmoid", miniBatchSize: 4 }),
    loss: "ListNetLoss",
    options: { activation_fn: "sigmoid", mini_batch_size: 4 },
    inputs: [Q, DOCS],
    labels: GRADES,
  },
  ...(["NDCGLoss2PPScheme", "NDCGLoss1Scheme", "NDCGLoss2Scheme", "LambdaRankScheme", null] as const).map(
    (scheme): Case => ({
      name: `Lambda, ${scheme ?? "no weighting"}`,
      numLabels: 1,
      make: (m) => new L.LambdaLoss(m, { weightingScheme: scheme }),
      loss: "LambdaLoss",
      options: { weighting_scheme: scheme },
      inputs: [Q, DOCS],
      labels: GRADES,
    }),
  ),
  {
    name: "Lambda, k 2, sigma 2, natural log, mu 3, sigmoid",
    numLabels: 1,
    make: (m) => new L.LambdaLoss(m, { k: 2, sigma: 2, reductionLog: "natural", mu: 3, activationFn: "sigmoid" }),
    loss: "LambdaLoss",
    options: { k: 2, sigma: 2, reduction_log: "natural", weighting_scheme: "NDCGLoss2PPScheme", mu: 3, activation_fn: "sigmoid" },
    inputs: [Q, DOCS],
    labels: GRADES,
  },
];

const key = (a: string, b: string) => `${a}\u0000${b}`;

interface Prepared {
  ours: { loss: number; grads: Map<string, number[]> };
  table: Record<string, number[]>;
}

function runOurs(c: Case): Prepared {
  const loss = c.make(fakeModel(c.numLabels));
  const batch = loss.batch(c.inputs, c.labels, seededRandom(1));
  const table: Record<string, number[]> = {};
  for (const column of batch.pairs) {
    for (const [a, b] of column) {
      const k = key(a, b);
      table[k] ??= Array.from(gaussian(7, k, c.numLabels), (v) => 1.5 * v);
    }
  }
  const columns: NativeTensorData[] = batch.pairs.map((column) => ({ data: Float32Array.from(column.flatMap(([a, b]) => table[key(a, b)]!)), shape: [column.length, c.numLabels] }));
  const out = native()._testing.lossAndGrad(loss.nativeSpec(), columns, batch.labels, null);
  const grads = new Map<string, number[]>();
  out.grads.forEach((g, ci) => {
    batch.pairs[ci]!.forEach(([a, b], i) => {
      const k = key(a, b);
      const sum = grads.get(k) ?? new Array<number>(c.numLabels).fill(0);
      for (let j = 0; j < c.numLabels; j++) sum[j]! += g.data[i * c.numLabels + j]!;
      grads.set(k, sum);
    });
  });
  return { ours: { loss: out.loss, grads }, table };
}

describe("cross-encoder losses against sentence-transformers on the same logits", () => {
  const prepared = CASES.map(runOurs);
  let reference: { loss: number; grads: Record<string, number[]> }[];

  beforeAll(async () => {
    const dir = await tempDir("sbert-ce-losses-");
    const corpus = [...Q, ...P, ...N1, ...N2, ...DOCS.flat()];
    const folders: Record<string, string> = {};
    for (const n of [1, 3]) {
      folders[String(n)] = `${dir}/ce${n}`;
      await runPython(BUILD, { dir: folders[String(n)], arch: "bert", seed: 5, corpus, vocab_size: 300, num_labels: n, layout: "hf" });
    }
    const cases = CASES.map((c, i) => ({ loss: c.loss, options: c.options ?? {}, num_labels: c.numLabels, inputs: c.inputs, labels: c.labels, table: prepared[i]!.table }));
    reference = await runPython(REF, { folders, cases });
  }, 240_000);

  CASES.forEach((c, i) => {
    test(c.name, () => {
      const { ours } = prepared[i]!;
      const ref = reference[i]!;
      expect(Number.isFinite(ref.loss)).toBe(true);
      expect(Math.abs(ours.loss - ref.loss), `loss ${ours.loss} vs ${ref.loss}`).toBeLessThanOrEqual(TOL * Math.max(1, Math.abs(ref.loss)));
      // Every pair scored on either side is scored on both, with the same gradient.
      expect([...ours.grads.keys()].sort()).toEqual(Object.keys(ref.grads).sort());
      let worst = 0;
      let scale = 0;
      for (const [k, g] of ours.grads) {
        ref.grads[k]!.forEach((r, j) => {
          worst = Math.max(worst, Math.abs(g[j]! - r));
          scale = Math.max(scale, Math.abs(r));
        });
      }
      expect(scale).toBeGreaterThan(0);
      expect(worst).toBeLessThanOrEqual(TOL);
    });
  });
});

describe("in-batch negatives as MultipleNegativesRankingLoss draws them", () => {
  test("numNegatives per query, never the query's own candidates, different draws from different generators", () => {
    const loss = new L.MultipleNegativesRankingLoss(fakeModel(1), { numNegatives: 3 });
    const own = (i: number) => new Set([P[i], N1[i]]);
    const draws = [1, 2].map((seed) => loss.batch([Q, P, N1], null, seededRandom(seed)).pairs);
    for (const pairs of draws) {
      // positive column, 3 sampled negatives, 1 hard-negative column
      expect(pairs).toHaveLength(5);
      for (let k = 1; k <= 3; k++) {
        pairs[k]!.forEach(([q, d], i) => {
          expect(q).toBe(Q[i]);
          expect(own(i).has(d)).toBe(false);
        });
      }
      Q.forEach((_, i) => expect(new Set([1, 2, 3].map((k) => pairs[k]![i]![1])).size).toBe(3));
      expect(pairs[4]!.map((p) => p[1])).toEqual(N1);
    }
    expect(draws[0]).not.toEqual(draws[1]);
  });

  test("options and labels are checked, naming what is wrong", () => {
    expect(() => new L.BinaryCrossEntropyLoss(fakeModel(3))).toThrow(/1 output label/);
    expect(() => new L.MultipleNegativesRankingLoss(fakeModel(1), { numNegatives: 0 })).toThrow(/numNegatives/);
    expect(() => new L.LambdaLoss(fakeModel(1), { weightingScheme: "NDCG" as never })).toThrow(/weightingScheme/);
    expect(() => new L.ListNetLoss(fakeModel(1), { activationFn: "softmax" })).toThrow(/activation function "softmax"/);
    expect(() => new L.BinaryCrossEntropyLoss(fakeModel(1)).checkLabel(2, "row 3")).toThrow(/row 3.*\[0, 1\]/);
    expect(() => new L.CrossEntropyLoss(fakeModel(3)).checkLabel(3, "row 1")).toThrow(/0\.\.2/);
    expect(() => new L.ListNetLoss(fakeModel(1)).checkInput("text", 1, "row 0, column 'docs'")).toThrow(/list of document texts/);
    expect(() => new L.MarginMSELoss(fakeModel(1)).batch([Q, P, N1], [[1, 2, 3], 1, 1, 1, 1])).toThrow(/row 0's label has 3 values/);
  });
});
