// The cross-encoder evaluators against sentence-transformers 6's (py/ce_eval_ref.py): the same random-init BERT
// cross-encoders (test/fixtures/crossEncoderFolder.ts, generated from fixed seeds, so the data's properties checked
// below hold on every run), the same samples, every metric within 1e-5 and the CSV files alike. The data hold no
// near-tied scores within a ranking, so rankings agree exactly.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, type CrossEncoderPair } from "../../lib/crossEncoder/CrossEncoder.js";
import {
  CrossEncoderClassificationEvaluator,
  CrossEncoderCorrelationEvaluator,
  type CrossEncoderEvaluator,
  CrossEncoderNanoBEIREvaluator,
  CrossEncoderRerankingEvaluator,
  type EvaluatedCrossEncoder,
  type RerankingSample,
} from "../../lib/crossEncoder/evaluation/index.js";
import { formatNumpyFloat32, formatPythonFloat } from "../../lib/evaluation/output.js";
import { f1Score, ndcgScore } from "../../lib/evaluation/stats.js";
import { InputExample } from "../../lib/InputExample.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { type MockHub, startMockHub } from "../helpers/mockHub.js";
import { runPython } from "../helpers/python.js";
import { makeSentences, rng } from "../helpers/tokenizationFixtures.js";
import { tempDir } from "../helpers/tmp.js";

const REF = fileURLToPath(new URL("py/ce_eval_ref.py", import.meta.url));

// Distinct texts, so no document appears twice in a ranking.
const POOL = [...new Set(makeSentences(400, 21).map((t) => t.replace(/\s+/g, " ").trim()))].filter((t) => t.length > 3);
let next = 0;
const take = (n: number): string[] => POOL.slice(next, (next += n));

const QUERIES = ["Chi gioca con il cane nel parco?", "Where does the cat sleep?", "la città piena di gente", "un uomo e la chitarra", "ciao", "due donne che parlano", "music and books", "il sole di Roma"];

/** Samples with positives and negatives: varied counts, one positive given as a string, one with no positive. */
const NEGATIVE_SAMPLES: RerankingSample[] = QUERIES.slice(0, 6).map((query, i) => {
  const positives = take(i === 5 ? 0 : 1 + (i % 3));
  const negatives = take(4 + ((i * 3) % 6));
  return { query, positive: i === 2 ? positives[0]! : positives, negative: negatives };
});

/**
 * Samples with a first-stage ranking: positives at several ranks, one positive the first stage missed, one sample
 * whose ranking holds no positive, one with no positive at all.
 */
const DOCUMENT_SAMPLES: RerankingSample[] = QUERIES.map((query, i) => {
  const documents = take(6 + (i % 4));
  if (i === 6) return { query, positive: [], documents };
  if (i === 7) return { query, positive: take(2), documents };
  const positive = [documents[(i * 2) % documents.length]!, ...(i % 2 === 0 ? [documents[documents.length - 1]!] : [])];
  if (i === 3) positive.push(take(1)[0]!);
  return { query, positive, documents };
});

const PAIRS: CrossEncoderPair[] = Array.from({ length: 24 }, (_, i) => [POOL[(i * 7) % 150]!, POOL[150 + i]!]);
const r = rng(5);
const GOLD = PAIRS.map(() => Math.round(r() * 500) / 100);
const BINARY = PAIRS.map((_, i) => (r() < 0.45 || i === 0 ? 1 : 0));
// Labels that follow the one-label model's scores (1 for its top half) and their opposite, set once it is loaded.
const AGREEING: number[] = [];
const OPPOSITE: number[] = [];
const CLASSES = PAIRS.map((_, i) => (i < 3 ? i : Math.floor(r() * 3)));

/**
 * Two NanoBEIR datasets as the Hub's parquet export holds them: corpus, queries, qrels (a query with two rows) and
 * BM25 rankings of 8 documents, of which rerankK = 5 count; positives ranked first, fifth, sixth, and not at all.
 */
