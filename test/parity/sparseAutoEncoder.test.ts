// CSR models (Transformer + Pooling + SparseAutoEncoder) against sentence-transformers 6 itself: random-init BERT
// encoders wrapped with a SparseAutoEncoder and saved by sentence-transformers' SparseEncoder
// (test/fixtures/csr_model.py), encoded by SparseEncoder(path) (py/sparse_ref.py) and by sbert-node on the same texts.
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SparseAutoEncoder, SparseEncoder, type SparseEmbedding } from "../../lib/index.js";
import { readSafetensorsHeader, writeSafetensors, type TensorToWrite } from "../../lib/io/safetensors.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, editJson, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/csr_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/sparse_ref.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const LONG = "Un testo più lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(8));
// Short and long texts (the long one cut at the 40 tokens allowed), batched by length with padding.
const TEXTS = [...SENTENCES, LONG, "A man plays the guitar.", "ciao", "la città è piena di gente oggi perché è festa"];
const SAE_DIR = "2_SparseAutoEncoder";

// hidden_dim 4x the 32-wide embedding with k 8; a normalising one; one saved as pytorch_model.bin (the tied matrix
// under both its keys).
const MODELS = {
  csr: { seed: 11, k: 8, hidden_dim: 128, stats: true },
  "csr-normalize": { seed: 12, k: 16, hidden_dim: 64, normalize: true },
  "csr-bin": { seed: 13, k: 8, hidden_dim: 128, safe_serialization: false },
} as const;
type Name = keyof typeof MODELS;
const NAMES = Object.keys(MODELS) as Name[];
// Fewer latents than k, and more (sentence-transformers' top-k then keeps that many in place of k).
const FEWER = 3;
const MORE = 20;

interface Built {
  dir: string;
  config: Record<string, unknown>;
  files: string[];
  keys: Record<string, string>;
  modules: { idx: number; name: string; path: string; type: string }[];
}
interface Answer {
  embeddings: number[][];
  active: number[][];
  similarity: number[][];
  dimension: number;
  max_seq_length: number;
}

let root: string;
const built = new Map<Name, Built>();
const plain = new Map<Name, Answer>();
let fewer: Answer;
let more: Answer;
// A Router with a CSR model per route (queries: k 4, documents: k 8): its folder, encode (the document route) and
// encode_query.
let routed: Built;
let routedDocuments: Answer;
let routedQueries: Answer;

beforeAll(async () => {
  root = await tempDir();
  const folders = await runPython<Built[]>(
    BUILD,
    NAMES.map((name) => ({ dir: join(root, name), corpus: CORPUS, vocab_size: 1000, ...MODELS[name] })),
  );
  NAMES.forEach((name, i) => built.set(name, folders[i]!));
  [routed] = await runPython<Built[]>(BUILD, [{ dir: join(root, "routed"), seed: 14, corpus: CORPUS, vocab_size: 1000, k: 8, query_k: 4, hidden_dim: 96, router: true }]);
  const answers = await runPython<Answer[]>(ORACLE, [
    ...NAMES.map((name) => ({ folder: built.get(name)!.dir, texts: TEXTS, batch_size: 4 })),
    { folder: built.get("csr")!.dir, texts: TEXTS, batch_size: 4, max_active_dims: FEWER },
    { folder: built.get("csr")!.dir, texts: TEXTS, batch_size: 4, max_active_dims: MORE },
    { folder: routed!.dir, texts: TEXTS, batch_size: 4 },
    { folder: routed!.dir, texts: TEXTS, batch_size: 4, query: true },
  ]);
  NAMES.forEach((name, i) => plain.set(name, answers[i]!));
  [fewer, more, routedDocuments, routedQueries] = answers.slice(NAMES.length) as [Answer, Answer, Answer, Answer];
}, 600_000);

/** The largest difference between two vectors, relative to the reference's magnitude where it exceeds 1. */
function maxRelDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(a.length).toBe(ref.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
  return m;
}

function denseOf(e: SparseEmbedding): Float32Array {
  const dense = new Float32Array(e.dim);
  e.indices.forEach((d, k) => (dense[d] = e.values[k]!));
  return dense;
}

/** The same active dimensions as Python's sparse tensor and the same values within 1e-5; returns the active counts. */
function expectSameSparse(ours: SparseEmbedding[], ref: Answer): number[] {
  expect(ours.length).toBe(ref.embeddings.length);
  return ours.map((e, i) => {
    expect(e.dim).toBe(ref.dimension);
    expect(Array.from(e.indices)).toEqual(ref.active[i]!.filter((d) => ref.embeddings[i]![d] !== 0));
    expect(maxRelDiff(denseOf(e), ref.embeddings[i]!)).toBeLessThan(1e-5);
    return e.indices.length;
  });
}

