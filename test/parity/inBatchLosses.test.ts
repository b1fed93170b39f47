// GISTEmbedLoss, CachedGISTEmbedLoss and MegaBatchMarginLoss against sentence-transformers' own classes
// (py/in_batch_losses_ref.py, in float64 on the same embeddings); for the GIST losses, with guide embeddings made so that the guide drops candidates: each positive
// lies near its anchor, and in some rows the negative lies nearer still (a false negative the guide filters out).
// The guide's embeddings reach the native loss as the trainer passes them (batchLabels' [rows, columns, dim]).
//   loss:      |native - reference| <= 1e-5 * |reference|
//   gradients: max |native - reference| <= 1e-5 * max |reference|, for every embedding column
//   config:    getConfigDict equals the Python class's get_config_dict (the guide aside)
// plus the refusals of bad options and guide embeddings, each with a message naming what is wrong.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import {
  AdaptiveLayerLoss,
  CachedGISTEmbedLoss,
  CachedMultipleNegativesRankingLoss,
  GISTEmbedLoss,
  Matryoshka2dLoss,
  MatryoshkaLoss,
  MegaBatchMarginLoss,
  MultipleNegativesRankingLoss,
  type GISTEmbedLossOptions,
  type MegaBatchMarginLossOptions,
} from "../../lib/losses/index.js";
import { native } from "../../lib/native.js";
import { SentenceTransformer } from "../../lib/SentenceTransformer.js";
import type { NativeTensorData } from "../../types/native.js";
import { gaussian, makeTinyBert } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";

const REF = fileURLToPath(new URL("py/in_batch_losses_ref.py", import.meta.url));
const TOL = 1e-5;
const B = 6;
const D = 8;
const G = 5;

type Matrix = number[][];

function normal(seed: number, key: string, rows: number, cols: number): Float32Array {
  return Float32Array.from(gaussian(seed, key, rows * cols));
}

/** anchor, positive = anchor + noise, then negatives; rows listed in `falseNegatives` get a negative nearer the anchor than its positive. */
function columns(seed: number, cols: number, negatives: number, noise: number, falseNegatives: number[]): Float32Array[] {
  const a = normal(seed, "a", B, cols);
  const near = (key: string, scale: number) => a.map((v, i) => v + scale * normal(seed, key, B, cols)[i]!);
  const p = near("p", noise);
  const ns = Array.from({ length: negatives }, (_, n) => {
    const other = normal(seed, `n${n}`, B, cols);
    const close = near(`c${n}`, noise / 4);
    return other.map((v, i) => (falseNegatives.includes(Math.floor(i / cols)) ? close[i]! : v));
  });
  return [a, p, ...ns];
}

const toMatrix = (t: Float32Array, cols: number): Matrix => Array.from({ length: B }, (_, r) => Array.from(t.subarray(r * cols, (r + 1) * cols)));

/** The guide's columns as batchLabels lays them out: [rows, columns, dim]. */
function guideTensor(cols: Float32Array[]): NativeTensorData {
  const data = new Float32Array(B * cols.length * G);
  cols.forEach((c, k) => {
    for (let r = 0; r < B; r++) data.set(c.subarray(r * G, (r + 1) * G), (r * cols.length + k) * G);
  });
  return { data, shape: [B, cols.length, G] };
}

interface Case {
  name: string;
  cached: boolean;
  options: Omit<GISTEmbedLossOptions, "guide"> & { miniBatchSize?: number };
  py: Record<string, unknown>;
  negatives: number;
  seed: number;
}

const CASES: Case[] = [
  { name: "GISTEmbedLoss, pairs, defaults", cached: false, options: {}, py: {}, negatives: 0, seed: 1 },
  { name: "GISTEmbedLoss, triplets, false negatives in rows 0 and 3", cached: false, options: {}, py: {}, negatives: 1, seed: 2 },
  {
    name: "GISTEmbedLoss, triplets, relative margin 0.1, temperature 0.05, no anchor-anchor",
    cached: false,
    options: { marginStrategy: "relative", margin: 0.1, temperature: 0.05, contrastAnchors: false },
    py: { margin_strategy: "relative", margin: 0.1, temperature: 0.05, contrast_anchors: false },
    negatives: 1,
    seed: 3,
  },
  {
    name: "GISTEmbedLoss, pairs, absolute margin 0.2, no positive-positive",
    cached: false,
    options: { margin: 0.2, contrastPositives: false },
    py: { margin: 0.2, contrast_positives: false },
    negatives: 0,
    seed: 4,
  },
  {
    name: "CachedGISTEmbedLoss, two negatives, mini-batches of 2, temperature 0.02",
    cached: true,
    options: { miniBatchSize: 2, temperature: 0.02 },
    py: { mini_batch_size: 2, temperature: 0.02 },
    negatives: 2,
    seed: 5,
  },
  {
    name: "CachedGISTEmbedLoss, triplets, mini-batches of 4 (uneven), neither anchor-anchor nor positive-positive",
    cached: true,
    options: { miniBatchSize: 4, contrastAnchors: false, contrastPositives: false, marginStrategy: "relative", margin: 0.05 },
    py: { mini_batch_size: 4, contrast_anchors: false, contrast_positives: false, margin_strategy: "relative", margin: 0.05 },
    negatives: 1,
    seed: 6,
  },
];