const NANO = { msmarco: "NanoMSMARCO", scifact: "NanoSciFact" } as const;
type Row = Record<string, string | string[]>;
const TABLES: Record<"corpus" | "queries" | "qrels" | "bm25", Record<string, Row[]>> = { corpus: {}, queries: {}, qrels: {}, bm25: {} };
Object.entries(NANO).forEach(([name, split], d) => {
  const id = (i: number): string => `${name}-d${i}`;
  TABLES.corpus[split] = take(12).map((text, i) => ({ _id: id(i), text }));
  TABLES.queries[split] = QUERIES.slice(d * 4, d * 4 + 4).map((text, q) => ({ _id: `${name}-q${q}`, text }));
  const qrels: [number, number][] = [
    [0, 1],
    [1, 3],
    [1, 5],
    [2, 7],
    [3, 11],
  ];
  TABLES.qrels[split] = qrels.map(([q, doc]) => ({ "query-id": `${name}-q${q}`, "corpus-id": id(doc) }));
  const bm25 = [
    [1, 0, 2, 4, 6, 8, 9, 10],
    [0, 3, 2, 4, 6, 5, 8, 9],
    [2, 4, 6, 8, 7, 0, 1, 9],
    [0, 1, 2, 3, 4, 5, 6, 7],
  ];
  TABLES.bm25[split] = bm25.map((docs, q) => ({ "query-id": `${name}-q${q}`, "corpus-ids": docs.map(id) }));
});

type Kind = "reranking" | "correlation" | "classification";
interface Job {
  title: string;
  folder: "one" | "three";
  evaluator: Kind;
  /** The evaluator's arguments as Python takes them. */
  args: Record<string, unknown>;
  calls: { epoch: number; steps: number }[];
}
interface Answer {
  metrics: Record<string, number | null>[];
  primary_metric: string;
  csv_file: string;
  csv: string | null;
  files: Record<string, string>;
  scores: number[] | number[][] | null;
}

const TWO_CALLS = [
  { epoch: 0, steps: 5 },
  { epoch: 1, steps: -1 },
];
const JOBS: Job[] = [
  { title: "reranking, negatives, at_k 10", folder: "one", evaluator: "reranking", args: { samples: NEGATIVE_SAMPLES }, calls: TWO_CALLS },
  { title: "reranking, negatives, at_k 2, named", folder: "one", evaluator: "reranking", args: { samples: NEGATIVE_SAMPLES, at_k: 2, name: "neg", batch_size: 5 }, calls: [{ epoch: -1, steps: -1 }] },
  { title: "reranking, first-stage documents, every positive reranked", folder: "one", evaluator: "reranking", args: { samples: DOCUMENT_SAMPLES, at_k: 3, name: "dev" }, calls: TWO_CALLS },
  {
    title: "reranking, first-stage documents, only those given",
    folder: "one",
    evaluator: "reranking",
    args: { samples: DOCUMENT_SAMPLES, at_k: 3, always_rerank_positives: false },
    calls: [{ epoch: 2, steps: 100 }],
  },
  { title: "correlation", folder: "one", evaluator: "correlation", args: { sentence_pairs: PAIRS, scores: GOLD, name: "sts-dev", batch_size: 7 }, calls: TWO_CALLS },
  { title: "binary classification", folder: "one", evaluator: "classification", args: { sentence_pairs: PAIRS, labels: BINARY }, calls: TWO_CALLS },
  { title: "binary classification, labels that follow the scores", folder: "one", evaluator: "classification", args: { sentence_pairs: PAIRS, labels: AGREEING, name: "agree" }, calls: [{ epoch: 0, steps: 1 }] },
  { title: "binary classification, the opposite labels", folder: "one", evaluator: "classification", args: { sentence_pairs: PAIRS, labels: OPPOSITE, name: "opposite" }, calls: [{ epoch: 0, steps: 1 }] },
  { title: "three-class classification", folder: "three", evaluator: "classification", args: { sentence_pairs: PAIRS, labels: CLASSES, name: "nli" }, calls: TWO_CALLS },
];

