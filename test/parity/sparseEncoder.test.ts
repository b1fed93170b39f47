// SparseEncoder (SPLADE) against sentence-transformers 6 itself: small random-init *ForMaskedLM models built by
// transformers and wrapped by sentence-transformers' SparseEncoder (test/fixtures/sparse_encoder_model.py), encoded
// and decoded by SparseEncoder(path) (py/sparse_ref.py) and by sbert-node on the same texts.
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";

import { SparseEncoder, type SparseEmbedding } from "../../lib/index.js";
import { createServer } from "../../lib/server/index.js";
import { sparseSemanticSearch } from "../../lib/util/index.js";
import { readSafetensorsHeader, writeSafetensors } from "../../lib/io/safetensors.js";
import { startMockHub, type MockHub } from "../helpers/mockHub.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, editJson, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/sparse_encoder_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/sparse_ref.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const LONG = "Un testo più lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(8));
// Short and long texts (the long one cut at the 40 tokens allowed), batched by length with padding.
const TEXTS = [...SENTENCES, LONG, "A man plays the guitar.", "ciao", "la città è piena di gente oggi perché è festa"];
const PROMPTS = { query: "query: ", document: "" };
const MAX_ACTIVE = 7;
const TOP_K = 5;

// Each model: its architecture, its pooling, the module layout sentence-transformers saved it in. Activations other
// than gelu show that each head takes its activation where Hugging Face's does: BERT's and DistilBERT's from the
// config, RoBERTa's always gelu.
const MODELS = {
  bert: { arch: "bert", pooling_strategy: "max", layout: "mlm", prompts: PROMPTS },
  "bert-sum": { arch: "bert", pooling_strategy: "sum", layout: "mlm", config: { hidden_act: "gelu_new" } },
  distilbert: { arch: "distilbert", pooling_strategy: "max", layout: "transformer", config: { activation: "relu" } },
  roberta: { arch: "roberta", pooling_strategy: "max", layout: "mlm", activation_function: "log1p_relu", config: { hidden_act: "relu" } },
  "xlm-roberta": { arch: "xlm-roberta", pooling_strategy: "max", layout: "mlm" },
  mpnet: { arch: "mpnet", pooling_strategy: "sum", layout: "mlm" },
  // A decoder of its own (config.json's tie_word_embeddings false), stored as cls.predictions.decoder.weight.
  "bert-untied": { arch: "bert", pooling_strategy: "max", layout: "mlm", config: { tie_word_embeddings: false } },
  // ModernBERT's head as released models have it: no bias in head.dense and head.norm, the decoder tied to the
  // token embeddings with a bias of its own, lowered so that long texts too leave entries inactive.
  modernbert: { arch: "modernbert", pooling_strategy: "max", layout: "mlm", bias_shift: -2 },
  // Every bias config.json can switch flipped, another activation, a decoder weight of its own.
  "modernbert-biased": {
    arch: "modernbert",
    pooling_strategy: "sum",
    layout: "transformer",
    config: { classifier_bias: true, norm_bias: true, decoder_bias: false, classifier_activation: "silu", tie_word_embeddings: false },
  },
} as const;
type Name = keyof typeof MODELS;
const NAMES = Object.keys(MODELS) as Name[];

interface Built {
  dir: string;
  config: Record<string, unknown>;
  files: string[];
  keys: string[];
}
interface Answer {
  embeddings: number[][];
  active: number[][];
  decode: [string, number][][];
  similarity: number[][];
  dimension: number;
  max_seq_length: number;
  similarity_fn_name: string;
  prompts: Record<string, string>;
  search?: { corpus_id: number; score: number }[][];
  sparsity: { active_dims: number; sparsity_ratio: number };
  intersection: [string, number][][];
}

