// The sparse evaluators against sentence-transformers 6's own (py/sparse_eval_ref.py) on a random-init SPLADE model
// (test/fixtures/sparse_encoder_model.py): every metric, the primary metric, the CSV file's name, header and rows.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SparseEncoder } from "../../lib/index.js";
import { formatNumpyFloat32, formatPythonFloat } from "../../lib/evaluation/output.js";
import {
  SparseBinaryClassificationEvaluator,
  SparseEmbeddingSimilarityEvaluator,
  SparseInformationRetrievalEvaluator,
  SparseMSEEvaluator,
  SparseRerankingEvaluator,
  SparseTranslationEvaluator,
  SparseTripletEvaluator,
} from "../../lib/sparseEncoder/evaluation/index.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/sparse_encoder_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/sparse_eval_ref.py", import.meta.url));
const CSR_BUILD = fileURLToPath(new URL("../fixtures/csr_model.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(1500, 31)];

// Duplicates within and across the sides: the statistics are per side, duplicates included.
const S1 = [...makeSentences(8, 12), SENTENCES[0]!, "ciao"];
const S2 = [...makeSentences(8, 13), SENTENCES[0]!, "ciao a tutti"];
// Gold scores without ties, so Spearman does not hinge on tie handling.
const GOLD = S1.map((_, i) => ((i * 7) % 10) / 10 + 0.01 * i);
const QUERIES: Record<string, string> = Object.fromEntries(makeSentences(6, 3).map((t, i) => [`q${i}`, t]));
const DOCS: Record<string, string> = Object.fromEntries(makeSentences(11, 4).map((t, i) => [`d${i}`, t]));
// q5 has no relevant document: both skip it.
const RELEVANT: Record<string, string[]> = { q0: ["d0", "d3"], q1: ["d1"], q2: ["d2", "d5", "d9"], q3: ["d10"], q4: ["d4", "d7"], q5: [] };
const LABELS = S1.map((_, i) => (i * 3) % 2);
const ANCHORS = makeSentences(7, 5);
const POSITIVES = makeSentences(7, 6);
const NEGATIVES = [...makeSentences(6, 7), ANCHORS[0]!];
const SAMPLES = makeSentences(4, 8).map((query, i) => ({ query, positive: makeSentences(1 + (i % 2), 20 + i), negative: makeSentences(3, 30 + i) }));
const SOURCES = makeSentences(6, 9);
const TARGETS = makeSentences(6, 10);
const CALLS = [
  { epoch: -1, steps: -1 },
  { epoch: 1, steps: 5 },
];

interface Job {
  evaluator: "similarity" | "ir" | "binary" | "triplet" | "reranking" | "translation" | "mse";
  args: Record<string, unknown>;
  modelMaxActiveDims?: number;
  csv: boolean;
  /** A CSR model (Transformer + Pooling + SparseAutoEncoder, k = 8) instead of the SPLADE one. */
  csr?: boolean;
}
interface Ref {
  metrics: Record<string, number | null>[];
  primary_metric: string;
  csv_file: string;
  csv: string | null;
  config: Record<string, unknown>;
}

const JOBS: Record<string, Job> = {
  // The similarity from the model (dot): sentence-transformers adds the sparsity columns twice.
  "similarity-model-fn": { evaluator: "similarity", args: { name: "sts" }, csv: true },
  "similarity-all": {
    evaluator: "similarity",
    args: { similarity_fn_names: ["cosine", "dot", "euclidean", "manhattan"], main_similarity: "cosine", max_active_dims: 12, batch_size: 3 },
    csv: true,
  },
  "similarity-model-max": { evaluator: "similarity", args: { similarity_fn_names: ["dot"] }, modelMaxActiveDims: 20, csv: false },
  // Corpus chunks of 4: the corpus statistics are weighted by chunk size.
  ir: { evaluator: "ir", args: { name: "dev", corpus_chunk_size: 4, batch_size: 5 }, csv: true },
  "ir-limited": {
    evaluator: "ir",
    args: { max_active_dims: 60, mrr_at_k: [3, 5], ndcg_at_k: [2, 10], accuracy_at_k: [1, 2], precision_recall_at_k: [2], map_at_k: [4] },
    csv: true,
  },
  binary: { evaluator: "binary", args: { name: "pairs", similarity_fn_names: ["dot", "cosine"], batch_size: 4 }, csv: true },
  "binary-model-fn": { evaluator: "binary", args: { max_active_dims: 15 }, csv: true },
  triplet: { evaluator: "triplet", args: { name: "tri", similarity_fn_names: ["dot", "euclidean"], margin: 0.1 }, csv: true },
  "triplet-model-fn": { evaluator: "triplet", args: { max_active_dims: 10 }, csv: true },
  reranking: { evaluator: "reranking", args: { name: "rr", at_k: 3 }, csv: true },
  "reranking-unbatched": { evaluator: "reranking", args: { use_batched_encoding: false, max_active_dims: 25 }, csv: true },
  translation: { evaluator: "translation", args: { name: "tr", max_active_dims: 30 }, csv: true },
  // The model is its own teacher, on other sentences.
  mse: { evaluator: "mse", args: { name: "m", max_active_dims: 20 }, csv: true },
  "csr-ir": { evaluator: "ir", args: { name: "csr", corpus_chunk_size: 5 }, csv: true, csr: true },
  "csr-similarity": { evaluator: "similarity", args: { similarity_fn_names: ["dot", "cosine"], max_active_dims: 4 }, csv: true, csr: true },
};
const NAMES = Object.keys(JOBS);

let root: string;
let folder: string;
let model: SparseEncoder;
let csrFolder: string;
let csrModel: SparseEncoder;
const refs = new Map<string, Ref>();

function pyArgs(job: Job): Record<string, unknown> {
  switch (job.evaluator) {
    case "similarity":
      return { sentences1: S1, sentences2: S2, scores: GOLD, ...job.args };
    case "ir":
      return { queries: QUERIES, corpus: DOCS, relevant_docs: RELEVANT, ...job.args };
    case "binary":
      return { sentences1: S1, sentences2: S2, labels: LABELS, ...job.args };
    case "triplet":
      return { anchors: ANCHORS, positives: POSITIVES, negatives: NEGATIVES, ...job.args };
    case "reranking":
      return { samples: SAMPLES, ...job.args };
    case "translation":
    case "mse":
      return { source_sentences: SOURCES, target_sentences: TARGETS, ...job.args };
  }
}

type AnySparseEvaluator =
  | SparseEmbeddingSimilarityEvaluator
  | SparseInformationRetrievalEvaluator
  | SparseBinaryClassificationEvaluator
  | SparseTripletEvaluator
  | SparseRerankingEvaluator
  | SparseTranslationEvaluator
  | SparseMSEEvaluator;

function tsEvaluator(job: Job): AnySparseEvaluator {
  const a = job.args as Record<string, any>;
  const common = { name: a["name"], batchSize: a["batch_size"], maxActiveDims: a["max_active_dims"] };
  if (job.evaluator === "binary") return new SparseBinaryClassificationEvaluator(S1, S2, LABELS, { ...common, similarityFnNames: a["similarity_fn_names"] });
  if (job.evaluator === "triplet") {
    return new SparseTripletEvaluator(ANCHORS, POSITIVES, NEGATIVES, { ...common, similarityFnNames: a["similarity_fn_names"], margin: a["margin"] });
  }
  if (job.evaluator === "reranking") return new SparseRerankingEvaluator(SAMPLES, { ...common, atK: a["at_k"], useBatchedEncoding: a["use_batched_encoding"] });
  if (job.evaluator === "translation") return new SparseTranslationEvaluator(SOURCES, TARGETS, common);
  if (job.evaluator === "mse") return new SparseMSEEvaluator(SOURCES, TARGETS, model, common);
  if (job.evaluator === "similarity") {
    return new SparseEmbeddingSimilarityEvaluator(S1, S2, GOLD, {
      name: a["name"],
      similarityFnNames: a["similarity_fn_names"],
      mainSimilarity: a["main_similarity"],
      maxActiveDims: a["max_active_dims"],
      batchSize: a["batch_size"],
    });
  }
  return new SparseInformationRetrievalEvaluator(QUERIES, DOCS, RELEVANT, {
    name: a["name"],
    corpusChunkSize: a["corpus_chunk_size"],
    batchSize: a["batch_size"],
    maxActiveDims: a["max_active_dims"],
    mrrAtK: a["mrr_at_k"],
    ndcgAtK: a["ndcg_at_k"],
    accuracyAtK: a["accuracy_at_k"],
    precisionRecallAtK: a["precision_recall_at_k"],
    mapAtK: a["map_at_k"],
  });
}

beforeAll(async () => {
  root = await tempDir();
  folder = join(root, "splade");
  await runPython(BUILD, { dir: folder, arch: "bert", seed: 11, corpus: CORPUS, vocab_size: 400, pooling_strategy: "max", bias_shift: -1.5 });
  csrFolder = join(root, "csr");
  await runPython(CSR_BUILD, { dir: csrFolder, seed: 4, corpus: CORPUS, vocab_size: 400, k: 8 });
  const jobs = NAMES.map((name) => ({
    folder: JOBS[name]!.csr ? csrFolder : folder,
    evaluator: JOBS[name]!.evaluator,
    args: pyArgs(JOBS[name]!),
    model_max_active_dims: JOBS[name]!.modelMaxActiveDims ?? null,
    output_path: JOBS[name]!.csv ? join(root, "py", name) : null,
    calls: CALLS,
  }));
  const answers = await runPython<Ref[]>(ORACLE, jobs);
  NAMES.forEach((name, i) => refs.set(name, answers[i]!));
  model = await SparseEncoder.load(folder);
  csrModel = await SparseEncoder.load(csrFolder);
}, 600_000);

afterAll(() => {
  model?.dispose();
  csrModel?.dispose();
});

/** The header exactly; integer cells exactly; numbers within 1e-5, and Python's strings are what our formatter makes. */
function expectCsvAlike(csv: string, ref: string): void {
  expect(csv.endsWith("\r\n")).toBe(true);
  const rows = csv.split("\r\n").slice(0, -1);
  const refRows = ref.split("\r\n").slice(0, -1);
  expect(rows.length).toBe(refRows.length);
  expect(rows[0]).toBe(refRows[0]);
  rows.slice(1).forEach((row, i) => {
    const cells = row.split(",");
    const refCells = refRows[i + 1]!.split(",");
    expect(cells.length).toBe(refCells.length);
    cells.forEach((c, j) => {
      const want = refCells[j]!;
      if (/^-?\d+$/.test(want)) {
        expect(c).toBe(want);
        return;
      }
      // sentence-transformers' SparseMSEEvaluator writes its MSE as a torch scalar's repr ("tensor(1.5037)", 4
      // decimals); we write the number.
      const tensor = /^tensor\((.*)\)$/.exec(want);
      if (tensor) {
        expect(Math.abs(Number(c) - Number(tensor[1])), `row ${i + 1} cell ${j}: ${c} vs ${want}`).toBeLessThanOrEqual(5e-5 * Math.max(1, Math.abs(Number(c))));
        return;
      }
      expect(Math.abs(Number(c) - Number(want)), `row ${i + 1} cell ${j}: ${c} vs ${want}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(Number(want))));
      // Thresholds are numpy float32 scalars in sentence-transformers' rows, the rest Python floats (the header,
      // whose sparsity columns may come twice, does not line up with the cells to tell which).
      expect([formatNumpyFloat32(Number(want)), formatPythonFloat(Number(want))]).toContain(want);
    });
  });
}

describe("sparse evaluators against sentence-transformers", () => {
  test.each(NAMES)("%s", async (name) => {
    const job = JOBS[name]!;
    const ref = refs.get(name)!;
    const m = job.csr ? csrModel : model;
    const saved = m.maxActiveDims;
    if (job.modelMaxActiveDims !== undefined) m.maxActiveDims = job.modelMaxActiveDims;
    const evaluator = tsEvaluator(job);
    const outputPath = job.csv ? join(root, "ts", name) : undefined;
    for (const [c, call] of CALLS.entries()) {
      const metrics = await evaluator.evaluate(m, { outputPath, ...call });
      const want = ref.metrics[c]!;
      expect(Object.keys(metrics)).toEqual(Object.keys(want));
      for (const [key, value] of Object.entries(want)) {
        // avg_flops is a sum over the vocabulary: relative tolerance.
        expect(Math.abs(metrics[key]! - value!), `${key}: ${metrics[key]} vs ${value}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(value!)));
      }
    }
    m.maxActiveDims = saved;
    expect(evaluator.primaryMetric).toBe(ref.primary_metric);
    expect(evaluator.csvFile).toBe(ref.csv_file);
    expect(evaluator.getConfigDict()).toEqual(ref.config);
    if (job.csv) expectCsvAlike(await readFile(join(outputPath!, evaluator.csvFile), "utf8"), ref.csv!);
    else expect(ref.csv).toBeNull();
  }, 120_000);

  test("the statistics are real: fewer active dimensions with a lower maxActiveDims", async () => {
    const all = await new SparseEmbeddingSimilarityEvaluator(S1, S2, GOLD, { similarityFnNames: ["dot"] }).evaluate(model);
    const cut = await new SparseEmbeddingSimilarityEvaluator(S1, S2, GOLD, { similarityFnNames: ["dot"], maxActiveDims: 5 }).evaluate(model);
    expect(cut["active_dims"]).toBe(5);
    expect(all["active_dims"]!).toBeGreaterThan(5);
    expect(cut["sparsity_ratio"]!).toBeGreaterThan(all["sparsity_ratio"]!);
  });

  test("the corpus chunk (default 2000 here, the embeddings being dense over the vocabulary) changes no metric", async () => {
    const whole = new SparseInformationRetrievalEvaluator(QUERIES, DOCS, RELEVANT, { writeCsv: false });
    expect(whole.corpusChunkSize).toBe(2000);
    const chunked = new SparseInformationRetrievalEvaluator(QUERIES, DOCS, RELEVANT, { corpusChunkSize: 3, writeCsv: false });
    const a = await whole.evaluate(model);
    const b = await chunked.evaluate(model);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    // Only the float32 rounding of each chunk's mean active dimensions differs.
    for (const [k, v] of Object.entries(a)) expect(Math.abs(b[k]! - v), k).toBeLessThan(1e-6 * Math.max(1, Math.abs(v)));
  });

  test("bad arguments name themselves", async () => {
    expect(() => new SparseEmbeddingSimilarityEvaluator(S1, S2, GOLD, { maxActiveDims: 0 })).toThrow(/maxActiveDims must be a positive integer/);
    expect(() => new SparseInformationRetrievalEvaluator(QUERIES, DOCS, RELEVANT, { maxActiveDims: 1.5 })).toThrow(/SparseInformationRetrievalEvaluator: maxActiveDims/);
    const dense = { encode: async (s: string[]) => s.map(() => new Float32Array(3)) };
    await expect(new SparseEmbeddingSimilarityEvaluator(S1, S2, GOLD).evaluate(dense)).rejects.toThrow(/SparseEmbeddingSimilarityEvaluator: model must be a SparseEncoder/);
  });
});