function tsEvaluator(job: Job): CrossEncoderEvaluator & { csvFile: string } {
  const a = job.args as Record<string, never>;
  const common = { ...(a["name"] !== undefined && { name: a["name"] }), ...(a["batch_size"] !== undefined && { batchSize: a["batch_size"] }) };
  switch (job.evaluator) {
    case "reranking":
      return new CrossEncoderRerankingEvaluator(a["samples"], {
        ...common,
        ...(a["at_k"] !== undefined && { atK: a["at_k"] }),
        ...(a["always_rerank_positives"] !== undefined && { alwaysRerankPositives: a["always_rerank_positives"] }),
      });
    case "correlation":
      return new CrossEncoderCorrelationEvaluator(a["sentence_pairs"], a["scores"], common);
    case "classification":
      return new CrossEncoderClassificationEvaluator(a["sentence_pairs"], a["labels"], common);
  }
}

let root: string;
const folders: Record<"one" | "three", string> = { one: "", three: "" };
const models: Partial<Record<"one" | "three", CrossEncoder>> = {};
let answers: Answer[];
const ours: { metrics: Record<string, number>[]; primaryMetric: string; csvFile: string; csv: string }[] = [];

beforeAll(async () => {
  root = await tempDir("sbert-ce-eval-");
  folders.one = join(root, "one");
  folders.three = join(root, "three");
  await makeCrossEncoderFolder(folders.one, { numLabels: 1 });
  await makeCrossEncoderFolder(folders.three, { numLabels: 3 });
  models.one = await CrossEncoder.load(folders.one);
  models.three = await CrossEncoder.load(folders.three);
  const scores = (await models.one.predict(PAIRS)) as number[];
  const median = [...scores].sort((a, b) => a - b)[scores.length / 2]!;
  AGREEING.push(...scores.map((s) => (s >= median ? 1 : 0)));
  OPPOSITE.push(...AGREEING.map((l) => 1 - l));
  answers = await runPython<Answer[]>(
    REF,
    JOBS.map((job, i) => ({ folder: folders[job.folder], evaluator: job.evaluator, args: job.args, output_path: join(root, "py", String(i)), calls: job.calls })),
  );
  for (const [i, job] of JOBS.entries()) {
    const evaluator = tsEvaluator(job);
    const outputPath = join(root, "ts", String(i));
    const metrics: Record<string, number>[] = [];
    for (const call of job.calls) metrics.push(await evaluator.evaluate(models[job.folder]!, { outputPath, ...call }));
    ours.push({ metrics, primaryMetric: evaluator.primaryMetric, csvFile: evaluator.csvFile, csv: await readFile(join(outputPath, evaluator.csvFile), "utf8") });
  }
}, 600_000);

afterAll(() => {
  models.one?.dispose();
  models.three?.dispose();
});

/**
 * CSV cells side by side: the header and integer cells exactly, numbers within 1e-5; and Python's numbers are
 * the strings our formatters make of them (thresholds as numpy float32s, the rest as Python floats).
 */
function expectCsvAlike(csv: string, ref: string, eol: "\r\n" | "\n" = "\r\n"): void {
  expect(ref.endsWith(eol)).toBe(true);
  expect(csv.endsWith(eol)).toBe(true);
  expect(csv.split("\r\n").length).toBe(ref.split("\r\n").length);
  const rows = csv.split(eol).slice(0, -1);
  const refRows = ref.split(eol).slice(0, -1);
  expect(rows.length).toBe(refRows.length);
  expect(rows[0]).toBe(refRows[0]);
  rows.slice(1).forEach((row, i) => {
    const cells = row.split(",");
    const refCells = refRows[i + 1]!.split(",");
    expect(cells.length).toBe(refCells.length);
    cells.forEach((c, j) => {
      const want = refCells[j]!;
      expect(/^-?\d+$/.test(c), `row ${i + 1} cell ${j}: ${c} vs ${want}`).toBe(/^-?\d+$/.test(want));
      if (/^-?\d+$/.test(want)) {
        expect(c).toBe(want);
        return;
      }
      expect(Math.abs(Number(c) - Number(want)), `row ${i + 1} cell ${j}: ${c} vs ${want}`).toBeLessThan(1e-5);
      const float32 = refRows[0]!.split(",")[j]!.endsWith("_Threshold");
      expect(float32 ? formatNumpyFloat32(Number(want)) : formatPythonFloat(Number(want))).toBe(want);
      expect(float32 ? formatNumpyFloat32(Number(c)) : formatPythonFloat(Number(c))).toBe(c);
    });
  });
}

