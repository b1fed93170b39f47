// The native losses (native()._testing.lossAndGrad) against an independent float64 PyTorch implementation of
// sentence-transformers' definitions (py/losses_ref.py), on small seeded embeddings:
//   loss:      |native - reference| <= 1e-5 * |reference|
//   gradients: max |native - reference| <= 1e-4 * max |reference|, for every embedding column (and the
//              SoftmaxLoss classifier's weight and bias)
// plus central finite differences of the native loss itself (float32, step 1e-2) against its own gradient
// for three losses.
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { native } from "../../lib/native.js";
import type { NativeLossSpec, NativeTensorData } from "../../types/native.js";
import { gaussian } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";

const LOSSES_REF = fileURLToPath(new URL("py/losses_ref.py", import.meta.url));
const LOSS_TOL = 1e-5;
const GRAD_TOL = 1e-4;

type Matrix = number[][];

interface RefResult {
  loss: number;
  grads: Matrix[];
  headGrads?: { weight: Matrix; bias: number[] };
}

interface Inputs {
  embeddings: NativeTensorData[];
  labels: NativeTensorData | null;
  head: { weight: NativeTensorData; bias: NativeTensorData } | null;
}

// ---------------------------------------------------------------- seeded inputs

function tensor(values: ArrayLike<number>, shape: number[]): NativeTensorData {
  return { data: Float32Array.from(values), shape };
}

function normal(seed: number, key: string, rows: number, cols: number, std = 1): NativeTensorData {
  return tensor(Array.from(gaussian(seed, key, rows * cols), (v) => v * std), [rows, cols]);
}

function normalVector(seed: number, key: string, n: number, std = 1): NativeTensorData {
  return tensor(Array.from(gaussian(seed, key, n), (v) => v * std), [n]);
}

/**
 * Column 1 = column 0 + noise of a different size per row (from `lo` to `hi` times the signal), so pairs range
 * from near duplicates to nearly unrelated.
 */
function pairs(seed: number, rows: number, cols: number, lo = 0.15, hi = 1.75): NativeTensorData[] {
  const a = normal(seed, "a", rows, cols);
  const noise = gaussian(seed, "noise", rows * cols);
  const b = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const s = lo + ((hi - lo) * i) / Math.max(1, rows - 1);
    for (let j = 0; j < cols; j++) b[i * cols + j] = a.data[i * cols + j]! + s * noise[i * cols + j]!;
  }
  return [a, { data: b, shape: [rows, cols] }];
}

function labels(values: number[], shape = [values.length]): NativeTensorData {
  return tensor(values, shape);
}

function toMatrix(t: NativeTensorData): Matrix {
  const [rows, cols] = t.shape as [number, number];
  return Array.from({ length: rows }, (_, i) => Array.from(t.data.subarray(i * cols, (i + 1) * cols)));
}

function toJsonLabels(t: NativeTensorData | null): number[] | Matrix | null {
  if (t === null) return null;
  return t.shape.length === 2 ? toMatrix(t) : Array.from(t.data);
}

// ---------------------------------------------------------------- comparison

function relGradError(ours: ArrayLike<number>, ref: number[]): { err: number; scale: number } {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]!));
    diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
  }
  return { err: diff / scale, scale };
}

function referenceRequest(spec: NativeLossSpec, inputs: Inputs): unknown {
  return {
    spec,
    embeddings: inputs.embeddings.map(toMatrix),
    labels: toJsonLabels(inputs.labels),
    head: inputs.head === null ? null : { weight: toMatrix(inputs.head.weight), bias: Array.from(inputs.head.bias.data) },
  };
}

const observed: { name: string; loss: number; grad: number }[] = [];