let root: string;
const built = new Map<Name, Built>();
// Per model: plain encode, encode with maxActiveDims; for bert also encode_query (its "query: " prompt).
const plain = new Map<Name, Answer>();
const limited = new Map<Name, Answer>();
let query: Answer;
// The inference-free model (a Router: SparseStaticEmbedding for queries, MLMTransformer + SpladePooling for
// documents): its folder, encode (the default, document route) and encode_query.
let inferenceFree: Built;
let freeDocuments: Answer;
let freeQueries: Answer;
// The same layout with the documents' model saved as sentence-transformers 6's fill-mask Transformer.
let fillMaskFree: Built;
let fillMaskDocuments: Answer;
let search: Answer;
let cosineSearch: Answer;
const QUERIES = ["Chi suona la chitarra?", "il cane nel parco", "ciao"];
beforeAll(async () => {
  root = await tempDir();
  const folders = await runPython<Built[]>(
    BUILD,
    NAMES.map((name) => ({ dir: join(root, name), seed: 5, corpus: CORPUS, vocab_size: 1000, ...MODELS[name] })),
  );
  NAMES.forEach((name, i) => built.set(name, folders[i]!));
  [inferenceFree, fillMaskFree] = await runPython<Built[]>(BUILD, [
    { dir: join(root, "inference-free"), arch: "bert", seed: 6, corpus: CORPUS, vocab_size: 1000, pooling_strategy: "max", layout: "inference_free" },
    { dir: join(root, "inference-free-6"), arch: "roberta", seed: 7, corpus: CORPUS, vocab_size: 1000, layout: "inference_free", fill_mask_transformer: true },
  ]);
  [freeDocuments, freeQueries, fillMaskDocuments] = await runPython<Answer[]>(ORACLE, [
    { folder: inferenceFree!.dir, texts: TEXTS, batch_size: 4 },
    { folder: inferenceFree!.dir, texts: TEXTS, batch_size: 4, query: true },
    { folder: fillMaskFree!.dir, texts: TEXTS, batch_size: 4 },
  ]);
  const jobs = NAMES.flatMap((name) => [
    { folder: built.get(name)!.dir, texts: TEXTS, batch_size: 4, top_k: TOP_K },
    { folder: built.get(name)!.dir, texts: TEXTS, batch_size: 4, max_active_dims: MAX_ACTIVE },
  ]);
  const searchJobs = (["dot", "cosine"] as const).map((score_function) => ({
    folder: built.get("bert")!.dir,
    texts: TEXTS,
    search: { queries: QUERIES, top_k: 4, score_function },
  }));
  const all = await runPython<Answer[]>(ORACLE, [...jobs, ...searchJobs, { folder: built.get("bert")!.dir, texts: TEXTS, query: true }]);
  search = all[all.length - 3]!;
  cosineSearch = all[all.length - 2]!;
  NAMES.forEach((name, i) => {
    plain.set(name, all[2 * i]!);
    limited.set(name, all[2 * i + 1]!);
  });
  query = all[all.length - 1]!;
}, 600_000);

async function readTensors(path: string) {
  const header = await readSafetensorsHeader(path);
  const bytes = await readFile(path);
  return header.entries.map((e) => {
    const copy = bytes.subarray(e.begin, e.end);
    return { name: e.name, dtype: "F32" as const, shape: e.shape, data: new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength)) };
  });
}

/**
 * The largest difference between two vectors, relative to the reference's magnitude where it exceeds 1: sum pooling
 * adds up to 40 tokens' values, and float32 sums of that size differ in their last bits with the order of the adds.
 */
function maxRelDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(a.length).toBe(ref.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
  return m;
}

/** The indices whose value exceeds 1e-6, in increasing order. */
function activeOf(values: ArrayLike<number>, indices?: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let k = 0; k < values.length; k++) if (values[k]! > 1e-6) out.push(indices ? indices[k]! : k);
  return out;
}

function expectSameSparse(ours: SparseEmbedding[], ref: Answer): void {
  expect(ours.length).toBe(ref.embeddings.length);
  ours.forEach((e, i) => {
    expect(e.dim).toBe(ref.dimension);
    expect(Array.from(e.indices)).toEqual([...e.indices].sort((a, b) => a - b));
    const dense = new Float32Array(e.dim);
    e.indices.forEach((d, k) => (dense[d] = e.values[k]!));
    // The same active dimensions, but for values at the 1e-6 threshold itself, which float32 sums in another order
    // can put on either side (both then below 1e-5).
    const ours = new Set(activeOf(e.values, e.indices));
    const theirs = new Set(activeOf(ref.embeddings[i]!));
    const differing = [...ours].filter((d) => !theirs.has(d)).concat([...theirs].filter((d) => !ours.has(d)));
    for (const d of differing) expect(Math.max(Math.abs(dense[d]!), Math.abs(ref.embeddings[i]![d]!)), `dimension ${d}`).toBeLessThan(1e-5);
    expect(differing.length).toBeLessThanOrEqual(Math.max(1, theirs.size / 100));
    expect(maxRelDiff(dense, ref.embeddings[i]!)).toBeLessThan(1e-5);
  });
}