async function tensorsOf(file: string): Promise<TensorToWrite[]> {
  const header = await readSafetensorsHeader(file);
  const bytes = await readFile(file);
  return header.entries.map((e) => {
    const copy = bytes.buffer.slice(bytes.byteOffset + e.begin, bytes.byteOffset + e.end);
    const data = e.dtype === "I64" ? new BigInt64Array(copy) : new Float32Array(copy);
    return { name: e.name, dtype: e.dtype as "F32" | "I64", shape: e.shape, data };
  });
}

describe.each(NAMES)("%s", (name) => {
  test("encode: the same active dimensions and values as sentence-transformers' within 1e-5, dense and sparse", async () => {
    const ref = plain.get(name)!;
    const spec = MODELS[name];
    const model = await SparseEncoder.load(built.get(name)!.dir);
    expect(model.getSentenceEmbeddingDimension()).toBe(spec.hidden_dim);
    expect(ref.dimension).toBe(spec.hidden_dim);
    expect(model.maxSeqLength).toBe(ref.max_seq_length);
    // sentence-transformers takes the SparseAutoEncoder's k as encode's default.
    expect(model.maxActiveDims).toBe(spec.k);
    expect(model.modules.map((m) => m.className)).toEqual(["Transformer", "Pooling", "SparseAutoEncoder"]);

    const sparse = await model.encode(TEXTS, { batchSize: 5 });
    const counts = expectSameSparse(sparse, ref);
    // At most k latents stay (relu may zero some of them), and most texts keep all k.
    for (const c of counts) expect(c).toBeLessThanOrEqual(spec.k);
    expect(counts.filter((c) => c === spec.k).length).toBeGreaterThan(TEXTS.length / 2);
    for (const e of sparse) for (const v of e.values) expect(v).toBeGreaterThan(0);

    const dense = await model.encode(TEXTS, { batchSize: 3, convertToSparseTensor: false });
    dense.forEach((row, i) => expect(maxRelDiff(row, ref.embeddings[i]!)).toBeLessThan(1e-5));
    const similarity = model.similarity(sparse, sparse);
    similarity.forEach((row, i) => row.forEach((s, j) => expect(Math.abs(s - ref.similarity[i]![j]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.similarity[i]![j]!)))));
    model.dispose();
  });
});

