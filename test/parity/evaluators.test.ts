// MSEEvaluator, TranslationEvaluator, ParaphraseMiningEvaluator and RerankingEvaluator against
// sentence-transformers' own (py/evaluators_ref.py) on the same random-init model folders and data: every metric
// within 1e-5 on each of two calls, the same primary metric and CSV file name, the same CSV header, and CSV rows
// with the same cells (ints equal, floats within 1e-5). The data keep every score that decides a ranking more than
// 1e-5 from the next (checked here), so float differences between the two stacks cannot reorder anything.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, evaluation } from "../../lib/index.js";
import { cosSim, dotScore } from "../../lib/util/index.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";

const SCRIPT = fileURLToPath(new URL("py/evaluators_ref.py", import.meta.url));
const TOL = 1e-5;
const MIN_GAP = 1e-5;
const CALLS = [
  { epoch: -1, steps: -1 },
  { epoch: 2, steps: 10 },
];

// Paraphrase mining: 14 sentences, some pairs rephrasings of each other (91 pairs, all mined by default).
const PM: Array<[string, string]> = [
  ["q0", "Una ragazza si acconcia i capelli."],
  ["q1", "Una ragazza si sta spazzolando i capelli."],
  ["q2", "Un uomo suona la chitarra."],
  ["q3", "Un uomo sta suonando una chitarra."],
  ["q4", "Il gatto dorme sul divano."],
  ["q5", "Un gatto dorme sul sofà."],
  ["q6", "La città è piena di gente oggi."],
  ["q7", "Due donne parlano."],
  ["q8", "Due donne chiacchierano al bar."],
  ["q9", "Il treno parte alle otto."],
  ["q10", "Mangio una mela rossa."],
  ["q11", "La pioggia cade forte stanotte."],
  ["q12", "Leggo un libro di storia."],
  ["q13", "Un bambino gioca con il cane nel parco."],
];
// (q0, x9) names an id that is not among the sentences: it is ignored.
const DUPLICATES: Array<[string, string]> = [["q0", "q1"], ["q2", "q3"], ["q4", "q5"], ["q7", "q8"], ["q0", "x9"]];
const WRONG_DUPLICATES: Array<[string, string]> = [["q0", "q9"], ["q2", "q11"], ["q4", "q12"], ["q7", "q13"]];
// A chain q2~q3~q5 (and an explicit false q6→q7, which the closure still follows as sbert does).
const DUPLICATES_DICT = { q2: { q3: true }, q3: { q5: true }, q6: { q7: false }, q7: { q10: true } };

const SOURCES = [
  "Un uomo suona la chitarra.",
  "Il gatto dorme sul divano.",
  "Due donne parlano.",
  "Il treno parte alle otto.",
  "Mangio una mela rossa.",
  "La pioggia cade forte stanotte.",
  "Leggo un libro di storia.",
  "Un bambino gioca con il cane nel parco.",
  "La città è piena di gente oggi.",
  "Una ragazza si acconcia i capelli.",
];
// The first six are rephrasings; the last four are unrelated, so some matches fail.
const TARGETS = [
  "Un uomo sta suonando una chitarra.",
  "Un gatto dorme sul divano.",
  "Due donne parlano tra loro.",
  "Il treno parte alle otto di sera.",
  "Mangio una mela.",
  "La pioggia cade forte.",
  "Domani andiamo al mare.",
  "Il computer è spento.",
  "Preferisco il tè al caffè.",
  "Nevica sulle montagne.",
];

const RERANK: Array<evaluation.RerankingSample & { positive: string[]; negative: string[] }> = [
  {
    query: "Chi suona la chitarra?",
    positive: ["Un uomo suona la chitarra.", "Un uomo sta suonando una chitarra."],
    negative: ["Il treno parte alle otto.", "Mangio una mela rossa.", "Due donne parlano."],
  },
  {
    query: "Dove dorme il gatto?",
    positive: ["Il gatto dorme sul divano."],
    negative: ["La pioggia cade forte stanotte.", "Leggo un libro di storia.", "Un gatto dorme sul sofà.", "Nevica sulle montagne."],
  },
  {
    query: "Cosa fa la ragazza?",
    positive: ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli.", "La ragazza si pettina."],
    negative: ["Un bambino gioca con il cane nel parco.", "Il computer è spento."],
  },
  { query: "Quando parte il treno?", positive: ["Il treno parte alle otto."], negative: [] },
  {
    query: "Che tempo fa stanotte?",
    positive: ["La pioggia cade forte stanotte."],
    negative: ["Domani andiamo al mare.", "Nevica sulle montagne.", "Preferisco il tè al caffè.", "Due donne chiacchierano al bar.", "Il gatto dorme sul divano."],
  },
  {
    query: "Che cosa mangi?",
    positive: ["Mangio una mela rossa.", "Mangio una mela."],
    negative: ["Leggo un libro di storia.", "La città è piena di gente oggi.", "Un uomo suona la chitarra."],
  },
];
const SWAPPED = RERANK.map((s) => ({ query: s.query, positive: s.negative, negative: s.positive }));