let root: string;
let model: SentenceTransformer;
let guide: SentenceTransformer;
beforeAll(async () => {
  root = await tempDir("sbert-gist-");
  await makeTinyBert(join(root, "bert"), { seed: 3 });
  model = await SentenceTransformer.load(join(root, "bert"));
  guide = await SentenceTransformer.load(join(root, "bert"));
});
afterAll(() => {
  model?.dispose();
  guide?.dispose();
});

const make = (c: Case) => (c.cached ? new CachedGISTEmbedLoss(model, { guide, ...c.options }) : new GISTEmbedLoss(model, { guide, ...c.options }));

describe("GISTEmbedLoss and CachedGISTEmbedLoss against sentence-transformers' classes", () => {
  const observed: string[] = [];
  let refs: { loss: number; grads: Matrix[]; config: Record<string, unknown> }[];
  const data = CASES.map((c) => ({ embeddings: columns(c.seed, D, c.negatives, 3, [0, 3]), guide: columns(c.seed + 100, G, c.negatives, 0.6, [0, 3]) }));
  beforeAll(async () => {
    refs = await runPython(REF, {
      folder: join(root, "bert"),
      cases: CASES.map((c, i) => ({
        loss: c.cached ? "CachedGISTEmbedLoss" : "GISTEmbedLoss",
        options: c.py,
        embeddings: data[i]!.embeddings.map((e) => toMatrix(e, D)),
        guide: data[i]!.guide.map((g) => toMatrix(g, G)),
      })),
    });
  }, 120_000);
  afterAll(() => console.log(observed.join("\n")));

  test.each(CASES.map((c, i) => [c.name, i] as const))("%s", (name, i) => {
    const c = CASES[i]!;
    const ref = refs[i]!;
    const loss = make(c);
    const embeddings = data[i]!.embeddings.map((e) => ({ data: e, shape: [B, D] }));
    const ours = native()._testing.lossAndGrad(loss.nativeSpec(), embeddings, guideTensor(data[i]!.guide), null);
    expect(Number.isFinite(ref.loss) && ref.loss > 0, `reference loss ${ref.loss}`).toBe(true);
    const { lossErr, gradErr } = errors(ours, ref);
    // A guide that finds every positive identical to its anchor drops (nearly) only the self-similarities; the
    // cases' guides drop more, so the loss differs.
    const [a, , ...rest] = columns(c.seed + 200, G, c.negatives, 0, []);
    const lenient = native()._testing.lossAndGrad(loss.nativeSpec(), embeddings, guideTensor([a!, a!, ...rest]), null);
    observed.push(`${name}: loss ${ref.loss.toFixed(6)} (lenient guide: ${lenient.loss.toFixed(6)}), relative loss error ${lossErr.toExponential(2)}, relative gradient error ${gradErr.toExponential(2)}`);
    expect(Math.abs(lenient.loss - ours.loss)).toBeGreaterThan(1e-3 * ours.loss);
    expect(lossErr, `native ${ours.loss}, reference ${ref.loss}`).toBeLessThanOrEqual(TOL);
    expect(gradErr).toBeLessThanOrEqual(TOL);
    const { guide: _guide, ...config } = loss.getConfigDict();
    expect(config).toEqual(ref.config);
  });
});

/** The largest difference of `ours` from `ref`'s loss (relative) and gradients (relative to each column's largest). */
function errors(ours: { loss: number; grads: { data: Float32Array }[] }, ref: { loss: number; grads: Matrix[] }): { lossErr: number; gradErr: number } {
  let gradErr = 0;
  ours.grads.forEach((g, col) => {
    const r = ref.grads[col]!.flat();
    const scale = Math.max(...r.map(Math.abs));
    expect(scale, `column ${col} has no gradient`).toBeGreaterThan(0);
    r.forEach((v, k) => (gradErr = Math.max(gradErr, Math.abs(g.data[k]! - v) / scale)));
  });
  return { lossErr: Math.abs(ours.loss - ref.loss) / Math.abs(ref.loss), gradErr };
}

