// The distillation losses (MarginMSELoss, DistillKLDivLoss, SparseMarginMSELoss, SparseDistillKLDivLoss) against
// sentence-transformers' own loss classes (py/distill_losses_ref.py: compute_loss_from_embeddings in float64), on
// small seeded embeddings. Each case builds the native spec and the label tensor as training does (the class's
// nativeSpec, labelTensor):
//   loss:      |native - reference| <= 1e-5 * |reference|
//   gradients: max |native - reference| <= 1e-5 * max |reference|, for every embedding column
//   config:    getConfigDict equals the Python class's get_config_dict
// plus the refusals of bad labels and options, each with a message naming what is wrong.
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { labelTensor } from "../../lib/internal/training.js";
import { DistillKLDivLoss, type DistillKLDivLossOptions } from "../../lib/losses/DistillKLDivLoss.js";
import type { EmbeddingModel, Label, Loss } from "../../lib/losses/Loss.js";
import { MarginMSELoss, type MarginMSELossOptions } from "../../lib/losses/MarginMSELoss.js";
import { native } from "../../lib/native.js";
import { SparseDistillKLDivLoss } from "../../lib/sparseEncoder/losses/SparseDistillKLDivLoss.js";
import { SparseMarginMSELoss } from "../../lib/sparseEncoder/losses/SparseMarginMSELoss.js";
import type { SparseEncoder } from "../../lib/sparseEncoder/SparseEncoder.js";
import type { NativeTensorData } from "../../types/native.js";
import { gaussian } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";

const REF = fileURLToPath(new URL("py/distill_losses_ref.py", import.meta.url));
const LOSS_TOL = 1e-5;
const GRAD_TOL = 1e-5;

// A stand-in for the model: scoring given embeddings reads nothing of it, and construction only checks it can encode.
const MODEL = { encode: () => undefined } as unknown as EmbeddingModel;

type Matrix = number[][];

interface RefResult {
  loss: number;
  grads: Matrix[];
  config: Record<string, unknown>;
}

function normal(seed: number, key: string, rows: number, cols: number, std = 1): NativeTensorData {
  return { data: Float32Array.from(gaussian(seed, key, rows * cols), (v) => v * std), shape: [rows, cols] };
}

/** A query column, a positive near it, and `negatives` unrelated columns; relu'd for the sparse losses. */
function columns(seed: number, rows: number, cols: number, negatives: number, nonNegative = false): NativeTensorData[] {
  const q = normal(seed, "q", rows, cols, 0.6);
  const noise = normal(seed, "p", rows, cols, 0.4);
  const p = { data: q.data.map((v, i) => v + noise.data[i]!), shape: [rows, cols] };
  const out = [q, p, ...Array.from({ length: negatives }, (_, n) => normal(seed, `n${n}`, rows, cols, 0.6))];
  return nonNegative ? out.map((t) => ({ ...t, data: t.data.map((v) => Math.max(v, 0) + 0.05) })) : out;
}

/** Per-row labels: one number (`width` 0) or `width` numbers, seeded, at scale `std`. */
function labelRows(seed: number, rows: number, width: number, std = 2): Label[] {
  const g = gaussian(seed, "labels", rows * Math.max(width, 1));
  return Array.from({ length: rows }, (_, i) => (width === 0 ? g[i]! * std : Array.from(g.subarray(i * width, (i + 1) * width), (v) => v * std)));
}

function toMatrix(t: NativeTensorData): Matrix {
  const [rows, cols] = t.shape as [number, number];
  return Array.from({ length: rows }, (_, i) => Array.from(t.data.subarray(i * cols, (i + 1) * cols)));
}

const B = 6;
const D = 8;

interface Case {
  name: string;
  loss: () => Loss;
  /** the Python class and its keyword arguments */
  py: { loss: string; options: Record<string, unknown> };
  embeddings: NativeTensorData[];
  labels: Label[];
}

