// NanoBEIREvaluator and SparseNanoBEIREvaluator against sentence-transformers' own (py/nanobeir_ref.py, the evaluators
// unchanged) on the same random-init model folders and three tiny NanoBEIR-shaped datasets written as parquet files:
// a local folder (README.md `configs`, read by both), the same files in the plain `{subset}/{split}.parquet` layout,
// and a mock Hub's parquet export. Every metric within 1e-6 (relative) on each of two calls, the primary metric,
// the config, the evaluators' names, and every CSV file (header equal, ints equal, floats within 1e-6).
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, SparseEncoder } from "../../lib/index.js";
import { SbertError } from "../../lib/errors.js";
import { NanoBEIREvaluator, type NanoBEIREvaluatorOptions, numpyMean } from "../../lib/evaluation/NanoBEIREvaluator.js";
import { SparseNanoBEIREvaluator } from "../../lib/sparseEncoder/evaluation/index.js";
import { cosSim, dotScore } from "../../lib/util/index.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { startMockHub, type MockHub } from "../helpers/mockHub.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { tempDir } from "../helpers/tmp.js";

const ORACLE = fileURLToPath(new URL("py/nanobeir_ref.py", import.meta.url));
const SPLADE = fileURLToPath(new URL("../fixtures/sparse_encoder_model.py", import.meta.url));
const TOL = 1e-6;
const CALLS = [
  { epoch: -1, steps: -1 },
  { epoch: 1, steps: 7 },
];

type Column = { name: string; data: unknown[]; type: "STRING" | "INT32" };
interface Split {
  corpus: Column[];
  queries: Column[];
  qrels: Column[];
}

/**
 * A NanoBEIR-shaped split: `nDocs` documents (one with empty text, left out by both), `nQueries` queries (the last
 * without relevant documents, skipped by both), 1–3 relevant documents per query (one of them at times the empty
 * one); each query starts with words of its first relevant document, so the rankings are not all noise. `intIds`:
 * integer ids, as some datasets have them.
 */
function makeSplit(seed: number, nDocs: number, nQueries: number, intIds = false): Split {
  const docs = makeSentences(nDocs, seed);
  docs[3] = "";
  const queries = makeSentences(nQueries, seed + 100);
  const docId = (i: number): string | number => (intIds ? 1000 + i : `d${seed}-${i}`);
  const queryId = (i: number): string | number => (intIds ? 50 + i : `q${seed}-${i}`);
  const qids: unknown[] = [];
  const cids: unknown[] = [];
  for (let q = 0; q < nQueries - 1; q++) {
    const n = 1 + ((q * 7 + seed) % 3);
    for (let j = 0; j < n; j++) {
      qids.push(queryId(q));
      cids.push(docId((q * 5 + j * 3 + seed) % nDocs));
    }
    const first = docs[(q * 5 + seed) % nDocs]!;
    queries[q] = `${first.split(" ").slice(0, 4).join(" ")} ${queries[q]}`;
  }
  const idType = intIds ? "INT32" : "STRING";
  return {
    corpus: [
      { name: "_id", data: docs.map((_, i) => docId(i)), type: idType },
      { name: "text", data: docs, type: "STRING" },
    ],
    queries: [
      { name: "_id", data: queries.map((_, i) => queryId(i)), type: idType },
      { name: "text", data: queries, type: "STRING" },
    ],
    qrels: [
      { name: "query-id", data: qids, type: idType },
      { name: "corpus-id", data: cids, type: idType },
      { name: "score", data: qids.map(() => 1), type: "INT32" },
    ],
  };
}

const SPLITS: Record<string, Split> = {
  NanoMSMARCO: makeSplit(3, 22, 8),
  NanoNFCorpus: makeSplit(5, 16, 6),
  NanoSciFact: makeSplit(9, 27, 7, true),
};
const SUBSETS = ["corpus", "queries", "qrels"] as const;