describe("MegaBatchMarginLoss against sentence-transformers' class", () => {
  const CASES: [string, MegaBatchMarginLossOptions, Record<string, unknown>, number][] = [
    ["defaults (margins 0.8 and 0.3, mini-batched)", {}, {}, 21],
    ["margins 0.5 and 0.1, not mini-batched", { positiveMargin: 0.5, negativeMargin: 0.1, useMiniBatchedVersion: false }, { positive_margin: 0.5, negative_margin: 0.1, use_mini_batched_version: false }, 22],
    ["mini-batches of 4", { miniBatchSize: 4 }, { mini_batch_size: 4 }, 23],
  ];
  const data = CASES.map(([, , , seed]) => columns(seed, D, 0, 1, []));
  let refs: { loss: number; grads: Matrix[]; config: Record<string, unknown> }[];
  beforeAll(async () => {
    refs = await runPython(REF, {
      folder: join(root, "bert"),
      cases: CASES.map(([, , py], i) => ({ loss: "MegaBatchMarginLoss", options: py, embeddings: data[i]!.map((e) => toMatrix(e, D)) })),
    });
  }, 120_000);

  test.each(CASES.map((c, i) => [c[0], i] as const))("%s", (_name, i) => {
    const loss = new MegaBatchMarginLoss(model, CASES[i]![1]);
    const ours = native()._testing.lossAndGrad(loss.nativeSpec(), data[i]!.map((e) => ({ data: e, shape: [B, D] })), null, null);
    const ref = refs[i]!;
    expect(ref.loss).toBeGreaterThan(0);
    const { lossErr, gradErr } = errors(ours, ref);
    expect(lossErr, `native ${ours.loss}, reference ${ref.loss}`).toBeLessThanOrEqual(TOL);
    expect(gradErr).toBeLessThanOrEqual(TOL);
    expect(loss.getConfigDict()).toEqual(ref.config);
  });

  test("refusals: other than two columns, a batch of one row, bad options", () => {
    const spec = new MegaBatchMarginLoss(model).nativeSpec();
    const e = columns(24, D, 1, 1, []).map((t) => ({ data: t, shape: [B, D] }));
    expect(() => native()._testing.lossAndGrad(spec, e, null, null)).toThrow(/MegaBatchMarginLoss takes exactly 2 text columns \(anchor, positive\).*got 3/);
    const one = e.slice(0, 2).map((t) => ({ data: t.data.slice(0, D), shape: [1, D] }));
    expect(() => native()._testing.lossAndGrad(spec, one, null, null)).toThrow(/MegaBatchMarginLoss needs batches of at least 2 rows/);
    expect(() => new MegaBatchMarginLoss(model, { positiveMargin: NaN })).toThrow(/MegaBatchMarginLoss: positiveMargin must be a finite number, got NaN/);
    expect(() => new MegaBatchMarginLoss(model, { miniBatchSize: 0 })).toThrow(/miniBatchSize must be a positive integer/);
    expect(() => new MegaBatchMarginLoss(model, { useMiniBatchedVersion: "yes" as never })).toThrow(/useMiniBatchedVersion must be true or false/);
    expect(new MegaBatchMarginLoss(model, { useMiniBatchedVersion: false }).nativeSpec().miniBatchSize).toBeUndefined();
  });
});