const margin = (options: MarginMSELossOptions = {}) => () => new MarginMSELoss(MODEL, options);
const kl = (options: DistillKLDivLossOptions = {}) => () => new DistillKLDivLoss(MODEL, options);

/** Teacher scores with -Infinity for the last candidate of rows 1 and 4 (candidates the teacher rules out). */
function withExcluded(rows: Label[]): Label[] {
  return rows.map((r, i) => (i === 1 || i === 4 ? (r as number[]).map((v, k, a) => (k === a.length - 1 ? -Infinity : v)) : r));
}

const CASES: Case[] = [
  { name: "MarginMSELoss, one negative, margins [B]", loss: margin(), py: { loss: "MarginMSELoss", options: {} }, embeddings: columns(1, B, D, 1), labels: labelRows(1, B, 0) },
  { name: "MarginMSELoss, one negative, teacher scores [B, 2]", loss: margin(), py: { loss: "MarginMSELoss", options: {} }, embeddings: columns(2, B, D, 1), labels: labelRows(2, B, 2) },
  { name: "MarginMSELoss, three negatives, margins [B, 3]", loss: margin(), py: { loss: "MarginMSELoss", options: {} }, embeddings: columns(3, B, D, 3), labels: labelRows(3, B, 3) },
  { name: "MarginMSELoss, three negatives, teacher scores [B, 4]", loss: margin(), py: { loss: "MarginMSELoss", options: {} }, embeddings: columns(4, B, D, 3), labels: labelRows(4, B, 4) },
  {
    name: "MarginMSELoss, cosine, two negatives, teacher scores [B, 3]",
    loss: margin({ similarityFct: "cosine" }),
    py: { loss: "MarginMSELoss", options: { similarity_fct: "cosine" } },
    embeddings: columns(5, B, D, 2),
    labels: labelRows(5, B, 3, 0.3),
  },
  {
    name: "SparseMarginMSELoss, two negatives, margins [B, 2]",
    loss: () => new SparseMarginMSELoss(MODEL as SparseEncoder),
    py: { loss: "SparseMarginMSELoss", options: {} },
    embeddings: columns(6, B, D, 2, true),
    labels: labelRows(6, B, 2),
  },
  { name: "DistillKLDivLoss, one negative, temperature 1", loss: kl(), py: { loss: "DistillKLDivLoss", options: {} }, embeddings: columns(7, B, D, 1), labels: labelRows(7, B, 2) },
  {
    name: "DistillKLDivLoss, three negatives, temperature 2",
    loss: kl({ temperature: 2 }),
    py: { loss: "DistillKLDivLoss", options: { temperature: 2 } },
    embeddings: columns(8, B, D, 3),
    labels: labelRows(8, B, 4, 4),
  },
  {
    name: "DistillKLDivLoss, cosine, student 0.5 and teacher 3 temperatures",
    loss: kl({ similarityFct: "cosine", temperature: 1.5, studentTemperature: 0.5, teacherTemperature: 3 }),
    py: { loss: "DistillKLDivLoss", options: { similarity_fct: "cosine", temperature: 1.5, student_temperature: 0.5, teacher_temperature: 3 } },
    embeddings: columns(9, B, D, 2),
    labels: labelRows(9, B, 3, 3),
  },
  {
    name: "DistillKLDivLoss, a candidate left out (-Infinity) in two rows",
    loss: kl({ teacherTemperature: 0.7 }),
    py: { loss: "DistillKLDivLoss", options: { teacher_temperature: 0.7 } },
    embeddings: columns(10, B, D, 2),
    labels: withExcluded(labelRows(10, B, 3)),
  },
  {
    name: "SparseDistillKLDivLoss (temperature 2 by default), two negatives",
    loss: () => new SparseDistillKLDivLoss(MODEL as SparseEncoder),
    py: { loss: "SparseDistillKLDivLoss", options: {} },
    embeddings: columns(11, B, D, 2, true),
    labels: labelRows(11, B, 3, 4),
  },
];

const observed: string[] = [];