describe("each evaluator equals sentence-transformers' on the same model and data", () => {
  test.each(JOBS.map((job, i) => [job.title, i] as const))("%s: metrics, primary metric and CSV", (_, i) => {
    const ref = answers[i]!;
    const got = ours[i]!;
    expect(got.primaryMetric).toBe(ref.primary_metric);
    expect(got.csvFile).toBe(ref.csv_file);
    expect(got.metrics.length).toBe(ref.metrics.length);
    got.metrics.forEach((m, call) => {
      const want = ref.metrics[call]!;
      expect(Object.keys(m)).toEqual(Object.keys(want));
      for (const [key, value] of Object.entries(want)) {
        expect(value, key).not.toBeNull();
        expect(Math.abs(m[key]! - value!), `${key}: ${m[key]} vs ${value}`).toBeLessThan(1e-5);
      }
      expect(m[got.primaryMetric]).toBeDefined();
    });
    expectCsvAlike(got.csv, ref.csv!);
  });

  test("the models score the pairs as sentence-transformers does, with no near ties within a ranking", async () => {
    const one = (await models.one!.predict(PAIRS)) as number[];
    const ref = answers.find((a) => a.scores !== null && !Array.isArray(a.scores[0]))!.scores as number[];
    one.forEach((s, i) => expect(Math.abs(s - ref[i]!)).toBeLessThan(1e-5));
    // Scores that agree within 1e-5 cannot swap two items 2e-5 apart.
    const sorted = [...one].sort((a, b) => a - b);
    for (let k = 1; k < sorted.length; k++) expect(sorted[k]! - sorted[k - 1]!).toBeGreaterThan(2e-5);
    for (const samples of [NEGATIVE_SAMPLES, DOCUMENT_SAMPLES]) {
      for (const s of samples) {
        const docs = [...new Set([...(typeof s.positive === "string" ? [s.positive] : s.positive), ...(s.negative ?? s.documents!)])];
        const scores = ((await models.one!.predict(docs.map((d) => [s.query, d] as CrossEncoderPair))) as number[]).sort((a, b) => a - b);
        for (let k = 1; k < scores.length; k++) expect(scores[k]! - scores[k - 1]!).toBeGreaterThan(2e-5);
      }
    }
  });

  test("the data reach the cases that matter: base metrics, partial rankings, zero samples, a threshold split", () => {
    const dev = ours[2]!.metrics[0]!;
    expect(Object.keys(dev)).toEqual(["dev_map", "dev_mrr@3", "dev_ndcg@3", "dev_base_map", "dev_base_mrr@3", "dev_base_ndcg@3"]);
    // The reranker and the first stage rank differently, and the cutoff at 3 bites (some MRR between 0 and 1).
    expect(Math.abs(dev["dev_map"]! - dev["dev_base_map"]!)).toBeGreaterThan(1e-3);
    expect(ours[3]!.metrics[0]!["map"]).not.toBeCloseTo(ours[2]!.metrics[0]!["dev_map"]!, 3);
    expect(ours[1]!.metrics[0]!["neg_mrr@2"]).not.toBeCloseTo(ours[0]!.metrics[0]!["mrr@10"]!, 3);
    expect(Object.keys(ours[0]!.metrics[0]!)).toEqual(["map", "mrr@10", "ndcg@10"]);
    const binary = ours[5]!.metrics[0]!;
    expect(binary["accuracy_threshold"]).not.toBe(-1);
    expect(binary["accuracy_threshold"]).toBe(Math.fround(binary["accuracy_threshold"]!));
  });

  test("different labels give different metrics, here and in Python alike", () => {
    const agree = ours[6]!.metrics[0]!;
    const opposite = ours[7]!.metrics[0]!;
    // Labels that follow the scores are classified perfectly; their opposite is not.
    for (const m of ["accuracy", "f1", "precision", "recall", "average_precision"]) expect(agree[`agree_${m}`]).toBe(1);
    expect(opposite["opposite_average_precision"]).toBeLessThan(0.5);
    expect(opposite["opposite_accuracy"]).toBeLessThan(1);
    expect(answers[7]!.metrics[0]!["opposite_average_precision"]).toBeLessThan(0.5);
    expect(answers[6]!.metrics[0]!["agree_average_precision"]).toBe(1);
    expect(ours[7]!.primaryMetric).toBe("opposite_average_precision");
    // Random labels land in between.
    expect(ours[5]!.metrics[0]!["average_precision"]).not.toBeCloseTo(1, 2);
  });
});

