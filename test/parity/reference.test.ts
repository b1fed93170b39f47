/**
 * Self-test of the independent Python reference (test/parity/py/reference.py) before anything is compared
 * against it: its BERT against a float64 forward written here from the same weights, its pooling / Dense /
 * Normalize against computations done here from its own token embeddings, and invariances (weight formats,
 * dtypes, padding).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bf16ToF32, f16ToF32, readSafetensorsHeader } from "../../lib/io/safetensors.js";
import { makePytorchBinFolder } from "../fixtures/pytorchBin.js";
import { makeSentenceTransformerFolder, type PoolingMode } from "../fixtures/sentenceTransformerFolder.js";
import { makeTinyBert, type TinyBertOptions } from "../fixtures/tinyBert.js";
import { runPython } from "../helpers/python.js";

const REFERENCE = fileURLToPath(new URL("py/reference.py", import.meta.url));

type Matrix = number[][];
interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  prompt_length?: number;
}

async function sentenceEmbeddings(folder: string, batches: Batch[]): Promise<Matrix[]> {
  return (await runPython<{ embeddings: Matrix[] }>(REFERENCE, { folder, batches, output: "sentence_embedding" })).embeddings;
}
async function tokenEmbeddings(folder: string, batches: Batch[]): Promise<Matrix[][]> {
  return (await runPython<{ embeddings: Matrix[][] }>(REFERENCE, { folder, batches, output: "token_embeddings" })).embeddings;
}

/** Right-pads token id lists ([CLS] … [SEP] added) into one batch. */
function batch(seqs: number[][], opts: { length?: number; tokenTypes?: number[][]; left?: boolean } = {}): Batch {
  const rows = seqs.map((s) => [2, ...s, 3]);
  const L = opts.length ?? Math.max(...rows.map((r) => r.length));
  const pad = (r: number[], v: number, n: number) => (opts.left ? [...Array<number>(n - r.length).fill(v), ...r] : [...r, ...Array<number>(n - r.length).fill(v)]);
  return {
    input_ids: rows.map((r) => pad(r, 0, L)),
    attention_mask: rows.map((r) => pad(r.map(() => 1), 0, L)),
    token_type_ids: rows.map((r, i) => pad(opts.tokenTypes?.[i] ?? r.map(() => 0), 0, L)),
  };
}

const SENTENCES = [
  [10, 50, 120, 7],
  [300, 301, 302, 303, 304, 305, 306, 400],
  [33],
  [500, 20, 510, 21, 520, 22, 530, 23, 540, 24, 550],
];

function maxAbsDiff(a: Matrix, b: Matrix): number {
  let m = 0;
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    expect(a[i]!.length).toBe(b[i]!.length);
    for (let j = 0; j < a[i]!.length; j++) m = Math.max(m, Math.abs(a[i]![j]! - b[i]![j]!));
  }
  return m;
}

function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

// ---- an independent float64 BERT ----

type Weights = Map<string, { shape: number[]; v: Float64Array }>;

async function loadWeights(file: string): Promise<Weights> {
  const h = await readSafetensorsHeader(file);
  const bytes = await readFile(file);
  const out: Weights = new Map();
  for (const e of h.entries) {
    const raw = bytes.buffer.slice(bytes.byteOffset + e.begin, bytes.byteOffset + e.end);
    const f32 = e.dtype === "F32" ? new Float32Array(raw) : e.dtype === "F16" ? f16ToF32(new Uint16Array(raw)) : e.dtype === "BF16" ? bf16ToF32(new Uint16Array(raw)) : null;
    if (f32) out.set(e.name.replace(/^bert\./, ""), { shape: e.shape, v: Float64Array.from(f32) });
  }
  return out;
}

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), ample against a float32 reference. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

const ACT: Record<string, (x: number) => number> = {
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  relu: (x) => Math.max(0, x),
};