type Json = Record<string, unknown>;
interface Case {
  label: string;
  evaluator: "mse" | "translation" | "paraphrase_mining" | "reranking";
  pyArgs: Json;
  build: () => evaluation.SentenceEvaluator;
}

let root: string;
let student: SentenceTransformer;
let teacher: SentenceTransformer;
let teacherEmbeddings: Float32Array[];

const pmMap = () => new Map(PM);
const CASES: Case[] = [
  {
    label: "MSE, teacher model",
    evaluator: "mse",
    pyArgs: { source_sentences: SOURCES, target_sentences: TARGETS },
    build: () => new evaluation.MSEEvaluator(SOURCES, TARGETS, teacher),
  },
  {
    label: "MSE, named, truncated to 16, batch size 4",
    evaluator: "mse",
    pyArgs: { source_sentences: SOURCES, target_sentences: TARGETS, name: "distill", truncate_dim: 16, batch_size: 4 },
    build: () => new evaluation.MSEEvaluator(SOURCES, TARGETS, teacher, { name: "distill", truncateDim: 16, batchSize: 4 }),
  },
  {
    label: "MSE, the teacher's embeddings given",
    evaluator: "mse",
    pyArgs: { source_sentences: SOURCES, target_sentences: SOURCES, name: "given" },
    build: () => new evaluation.MSEEvaluator(SOURCES, SOURCES, teacherEmbeddings, { name: "given" }),
  },
  {
    label: "translation",
    evaluator: "translation",
    pyArgs: { source_sentences: SOURCES, target_sentences: TARGETS },
    build: () => new evaluation.TranslationEvaluator(SOURCES, TARGETS),
  },
  {
    label: "translation, named, truncated to 8",
    evaluator: "translation",
    pyArgs: { source_sentences: SOURCES, target_sentences: TARGETS, name: "it-it", truncate_dim: 8, batch_size: 3 },
    build: () => new evaluation.TranslationEvaluator(SOURCES, TARGETS, { name: "it-it", truncateDim: 8, batchSize: 3 }),
  },
  {
    label: "paraphrase mining, duplicates list",
    evaluator: "paraphrase_mining",
    pyArgs: { sentences_map: Object.fromEntries(PM), duplicates_list: DUPLICATES },
    build: () => new evaluation.ParaphraseMiningEvaluator(pmMap(), { duplicatesList: DUPLICATES }),
  },
  {
    label: "paraphrase mining, small chunks, top 3, at most 20 pairs, named",
    evaluator: "paraphrase_mining",
    pyArgs: {
      sentences_map: Object.fromEntries(PM),
      duplicates_list: DUPLICATES,
      query_chunk_size: 4,
      corpus_chunk_size: 6,
      top_k: 3,
      max_pairs: 20,
      name: "chunked",
    },
    build: () =>
      new evaluation.ParaphraseMiningEvaluator(pmMap(), {
        duplicatesList: DUPLICATES,
        queryChunkSize: 4,
        corpusChunkSize: 6,
        topK: 3,
        maxPairs: 20,
        name: "chunked",
      }),
  },
  {
    label: "paraphrase mining, duplicates dict with transitive closure, truncated to 16",
    evaluator: "paraphrase_mining",
    pyArgs: { sentences_map: Object.fromEntries(PM), duplicates_dict: DUPLICATES_DICT, add_transitive_closure: true, truncate_dim: 16 },
    build: () => new evaluation.ParaphraseMiningEvaluator(pmMap(), { duplicatesDict: DUPLICATES_DICT, addTransitiveClosure: true, truncateDim: 16 }),
  },
  {
    label: "paraphrase mining, wrong duplicates",
    evaluator: "paraphrase_mining",
    pyArgs: { sentences_map: Object.fromEntries(PM), duplicates_list: WRONG_DUPLICATES, name: "wrong" },
    build: () => new evaluation.ParaphraseMiningEvaluator(pmMap(), { duplicatesList: WRONG_DUPLICATES, name: "wrong" }),
  },
  {
    label: "paraphrase mining, no duplicate among the sentences (Python ints in the CSV)",
    evaluator: "paraphrase_mining",
    pyArgs: { sentences_map: Object.fromEntries(PM), duplicates_list: [["q0", "x9"]], name: "none" },
    build: () => new evaluation.ParaphraseMiningEvaluator(pmMap(), { duplicatesList: [["q0", "x9"]], name: "none" }),
  },
  {
    label: "reranking (a sample without negatives left out)",
    evaluator: "reranking",
    pyArgs: { samples: RERANK },
    build: () => new evaluation.RerankingEvaluator(RERANK),
  },
  {
    label: "reranking, at 2, dot product, one sample at a time, named, truncated to 16",
    evaluator: "reranking",
    pyArgs: { samples: RERANK, at_k: 2, similarity_fct: "dot", use_batched_encoding: false, name: "dev", truncate_dim: 16, batch_size: 2 },
    build: () =>
      new evaluation.RerankingEvaluator(RERANK, { atK: 2, similarityFct: "dot", useBatchedEncoding: false, name: "dev", truncateDim: 16, batchSize: 2 }),
  },
  {
    label: "reranking, positives and negatives swapped, at 1",
    evaluator: "reranking",
    pyArgs: { samples: SWAPPED, at_k: 1, name: "swapped" },
    build: () => new evaluation.RerankingEvaluator(SWAPPED, { atK: 1, name: "swapped" }),
  },
];