describe("CrossEncoderNanoBEIREvaluator, its datasets served by a stand-in Hub", () => {
  const NAMES = ["msmarco", "SciFact"];
  let hub: MockHub;
  let ref: Answer;
  let got: { metrics: Record<string, number>[]; primaryMetric: string; files: Record<string, string> };
  const loadOptions = (): { endpoint: string; cacheFolder: string } => ({ endpoint: hub.url, cacheFolder: join(root, "hub-cache") });

  beforeAll(async () => {
    const parquet: Record<string, Buffer> = {};
    for (const [subset, splits] of Object.entries(TABLES)) {
      for (const [split, rows] of Object.entries(splits)) {
        const columns = Object.keys(rows[0]!);
        parquet[`${subset}/${split}/0000.parquet`] = Buffer.from(
          parquetWriteBuffer({ columnData: columns.map((name) => ({ name, data: rows.map((r) => r[name]!), ...(typeof rows[0]![name] === "string" && { type: "STRING" as const }) })) }),
        );
      }
    }
    hub = await startMockHub([{ repoType: "dataset", id: "acme/NanoBEIR-mini", files: { "README.md": "# NanoBEIR, a few rows\n" }, branches: { "refs/convert/parquet": parquet } }]);
    const args = { dataset_names: NAMES, dataset_id: "acme/NanoBEIR-mini", rerank_k: 5, at_k: 3 };
    [ref] = await runPython<Answer[]>(REF, [{ folder: folders.one, evaluator: "nanobeir", args, tables: TABLES, output_path: join(root, "py", "nano"), calls: TWO_CALLS }]);
    const evaluator = new CrossEncoderNanoBEIREvaluator({ datasetNames: NAMES, datasetId: "acme/NanoBEIR-mini", rerankK: 5, atK: 3, loadOptions: loadOptions() });
    const outputPath = join(root, "ts", "nano");
    const metrics: Record<string, number>[] = [];
    for (const call of TWO_CALLS) metrics.push(await evaluator.evaluate(models.one!, { outputPath, ...call }));
    const files: Record<string, string> = {};
    for (const name of (await readdir(outputPath)).sort()) files[name] = await readFile(join(outputPath, name), "utf8");
    got = { metrics, primaryMetric: evaluator.primaryMetric, files };
  }, 300_000);

  afterAll(() => hub?.stop());

  test("per-dataset and aggregated metrics, primary metric and every CSV file equal sentence-transformers'", () => {
    expect(got.primaryMetric).toBe("NanoBEIR_R5_mean_ndcg@3");
    expect(got.primaryMetric).toBe(ref.primary_metric);
    got.metrics.forEach((m, call) => {
      const want = ref.metrics[call]!;
      expect(Object.keys(m)).toEqual(Object.keys(want));
      for (const [key, value] of Object.entries(want)) expect(Math.abs(m[key]! - value!), key).toBeLessThan(1e-5);
    });
    expect(Object.keys(got.metrics[0]!)).toContain("NanoSciFact_R5_base_mrr@3");
    // The datasets differ, and so does the reranking from BM25's order.
    expect(got.metrics[0]!["NanoMSMARCO_R5_map"]).not.toBeCloseTo(got.metrics[0]!["NanoSciFact_R5_map"]!, 4);
    expect(got.metrics[0]!["NanoBEIR_R5_mean_map"]).not.toBeCloseTo(got.metrics[0]!["NanoBEIR_R5_mean_base_map"]!, 4);
    expect(Object.keys(got.files)).toEqual(Object.keys(ref.files));
    expect(Object.keys(got.files)).toEqual(["CrossEncoderRerankingEvaluator_NanoMSMARCO_R5_results_@3.csv", "CrossEncoderRerankingEvaluator_NanoSciFact_R5_results_@3.csv", "NanoBEIR_evaluation_mean_results.csv"]);
    for (const [name, text] of Object.entries(ref.files)) expectCsvAlike(got.files[name]!, text, name.startsWith("NanoBEIR_") ? "\n" : "\r\n");
  });

  test("the data hold no near ties for the model", async () => {
    for (const split of Object.values(NANO)) {
      const text = new Map(TABLES.corpus[split]!.map((r) => [r["_id"], r["text"] as string]));
      for (const [q, row] of TABLES.bm25[split]!.entries()) {
        const query = TABLES.queries[split]![q]!["text"] as string;
        const docs = [...new Set([...(row["corpus-ids"] as string[]), ...TABLES.qrels[split]!.filter((r) => r["query-id"] === row["query-id"]).map((r) => r["corpus-id"] as string)])];
        const scores = ((await models.one!.predict(docs.map((d) => [query, text.get(d)!] as CrossEncoderPair))) as number[]).sort((a, b) => a - b);
        for (let k = 1; k < scores.length; k++) expect(scores[k]! - scores[k - 1]!).toBeGreaterThan(2e-5);
      }
    }
  });

  test("dataset names are checked when built; a dataset without a needed column fails to load, naming it", async () => {
    expect(() => new CrossEncoderNanoBEIREvaluator({ datasetNames: [] })).toThrow(/datasetNames is empty/);
    expect(() => new CrossEncoderNanoBEIREvaluator({ datasetNames: ["msmarco", "nope"] })).toThrow(/\["nope"\] are not NanoBEIR datasets/);
    expect(() => new CrossEncoderNanoBEIREvaluator({ rerankK: 0 })).toThrow(/rerankK/);
    expect(new CrossEncoderNanoBEIREvaluator().datasetNames).toHaveLength(11);
    const broken = Buffer.from(parquetWriteBuffer({ columnData: [{ name: "_id", data: ["x"], type: "STRING" }] }));
    hub.addRepo({ repoType: "dataset", id: "acme/NanoBEIR-broken", files: { "README.md": "x\n" }, branches: { "refs/convert/parquet": { "corpus/NanoNQ/0000.parquet": broken } } });
    const evaluator = new CrossEncoderNanoBEIREvaluator({ datasetNames: ["nq"], datasetId: "acme/NanoBEIR-broken", loadOptions: loadOptions() });
    await expect(evaluator.evaluate(models.one!)).rejects.toThrow(/subset 'corpus' split 'NanoNQ' of 'acme\/NanoBEIR-broken' has no column 'text'/);
    const missing = new CrossEncoderNanoBEIREvaluator({ datasetNames: ["nq"], datasetId: "acme/NanoBEIR-mini", loadOptions: loadOptions() });
    await expect(missing.evaluate(models.one!)).rejects.toThrow(/could not load subset 'corpus' split 'NanoNQ' of 'acme\/NanoBEIR-mini'/);
  });
});