// AdaptiveLayerLoss and Matryoshka2dLoss train through the model's layers (test/parity/trainer.test.ts); here, what they refuse and pass on.
describe("AdaptiveLayerLoss and Matryoshka2dLoss: options and the losses they wrap", () => {
  test("refusals name the option; a GIST loss inside keeps its guide's labels", () => {
    const mnrl = new MultipleNegativesRankingLoss(model);
    expect(() => new AdaptiveLayerLoss(model, new CachedMultipleNegativesRankingLoss(model))).toThrow(/AdaptiveLayerLoss: CachedMultipleNegativesRankingLoss has a gradient cache/);
    expect(() => new AdaptiveLayerLoss(model, mnrl, { nLayersPerStep: 1.5 })).toThrow(/nLayersPerStep must be an integer, got 1.5/);
    expect(() => new AdaptiveLayerLoss(model, mnrl, { layerWeighting: "square" as never })).toThrow(/layerWeighting must be one of uniform, log, linear/);
    expect(() => new AdaptiveLayerLoss(model, mnrl, { klTemperature: -1 })).toThrow(/klTemperature must be a number >= 0/);
    expect(() => new AdaptiveLayerLoss(model, new AdaptiveLayerLoss(model, mnrl))).toThrow(/cannot be another AdaptiveLayerLoss/);
    expect(() => new Matryoshka2dLoss(model, mnrl, { matryoshkaDims: [64] })).toThrow(/size 64 exceeds the model's embedding size 32/);
    const gist = new GISTEmbedLoss(model, { guide });
    expect(new AdaptiveLayerLoss(model, gist).batchLabels).toBeTypeOf("function");
    expect(new MatryoshkaLoss(model, gist, { matryoshkaDims: [16] }).batchLabels).toBeTypeOf("function");
    expect(new AdaptiveLayerLoss(model, mnrl).batchLabels).toBeUndefined();
    // Matryoshka2dLoss's defaults and config, as sentence-transformers': one layer and one size per step.
    const m2d = new Matryoshka2dLoss(model, mnrl, { matryoshkaDims: [16, 32] });
    expect(m2d.getConfigDict()).toEqual({
      loss: "MultipleNegativesRankingLoss",
      n_layers_per_step: 1,
      last_layer_weight: 1,
      prior_layers_weight: 1,
      kl_div_weight: 1,
      kl_temperature: 0.3,
      layer_weighting: "uniform",
      matryoshka_dims: [32, 16],
      matryoshka_weights: [1, 1],
      n_dims_per_step: 1,
    });
  });
});

describe("bad options and guide embeddings are refused with a message naming them", () => {
  const e = columns(9, D, 1, 0.5, []).map((t) => ({ data: t, shape: [B, D] }));
  const spec = () => new GISTEmbedLoss(model, { guide }).nativeSpec();
  const run = (s: ReturnType<typeof spec>, embeddings: NativeTensorData[], labels: NativeTensorData | null) => () => native()._testing.lossAndGrad(s, embeddings, labels, null);

  test("native: the guide's embeddings missing or of another shape, one column, bad options", () => {
    const g = guideTensor(columns(10, G, 1, 0.6, []));
    expect(run(spec(), e, g)).not.toThrow();
    expect(run(spec(), e, null)).toThrow(/GISTEmbedLoss needs the guide model's embeddings of shape \[6, 3, dim\], got none/);
    expect(run(spec(), e.slice(0, 2), g)).toThrow(/shape \[6, 2, dim\], got \[6, 3, 5\]/);
    expect(run(spec(), e.slice(0, 1), g)).toThrow(/GISTEmbedLoss takes an anchor, a positive and optional negative columns, got 1/);
    expect(run({ ...spec(), temperature: 0 }, e, g)).toThrow(/temperature must be a positive finite number/);
    expect(run({ ...spec(), marginStrategy: "both" as never }, e, g)).toThrow(/marginStrategy must be absolute or relative, got 'both'/);
  });

  test("TypeScript: the guide, options, and when the guide tokenizes for itself", () => {
    expect(() => new GISTEmbedLoss(model, {} as GISTEmbedLossOptions)).toThrow(/GISTEmbedLoss: options.guide must be a SentenceTransformer/);
    expect(() => new GISTEmbedLoss(model, { guide, temperature: -1 })).toThrow(/temperature must be a positive number, got -1/);
    expect(() => new GISTEmbedLoss(model, { guide, marginStrategy: "x" as never })).toThrow(/marginStrategy must be one of absolute, relative/);
    expect(() => new GISTEmbedLoss(model, { guide, margin: -0.1 })).toThrow(/margin must be a number >= 0/);
    expect(() => new GISTEmbedLoss(model, { guide, contrastAnchors: 1 as never })).toThrow(/contrastAnchors must be true or false/);
    expect(() => new CachedGISTEmbedLoss(model, { guide, miniBatchSize: 0 })).toThrow(/miniBatchSize must be a positive integer/);
    expect(new GISTEmbedLoss(model, { guide }).mustRetokenize).toBe(false);
    const saved = guide.maxSeqLength;
    guide.maxSeqLength = model.maxSeqLength - 1;
    try {
      expect(new GISTEmbedLoss(model, { guide }).mustRetokenize).toBe(true);
    } finally {
      guide.maxSeqLength = saved;
    }
  });
});