function bertForward(w: Weights, cfg: Record<string, unknown>, ids: number[], types: number[], mask: number[]): Matrix {
  const H = cfg["hidden_size"] as number;
  const heads = cfg["num_attention_heads"] as number;
  const d = H / heads;
  const eps = cfg["layer_norm_eps"] as number;
  const act = ACT[cfg["hidden_act"] as string]!;
  const get = (k: string) => {
    const t = w.get(k);
    if (!t) throw new Error(`missing ${k}`);
    return t;
  };
  const row = (k: string, i: number) => Array.from(get(k).v.subarray(i * H, (i + 1) * H));
  const linear = (x: Matrix, k: string): Matrix => {
    const W = get(`${k}.weight`);
    const b = get(`${k}.bias`).v;
    const [outF, inF] = W.shape as [number, number];
    return x.map((xr) => {
      const y = new Array<number>(outF);
      for (let o = 0; o < outF; o++) {
        let s = b[o]!;
        for (let i = 0; i < inF; i++) s += W.v[o * inF + i]! * xr[i]!;
        y[o] = s;
      }
      return y;
    });
  };
  const layerNorm = (x: Matrix, k: string): Matrix => {
    const g = get(`${k}.weight`).v;
    const b = get(`${k}.bias`).v;
    return x.map((r) => {
      const mean = r.reduce((a, v) => a + v, 0) / r.length;
      const variance = r.reduce((a, v) => a + (v - mean) ** 2, 0) / r.length;
      return r.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i]! + b[i]!);
    });
  };
  const add = (a: Matrix, b: Matrix): Matrix => a.map((r, i) => r.map((v, j) => v + b[i]![j]!));

  const L = ids.length;
  let x: Matrix = ids.map((id, p) => {
    const we = row("embeddings.word_embeddings.weight", id);
    const pe = row("embeddings.position_embeddings.weight", p);
    const te = row("embeddings.token_type_embeddings.weight", types[p]!);
    return we.map((v, i) => v + pe[i]! + te[i]!);
  });
  x = layerNorm(x, "embeddings.LayerNorm");
  for (let l = 0; l < (cfg["num_hidden_layers"] as number); l++) {
    const p = `encoder.layer.${l}`;
    const q = linear(x, `${p}.attention.self.query`);
    const k = linear(x, `${p}.attention.self.key`);
    const v = linear(x, `${p}.attention.self.value`);
    const ctx: Matrix = Array.from({ length: L }, () => new Array<number>(H).fill(0));
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < L; i++) {
        // Masked keys get probability 0 (the reference's finfo.min offset underflows to exactly that).
        const scores = Array.from({ length: L }, (_, j) => {
          if (mask[j] === 0) return -Infinity;
          let s = 0;
          for (let c = h * d; c < (h + 1) * d; c++) s += q[i]![c]! * k[j]![c]!;
          return s / Math.sqrt(d);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - m)));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < L; j++) for (let c = h * d; c < (h + 1) * d; c++) ctx[i]![c]! += (e[j]! / z) * v[j]![c]!;
      }
    }
    const a = layerNorm(add(linear(ctx, `${p}.attention.output.dense`), x), `${p}.attention.output.LayerNorm`);
    const inter = linear(a, `${p}.intermediate.dense`).map((r) => r.map(act));
    x = layerNorm(add(linear(inter, `${p}.output.dense`), a), `${p}.output.LayerNorm`);
  }
  return x;
}

// ---- pooling computed here from token embeddings ----

function pool(mode: PoolingMode, tok: Matrix, mask: number[]): number[] {
  const H = tok[0]!.length;
  const idx = mask.flatMap((m, i) => (m ? [i] : []));
  const sum = (w: (i: number) => number) => {
    const s = new Array<number>(H).fill(0);
    for (const i of idx) for (let c = 0; c < H; c++) s[c]! += w(i) * tok[i]![c]!;
    return s;
  };
  switch (mode) {
    case "cls":
      return tok[0]!;
    case "max":
      return Array.from({ length: H }, (_, c) => Math.max(...idx.map((i) => tok[i]![c]!)));
    case "mean":
      return sum(() => 1).map((v) => v / idx.length);
    case "mean_sqrt_len_tokens":
      return sum(() => 1).map((v) => v / Math.sqrt(idx.length));
    case "weightedmean": {
      const wsum = idx.reduce((a, i) => a + i + 1, 0);
      return sum((i) => i + 1).map((v) => v / wsum);
    }
    case "lasttoken":
      return tok[idx[idx.length - 1]!]!;
  }
}