describe("evaluators on a CrossEncoder, without Python", () => {
  test("a CrossEncoder is an EvaluatedCrossEncoder; the correlation of reversed gold scores is the negated one", async () => {
    const model: EvaluatedCrossEncoder = models.one!;
    const forward = await new CrossEncoderCorrelationEvaluator(PAIRS, GOLD).evaluate(model);
    const backward = await new CrossEncoderCorrelationEvaluator(PAIRS, GOLD.map((g) => -g)).evaluate(model);
    expect(backward["pearson"]).toBeCloseTo(-forward["pearson"]!, 12);
    expect(backward["spearman"]).toBeCloseTo(-forward["spearman"]!, 12);
    expect(Math.abs(forward["spearman"]!)).toBeGreaterThan(1e-3);
    const fromExamples = CrossEncoderCorrelationEvaluator.fromInputExamples(PAIRS.map((p, i) => new InputExample({ texts: p, label: GOLD[i]! })));
    expect(await fromExamples.evaluate(model)).toEqual(forward);
  });

  test("one-label evaluators refuse a three-label model, naming what they need", async () => {
    await expect(new CrossEncoderCorrelationEvaluator(PAIRS, GOLD).evaluate(models.three!)).rejects.toThrow(/one label.*has 3/);
    await expect(new CrossEncoderRerankingEvaluator(NEGATIVE_SAMPLES).evaluate(models.three!)).rejects.toThrow(RangeError);
    await expect(new CrossEncoderClassificationEvaluator(PAIRS, CLASSES).evaluate(models.one!)).rejects.toThrow(/labels\[\d+\] is 2/);
  });

  test("a perfect reranker scores 1 and a reversed one less; a ranking that holds no positive scores 0", async () => {
    const samples: RerankingSample[] = [
      { query: "q1", positive: ["a", "b"], negative: ["c", "d", "e"] },
      { query: "q2", positive: [], negative: ["x", "y"] },
    ];
    const byText = (good: boolean): EvaluatedCrossEncoder => ({
      numLabels: 1,
      predict: async (pairs) => pairs.map(([, d]) => ("ab".includes(d) === good ? 10 : 0) + d.charCodeAt(0) / 1000),
    });
    const evaluator = new CrossEncoderRerankingEvaluator(samples, { atK: 3 });
    const perfect = await evaluator.evaluate(byText(true));
    expect(perfect).toEqual({ map: 0.5, "mrr@3": 0.5, "ndcg@3": 0.5 });
    const reversed = await evaluator.evaluate(byText(false));
    expect(reversed["mrr@3"]).toBe(0);
    expect(reversed["map"]).toBeLessThan(0.5);
  });
});