const parquet = (columns: Column[]): Buffer => Buffer.from(parquetWriteBuffer({ columnData: columns }));

/** The folder push_to_hub would make: `{subset}/{split}-00000-of-00001.parquet` and a README.md naming them. */
async function writeHubStyleFolder(dir: string, splits: Record<string, Split>): Promise<void> {
  const yaml = ["---", "configs:"];
  for (const subset of SUBSETS) {
    await mkdir(join(dir, subset), { recursive: true });
    yaml.push(`- config_name: ${subset}`, "  data_files:");
    for (const [split, data] of Object.entries(splits)) {
      await writeFile(join(dir, subset, `${split}-00000-of-00001.parquet`), parquet(data[subset]));
      yaml.push(`  - split: ${split}`, `    path: ${subset}/${split}-*`);
    }
  }
  yaml.push("---", "", "# A tiny NanoBEIR-style dataset", "");
  await writeFile(join(dir, "README.md"), yaml.join("\n"));
}

interface Job {
  kind: "dense" | "sparse";
  /** Python's keyword arguments. */
  py: Record<string, unknown>;
  /** Our options. */
  ts: NanoBEIREvaluatorOptions & { maxActiveDims?: number };
}

const ALL = ["msmarco", "NFCorpus", "scifact"];
const JOBS: Record<string, Job> = {
  // The score function from the model (cosine), every default.
  dense: { kind: "dense", py: { dataset_names: ALL }, ts: { datasetNames: ALL } },
  "dense-options": {
    kind: "dense",
    py: {
      dataset_names: ["scifact", "msmarco"],
      score_functions: ["dot", "cosine"],
      truncate_dim: 16,
      mrr_at_k: [3, 5],
      ndcg_at_k: [3, 10],
      accuracy_at_k: [1, 2],
      precision_recall_at_k: [2, 4],
      map_at_k: [5],
      batch_size: 3,
      query_prompts: { scifact: "claim: ", msmarco: "query: " },
      corpus_prompts: "passage: ",
    },
    ts: {
      datasetNames: ["scifact", "msmarco"],
      scoreFunctions: { dot: dotScore, cosine: cosSim },
      truncateDim: 16,
      mrrAtK: [3, 5],
      ndcgAtK: [3, 10],
      accuracyAtK: [1, 2],
      precisionRecallAtK: [2, 4],
      mapAtK: [5],
      batchSize: 3,
      queryPrompts: { scifact: "claim: ", msmarco: "query: " },
      corpusPrompts: "passage: ",
    },
  },
  "dense-max": {
    kind: "dense",
    py: { dataset_names: ALL, score_functions: ["cosine", "dot"], main_score_function: "dot", aggregate_fn: "max", aggregate_key: "max" },
    ts: { datasetNames: ALL, scoreFunctions: { cosine: cosSim, dot: dotScore }, mainScoreFunction: "dot", aggregateFn: (v) => Math.max(...v), aggregateKey: "max" },
  },
  sparse: { kind: "sparse", py: { dataset_names: ALL, batch_size: 4 }, ts: { datasetNames: ALL, batchSize: 4 } },
  "sparse-limited": {
    kind: "sparse",
    py: { dataset_names: ["nfcorpus", "msmarco"], max_active_dims: 20, ndcg_at_k: [5] },
    ts: { datasetNames: ["nfcorpus", "msmarco"], maxActiveDims: 20, ndcgAtK: [5] },
  },
};
const NAMES = Object.keys(JOBS);

interface Ref {
  metrics: Record<string, number>[];
  primary_metric: string;
  csv_file: string;
  csvs: Record<string, string>;
  config: Record<string, unknown>;
  names: string[];
}

let root: string;
let nano: string;
let plain: string;
let hub: MockHub;
let dense: SentenceTransformer;
let sparse: SparseEncoder;
const refs = new Map<string, Ref>();
// Lists whose float sum depends on the order of the additions: numpy's pairwise order (eight accumulators from eight
// values on, halves from 129 on) decides the last bits, here in every branch.
const MEANS = [3, 7, 8, 13, 20, 128, 129, 300].map((n) => Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + n) * 10 ** ((i % 7) - 3) + 1 / 3));
let numpyMeans: number[] = [];