function compare(name: string, spec: NativeLossSpec, inputs: Inputs, ref: RefResult): void {
  const ours = native()._testing.lossAndGrad(spec, inputs.embeddings, inputs.labels, inputs.head);
  expect(Number.isFinite(ref.loss)).toBe(true);
  const lossErr = Math.abs(ours.loss - ref.loss) / Math.abs(ref.loss);
  expect(ours.grads).toHaveLength(inputs.embeddings.length);
  let gradErr = 0;
  const failures: string[] = [];
  ours.grads.forEach((g, c) => {
    expect(g.shape).toEqual(inputs.embeddings[c]!.shape);
    const { err, scale } = relGradError(g.data, ref.grads[c]!.flat());
    // A column the loss does not touch would have scale 0; every case here uses all of its columns.
    expect(scale).toBeGreaterThan(0);
    gradErr = Math.max(gradErr, err);
    if (err > GRAD_TOL) failures.push(`column ${c}: relative gradient error ${err.toExponential(3)} (max |ref| ${scale.toExponential(3)})`);
  });
  if (inputs.head !== null) {
    expect(ours.headGrads).toBeDefined();
    const byName = new Map(ours.headGrads!.map((h) => [h.name, h.data]));
    for (const [key, ref2] of [
      ["weight", ref.headGrads!.weight.flat()],
      ["bias", ref.headGrads!.bias],
    ] as const) {
      const { err } = relGradError(byName.get(key)!, ref2);
      gradErr = Math.max(gradErr, err);
      if (err > GRAD_TOL) failures.push(`head ${key}: relative gradient error ${err.toExponential(3)}`);
    }
  }
  observed.push({ name, loss: lossErr, grad: gradErr });
  expect(lossErr, `${name}: native loss ${ours.loss}, reference ${ref.loss}`).toBeLessThanOrEqual(LOSS_TOL);
  expect(failures, name).toEqual([]);
}

// ---------------------------------------------------------------- cases

const B = 8;
const D = 8;
const TIED_SCORES = [0.2, 0.8, 0.2, 0.5, 0.8, 1.0, 0.0, 0.5];
const BINARY = [1, 0, 1, 1, 0, 0, 1, 0];
const CLASSES = [0, 1, 2, 0, 1, 2, 0, 1];

interface Case {
  name: string;
  spec: NativeLossSpec;
  inputs: () => Inputs;
}

const noHead = { head: null };