interface Reference {
  metrics: Array<Record<string, number | "nan">>;
  primary_metric: string;
  greater_is_better: boolean;
  csv_file: string;
  csv: string;
}

interface Ours {
  metrics: Array<Record<string, number>>;
  primaryMetric: string;
  greaterIsBetter: boolean;
  csvFile: string;
  csv: string;
}

const refs = new Map<string, Reference>();
const ours = new Map<string, Ours>();

function csvFileOf(e: evaluation.SentenceEvaluator): string {
  return (e as unknown as { csvFile: string }).csvFile;
}

beforeAll(async () => {
  root = await tempDir();
  const studentDir = join(root, "student");
  const teacherDir = join(root, "teacher");
  // A Dense + tanh head spreads the random-init cosine similarities (0.69–0.97 on the mining sentences).
  await makeSentenceTransformerFolder(studentDir, { dense: { outFeatures: 32, activation: "tanh" }, bert: { seed: 25 } });
  await makeSentenceTransformerFolder(teacherDir, { dense: { outFeatures: 32, activation: "tanh" }, bert: { seed: 28 } });
  student = await SentenceTransformer.load(studentDir);
  teacher = await SentenceTransformer.load(teacherDir);
  teacherEmbeddings = await teacher.encode(SOURCES);

  const jobs = CASES.map((c, i) => ({
    evaluator: c.evaluator,
    model: studentDir,
    teacher: teacherDir,
    args: c.pyArgs,
    output_path: join(root, "py", String(i)),
    calls: CALLS,
  }));
  const results = await runPython<Reference[]>(SCRIPT, jobs);
  CASES.forEach((c, i) => refs.set(c.label, results[i]!));

  for (const [i, c] of CASES.entries()) {
    const evaluator = c.build();
    const out = join(root, "js", String(i));
    const metrics: Array<Record<string, number>> = [];
    for (const call of CALLS) metrics.push(await evaluator.evaluate(student, { outputPath: out, ...call }));
    ours.set(c.label, {
      metrics,
      primaryMetric: evaluator.primaryMetric,
      greaterIsBetter: evaluator.greaterIsBetter,
      csvFile: csvFileOf(evaluator),
      csv: await readFile(join(out, csvFileOf(evaluator)), "utf8"),
    });
  }
}, 600_000);

afterAll(() => {
  student?.dispose();
  teacher?.dispose();
});

function expectClose(actual: number, expected: number | "nan", what: string): void {
  if (expected === "nan") expect(Number.isNaN(actual), what).toBe(true);
  else expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(TOL);
}

/** Header equal; in the rows, Python ints equal as text, floats within TOL and written as floats. */
function expectSameCsv(csv: string, ref: string, what: string): void {
  expect(csv.endsWith("\r\n"), `${what}: lines end with \\r\\n`).toBe(true);
  const lines = csv.split("\r\n").slice(0, -1);
  const refLines = ref.split("\r\n").slice(0, -1);
  expect(lines.length, `${what}: line count`).toBe(refLines.length);
  expect(lines[0], `${what}: header`).toBe(refLines[0]);
  for (let r = 1; r < refLines.length; r++) {
    const cells = lines[r]!.split(",");
    const refCells = refLines[r]!.split(",");
    expect(cells.length, `${what}: row ${r} cells`).toBe(refCells.length);
    refCells.forEach((refCell, c) => {
      const where = `${what}: row ${r} cell ${c}`;
      const cell = cells[c]!;
      if (/^-?\d+$/.test(refCell)) expect(cell, where).toBe(refCell);
      else {
        expect(cell, `${where} is written as a float`).toMatch(/^-?(\d+\.\d+(e[-+]\d+)?|\de[-+]\d+|nan)$/);
        expectClose(Number(cell === "nan" ? NaN : cell), refCell === "nan" ? "nan" : Number(refCell), where);
      }
    });
  }
}