describe("argument checks name the argument", () => {
  test("reranking samples and options", () => {
    const ok: RerankingSample = { query: "q", positive: ["a"], negative: ["b"] };
    expect(() => new CrossEncoderRerankingEvaluator([])).toThrow(/samples is empty/);
    expect(() => new CrossEncoderRerankingEvaluator([{ query: "q", positive: ["a"] } as RerankingSample])).toThrow(/samples\[0\] must have exactly one of 'negative' and 'documents'/);
    expect(() => new CrossEncoderRerankingEvaluator([ok, { query: "q", positive: ["a"], negative: ["b"], documents: ["a"] }])).toThrow(/samples\[1\]/);
    expect(() => new CrossEncoderRerankingEvaluator([{ positive: ["a"], negative: [] } as unknown as RerankingSample])).toThrow(/samples\[0\] has no 'query'/);
    expect(() => new CrossEncoderRerankingEvaluator([{ query: "q", positive: [1], negative: [] } as unknown as RerankingSample])).toThrow(/samples\[0\]\.positive\[0\]/);
    expect(() => new CrossEncoderRerankingEvaluator([{ query: "q", positive: "a", negative: [] }])).toThrow(/one document to rank/);
    expect(() => new CrossEncoderRerankingEvaluator([{ query: "q", positive: "a", documents: [] }])).toThrow(/documents is empty/);
    expect(() => new CrossEncoderRerankingEvaluator([ok], { atK: 0 })).toThrow(RangeError);
    expect(() => new CrossEncoderRerankingEvaluator([ok], { atK: 0 })).toThrow(/atK/);
    expect(() => new CrossEncoderRerankingEvaluator([ok], { batchSize: 1.5 })).toThrow(/batchSize/);
    expect(() => new CrossEncoderRerankingEvaluator([ok], { alwaysRerankPositives: "yes" as unknown as boolean })).toThrow(TypeError);
    expect(new CrossEncoderRerankingEvaluator({ a: ok, b: ok }).samples).toHaveLength(2);
    // The primary metric is known from the arguments, name prefix included.
    expect(new CrossEncoderRerankingEvaluator([ok], { name: "dev", atK: 5 }).primaryMetric).toBe("dev_ndcg@5");
    expect(new CrossEncoderCorrelationEvaluator([["a", "b"], ["c", "d"]], [0, 1]).primaryMetric).toBe("spearman");
  });

  test("pairs, scores and labels", () => {
    const pairs: CrossEncoderPair[] = [
      ["a", "b"],
      ["c", "d"],
    ];
    expect(() => new CrossEncoderCorrelationEvaluator([["a"]] as unknown as CrossEncoderPair[], [1])).toThrow(/sentencePairs\[0\]/);
    expect(() => new CrossEncoderCorrelationEvaluator(pairs, [1])).toThrow(/scores has 1/);
    expect(() => new CrossEncoderCorrelationEvaluator(pairs, [1, Number.NaN])).toThrow(/scores\[1\]/);
    expect(() => new CrossEncoderCorrelationEvaluator([pairs[0]!], [1])).toThrow(/at least 2/);
    expect(() => new CrossEncoderClassificationEvaluator(pairs, [0, -1])).toThrow(/labels\[1\]/);
    expect(() => new CrossEncoderClassificationEvaluator(pairs, [0, 0.5])).toThrow(RangeError);
    expect(() => new CrossEncoderClassificationEvaluator(pairs, [0])).toThrow(/labels has 1/);
    expect(() => new CrossEncoderClassificationEvaluator(pairs, [0, 1], { name: 3 as unknown as string })).toThrow(/name/);
  });
});