function build(job: Job, datasetId: string, extra: NanoBEIREvaluatorOptions = {}): NanoBEIREvaluator {
  if (job.kind === "sparse") {
    const { truncateDim: _, ...rest } = job.ts;
    return new SparseNanoBEIREvaluator({ ...rest, ...extra, datasetId });
  }
  return new NanoBEIREvaluator({ ...job.ts, ...extra, datasetId });
}

beforeAll(async () => {
  root = await tempDir("sbert-nanobeir-");
  nano = join(root, "nano");
  await writeHubStyleFolder(nano, SPLITS);
  plain = join(root, "plain");
  for (const subset of SUBSETS) {
    await mkdir(join(plain, subset), { recursive: true });
    for (const [split, data] of Object.entries(SPLITS)) await writeFile(join(plain, subset, `${split}.parquet`), parquet(data[subset]));
  }
  const exportFiles: Record<string, Buffer> = {};
  for (const subset of SUBSETS) for (const [split, data] of Object.entries(SPLITS)) exportFiles[`${subset}/${split}/0000.parquet`] = parquet(data[subset]);
  hub = await startMockHub([{ repoType: "dataset", id: "acme/NanoBEIR-tiny", files: { "README.md": "# tiny" }, branches: { "refs/convert/parquet": exportFiles } }]);

  const denseDir = join(root, "dense");
  // A Dense + tanh head spreads the random-init similarities; the prompts are only used when an evaluator asks.
  await makeSentenceTransformerFolder(denseDir, { dense: { outFeatures: 32, activation: "tanh" }, bert: { seed: 41 } });
  const spladeDir = join(root, "splade");
  const texts = Object.values(SPLITS).flatMap((s) => [...(s.corpus[1]!.data as string[]), ...(s.queries[1]!.data as string[])]);
  await runPython(SPLADE, { dir: spladeDir, arch: "bert", seed: 11, corpus: [...texts, ...makeSentences(300, 31)], vocab_size: 400, pooling_strategy: "max", bias_shift: -1.5 });

  const jobs = NAMES.map((name) => ({
    kind: JOBS[name]!.kind,
    model: JOBS[name]!.kind === "sparse" ? spladeDir : denseDir,
    dataset_id: nano,
    args: JOBS[name]!.py,
    output_path: join(root, "py", name),
    calls: CALLS,
  }));
  const answers = await runPython<{ jobs: Ref[]; means: number[] }>(ORACLE, { cache: join(root, "hf-datasets"), jobs, means: MEANS });
  NAMES.forEach((name, i) => refs.set(name, answers.jobs[i]!));
  numpyMeans = answers.means;
  dense = await SentenceTransformer.load(denseDir);
  sparse = await SparseEncoder.load(spladeDir);
}, 900_000);

afterAll(async () => {
  dense?.dispose();
  sparse?.dispose();
  await hub?.stop();
});

function expectClose(actual: number, expected: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(TOL * Math.abs(expected));
}

/** Header equal; ints equal; floats within TOL (relative). Line ends as Python wrote them. */
function expectSameCsv(csv: string, ref: string, what: string): void {
  const lineEnd = ref.includes("\r\n") ? "\r\n" : "\n";
  expect(csv.endsWith(lineEnd), `${what}: line ends`).toBe(true);
  const lines = csv.split(lineEnd).slice(0, -1);
  const refLines = ref.split(lineEnd).slice(0, -1);
  expect(lines.length, `${what}: line count`).toBe(refLines.length);
  expect(lines[0], `${what}: header`).toBe(refLines[0]);
  for (let r = 1; r < refLines.length; r++) {
    const cells = lines[r]!.split(",");
    const refCells = refLines[r]!.split(",");
    expect(cells.length, `${what}: row ${r} cells`).toBe(refCells.length);
    refCells.forEach((want, c) => {
      if (/^-?\d+$/.test(want)) expect(cells[c], `${what}: row ${r} cell ${c}`).toBe(want);
      else expectClose(Number(cells[c]), Number(want), `${what}: row ${r} cell ${c}`);
    });
  }
}