describe("distillation losses against sentence-transformers' loss classes", () => {
  let refs: RefResult[];
  beforeAll(async () => {
    refs = await runPython<RefResult[]>(
      REF,
      CASES.map((c) => ({ ...c.py, embeddings: c.embeddings.map(toMatrix), labels: c.labels.map((l) => (typeof l === "number" ? l : Array.from(l, (v): number | string => (v === -Infinity ? "-inf" : v)))) })),
    );
  });

  test.each(CASES.map((c, i) => [c.name, i] as const))("%s", (name, i) => {
    const c = CASES[i]!;
    const ref = refs[i]!;
    const loss = c.loss();
    c.labels.forEach((l, row) => loss.checkLabel(l, `row ${row}`));
    const ours = native()._testing.lossAndGrad(loss.nativeSpec(), c.embeddings, labelTensor(loss, c.labels), null);
    expect(Number.isFinite(ref.loss) && ref.loss > 0, `reference loss ${ref.loss}`).toBe(true);
    const lossErr = Math.abs(ours.loss - ref.loss) / Math.abs(ref.loss);
    let gradErr = 0;
    ours.grads.forEach((g, col) => {
      const r = ref.grads[col]!.flat();
      const scale = Math.max(...r.map(Math.abs));
      expect(scale, `column ${col} has no gradient`).toBeGreaterThan(0);
      let diff = 0;
      r.forEach((v, k) => (diff = Math.max(diff, Math.abs(g.data[k]! - v))));
      gradErr = Math.max(gradErr, diff / scale);
    });
    observed.push(`${name}: loss ${ref.loss.toFixed(6)}, relative loss error ${lossErr.toExponential(2)}, relative gradient error ${gradErr.toExponential(2)}`);
    expect(lossErr, `native ${ours.loss}, reference ${ref.loss}`).toBeLessThanOrEqual(LOSS_TOL);
    expect(gradErr).toBeLessThanOrEqual(GRAD_TOL);
    expect(loss.getConfigDict()).toEqual(ref.config);
  });
});