describe("the data decide every ranking by more than 1e-5", () => {
  const minGap = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    let gap = Infinity;
    for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i]! - sorted[i - 1]!);
    return gap;
  };

  test("paraphrase mining: all pair scores, full and truncated to 16", async () => {
    for (const dim of [32, 16]) {
      const e = (await student.encode(PM.map(([, s]) => s))).map((v) => v.subarray(0, dim));
      const s = cosSim(e, e);
      const pairs = s.flatMap((row, i) => row.filter((_, j) => j > i));
      expect(minGap(pairs), `dim ${dim}`).toBeGreaterThan(MIN_GAP);
    }
  });

  test("translation: each row's and column's best and second best", async () => {
    for (const dim of [32, 8]) {
      const src = (await student.encode(SOURCES)).map((v) => v.subarray(0, dim));
      const trg = (await student.encode(TARGETS)).map((v) => v.subarray(0, dim));
      const s = cosSim(src, trg);
      const lines = [...s, ...s[0]!.map((_, j) => s.map((row) => row[j]!))];
      for (const line of lines) {
        const [a, b] = [...line].sort((x, y) => y - x);
        expect(a! - b!, `dim ${dim}`).toBeGreaterThan(MIN_GAP);
      }
    }
  });

  test("reranking: the documents of each query, cosine and dot product", async () => {
    for (const sample of RERANK.filter((s) => s.negative.length > 0)) {
      for (const [fn, dim] of [[cosSim, 32], [dotScore, 16]] as const) {
        const [q] = (await student.encode([sample.query])).map((v) => v.subarray(0, dim));
        const docs = (await student.encode([...sample.positive, ...sample.negative])).map((v) => v.subarray(0, dim));
        expect(minGap(fn(q!, docs)[0]!), sample.query).toBeGreaterThan(MIN_GAP);
      }
    }
  });
});

describe("evaluators equal sentence-transformers 6.0.1's", () => {
  test.each(CASES.map((c) => c.label))("%s", (label) => {
    const ref = refs.get(label)!;
    const our = ours.get(label)!;
    expect(our.primaryMetric).toBe(ref.primary_metric);
    expect(our.greaterIsBetter).toBe(ref.greater_is_better);
    expect(our.csvFile).toBe(ref.csv_file);
    CALLS.forEach((_, k) => {
      expect(Object.keys(our.metrics[k]!).sort(), `call ${k} keys`).toEqual(Object.keys(ref.metrics[k]!).sort());
      for (const [key, value] of Object.entries(ref.metrics[k]!)) expectClose(our.metrics[k]![key]!, value, `call ${k} ${key}`);
    });
    expect(our.metrics[0]![our.primaryMetric]).toBeDefined();
    expectSameCsv(our.csv, ref.csv, label);
  });

  test("the cases tell models and data apart (metrics neither constant nor trivial)", () => {
    const first = (label: string) => refs.get(label)!.metrics[0]!;
    const m = (label: string) => ours.get(label)!.metrics[0]!;
    // MSE: truncation changes the error; identical sentences through different models are not zero.
    expect(Math.abs(m("MSE, teacher model")["negative_mse"]! - m("MSE, named, truncated to 16, batch size 4")["distill_negative_mse"]!)).toBeGreaterThan(0.01);
    expect(m("MSE, the teacher's embeddings given")["given_negative_mse"]!).toBeLessThan(-0.01);
    // Translation: some matches right, some wrong.
    const t = first("translation");
    for (const key of ["src2trg_accuracy", "trg2src_accuracy"]) {
      expect(t[key]).toBeGreaterThan(0);
      expect(t[key]).toBeLessThan(1);
    }
    // Paraphrase mining: wrong duplicates lower F1 and AP; the closure and the chunked search change the numbers.
    const pm = m("paraphrase mining, duplicates list");
    const wrong = m("paraphrase mining, wrong duplicates");
    expect(pm["f1"]! - wrong["wrong_f1"]!).toBeGreaterThan(0.05);
    expect(pm["average_precision"]! - wrong["wrong_average_precision"]!).toBeGreaterThan(0.05);
    expect(pm["f1"]).toBeLessThan(1);
    const closure = m("paraphrase mining, duplicates dict with transitive closure, truncated to 16");
    expect(closure["average_precision"]).not.toBeCloseTo(pm["average_precision"]!, 3);
    const chunked = m("paraphrase mining, small chunks, top 3, at most 20 pairs, named");
    expect(chunked["chunked_average_precision"]).not.toBeCloseTo(pm["average_precision"]!, 3);
    // Reranking: swapping relevance lowers MAP; metrics below 1.
    const rr = m("reranking (a sample without negatives left out)");
    expect(rr["map"]!).toBeLessThan(1);
    expect(rr["map"]! - m("reranking, positives and negatives swapped, at 1")["swapped_map"]!).toBeGreaterThan(0.05);
  });
});