describe("helpers", () => {
  test("ndcgScore averages tied scores and cuts at k; f1Score's averages", () => {
    // One relevant document tied with an irrelevant one at the top: half of each of the first two discounts.
    expect(ndcgScore([1, 0, 0], [1, 1, 0])).toBeCloseTo((1 + 1 / Math.log2(3)) / 2, 12);
    expect(ndcgScore([0, 1, 0], [3, 2, 1], 1)).toBe(0);
    expect(ndcgScore([0, 0, 0], [3, 2, 1])).toBe(0);
    expect(() => ndcgScore([1], [1])).toThrow(/at least two values/);
    expect(f1Score([0, 0, 1, 2], [0, 1, 1, 1], "micro")).toBeCloseTo(0.5, 12);
    expect(f1Score([0, 0, 1, 2], [0, 1, 1, 1], "macro")).toBeCloseTo((2 / 3 + 2 / 4 + 0) / 3, 12);
    expect(f1Score([0, 0, 1, 2], [0, 1, 1, 1], "weighted")).toBeCloseTo((2 * (2 / 3) + 0.5) / 4, 12);
  });

  test("formatNumpyFloat32 writes the fewest digits that read back as the float32", () => {
    expect(formatNumpyFloat32(0.1)).toBe("0.1");
    expect(formatNumpyFloat32(Math.fround(0.1) + Math.fround(0.2))).toBe("0.3");
    expect(formatNumpyFloat32(Math.fround(0.51234567))).toBe("0.5123457");
    expect(formatNumpyFloat32(1)).toBe("1.0");
    expect(formatNumpyFloat32(1e-5)).toBe("1e-05");
    // numpy's float32 bounds for positional digits: from 1e-4 (the float32 nearest 0.0001 is below it) to 1e6.
    expect(formatNumpyFloat32(0.0001)).toBe("1e-04");
    expect(formatNumpyFloat32(0.00011)).toBe("0.00011");
    expect(formatNumpyFloat32(999999.9)).toBe("999999.9");
    expect(formatNumpyFloat32(1e6)).toBe("1e+06");
    expect(formatNumpyFloat32(-123456789)).toBe("-1.2345679e+08");
  });
});