describe("maxActiveDims", () => {
  test(`${FEWER} (below k) and ${MORE} (above k, taking k's place in the top-k): sentence-transformers' dimensions and values`, async () => {
    const model = await SparseEncoder.load(built.get("csr")!.dir);
    const few = expectSameSparse(await model.encode(TEXTS, { maxActiveDims: FEWER, batchSize: 4 }), fewer);
    for (const c of few) expect(c).toBeLessThanOrEqual(FEWER);
    const many = expectSameSparse(await model.encode(TEXTS, { maxActiveDims: MORE, batchSize: 4 }), more);
    expect(Math.max(...many)).toBeGreaterThan(MODELS.csr.k);

    // The model's default, set once.
    model.maxActiveDims = MORE;
    expectSameSparse(await model.encode(TEXTS, { batchSize: 4 }), more);
    model.maxActiveDims = undefined;
    expectSameSparse(await model.encode(TEXTS, { batchSize: 4 }), plain.get("csr")!);
    const loaded = await SparseEncoder.load(built.get("csr")!.dir, { maxActiveDims: FEWER });
    expectSameSparse(await loaded.encode(TEXTS, { batchSize: 4 }), fewer);
    loaded.dispose();

    // More latents than there are.
    await expect(model.encode(TEXTS, { maxActiveDims: MODELS.csr.hidden_dim + 1 })).rejects.toThrow(/maxActiveDims \(129\) must not be more than the SparseAutoEncoder's hiddenDim \(128\)/);
    expect((await model.encode(TEXTS[0]!, { maxActiveDims: MODELS.csr.hidden_dim })).indices.length).toBeGreaterThan(MORE);
    model.dispose();
  });
});

describe("a Router with a CSR model on each route", () => {
  test("encode and encodeQuery take their routes' SparseAutoEncoders, as sentence-transformers; saved, it loads there the same", async () => {
    const model = await SparseEncoder.load(routed.dir);
    expect(model.getSentenceEmbeddingDimension()).toBe(96);
    // sentence-transformers takes k as the default only from a SparseAutoEncoder among the model's own modules.
    expect(model.maxActiveDims).toBeUndefined();
    const documents = expectSameSparse(await model.encode(TEXTS, { batchSize: 4 }), routedDocuments);
    const queries = expectSameSparse(await model.encodeQuery(TEXTS, { batchSize: 4 }), routedQueries);
    expect(Math.max(...documents)).toBe(8);
    expect(Math.max(...queries)).toBe(4);

    const dir = join(root, "saved", "routed");
    await model.save(dir);
    model.dispose();
    const [documentsThere, queriesThere] = await runPython<Answer[]>(ORACLE, [
      { folder: dir, texts: TEXTS, batch_size: 4 },
      { folder: dir, texts: TEXTS, batch_size: 4, query: true },
    ]);
    expect(documentsThere!.active).toEqual(routedDocuments.active);
    expect(queriesThere!.active).toEqual(routedQueries.active);
    documentsThere!.embeddings.forEach((row, i) => expect(maxRelDiff(row, routedDocuments.embeddings[i]!)).toBeLessThan(1e-5));
    queriesThere!.embeddings.forEach((row, i) => expect(maxRelDiff(row, routedQueries.embeddings[i]!)).toBeLessThan(1e-5));
  });
});

describe("save", () => {
  test.each(NAMES)("%s: a folder saved here loads in sentence-transformers with the same embeddings, and here again", async (name) => {
    const model = await SparseEncoder.load(built.get(name)!.dir);
    const dir = join(root, "saved", name);
    await model.save(dir);
    model.dispose();

    const modules = JSON.parse(await readFile(join(dir, "modules.json"), "utf8")) as { path: string; type: string }[];
    expect(modules.map((m) => m.path)).toEqual(["", "1_Pooling", SAE_DIR]);
    expect(modules[2]!.type).toBe("sentence_transformers.sparse_encoder.models.SparseAutoEncoder");
    expect(JSON.parse(await readFile(join(dir, SAE_DIR, "config.json"), "utf8"))).toEqual(built.get(name)!.config);
    // sentence-transformers' safetensors keys and types: the tied matrix once, the statistics as int64.
    const header = await readSafetensorsHeader(join(dir, SAE_DIR, "model.safetensors"));
    expect(Object.fromEntries(header.entries.map((e) => [e.name, e.dtype]))).toEqual({
      "decoder.linear.weight": "F32",
      latent_bias: "F32",
      pre_bias: "F32",
      stats_last_nonzero: "I64",
    });
    if (name === "csr") {
      // Training's statistics come back as they were.
      const theirs = (await tensorsOf(join(built.get(name)!.dir, SAE_DIR, "model.safetensors"))).find((t) => t.name === "stats_last_nonzero")!;
      const ours = (await tensorsOf(join(dir, SAE_DIR, "model.safetensors"))).find((t) => t.name === "stats_last_nonzero")!;
      expect(Array.from(ours.data as BigInt64Array)).toEqual(Array.from(theirs.data as BigInt64Array));
      expect(new Set(Array.from(ours.data as BigInt64Array)).size).toBeGreaterThan(10);
    }

    const ref = plain.get(name)!;
    const [python] = await runPython<Answer[]>(ORACLE, [{ folder: dir, texts: TEXTS, batch_size: 4 }]);
    python!.embeddings.forEach((row, i) => expect(maxRelDiff(row, ref.embeddings[i]!)).toBeLessThan(1e-5));
    expect(python!.active).toEqual(ref.active);

    const again = await SparseEncoder.load(dir);
    expectSameSparse(await again.encode(TEXTS, { batchSize: 4 }), ref);
    again.dispose();
  });

  test("a SparseAutoEncoder built here starts as sentence-transformers' does and saves what it loads", async () => {
    const sae = new SparseAutoEncoder({ inputDim: 32, hiddenDim: 64, k: 4, seed: 3 });
    expect(sae.getConfigDict()).toEqual({ input_dim: 32, hidden_dim: 64, k: 4, k_aux: 512, normalize: false, dead_threshold: 30 });
    const state = new Map(sae.native.stateDict().map((t) => [t.name, t]));
    expect(Array.from(state.get("pre_bias")!.data).every((v) => v === 0)).toBe(true);
    expect(Array.from(state.get("latent_bias")!.data).every((v) => v === 0)).toBe(true);
    const weight = state.get("encoder.weight")!;
    expect(weight.shape).toEqual([64, 32]);
    // torch.nn.Linear's default: uniform within ±1/sqrt(in_features).
    expect(Math.max(...Array.from(weight.data, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(32));
    expect(new Set(weight.data).size).toBeGreaterThan(1000);
    const dir = join(root, "fresh-sae");
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await sae.save(dir);
    const back = await SparseAutoEncoder.load(dir);
    const again = new Map(back.native.stateDict().map((t) => [t.name, t]));
    for (const [key, t] of state) expect(Array.from(again.get(key)!.data)).toEqual(Array.from(t.data));
    back.dispose();
    sae.dispose();

    expect(() => new SparseAutoEncoder({ inputDim: 32, hiddenDim: 16, k: 17 })).toThrow(/k \(17\) must not be more than hiddenDim \(16\)/);
    expect(() => new SparseAutoEncoder({ inputDim: 0 })).toThrow(/inputDim must be an integer of at least 1, got 0/);
  });
});

describe("bad folders give an SbertError naming the file and the field or key", () => {
  async function copyOf(name: Name, as: string): Promise<string> {
    const dir = join(root, "bad", as);
    await rm(dir, { recursive: true, force: true });
    await cp(built.get(name)!.dir, dir, { recursive: true });
    return dir;
  }

  test("config.json: k above hidden_dim, a missing input_dim, a k that is not an integer", async () => {
    const dir = await copyOf("csr", "config");
    const file = join(dir, SAE_DIR, "config.json");
    await editJson(file, (c) => (c.k = 129));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      name: "SbertError",
      code: "ERR_CONFIG",
      message: expect.stringContaining(`${file}: field 'k' (129) must not be more than field 'hidden_dim' (128)`),
    });
    await editJson(file, (c) => {
      c.k = 8;
      delete c.input_dim;
    });
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${file}: field 'input_dim' is missing`) });
    await editJson(file, (c) => {
      c.input_dim = 32;
      c.k = "8";
    });
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${file}: field 'k' must be an integer, got "8"`) });
    await editJson(file, (c) => {
      c.k = 8;
      c.hidden_dim = 0;
    });
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${file}: field 'hidden_dim' must be at least 1, got 0`) });
    // An input_dim other than the Pooling's: the weights say so first.
    await editJson(file, (c) => {
      c.hidden_dim = 128;
      c.input_dim = 16;
    });
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`key 'decoder.linear.weight' has shape [128, 32] in ${join(dir, SAE_DIR, "model.safetensors")} but ${file} (hidden_dim 128, input_dim 16) needs [128, 16]`),
    });
  });

  test("weights: none at all, a missing key, a mis-shaped one, an unknown one", async () => {
    const dir = await copyOf("csr", "weights");
    const file = join(dir, SAE_DIR, "model.safetensors");
    const tensors = await tensorsOf(file);
    const rewrite = (change: (t: TensorToWrite[]) => TensorToWrite[]) => writeSafetensors(file, change(tensors), { format: "pt" });

    await rm(file);
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining(`no weights in ${join(dir, SAE_DIR)}`) });

    await rewrite((ts) => ts.filter((t) => t.name !== "decoder.linear.weight"));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`missing key 'decoder.linear.weight' (or 'encoder.weight') in ${file}`),
    });
    for (const key of ["pre_bias", "latent_bias", "stats_last_nonzero"]) {
      await rewrite((ts) => ts.filter((t) => t.name !== key));
      await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringContaining(`missing keys in ${file}: ${key}`) });
    }
    await rewrite((ts) => ts.map((t) => (t.name === "latent_bias" ? { ...t, shape: [64], data: new Float32Array(64) } : t)));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`key 'latent_bias' has shape [64] in ${file} but the model expects [128]`),
    });
    await rewrite((ts) => ts.map((t) => (t.name === "stats_last_nonzero" ? { ...t, shape: [3], data: new BigInt64Array(3) } : t)));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`key 'stats_last_nonzero' has shape [3] in ${file} but the model expects [128]`),
    });
    await rewrite((ts) => [...ts, { name: "encoder.bias", dtype: "F32", shape: [128], data: new Float32Array(128) }]);
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringContaining(`unexpected key 'encoder.bias' [128] in ${file}`) });

    // The matrix under the module's own key alone (as other writers keep it) loads the same model.
    await rewrite((ts) => ts.map((t) => (t.name === "decoder.linear.weight" ? { ...t, name: "encoder.weight" } : t)));
    const model = await SparseEncoder.load(dir);
    expectSameSparse(await model.encode(TEXTS, { batchSize: 4 }), plain.get("csr")!);
    model.dispose();
  });

  test("modules.json: a SparseAutoEncoder that is not last, a module sbert-node lacks", async () => {
    const dir = await copyOf("csr", "modules");
    const file = join(dir, "modules.json");
    const modules = JSON.parse(await readFile(file, "utf8")) as { idx: number; type: string }[];
    await writeFile(file, JSON.stringify(modules.map((m) => (m.idx === 2 ? { ...m, idx: 0 } : m.idx === 0 ? { ...m, idx: 2 } : m))));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${file}: the SparseAutoEncoder must be the last module (by idx)`) });
    await writeFile(file, JSON.stringify(modules.map((m) => (m.idx === 1 ? { ...m, type: "sentence_transformers.models.Nonexistent" } : m))));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringContaining(`${file}: module type "sentence_transformers.models.Nonexistent" is not supported`),
    });
  });
});