describe.each(NAMES)("%s", (name) => {
  test("encode: the same active dimensions and values as sentence-transformers' within 1e-5, dense and sparse", async () => {
    const ref = plain.get(name)!;
    const model = await SparseEncoder.load(built.get(name)!.dir);
    expect(model.getSentenceEmbeddingDimension()).toBe(ref.dimension);
    expect(model.maxSeqLength).toBe(ref.max_seq_length);
    expect(model.similarityFnName).toBe(ref.similarity_fn_name);

    const dense = await model.encode(TEXTS, { batchSize: 3, convertToSparseTensor: false });
    dense.forEach((row, i) => {
      expect(row.length).toBe(ref.dimension);
      expect(maxRelDiff(row, ref.embeddings[i]!)).toBeLessThan(1e-5);
    });
    const sparse = await model.encode(TEXTS, { batchSize: 5 });
    expectSameSparse(sparse, ref);
    // Many dimensions active, and not all: the comparison sees both.
    for (const e of sparse) {
      expect(e.indices.length).toBeGreaterThan(10);
      expect(e.indices.length).toBeLessThan(ref.dimension);
    }
    // Python's sparse tensor holds the entries of its dense one (ours are compared with those above, where a value
    // at the 1e-6 threshold may fall on the other side).
    ref.active.forEach((a, i) => expect(a.filter((d) => ref.embeddings[i]![d]! > 1e-6)).toEqual(activeOf(ref.embeddings[i]!)));

    const one = await model.encode(TEXTS[2]!);
    expect(Array.from(one.indices)).toEqual(Array.from(sparse[2]!.indices));

    const similarity = model.similarity(sparse, sparse);
    similarity.forEach((row, i) => row.forEach((s, j) => expect(Math.abs(s - ref.similarity[i]![j]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.similarity[i]![j]!)))));
    // Batches of 5 and of 3 differ in the last bits where the BLAS blocks sums by batch shape.
    const pairwise = model.similarityPairwise(sparse, dense);
    pairwise.forEach((p, i) => expect(Math.abs(p - similarity[i]![i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(similarity[i]![i]!)));
    model.dispose();
  });

  test(`maxActiveDims ${MAX_ACTIVE}: the same ${MAX_ACTIVE} largest dimensions as sentence-transformers'`, async () => {
    const ref = limited.get(name)!;
    const model = await SparseEncoder.load(built.get(name)!.dir);
    const sparse = await model.encode(TEXTS, { maxActiveDims: MAX_ACTIVE, batchSize: 4 });
    for (const e of sparse) expect(e.indices.length).toBe(MAX_ACTIVE);
    expectSameSparse(sparse, ref);
    const dense = await model.encode(TEXTS, { maxActiveDims: MAX_ACTIVE, convertToSparseTensor: false });
    dense.forEach((row, i) => expect(maxRelDiff(row, ref.embeddings[i]!)).toBeLessThan(1e-5));
    model.dispose();

    // As the model's default, from load.
    const capped = await SparseEncoder.load(built.get(name)!.dir, { maxActiveDims: MAX_ACTIVE });
    expectSameSparse(await capped.encode(TEXTS), ref);
    capped.dispose();
  });

  test(`decode: the ${TOP_K} heaviest tokens of each text are sentence-transformers'`, async () => {
    const ref = plain.get(name)!;
    const model = await SparseEncoder.load(built.get(name)!.dir);
    const sparse = await model.encode(TEXTS);
    const decoded = model.decode(sparse, TOP_K);
    decoded.forEach((pairs, i) => {
      expect(pairs.map((p) => p[0])).toEqual(ref.decode[i]!.map((p) => p[0]));
      // Relative above 1: sum pooling adds up to 40 tokens' weights.
      pairs.forEach(([, w], k) => expect(Math.abs(w - ref.decode[i]![k]![1]) / Math.max(1, Math.abs(w))).toBeLessThan(1e-5));
    });
    // What the first text shares with each, as sentence-transformers' intersection, decoded.
    const shared = SparseEncoder.intersection(sparse[0]!, sparse);
    model.decode(shared, TOP_K).forEach((pairs, i) => {
      expect(pairs.map((p) => p[0])).toEqual(ref.intersection[i]!.map((p) => p[0]));
      pairs.forEach(([, w], k) => expect(Math.abs(w - ref.intersection[i]![k]![1]) / Math.max(1, Math.abs(w))).toBeLessThan(1e-5));
    });
    const stats = SparseEncoder.sparsity(sparse);
    expect(Math.abs(stats.activeDims - ref.sparsity.active_dims)).toBeLessThan(1e-4);
    expect(Math.abs(stats.sparsityRatio - ref.sparsity.sparsity_ratio)).toBeLessThan(1e-6);
    // Without topK, every active dimension, heaviest first; a dense embedding decodes the same.
    const all = model.decode(sparse[0]!);
    expect(all.length).toBe(sparse[0]!.indices.length);
    for (let k = 1; k < all.length; k++) expect(all[k - 1]![1]).toBeGreaterThanOrEqual(all[k]![1]);
    const alone = model.decode(await model.encode(TEXTS[0]!, { convertToSparseTensor: false }), TOP_K);
    expect(alone.map((p) => p[0])).toEqual(decoded[0]!.map((p) => p[0]));
    alone.forEach(([, w], k) => expect(Math.abs(w - decoded[0]![k]![1])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w))));
    model.dispose();
  });

  test("a folder saved here loads in sentence-transformers with the same embeddings, and here again", async () => {
    const model = await SparseEncoder.load(built.get(name)!.dir);
    const ours = await model.encode(TEXTS, { convertToSparseTensor: false });
    const dir = join(root, "saved", name);
    await model.save(dir);
    model.dispose();
    const modules = JSON.parse(await readFile(join(dir, "modules.json"), "utf8")) as { type: string; path: string }[];
    expect(modules.map((m) => [m.type, m.path])).toEqual([
      ["sentence_transformers.sparse_encoder.models.MLMTransformer", ""],
      ["sentence_transformers.sparse_encoder.models.SpladePooling", "1_SpladePooling"],
    ]);
    // The checkpoint's keys are Hugging Face's, as the original (tied decoders written once).
    const header = await readSafetensorsHeader(join(dir, "model.safetensors"));
    expect(header.entries.map((e) => e.name).sort()).toEqual(built.get(name)!.keys);

    const [again] = await runPython<Answer[]>(ORACLE, [{ folder: dir, texts: TEXTS, batch_size: 4 }]);
    again!.embeddings.forEach((row, i) => {
      expect(maxRelDiff(row, plain.get(name)!.embeddings[i]!)).toBeLessThan(1e-5);
      expect(maxRelDiff(ours[i]!, row)).toBeLessThan(1e-5);
    });
    const reloaded = await SparseEncoder.load(dir);
    const back = await reloaded.encode(TEXTS, { convertToSparseTensor: false });
    back.forEach((row, i) => expect(maxRelDiff(row, ours[i]!)).toBeLessThan(1e-6));
    reloaded.dispose();
  });
});