const CASES: Case[] = [
  {
    name: "CosineSimilarityLoss (MSE)",
    spec: { loss: "CosineSimilarityLoss" },
    inputs: () => ({ embeddings: pairs(1, B, D), labels: labels([0.9, 0.1, 0.8, 0.3, 0.5, 0.0, 1.0, 0.25]), ...noHead }),
  },
  {
    name: "CosineSimilarityLoss (L1)",
    spec: { loss: "CosineSimilarityLoss", lossFct: "l1" },
    inputs: () => ({ embeddings: pairs(2, B, D), labels: labels([0.9, 0.1, 0.8, 0.3, 0.5, 0.0, 1.0, 0.25]), ...noHead }),
  },
  {
    name: "CosineSimilarityLoss (relu transform)",
    spec: { loss: "CosineSimilarityLoss", cosScoreTransformation: "relu" },
    // Independent columns: some cosines are negative, where relu cuts the gradient.
    inputs: () => ({ embeddings: [normal(3, "a", B, D), normal(3, "b", B, D)], labels: labels([0.9, 0.1, 0.8, 0.3, 0.5, 0.0, 1.0, 0.25]), ...noHead }),
  },
  {
    name: "CoSENTLoss (tied labels)",
    spec: { loss: "CoSENTLoss", scale: 20 },
    inputs: () => ({ embeddings: pairs(4, B, D), labels: labels(TIED_SCORES), ...noHead }),
  },
  {
    name: "AnglELoss (tied labels)",
    spec: { loss: "AnglELoss", scale: 20 },
    inputs: () => ({ embeddings: pairs(5, B, 10), labels: labels(TIED_SCORES), ...noHead }),
  },
  {
    name: "MultipleNegativesRankingLoss (pairs)",
    spec: { loss: "MultipleNegativesRankingLoss", scale: 20, similarity: "cosine" },
    inputs: () => ({ embeddings: pairs(6, 6, 12, 0.5, 3), labels: null, ...noHead }),
  },
  {
    name: "MultipleNegativesRankingLoss (hard negatives, 3 columns)",
    spec: { loss: "MultipleNegativesRankingLoss", scale: 20, similarity: "cosine" },
    inputs: () => ({ embeddings: [...pairs(7, 6, 12, 0.5, 3), normal(7, "neg", 6, 12)], labels: null, ...noHead }),
  },
  {
    name: "MultipleNegativesRankingLoss (dot product, scale 1)",
    spec: { loss: "MultipleNegativesRankingLoss", scale: 1, similarity: "dot" },
    inputs: () => ({ embeddings: pairs(8, 6, 12, 0.5, 3).map((t) => ({ ...t, data: t.data.map((v) => v * 0.5) })), labels: null, ...noHead }),
  },
  {
    name: "MultipleNegativesSymmetricRankingLoss (pairs)",
    spec: { loss: "MultipleNegativesSymmetricRankingLoss", scale: 20, similarity: "cosine" },
    inputs: () => ({ embeddings: pairs(9, 6, 12, 0.5, 3), labels: null, ...noHead }),
  },
  {
    name: "MultipleNegativesSymmetricRankingLoss (3 columns)",
    spec: { loss: "MultipleNegativesSymmetricRankingLoss", scale: 20, similarity: "cosine" },
    inputs: () => ({ embeddings: [...pairs(10, 6, 12, 0.5, 3), normal(10, "neg", 6, 12)], labels: null, ...noHead }),
  },
  {
    name: "SoftmaxLoss (u, v, |u-v|)",
    spec: { loss: "SoftmaxLoss", numLabels: 3, embeddingDimension: D },
    inputs: () => ({
      embeddings: pairs(11, B, D),
      labels: labels(CLASSES),
      head: { weight: normal(11, "w", 3, 3 * D, 0.3), bias: normalVector(11, "b", 3, 0.1) },
    }),
  },
  {
    name: "SoftmaxLoss (u, v, |u-v|, u*v)",
    spec: { loss: "SoftmaxLoss", numLabels: 3, embeddingDimension: D, concatMul: true },
    inputs: () => ({
      embeddings: pairs(12, B, D),
      labels: labels(CLASSES),
      head: { weight: normal(12, "w", 3, 4 * D, 0.3), bias: normalVector(12, "b", 3, 0.1) },
    }),
  },
  {
    name: "ContrastiveLoss (cosine distance, margin 0.5)",
    spec: { loss: "ContrastiveLoss", distance: "cosine", margin: 0.5, sizeAverage: true },
    inputs: () => ({ embeddings: pairs(13, B, D), labels: labels(BINARY), ...noHead }),
  },
  {
    name: "ContrastiveLoss (euclidean, margin 3)",
    spec: { loss: "ContrastiveLoss", distance: "euclidean", margin: 3, sizeAverage: true },
    inputs: () => ({ embeddings: pairs(14, B, D), labels: labels(BINARY), ...noHead }),
  },
  {
    name: "ContrastiveLoss (manhattan, margin 6, summed)",
    spec: { loss: "ContrastiveLoss", distance: "manhattan", margin: 6, sizeAverage: false },
    inputs: () => ({ embeddings: pairs(15, B, D), labels: labels(BINARY), ...noHead }),
  },
  {
    name: "OnlineContrastiveLoss (cosine distance, margin 0.5)",
    spec: { loss: "OnlineContrastiveLoss", distance: "cosine", margin: 0.5 },
    inputs: () => ({ embeddings: pairs(16, B, D), labels: labels([0, 1, 1, 0, 1, 0, 1, 0]), ...noHead }),
  },
  {
    name: "TripletLoss (euclidean, margin 1)",
    spec: { loss: "TripletLoss", distance: "euclidean", margin: 1 },
    inputs: () => ({ embeddings: [...pairs(17, B, D), normal(17, "neg", B, D)], labels: null, ...noHead }),
  },
  {
    name: "TripletLoss (cosine, margin 0.3)",
    spec: { loss: "TripletLoss", distance: "cosine", margin: 0.3 },
    inputs: () => ({ embeddings: [...pairs(18, B, D), normal(18, "neg", B, D)], labels: null, ...noHead }),
  },
  {
    name: "BatchHardTripletLoss (euclidean, margin 2)",
    spec: { loss: "BatchHardTripletLoss", distance: "euclidean", margin: 2 },
    inputs: () => ({ embeddings: [normal(19, "x", B, D)], labels: labels(CLASSES), ...noHead }),
  },
  {
    name: "BatchHardTripletLoss (cosine, margin 0.5)",
    spec: { loss: "BatchHardTripletLoss", distance: "cosine", margin: 0.5 },
    inputs: () => ({ embeddings: [normal(20, "x", B, D)], labels: labels(CLASSES), ...noHead }),
  },
  {
    name: "MSELoss (one column)",
    spec: { loss: "MSELoss" },
    inputs: () => ({ embeddings: [normal(21, "x", B, D)], labels: normal(21, "teacher", B, D), ...noHead }),
  },
  {
    name: "MSELoss (two columns, labels repeated)",
    spec: { loss: "MSELoss" },
    inputs: () => ({ embeddings: [normal(22, "x", B, D), normal(22, "y", B, D)], labels: normal(22, "teacher", B, D), ...noHead }),
  },
  // sentence-transformers' MatryoshkaLoss (2.7 .. 6.0) truncates each embedding to the dimension and then
  // L2-normalises it (its `shrink`: F.normalize); labels of the model's width are truncated, not normalised.
  // Cosine-based inner losses cannot tell the normalisation apart; MSELoss (and dot-product scores) can.
  {
    name: "MatryoshkaLoss over CoSENTLoss",
    spec: { loss: "CoSENTLoss", scale: 20, matryoshkaDims: [16, 8, 4], matryoshkaWeights: [1, 0.5, 0.25] },
    inputs: () => ({ embeddings: pairs(23, B, 16), labels: labels(TIED_SCORES), ...noHead }),
  },
  {
    name: "MatryoshkaLoss over MultipleNegativesRankingLoss",
    spec: { loss: "MultipleNegativesRankingLoss", scale: 20, similarity: "cosine", matryoshkaDims: [16, 8, 4], matryoshkaWeights: [1, 1, 2] },
    inputs: () => ({ embeddings: pairs(24, 6, 16, 0.5, 3), labels: null, ...noHead }),
  },
  {
    name: "MatryoshkaLoss over MSELoss (labels truncated too)",
    spec: { loss: "MSELoss", matryoshkaDims: [16, 8, 4], matryoshkaWeights: [1, 0.5, 0.25] },
    inputs: () => ({ embeddings: [normal(25, "x", B, 16, 0.3)], labels: normal(25, "teacher", B, 16, 0.3), ...noHead }),
  },
];