describe("NanoBEIR evaluators against sentence-transformers", () => {
  test.each(NAMES)("%s", async (name) => {
    const job = JOBS[name]!;
    const ref = refs.get(name)!;
    const evaluator = build(job, nano);
    const out = join(root, "ts", name);
    for (const [c, call] of CALLS.entries()) {
      const options = { outputPath: out, ...call };
      const metrics = evaluator instanceof SparseNanoBEIREvaluator ? await evaluator.evaluate(sparse, options) : await evaluator.evaluate(dense, options);
      const want = ref.metrics[c]!;
      expect(Object.keys(metrics)).toEqual(Object.keys(want));
      for (const [key, value] of Object.entries(want)) expectClose(metrics[key]!, value, key);
    }
    expect(evaluator.primaryMetric).toBe(ref.primary_metric);
    expect(evaluator.csvFile).toBe(ref.csv_file);
    expect(evaluator.getConfigDict()).toEqual(ref.config);
    expect(evaluator.evaluators.map((e) => e.name)).toEqual(ref.names);
    const files = (await readdir(out)).sort();
    expect(files).toEqual(Object.keys(ref.csvs).sort());
    for (const file of files) expectSameCsv(await readFile(join(out, file), "utf8"), ref.csvs[file]!, `${name}/${file}`);
  }, 300_000);

  test("the same data read from the plain {subset}/{split}.parquet layout and from a Hub's parquet export give the same metrics", async () => {
    const job = JOBS["dense"]!;
    const fromReadme = await build(job, nano, { writeCsv: false }).evaluate(dense);
    const fromPlain = await build(job, plain, { writeCsv: false }).evaluate(dense);
    const fromHub = await build(job, "acme/NanoBEIR-tiny", { writeCsv: false, endpoint: hub.url, cacheFolder: join(root, "hub-cache") }).evaluate(dense);
    expect(fromPlain).toEqual(fromReadme);
    expect(fromHub).toEqual(fromReadme);
    expect(hub.requests.some((r) => r.path.includes("/resolve/") && r.path.endsWith("queries/NanoSciFact/0000.parquet"))).toBe(true);
  });

  test("the default aggregate is numpy's mean to the last bit", () => {
    MEANS.forEach((values, i) => expect(numpyMean(values), `${values.length} values`).toBe(numpyMeans[i]));
    // The lists are ones where a plain left-to-right sum differs somewhere.
    expect(MEANS.some((values, i) => values.reduce((a, b) => a + b, 0) / values.length !== numpyMeans[i])).toBe(true);
  });

  test("the prompts reach the model: without them the metrics differ", async () => {
    const { queryPrompts: _q, corpusPrompts: _c, ...rest } = JOBS["dense-options"]!.ts;
    const withPrompts = await build(JOBS["dense-options"]!, nano, { writeCsv: false }).evaluate(dense);
    const without = await build({ ...JOBS["dense-options"]!, ts: rest }, nano, { writeCsv: false }).evaluate(dense);
    expect(Object.keys(without)).toEqual(Object.keys(withPrompts));
    expect(Object.keys(withPrompts).filter((k) => withPrompts[k] !== without[k]).length).toBeGreaterThan(0);
  });

  test("SparseNanoBEIREvaluator: the aggregated statistics are weighted by the datasets' sizes", async () => {
    const evaluator = await SparseNanoBEIREvaluator.create({ datasetNames: ALL, datasetId: nano, writeCsv: false });
    const metrics = await evaluator.evaluate(sparse);
    const plainMean = numpyMean(evaluator.evaluators.map((e) => e.sparsityStats["corpus_active_dims"]!));
    const sizes = evaluator.evaluators.map((e) => e.corpus.length);
    expect(new Set(sizes).size).toBeGreaterThan(1);
    const weighted = evaluator.evaluators.reduce((a, e, i) => a + e.sparsityStats["corpus_active_dims"]! * sizes[i]!, 0) / sizes.reduce((a, b) => a + b, 0);
    expect(metrics["NanoBEIR_mean_corpus_active_dims"]).toBeCloseTo(weighted, 12);
    expect(Math.abs(weighted - plainMean)).toBeGreaterThan(1e-9);
  });
});