test("a plain BertForMaskedLM folder (no modules.json) loads with max pooling and relu, as sentence-transformers loads it", async () => {
  const dir = join(root, "plain");
  await cp(built.get("bert")!.dir, dir, { recursive: true });
  await rm(join(dir, "modules.json"));
  await rm(join(dir, "1_SpladePooling"), { recursive: true });
  await rm(join(dir, "config_sentence_transformers.json"));
  const model = await SparseEncoder.load(dir);
  expect(model.pooling!.poolingStrategy).toBe("max");
  expect(model.pooling!.activationFunction).toBe("relu");
  expectSameSparse(await model.encode(TEXTS), plain.get("bert")!);
  model.dispose();
});

test("the untied model's decoder differs from its word embeddings (so its parity above reads the decoder's own weight)", async () => {
  expect(built.get("bert")!.keys).not.toContain("cls.predictions.decoder.weight");
  const tensors = await readTensors(join(built.get("bert-untied")!.dir, "model.safetensors"));
  const get = (name: string) => tensors.find((t) => t.name === name)!.data;
  expect(maxAbsDiff(get("cls.predictions.decoder.weight"), get("bert.embeddings.word_embeddings.weight"))).toBeGreaterThan(0.1);
  expect(maxAbsDiff(get("cls.predictions.decoder.bias"), get("cls.predictions.bias"))).toBeGreaterThan(0.1);
});