describe("native losses against the float64 PyTorch reference", () => {
  // Every case's reference in one Python run.
  let refs: RefResult[];
  beforeAll(async () => {
    refs = await runPython<RefResult[]>(
      LOSSES_REF,
      CASES.map((c) => referenceRequest(c.spec, c.inputs())),
    );
  });

  test.each(CASES.map((c, i) => [c.name, i] as const))("%s", (name, i) => {
    const c = CASES[i]!;
    compare(name, c.spec, c.inputs(), refs[i]!);
  });

  test("the cases are non-trivial: every loss is positive", () => {
    for (const c of CASES) {
      const i = c.inputs();
      expect(native()._testing.lossAndGrad(c.spec, i.embeddings, i.labels, i.head).loss, c.name).toBeGreaterThan(0);
    }
  });
});

// ---------------------------------------------------------------- finite differences

/**
 * Central differences of the native loss (float32 arithmetic, evaluated in float64 from repeated calls) with
 * step h = 1e-2 on every embedding entry, against the native analytic gradient: max abs difference <=
 * FD_TOL * max |gradient|. The float32 rounding of the loss (~1e-7 relative) contributes ~1e-5 and the O(h^2)
 * truncation about as much (observed: 2e-5..6e-5 of the gradient's scale); a wrong factor or sign in any
 * entry would give ~1.
 */
const FD_STEP = 1e-2;
const FD_TOL = 1e-3;

function finiteDifferenceError(spec: NativeLossSpec, inputs: Inputs): number {
  const n = native();
  const base = n._testing.lossAndGrad(spec, inputs.embeddings, inputs.labels, inputs.head);
  let scale = 0;
  let diff = 0;
  inputs.embeddings.forEach((col, c) => {
    const analytic = base.grads[c]!.data;
    for (let k = 0; k < col.data.length; k++) {
      const shifted = (delta: number) => {
        const data = Float32Array.from(col.data);
        data[k] = data[k]! + delta;
        const cols = inputs.embeddings.map((e, i) => (i === c ? { data, shape: e.shape } : e));
        // The step actually taken after float32 rounding.
        return { loss: n._testing.lossAndGrad(spec, cols, inputs.labels, inputs.head).loss, x: data[k]! };
      };
      const plus = shifted(FD_STEP);
      const minus = shifted(-FD_STEP);
      const fd = (plus.loss - minus.loss) / (plus.x - minus.x);
      scale = Math.max(scale, Math.abs(analytic[k]!));
      diff = Math.max(diff, Math.abs(fd - analytic[k]!));
    }
  });
  return diff / scale;
}

describe("finite differences of the native loss", () => {
  const byName = new Map(CASES.map((c) => [c.name, c]));
  test.each(["CoSENTLoss (tied labels)", "MultipleNegativesRankingLoss (hard negatives, 3 columns)", "ContrastiveLoss (euclidean, margin 3)"])(
    "%s",
    (name) => {
      const c = byName.get(name)!;
      const err = finiteDifferenceError(c.spec, c.inputs());
      observed.push({ name: `finite differences: ${name}`, loss: Number.NaN, grad: err });
      expect(err).toBeLessThanOrEqual(FD_TOL);
    },
  );

  test("report", () => {
    // Printed for the record: relative errors observed in this run.
    for (const o of observed) console.log(`${o.name}: loss ${o.loss.toExponential(2)}, gradient ${o.grad.toExponential(2)}`);
  });
});