describe("bad labels and options are refused with a message naming them", () => {
  const spec = new MarginMSELoss(MODEL).nativeSpec();
  const klSpec = new DistillKLDivLoss(MODEL).nativeSpec();
  const lossAndGrad = (s: typeof spec, e: NativeTensorData[], labels: NativeTensorData | null) => () => native()._testing.lossAndGrad(s, e, labels, null);
  const vec = (values: number[], shape = [values.length]): NativeTensorData => ({ data: Float32Array.from(values), shape });

  test("native: label shapes that are neither margins nor teacher scores, non-finite values, too few columns", () => {
    const three = columns(20, 2, 4, 1);
    expect(lossAndGrad(spec, three, vec([1, 2, 3, 4, 5, 6], [2, 3]))).toThrow(/MarginMSELoss: labels of shape \[2, 3\] for 2 rows with 1 negative column\(s\)/);
    expect(lossAndGrad(spec, three, vec([1, 2, 3]))).toThrow(/labels of shape \[3\]/);
    expect(lossAndGrad(spec, three, null)).toThrow(/MarginMSELoss needs labels/);
    expect(lossAndGrad(spec, three, vec([1, NaN]))).toThrow(/MarginMSELoss: the labels hold a value that is not a finite number/);
    expect(lossAndGrad(spec, three, vec([1, 2, Infinity, 0], [2, 2]))).toThrow(/not a finite number/);
    expect(lossAndGrad(spec, three.slice(0, 2), vec([1, 2]))).toThrow(/MarginMSELoss takes a query, a positive and one or more negative columns, got 2/);

    expect(lossAndGrad(klSpec, three, vec([1, 2]))).toThrow(/DistillKLDivLoss needs the teacher's scores of shape \[2, 2\].*got \[2\]/);
    expect(lossAndGrad(klSpec, three, vec([1, 2, 3, 4, 5, 6], [2, 3]))).toThrow(/shape \[2, 2\].*got \[2, 3\]/);
    expect(lossAndGrad(klSpec, three, vec([1, NaN, 3, 4], [2, 2]))).toThrow(/DistillKLDivLoss: the teacher scores hold NaN/);
    expect(lossAndGrad(klSpec, three, vec([1, Infinity, 3, 4], [2, 2]))).toThrow(/\+Infinity/);
    expect(lossAndGrad(klSpec, three, vec([-Infinity, -Infinity, 3, 4], [2, 2]))).toThrow(/all -Infinity/);
    expect(lossAndGrad(klSpec, three.slice(0, 2), vec([1, 2]))).toThrow(/at least two candidate columns/);
    expect(lossAndGrad({ ...klSpec, teacherTemperature: 0 }, three, vec([1, 2, 3, 4], [2, 2]))).toThrow(/teacherTemperature must be a positive finite number/);
  });

  test("TypeScript: each row's label, ragged batches, options", () => {
    const m = new MarginMSELoss(MODEL);
    expect(() => m.checkLabel(NaN, "row 3")).toThrow(RangeError);
    expect(() => m.checkLabel(NaN, "row 3")).toThrow(/row 3: MarginMSELoss needs finite numbers as label, got NaN/);
    expect(() => m.checkLabel([1, Infinity], "row 3")).toThrow(/got Infinity/);
    expect(() => m.checkLabel([], "row 3")).toThrow(/non-empty list/);
    expect(() => m.checkLabel("0.5" as unknown as number, "row 3")).toThrow(/needs a number or a non-empty list of numbers as label, got string/);
    expect(() => m.checkLabel([0.5, 1], "row 3")).not.toThrow();
    expect(() => labelTensor(m, [[1, 2], [1, 2, 3]])).toThrow(/every label of a batch must hold the same number of scores, but one holds 2 and another 3/);
    expect(labelTensor(m, [1, [2]])).toEqual({ data: Float32Array.from([1, 2]), shape: [2, 1] });
    expect(labelTensor(m, [1, 2])).toEqual({ data: Float32Array.from([1, 2]), shape: [2] });

    const k = new DistillKLDivLoss(MODEL);
    expect(() => k.checkLabel(0.5, "row 1")).toThrow(/row 1: DistillKLDivLoss needs the teacher's scores of the candidates .* got 0.5/);
    expect(() => k.checkLabel([0.5], "row 1")).toThrow(/2 or more numbers, got a list of 1 values/);
    expect(() => k.checkLabel([0.5, NaN], "row 1")).toThrow(/got NaN/);
    expect(() => k.checkLabel([0.5, Infinity], "row 1")).toThrow(/got Infinity/);
    expect(() => k.checkLabel([-Infinity, -Infinity], "row 1")).toThrow(/every teacher score is -Infinity/);
    expect(() => k.checkLabel([0.5, -Infinity], "row 1")).not.toThrow();

    expect(() => new DistillKLDivLoss(MODEL, { temperature: 0 })).toThrow(/DistillKLDivLoss: temperature must be a positive number, got 0/);
    expect(() => new DistillKLDivLoss(MODEL, { studentTemperature: -1 })).toThrow(/studentTemperature must be a positive number/);
    expect(() => new DistillKLDivLoss(MODEL, { teacherTemperature: Infinity })).toThrow(/teacherTemperature must be a positive number/);
    expect(() => new MarginMSELoss(MODEL, { similarityFct: "manhattan" as "dot" })).toThrow(/MarginMSELoss: similarityFct must be one of dot, cosine, got "manhattan"/);
    expect(() => new SparseDistillKLDivLoss(MODEL as SparseEncoder, { similarityFct: "euclid" as "dot" })).toThrow(/SparseDistillKLDivLoss: similarityFct/);
    expect(new SparseDistillKLDivLoss(MODEL as SparseEncoder).getConfigDict()).toEqual({ similarity_fct: "pairwise_dot_score", temperature: 2 });
  });
});

describe("record", () => {
  test("observed differences", () => {
    for (const line of observed) console.log(line);
  });
});