test("sparseSemanticSearch finds what sentence-transformers' semantic_search finds on sparse tensors, dot and cosine", async () => {
  const model = await SparseEncoder.load(built.get("bert")!.dir);
  const corpus = await model.encode(TEXTS);
  const queries = await model.encodeQuery(QUERIES);
  for (const [scoreFunction, ref] of [["dot", search], ["cosine", cosineSearch]] as const) {
    const hits = sparseSemanticSearch(queries, corpus, { topK: 4, scoreFunction });
    expect(hits.map((h) => h.map((x) => x.corpusId))).toEqual(ref.search!.map((h) => h.map((x) => x.corpus_id)));
    hits.forEach((h, i) => h.forEach((x, k) => expect(Math.abs(x.score - ref.search![i]![k]!.score)).toBeLessThan(1e-4 * Math.max(1, Math.abs(x.score)))));
  }
  // Fewer than topK entries sharing a dimension: the rest score 0, lowest index first.
  const lone = { indices: Int32Array.of(1), values: Float32Array.of(2), dim: 10 };
  const docs = [
    { indices: Int32Array.of(3), values: Float32Array.of(1), dim: 10 },
    { indices: Int32Array.of(1, 4), values: Float32Array.of(0.5, 1), dim: 10 },
    { indices: Int32Array.of(), values: Float32Array.of(), dim: 10 },
  ];
  expect(sparseSemanticSearch([lone], docs, { topK: 2 })).toEqual([[{ corpusId: 1, score: 1 }, { corpusId: 0, score: 0 }]]);
  expect(() => sparseSemanticSearch([lone], [{ indices: Int32Array.of(4, 1), values: Float32Array.of(1, 1), dim: 10 }])).toThrow(/corpus\[0\]/);
  model.dispose();
});

describe("inference-free (a Router: SparseStaticEmbedding for queries, MLMTransformer + SpladePooling for documents)", () => {
  test("queries take the static weights, documents the masked-LM model, as in sentence-transformers", async () => {
    const model = await SparseEncoder.load(inferenceFree.dir);
    expect(model.getSentenceEmbeddingDimension()).toBe(freeDocuments.dimension);
    const queries = await model.encodeQuery(TEXTS, { batchSize: 3 });
    expectSameSparse(queries, freeQueries);
    // A query's values are its tokens' weights: as many as it has distinct tokens, each one of the static weights.
    const ids = new Set(model.tokenizer.encode(TEXTS[0]!, { addSpecialTokens: false }));
    expect(queries[0]!.indices.length).toBe(ids.size);
    const documents = await model.encodeDocument(TEXTS, { batchSize: 3 });
    expectSameSparse(documents, freeDocuments);
    // Without a task, the Router's default route: documents.
    expectSameSparse(await model.encode(TEXTS), freeDocuments);
    expect(queries.map((q, i) => q.indices.length !== documents[i]!.indices.length).some(Boolean)).toBe(true);
    model.dispose();
  });

  test("a documents' model saved as sentence-transformers 6's fill-mask Transformer runs its masked-LM head", async () => {
    const model = await SparseEncoder.load(fillMaskFree.dir);
    expectSameSparse(await model.encodeDocument(TEXTS), fillMaskDocuments);
    model.dispose();
  });

  test("a folder saved here loads in sentence-transformers with the same query and document embeddings", async () => {
    const model = await SparseEncoder.load(inferenceFree.dir);
    const dir = join(root, "saved", "inference-free");
    await model.save(dir);
    model.dispose();
    const modules = JSON.parse(await readFile(join(dir, "modules.json"), "utf8")) as { type: string; path: string }[];
    expect(modules.map((m) => m.path)).toEqual([""]);
    const [documents, queries] = await runPython<Answer[]>(ORACLE, [
      { folder: dir, texts: TEXTS, batch_size: 4 },
      { folder: dir, texts: TEXTS, batch_size: 4, query: true },
    ]);
    documents!.embeddings.forEach((row, i) => expect(maxRelDiff(row, freeDocuments.embeddings[i]!)).toBeLessThan(1e-5));
    queries!.embeddings.forEach((row, i) => expect(maxRelDiff(row, freeQueries.embeddings[i]!)).toBeLessThan(1e-6));
    const reloaded = await SparseEncoder.load(dir);
    expectSameSparse(await reloaded.encodeQuery(TEXTS), freeQueries);
    reloaded.dispose();
  });
});

test("encodeQuery puts the model's query prompt first, as sentence-transformers' encode_query", async () => {
  const model = await SparseEncoder.load(built.get("bert")!.dir);
  expect(model.prompts).toEqual(query.prompts);
  const q = await model.encodeQuery(TEXTS);
  expectSameSparse(q, query);
  // The prompt changes the embeddings (against encode without it).
  const plainEmbeddings = await model.encode(TEXTS);
  expect(Array.from(q[0]!.indices)).not.toEqual(Array.from(plainEmbeddings[0]!.indices));
  // encodeDocument's prompt is the empty "document" one.
  const d = await model.encodeDocument(TEXTS);
  expectSameSparse(d, plain.get("bert")!);
  model.dispose();
});