describe("NanoBEIREvaluator: bad input", () => {
  test("unknown or no dataset names, missing prompts, a truncateDim on the sparse one", () => {
    expect(() => new NanoBEIREvaluator({ datasetNames: ["msmarco", "wikipedia"] })).toThrow(/'wikipedia' are not NanoBEIR datasets; valid names are: climatefever, .*touche2020/);
    expect(() => new NanoBEIREvaluator({ datasetNames: [] })).toThrow(/datasetNames cannot be empty/);
    expect(() => new NanoBEIREvaluator({ datasetNames: ["msmarco", "nq"], queryPrompts: { msmarco: "q: " } })).toThrow(/missing query prompts: 'nq'/);
    expect(() => new NanoBEIREvaluator({ mrrAtK: [0] })).toThrow(/mrrAtK\[0\] must be a positive integer/);
    expect(() => new SparseNanoBEIREvaluator({ truncateDim: 8 } as never)).toThrow(/truncateDim does not apply/);
  });

  test("a missing split file, a missing column, an unknown Hub split", async () => {
    const missing = join(root, "missing");
    await writeHubStyleFolder(missing, { NanoMSMARCO: SPLITS["NanoMSMARCO"]! });
    const noSplit = new NanoBEIREvaluator({ datasetNames: ["msmarco", "scifact"], datasetId: missing });
    const err = await noSplit.evaluate(dense).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SbertError);
    expect((err as SbertError).code).toBe("ERR_FILE_NOT_FOUND");
    expect((err as SbertError).message).toMatch(/Could not load subset 'corpus' split 'NanoSciFact' from dataset '.*missing'/);

    const plainMissing = join(root, "plain-missing");
    await mkdir(join(plainMissing, "corpus"), { recursive: true });
    await writeFile(join(plainMissing, "corpus", "NanoNQ.parquet"), parquet(SPLITS["NanoMSMARCO"]!.corpus));
    await expect(NanoBEIREvaluator.create({ datasetNames: ["nq"], datasetId: plainMissing })).rejects.toThrow(
      /Could not load subset 'queries' split 'NanoNQ' .*no data file for it .*queries\/NanoNQ\.parquet/,
    );

    const badColumns = join(root, "bad-columns");
    const renamed = { ...SPLITS["NanoMSMARCO"]!, queries: SPLITS["NanoMSMARCO"]!.queries.map((c) => (c.name === "_id" ? { ...c, name: "id" } : c)) };
    await writeHubStyleFolder(badColumns, { NanoMSMARCO: renamed });
    await expect(NanoBEIREvaluator.create({ datasetNames: ["msmarco"], datasetId: badColumns })).rejects.toThrow(
      /Subset 'queries' split 'NanoMSMARCO' from dataset '.*bad-columns' is missing required columns: '_id'/,
    );

    await expect(
      NanoBEIREvaluator.create({ datasetNames: ["fever"], datasetId: "acme/NanoBEIR-tiny", endpoint: hub.url, cacheFolder: join(root, "hub-cache-2") }),
    ).rejects.toThrow(/Could not load subset 'corpus' split 'NanoFEVER' from dataset 'acme\/NanoBEIR-tiny': .*no split 'NanoFEVER'/);
  });
});