let root: string;
let n = 0;
const fresh = (name: string) => join(root, `${n++}-${name}`);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "sbert-reference-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("reference.py BERT encoder", () => {
  const cases: [string, TinyBertOptions][] = [
    ["gelu (erf)", {}],
    ["gelu_new (tanh), eps 1e-5, 3 layers, 3 token types", { hiddenAct: "gelu_new", layerNormEps: 1e-5, layers: 3, typeVocab: 3, seed: 9 }],
    ["relu, 8 heads, bert. prefix", { hiddenAct: "relu", heads: 8, prefix: "bert.", seed: 11 }],
  ];
  for (const [label, opts] of cases) {
    it(`matches a float64 forward written here: ${label}`, async () => {
      const dir = fresh("bert");
      const { config } = await makeTinyBert(dir, opts);
      const types = SENTENCES.map((s, i) => [0, ...s, 0].map((_, j) => (i % 2 === 1 && j > 3 ? Math.min(2, (opts.typeVocab ?? 2) - 1) : 0)));
      const b = batch(SENTENCES, { tokenTypes: types });
      const [ref] = await tokenEmbeddings(dir, [b]);
      const w = await loadWeights(join(dir, "model.safetensors"));
      let worst = 0;
      for (let s = 0; s < SENTENCES.length; s++) {
        const ours = bertForward(w, config, b.input_ids[s]!, b.token_type_ids[s]!, b.attention_mask[s]!);
        worst = Math.max(worst, maxAbsDiff(ref![s]!, ours));
      }
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it("gives input-dependent, non-degenerate outputs", async () => {
    const dir = fresh("bert");
    await makeTinyBert(dir);
    const b1 = batch(SENTENCES);
    const b2 = batch(SENTENCES, { tokenTypes: SENTENCES.map((s) => [0, ...s, 0].map(() => 1)) });
    const [e1, e2] = await sentenceEmbeddings(dir, [b1, b2]);
    for (let i = 0; i < SENTENCES.length; i++) {
      for (let j = i + 1; j < SENTENCES.length; j++) expect(cosine(e1![i]!, e1![j]!)).toBeLessThan(0.95);
      expect(cosine(e1![i]!, e2![i]!)).toBeLessThan(0.999);
    }
    const all = e1!.flat();
    const mean = all.reduce((a, v) => a + v, 0) / all.length;
    expect(Math.sqrt(all.reduce((a, v) => a + (v - mean) ** 2, 0) / all.length)).toBeGreaterThan(0.1);
  });
});

describe("reference.py sentence-transformers modules", () => {
  const ALL: PoolingMode[] = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"];

  it("without modules.json pools by mean, as the mean of its own token embeddings", async () => {
    const dir = fresh("bare");
    await makeTinyBert(dir);
    const b = batch(SENTENCES);
    const [sent] = await sentenceEmbeddings(dir, [b]);
    const [tok] = await tokenEmbeddings(dir, [b]);
    const ours = tok!.map((t, s) => pool("mean", t, b.attention_mask[s]!));
    expect(maxAbsDiff(sent!, ours)).toBeLessThan(1e-6);
  });

  it("legacy Pooling computes every mode and concatenates as cls, max, mean, mean_sqrt, weightedmean, lasttoken", async () => {
    const dir = fresh("legacy");
    // Given out of order: a legacy config can only say which modes are on.
    await makeSentenceTransformerFolder(dir, { layout: "legacy", pooling: { modes: ["lasttoken", "mean", "cls", "weightedmean", "max", "mean_sqrt_len_tokens"] } });
    const b = batch(SENTENCES);
    const [sent] = await sentenceEmbeddings(dir, [b]);
    const [tok] = await tokenEmbeddings(dir, [b]);
    const ours = tok!.map((t, s) => ALL.flatMap((m) => pool(m, t, b.attention_mask[s]!)));
    expect(sent![0]!.length).toBe(6 * 32);
    expect(maxAbsDiff(sent!, ours)).toBeLessThan(1e-5);
  });

  it("v5 Pooling concatenates in the order of the pooling_mode list", async () => {
    const legacy = fresh("legacy");
    const v5 = fresh("v5");
    await makeSentenceTransformerFolder(legacy, { layout: "legacy", pooling: { modes: ALL } });
    const order: PoolingMode[] = ["lasttoken", "weightedmean", "cls", "mean", "max"];
    await makeSentenceTransformerFolder(v5, { layout: "v5", pooling: { modes: order } });
    const b = batch(SENTENCES);
    const [[l], [v]] = await Promise.all([sentenceEmbeddings(legacy, [b]), sentenceEmbeddings(v5, [b])]);
    const chunk = (row: number[], m: PoolingMode) => row.slice(ALL.indexOf(m) * 32, (ALL.indexOf(m) + 1) * 32);
    expect(v).toEqual(l!.map((row) => order.flatMap((m) => chunk(row, m))));
  });

  it("include_prompt false drops the first prompt_length tokens (after any left padding) from pooling", async () => {
    const modes: PoolingMode[] = ["cls", "max", "mean", "weightedmean", "lasttoken"];
    const dir = fresh("prompt");
    await makeSentenceTransformerFolder(dir, { layout: "v5", pooling: { modes, includePrompt: false } });
    const seqs = SENTENCES.filter((s) => s.length >= 2);
    const right = { ...batch(seqs), prompt_length: 2 };
    const left = { ...batch(seqs, { left: true }), prompt_length: 2 };
    const [sent, tok] = await Promise.all([sentenceEmbeddings(dir, [right, left]), tokenEmbeddings(dir, [right, left])]);
    for (const [bi, b] of [right, left].entries()) {
      const ours = tok[bi]!.map((t, s) => {
        const mask = [...b.attention_mask[s]!];
        const start = mask.indexOf(1);
        for (let i = 0; i < start + 2; i++) mask[i] = 0;
        return modes.flatMap((m) => pool(m, t, mask));
      });
      expect(maxAbsDiff(sent[bi]!, ours), bi === 0 ? "right padding" : "left padding").toBeLessThan(1e-5);
    }
    // Without include_prompt false the same prompt_length changes nothing.
    const withPrompt = fresh("prompt-kept");
    await makeSentenceTransformerFolder(withPrompt, { layout: "v5", pooling: { modes } });
    const [kept] = await sentenceEmbeddings(withPrompt, [right]);
    const [plain] = await sentenceEmbeddings(withPrompt, [batch(seqs)]);
    expect(kept).toEqual(plain);
  });

  it("Dense applies W·x + b with its activation, Normalize scales to unit length", async () => {
    const denseWeights = async (dir: string) => {
      const w = await loadWeights(join(dir, "2_Dense/model.safetensors"));
      return { W: w.get("linear.weight")!, b: w.get("linear.bias")?.v };
    };
    const apply = (x: number[], W: { shape: number[]; v: Float64Array }, b: Float64Array | undefined, f: (v: number) => number) =>
      Array.from({ length: W.shape[0]! }, (_, o) => f(x.reduce((a, xi, i) => a + W.v[o * x.length + i]! * xi, b ? b[o]! : 0)));

    const bVals = batch(SENTENCES);
    const pooledDir = fresh("pooled");
    await makeSentenceTransformerFolder(pooledDir, { layout: "legacy", pooling: { modes: ["cls", "mean"] } });
    const [pooled] = await sentenceEmbeddings(pooledDir, [bVals]);

    const identity = fresh("dense-identity");
    await makeSentenceTransformerFolder(identity, { layout: "legacy", pooling: { modes: ["cls", "mean"] }, dense: { outFeatures: 12, bias: false, activation: "identity" } });
    const tanhNorm = fresh("dense-tanh");
    await makeSentenceTransformerFolder(tanhNorm, { layout: "v5", pooling: { modes: ["cls", "mean"] }, dense: { outFeatures: 12 }, normalize: true });
    const [[id], [tn]] = await Promise.all([sentenceEmbeddings(identity, [bVals]), sentenceEmbeddings(tanhNorm, [bVals])]);

    const di = await denseWeights(identity);
    expect(di.b).toBeUndefined();
    expect(maxAbsDiff(id!, pooled!.map((x) => apply(x, di.W, undefined, (v) => v)))).toBeLessThan(1e-5);

    const dt = await denseWeights(tanhNorm);
    const expected = pooled!.map((x) => {
      const y = apply(x, dt.W, dt.b, Math.tanh);
      const norm = Math.sqrt(y.reduce((a, v) => a + v * v, 0));
      return y.map((v) => v / norm);
    });
    expect(maxAbsDiff(tn!, expected)).toBeLessThan(1e-5);
    for (const row of tn!) expect(Math.abs(Math.sqrt(row.reduce((a, v) => a + v * v, 0)) - 1)).toBeLessThan(1e-6);
    // The tanh is not saturated, so the Dense layer matters.
    expect(Math.max(...tn!.flat().map(Math.abs))).toBeLessThan(0.9);
  });
});

describe("reference.py invariances", () => {
  it("F16 and BF16 checkpoints are close to the F32 one; the same seed gives the same underlying values", async () => {
    const dirs = { F32: fresh("f32"), F16: fresh("f16"), BF16: fresh("bf16") };
    for (const [dtype, dir] of Object.entries(dirs)) {
      await makeSentenceTransformerFolder(dir, { layout: "legacy", normalize: true, bert: { dtype: dtype as "F32" | "F16" | "BF16" } });
    }
    const b = batch(SENTENCES);
    const [[f32], [f16], [bf16]] = await Promise.all([sentenceEmbeddings(dirs.F32, [b]), sentenceEmbeddings(dirs.F16, [b]), sentenceEmbeddings(dirs.BF16, [b])]);
    const d16 = maxAbsDiff(f32!, f16!);
    const dbf = maxAbsDiff(f32!, bf16!);
    expect(d16).toBeGreaterThan(0);
    expect(d16).toBeLessThan(5e-3);
    expect(dbf).toBeLessThan(5e-2);
    for (let i = 0; i < f32!.length; i++) {
      expect(cosine(f32![i]!, f16![i]!)).toBeGreaterThan(0.9999);
      expect(cosine(f32![i]!, bf16![i]!)).toBeGreaterThan(0.999);
    }
  });

  it("pytorch_model.bin (zip and legacy pre-1.6 formats, legacy views into one storage), sharded, bert.-prefixed and position_ids checkpoints give exactly the safetensors results", async () => {
    const plain = fresh("plain");
    await makeTinyBert(plain, { seed: 21 });
    const variants = {
      bin: fresh("bin"),
      legacy: fresh("legacy"),
      legacyViews: fresh("legacy-views"),
      sharded: fresh("sharded"),
      prefixed: fresh("prefixed"),
    };
    await makePytorchBinFolder(variants.bin, { seed: 21 });
    await makePytorchBinFolder(variants.legacy, { seed: 21, legacy: true });
    await makePytorchBinFolder(variants.legacyViews, { seed: 21, legacy: true, views: true });
    await makeTinyBert(variants.sharded, { seed: 21, sharded: true });
    await makeTinyBert(variants.prefixed, { seed: 21, prefix: "bert.", withPooler: false, positionIdsBuffer: true });
    const b = batch(SENTENCES);
    const [base, ...others] = await Promise.all([plain, ...Object.values(variants)].map((d) => tokenEmbeddings(d, [b])));
    for (const [i, name] of Object.keys(variants).entries()) expect(others[i], name).toEqual(base);
  });

  it("padding a batch does not change a sentence's embedding", async () => {
    const dir = fresh("pad");
    await makeSentenceTransformerFolder(dir, { layout: "legacy", pooling: { modes: ["mean", "max", "lasttoken", "weightedmean"] }, dense: { outFeatures: 8 }, normalize: true });
    const alone = SENTENCES.map((s) => batch([s]));
    const together = batch(SENTENCES, { length: 24 });
    const res = await sentenceEmbeddings(dir, [...alone, together]);
    const padded = res[alone.length]!;
    for (let i = 0; i < SENTENCES.length; i++) expect(maxAbsDiff(res[i]!, [padded[i]!])).toBeLessThanOrEqual(1e-6);
  });
});