describe("serving: text-embeddings-inference's /embed_sparse", () => {
  test("each text's non-zero dimensions by index, equal to encode in process and to sentence-transformers'; bad bodies get 400", async () => {
    const model = await SparseEncoder.load(built.get("bert")!.dir);
    const server = createServer({ sparse: model }, { maxBatchSize: 4 });
    try {
      const res = await server.app.inject({ method: "POST", url: "/embed_sparse", payload: { inputs: TEXTS } });
      expect(res.statusCode).toBe(200);
      const rows = res.json() as { index: number; value: number }[][];
      const ours = await model.encode(TEXTS);
      expect(rows).toHaveLength(TEXTS.length);
      rows.forEach((row, i) => {
        // The server's batches differ from encode's: equal within float32 rounding of the sums.
        expect(row.map((e) => e.index)).toEqual(Array.from(ours[i]!.indices));
        row.forEach((e, j) => expect(Math.abs(e.value - ours[i]!.values[j]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(e.value))));
        // sentence-transformers' embedding of the same text: the same entries within 1e-5
        const ref = plain.get("bert")!.embeddings[i]!;
        for (const e of row) expect(Math.abs(e.value - ref[e.index]!)).toBeLessThanOrEqual(1e-5);
      });
      const one = (await server.app.inject({ method: "POST", url: "/embed_sparse", payload: { inputs: TEXTS[1] } })).json() as unknown[];
      expect(one).toEqual([rows[1]]);
      const info = (await server.app.inject({ method: "GET", url: "/info" })).json() as { model_type: unknown };
      expect(info.model_type).toEqual({ embedding: { pooling: "splade" } });
      for (const payload of [{}, { inputs: 3 }, { inputs: [] }, { inputs: ["ok", 4] }]) {
        const bad = await server.app.inject({ method: "POST", url: "/embed_sparse", payload });
        expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
        expect((bad.json() as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
      }
      // A dense route names the kind of model it needs.
      const dense = await server.app.inject({ method: "POST", url: "/embed", payload: { inputs: "x" } });
      expect(dense.statusCode).toBe(400);
      expect(dense.body).toMatch(/no embedding model/);
    } finally {
      await server.close();
      model.dispose();
    }
  });
});

describe("bad folders and arguments give an SbertError naming the file and the key or field", () => {
  async function copyOf(name: Name, as: string): Promise<string> {
    const dir = join(root, "bad", as);
    await cp(built.get(name)!.dir, dir, { recursive: true });
    return dir;
  }

  test("a missing decoder bias, a mis-shaped head weight", async () => {
    const missing = await copyOf("bert", "missing");
    const file = join(missing, "model.safetensors");
    const tensors = await readTensors(file);
    await writeSafetensors(file, tensors.filter((t) => t.name !== "cls.predictions.bias"), { format: "pt" });
    await expect(SparseEncoder.load(missing)).rejects.toMatchObject({
      name: "SbertError",
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`missing key 'cls.predictions.bias' (or 'cls.predictions.decoder.bias') in ${file}`),
    });

    // The older spelling of the bias is read where the newer one is absent.
    await writeSafetensors(file, tensors.map((t) => (t.name === "cls.predictions.bias" ? { ...t, name: "cls.predictions.decoder.bias" } : t)), { format: "pt" });
    const older = await SparseEncoder.load(missing);
    const ref = plain.get("bert")!;
    (await older.encode(TEXTS, { convertToSparseTensor: false })).forEach((row, i) => expect(maxRelDiff(row, ref.embeddings[i]!)).toBeLessThan(1e-5));
    older.dispose();

    await writeSafetensors(
      file,
      tensors.map((t) => (t.name === "cls.predictions.transform.dense.bias" ? { ...t, shape: [3], data: new Float32Array(3) } : t)),
      { format: "pt" },
    );
    await expect(SparseEncoder.load(missing)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`key 'cls.predictions.transform.dense.bias' has shape [3] in ${file} but BertForMaskedLM's prediction head expects [32]`),
    });
  });

  test("ModernBERT: a bias config.json asks for must be in the checkpoint; one it leaves out is not read", async () => {
    const dir = await copyOf("modernbert", "modernbert-bias");
    const configFile = join(dir, "config.json");
    // Edited as text: transformers refuses its float fields written as integers, as a JSON round trip would.
    const config = await readFile(configFile, "utf8");
    const edit = (from: string, to: string) => {
      expect(config).toContain(from);
      return (text: string) => text.replace(from, to);
    };
    const denseBias = edit('"classifier_bias": false', '"classifier_bias": true');
    const noDecoderBias = edit('"decoder_bias": true', '"decoder_bias": false');
    await writeFile(configFile, denseBias(config));
    await expect(SparseEncoder.load(dir)).rejects.toMatchObject({
      name: "SbertError",
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`missing key 'head.dense.bias' in ${join(dir, "model.safetensors")}: ModernBertForMaskedLM's prediction head needs it for its dense.bias`),
    });
    // Without the decoder's bias (decoder_bias false) the scores lose it: no longer sentence-transformers' of the
    // original, but those of a model without it.
    await writeFile(configFile, noDecoderBias(config));
    const model = await SparseEncoder.load(dir);
    const [withoutBias] = await runPython<Answer[]>(ORACLE, [{ folder: dir, texts: TEXTS, batch_size: 4 }]);
    expectSameSparse(await model.encode(TEXTS), withoutBias!);
    expect(withoutBias!.embeddings[0]).not.toEqual(plain.get("modernbert")!.embeddings[0]);
    model.dispose();
  });

  test("an unknown module type, a module list that is not a SparseEncoder's, a bad SpladePooling config", async () => {
    const unknown = await copyOf("bert", "unknown");
    const modulesFile = join(unknown, "modules.json");
    await editJson(modulesFile, (m) => (m[1].type = "sentence_transformers.models.Dense"));
    await expect(SparseEncoder.load(unknown)).rejects.toMatchObject({
      name: "SbertError",
      code: "ERR_CONFIG",
      message: expect.stringContaining(`${modulesFile}: module type "sentence_transformers.models.Dense" is not SpladePooling`),
    });
    await editJson(modulesFile, (m) => (m[0].type = "my_package.Encoder"));
    await expect(SparseEncoder.load(unknown)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`module type "my_package.Encoder" is not a masked-LM Transformer`) });
    await writeFile(modulesFile, JSON.stringify([{ idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" }]));
    await expect(SparseEncoder.load(unknown)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(modulesFile) });

    const pooling = await copyOf("bert", "pooling");
    const poolingFile = join(pooling, "1_SpladePooling", "config.json");
    await editJson(poolingFile, (c) => (c.pooling_strategy = "mean"));
    await expect(SparseEncoder.load(pooling)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringContaining(`${poolingFile}: field 'pooling_strategy' must be one of max, sum, got "mean"`),
    });

    // A sentence-transformers 6 Transformer that is not a fill-mask one.
    const task = await copyOf("distilbert", "task");
    const sbertFile = join(task, "sentence_bert_config.json");
    await editJson(sbertFile, (c) => (c.transformer_task = "feature-extraction"));
    await expect(SparseEncoder.load(task)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${sbertFile}: field 'transformer_task' must be "fill-mask"`) });
  });

  test("arguments are checked before anything runs", async () => {
    await expect(SparseEncoder.load(built.get("bert")!.dir, { maxActiveDims: 0 })).rejects.toThrow(RangeError);
    const model = await SparseEncoder.load(built.get("bert")!.dir);
    await expect(model.encode(TEXTS, { maxActiveDims: -1 })).rejects.toThrow(/maxActiveDims must be a positive integer/);
    await expect(model.encode([TEXTS[0]!, 3 as unknown as string])).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringContaining("sentences[1]") });
    expect(() => model.decode(new Float32Array(model.getSentenceEmbeddingDimension()), 0)).toThrow(RangeError);
    expect(() => (model.similarityFnName = "manhattan" as "dot")).toThrow(RangeError);
    model.dispose();
    await expect(model.encode(TEXTS)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  });
});

describe("pushToHub and the model card (a mock Hub on 127.0.0.1)", () => {
  let hub: MockHub;
  beforeAll(async () => {
    hub = await startMockHub([]);
  });
  afterAll(async () => {
    await hub?.stop();
  });

  /** Every file under `dir`, by its path relative to it with "/" separators. */
  async function filesOf(dir: string): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) out.set(relative(dir, join(e.parentPath, e.name)).split(sep).join("/"), await readFile(join(e.parentPath, e.name)));
    }
    return out;
  }

  const frontMatter = (card: string) => parseYaml(card.split("---\n")[1]!) as Record<string, unknown>;

  test("pushToHub uploads the saved folder as one commit; loaded back by id it gives the same embeddings and names it as base model", async () => {
    const model = await SparseEncoder.load(built.get("bert")!.dir);
    const expected = await model.encode(TEXTS, { convertToSparseTensor: false });
    const { commitOid, commitUrl } = await model.pushToHub("me/tiny-splade", { token: "hf_writer", endpoint: hub.url });
    expect(commitOid).toBe(hub.head("model", "me/tiny-splade"));
    expect(commitUrl).toContain(commitOid);
    // The Hub holds exactly what save writes (under the repo's name), byte for byte, beside its .gitattributes.
    const local = join(root, "push-local");
    await model.save(local, { modelName: "me/tiny-splade" });
    const saved = await filesOf(local);
    const pushed = hub.files("model", "me/tiny-splade");
    expect([...pushed.keys()].sort()).toEqual([".gitattributes", ...saved.keys()].sort());
    expect([...saved.keys()]).toEqual(expect.arrayContaining(["README.md", "modules.json", "model.safetensors", "1_SpladePooling/config.json", "config_sentence_transformers.json"]));
    for (const [path, content] of saved) expect(pushed.get(path)!.equals(content), path).toBe(true);

    const card = pushed.get("README.md")!.toString();
    expect(frontMatter(card)).toEqual({
      library_name: "sentence-transformers",
      pipeline_tag: "feature-extraction",
      tags: ["sentence-transformers", "sparse-encoder", "sparse", "splade", "sbert-node"],
    });
    expect(card).toContain("# me/tiny-splade\n");
    expect(card).toContain("- **Model Type:** SPLADE Sparse Encoder");
    expect(card).toContain(`- **Output Dimensionality:** ${model.getSentenceEmbeddingDimension()} dimensions`);
    expect(card).toContain("- **Similarity Function:** Dot Product");
    // The architecture is the model's own printout of its modules.
    expect(card).toContain(`\`\`\`\n${model.toString()}\n\`\`\``);
    expect(model.toString()).toMatch(/\(0\): MLMTransformer\(.*\) with BertForMaskedLM\n {2}\(1\): SpladePooling\(/);
    expect(card).toContain('await SparseEncoder.load("me/tiny-splade")');
    expect(card).toContain('model = SparseEncoder("me/tiny-splade")');

    const back = await SparseEncoder.load("me/tiny-splade", { endpoint: hub.url, cacheFolder: join(root, "push-cache"), token: "hf_writer" });
    expect(back.hubId).toBe("me/tiny-splade");
    (await back.encode(TEXTS, { convertToSparseTensor: false })).forEach((row, i) => expect(maxRelDiff(row, expected[i]!)).toBeLessThan(1e-6));
    back.maxActiveDims = 16;
    back.similarityFnName = "cosine";
    await back.save(join(root, "push-derived"));
    const derived = await readFile(join(root, "push-derived", "README.md"), "utf8");
    expect(frontMatter(derived)).toMatchObject({ base_model: "me/tiny-splade", pipeline_tag: "feature-extraction" });
    expect(derived).toContain("- **Base model:** [me/tiny-splade](https://huggingface.co/me/tiny-splade)");
    expect(derived).toContain("(encode keeps the 16 largest)");
    expect(derived).toContain("- **Similarity Function:** Cosine Similarity");
    // Without a name, the card is titled after the folder.
    expect(derived).toContain("# push-derived\n");

    // createModelCard false leaves the card out, of a save and of a push.
    await rm(join(root, "push-nocard"), { recursive: true, force: true });
    await back.save(join(root, "push-nocard"), { createModelCard: false });
    expect((await filesOf(join(root, "push-nocard"))).has("README.md")).toBe(false);
    const second = await back.pushToHub("me/tiny-splade-2", { token: "hf_writer", endpoint: hub.url, createModelCard: false });
    expect(hub.files("model", "me/tiny-splade-2").has("README.md")).toBe(false);
    expect(second.commitOid).toBe(hub.head("model", "me/tiny-splade-2"));
    model.dispose();
    back.dispose();
  });

  test("an inference-free model's card names it as sentence-transformers does: Asymmetric Inference-free SPLADE", async () => {
    const model = await SparseEncoder.load(inferenceFree.dir);
    const dir = join(root, "card-inference-free");
    await model.save(dir, { modelName: "free" });
    const card = await readFile(join(dir, "README.md"), "utf8");
    expect(frontMatter(card)).toMatchObject({ tags: ["sentence-transformers", "sparse-encoder", "sparse", "asymmetric", "inference-free", "splade", "sbert-node"] });
    expect(card).toContain("- **Model Type:** Asymmetric Inference-free SPLADE Sparse Encoder");
    expect(card).toContain("Router(");
    model.dispose();
  });

  test("pushToHub checks its arguments and needs a token", async () => {
    const model = await SparseEncoder.load(built.get("bert")!.dir);
    await expect(model.pushToHub("")).rejects.toThrow(TypeError);
    hub.clearRequests();
    await expect(model.pushToHub("me/x", { endpoint: hub.url, token: "not-a-token" })).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringContaining("'hf_'") });
    expect(hub.requests).toEqual([]);
    model.dispose();
  });
});
