// util.mineHardNegatives against sentence-transformers 6's mine_hard_negatives (py/hard_negatives_ref.py) on the
// same random-init model folders: the same rows, texts and columns, scores within 1e-5.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test, vi } from "vitest";

import { CrossEncoder, Dataset, SentenceTransformer } from "../../lib/index.js";
import { mineHardNegatives, type MineHardNegativesOptions } from "../../lib/util/index.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";

const REFERENCE = fileURLToPath(new URL("py/hard_negatives_ref.py", import.meta.url));
const TOL = 1e-5;

// Two anchors with two positives each, one (anchor, positive) row twice, one positive shared by two anchors.
const PAIRS: Array<[string, string]> = [
  ["where is the river", "the river runs under the old road"],
  ["where is the river", "a long river goes to the sea"],
  ["who plays music", "the young man played music at home"],
  ["what do cats eat", "cats like food and water"],
  ["what do dogs eat", "cats like food and water"],
  ["the weather today", "rain and snow in the mountain"],
  ["when is the train", "the train to rome leaves at night"],
  ["when is the train", "the train to rome leaves at night"],
  ["la città di notte", "roma è una bella città"],
  ["un libro per la scuola", "il ragazzo legge un libro a scuola"],
  ["il gatto dorme", "il gatto nero dorme sulla casa"],
  ["il cane corre", "il cane corre nel parco"],
  ["cosa mangiare oggi", "pasta e pizza con il vino"],
  ["where do students learn", "students learn in school"],
  ["search for a document", "the search found the document"],
  ["sentence embedding models", "a model makes embeddings of sentences"],
  ["la famiglia felice", "padre madre e figlio sono felici"],
  ["the sun in the sky", "the sun is hot and the sky is blue"],
  ["the sun in the sky", "the moon is white at night"],
  ["a fast car", "the red car is very fast"],
];
const EXTRA_CORPUS = [
  "a green tree near the river",
  "il mare è blu e il cielo è bianco",
  "cats like food and water",
  "the old house on the small street",
  "gli amici mangiano la pizza a napoli",
  "a dog runs in the snow",
  "the students read books at school",
  "music and love in london",
];
const COLUMNS = { query: PAIRS.map((p) => p[0]), answer: PAIRS.map((p) => p[1]) };
// The same pairs under other names, in another order, beside a column that is neither.
const RENAMED = { id: PAIRS.map((_, i) => i), positive_text: COLUMNS.answer, anchor_text: COLUMNS.query };

interface Case {
  name: string;
  options: MineHardNegativesOptions;
  data?: Record<string, unknown[]>;
  corpus?: boolean;
  crossEncoder?: boolean;
  /** Also compare what both print (the statistics and the notes on skipped candidates). */
  verbose?: boolean;
}

// Scores of the cosine model lie in about [0.87, 0.97], the cross-encoder's in [0.47, 0.56]; the bounds below sit
// away from every candidate's score.
const COSINE_CASES: Case[] = [
  { name: "triplet, defaults", options: {} },
  { name: "triplet with scores", options: { outputScores: true, numNegatives: 4 } },
  { name: "n-tuple, rangeMin and rangeMax, scores", options: { outputFormat: "n-tuple", numNegatives: 4, rangeMin: 2, rangeMax: 10, outputScores: true } },
  { name: "labeled-pair, labels", options: { outputFormat: "labeled-pair", numNegatives: 2 } },
  { name: "labeled-pair, scores, maxScore", options: { outputFormat: "labeled-pair", outputScores: true, maxScore: 0.94 } , verbose: true },
  { name: "labeled-list, labels, absoluteMargin 0", options: { outputFormat: "labeled-list", absoluteMargin: 0 } },
  { name: "labeled-list, scores, relativeMargin", options: { outputFormat: "labeled-list", outputScores: true, relativeMargin: 0.01, numNegatives: 5 } , verbose: true },
  { name: "n-tuple, negative absoluteMargin and minScore", options: { outputFormat: "n-tuple", absoluteMargin: -0.02, minScore: 0.9, numNegatives: 2, outputScores: true } , verbose: true },
  { name: "triplet, maxScore and minScore, rangeMax", options: { maxScore: 0.945, minScore: 0.91, rangeMax: 12, outputScores: true } , verbose: true },
  { name: "includePositives (n-tuple)", options: { includePositives: true, numNegatives: 5, outputScores: true } },
  { name: "a separate corpus", options: { outputFormat: "n-tuple", numNegatives: 3, outputScores: true }, corpus: true },
  { name: "a separate corpus, labeled-pair, margin", options: { outputFormat: "labeled-pair", outputScores: true, absoluteMargin: 0.005 }, corpus: true , verbose: true },
  { name: "queryPromptName and corpusPrompt", options: { queryPromptName: "other", corpusPrompt: "doc: ", outputScores: true } },
  { name: "queryPrompt and corpusPromptName", options: { queryPrompt: "q: ", corpusPromptName: "other", outputFormat: "labeled-list", outputScores: true } },
  { name: 'legacy outputFormat "n-tuple-scores"', options: { outputFormat: "n-tuple-scores", numNegatives: 2 } },
  { name: "legacy asTriplets: false", options: { asTriplets: false, numNegatives: 2 } },
  { name: "legacy margin", options: { margin: 0, outputFormat: "labeled-list", outputScores: true } },
  { name: "named columns among three", options: { anchorColumnName: "anchor_text", positiveColumnName: "positive_text", outputScores: true }, data: RENAMED },
  { name: "a cross-encoder without margins or maxScore scores nothing", options: { outputScores: true }, crossEncoder: true },
  { name: "cross-encoder rescoring, maxScore", options: { maxScore: 0.53, outputFormat: "labeled-list", outputScores: true, numNegatives: 5 }, crossEncoder: true },
  { name: "cross-encoder rescoring, absoluteMargin", options: { absoluteMargin: -0.03, outputScores: true }, crossEncoder: true , verbose: true },
  { name: "cross-encoder rescoring, relativeMargin, n-tuple", options: { relativeMargin: -0.05, outputFormat: "n-tuple", numNegatives: 2, outputScores: true }, crossEncoder: true },
];

// Euclidean scores are negative distances: the relative margin's bound lies below the positive's score.
const EUCLIDEAN_CASES: Case[] = [
  { name: "euclidean, triplet with scores", options: { outputScores: true } },
  { name: "euclidean, relativeMargin", options: { relativeMargin: 0.05, outputFormat: "labeled-list", outputScores: true, numNegatives: 4 } , verbose: true },
];

interface Reference {
  columns: string[];
  rows: Array<Record<string, unknown>>;
  printed: string;
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function toKwargs(options: MineHardNegativesOptions, verbose: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { verbose };
  for (const [key, value] of Object.entries(options)) out[snake(key)] = value;
  return out;
}

/** Python's printed lines with the options named as here. */
function camelLines(printed: string): string[] {
  const names = ["rangeMin", "rangeMax", "absoluteMargin", "relativeMargin", "maxScore", "minScore"];
  return printed
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => names.reduce((line, n) => line.replaceAll(snake(n), n), l));
}

/** Equal strings, numbers within TOL, lists element by element. */
function expectSame(ours: unknown, ref: unknown, where: string): void {
  if (typeof ref === "number") {
    expect(typeof ours, where).toBe("number");
    expect(Math.abs((ours as number) - ref), `${where}: ${String(ours)} vs ${ref}`).toBeLessThanOrEqual(TOL);
  } else if (Array.isArray(ref)) {
    expect(Array.isArray(ours), where).toBe(true);
    expect((ours as unknown[]).length, where).toBe(ref.length);
    ref.forEach((r, i) => expectSame((ours as unknown[])[i], r, `${where}[${i}]`));
  } else {
    expect(ours, where).toEqual(ref);
  }
}

function expectSameDataset(ours: Dataset, ref: Reference): void {
  expect(ours.columnNames).toEqual(ref.columns);
  expect(ours.length).toBe(ref.rows.length);
  ref.rows.forEach((row, i) => {
    const mine = ours.row(i);
    for (const c of ref.columns) expectSame(mine[c], row[c], `row ${i} ${c}`);
  });
}

let cosineDir: string;
let euclideanDir: string;
let crossEncoderDir: string;
let threeLabelDir: string;
const references = new Map<string, Reference>();

async function reference(model: string, cases: Case[]): Promise<void> {
  const { results } = await runPython<{ results: Reference[] }>(REFERENCE, {
    model,
    cross_encoder: crossEncoderDir,
    cases: cases.map((c) => ({ dataset: c.data ?? COLUMNS, corpus: c.corpus ? EXTRA_CORPUS : null, cross_encoder: c.crossEncoder ?? false, kwargs: toKwargs(c.options, c.verbose ?? false) })),
  });
  cases.forEach((c, i) => references.set(c.name, results[i]!));
}

beforeAll(async () => {
  const root = await tempDir();
  cosineDir = join(root, "cosine");
  euclideanDir = join(root, "euclidean");
  crossEncoderDir = join(root, "cross-encoder");
  threeLabelDir = join(root, "cross-encoder-3");
  const prompts = { query: "query: ", document: "passage: ", other: "other: " };
  await makeSentenceTransformerFolder(cosineDir, { prompts, bert: { seed: 5 } });
  await makeSentenceTransformerFolder(euclideanDir, { prompts, similarityFnName: "euclidean", bert: { seed: 6 } });
  await makeCrossEncoderFolder(crossEncoderDir, { bert: { seed: 9 } });
  await makeCrossEncoderFolder(threeLabelDir, { numLabels: 3, bert: { seed: 9 } });
  await reference(cosineDir, COSINE_CASES);
  await reference(euclideanDir, EUCLIDEAN_CASES);
});

describe("mineHardNegatives against sentence-transformers (sampling 'top')", () => {
  for (const [modelName, cases] of [["cosine", COSINE_CASES], ["euclidean", EUCLIDEAN_CASES]] as const) {
    test.each(cases.map((c) => [c.name, c] as const))("%s", async (_, c) => {
      const model = await SentenceTransformer.load(modelName === "cosine" ? cosineDir : euclideanDir);
      const crossEncoder = c.crossEncoder ? await CrossEncoder.load(crossEncoderDir) : undefined;
      try {
        const ref = references.get(c.name)!;
        // Every case keeps some rows, so each compares texts and scores.
        expect(ref.rows.length).toBeGreaterThan(0);
        const verbose = c.verbose ?? false;
        const options: MineHardNegativesOptions = { ...c.options, verbose, ...(c.corpus ? { corpus: EXTRA_CORPUS } : {}), ...(crossEncoder ? { crossEncoder } : {}) };
        const printed: string[] = [];
        const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args.join(" ")));
        let ours: Dataset;
        try {
          ours = await mineHardNegatives(Dataset.fromColumns(c.data ?? COLUMNS), model, options);
        } finally {
          log.mockRestore();
        }
        expectSameDataset(ours, ref);
        if (verbose) {
          expect(printed.join("\n")).toContain("Metric");
          expect(printed).toEqual(camelLines(ref.printed));
        }
      } finally {
        model.dispose();
        crossEncoder?.dispose();
      }
    });
  }

  test("the filters change the result: margins and score bounds drop candidates the defaults keep", () => {
    const plain = references.get("triplet with scores")!;
    const bounded = references.get("triplet, maxScore and minScore, rangeMax")!;
    const negatives = (r: Reference): number[] => r.rows.map((row) => (row["scores"] as number[])[1]!);
    expect(Math.max(...negatives(plain))).toBeGreaterThan(0.945);
    for (const s of negatives(bounded)) expect(s >= 0.91 && s <= 0.945).toBe(true);
  });
});

describe("mineHardNegatives, random sampling", () => {
  const BOUNDS: MineHardNegativesOptions = { rangeMin: 1, rangeMax: 9, maxScore: 0.945, outputFormat: "labeled-list", outputScores: true, verbose: false };

  test("draws among the candidates 'top' would allow: within the range and bounds, no positive, best first, seeded", async () => {
    const model = await SentenceTransformer.load(cosineDir);
    try {
      const dataset = Dataset.fromColumns(COLUMNS);
      // Every allowed candidate of each (anchor, positive) row: the whole window after rangeMin.
      const window = await mineHardNegatives(dataset, model, { ...BOUNDS, numNegatives: 8 });
      const allowed = new Map<string, Map<string, number>>();
      for (const row of window) {
        const docs = row["answer"] as string[];
        const scores = row["scores"] as number[];
        allowed.set(`${row["query"]}\u0000${docs[0]}`, new Map(docs.slice(1).map((d, i) => [d, scores[i + 1]!])));
      }
      const positivesOf = (q: string): string[] => PAIRS.filter((p) => p[0] === q).map((p) => p[1]);

      const runs: string[] = [];
      for (const seed of [1, 2, 3, 4, 5]) {
        const drawn = await mineHardNegatives(dataset, model, { ...BOUNDS, numNegatives: 3, samplingStrategy: "random", seed });
        expect(drawn.columnNames).toEqual(["query", "answer", "scores"]);
        expect(drawn.length).toBeGreaterThan(0);
        for (const row of drawn) {
          const q = row["query"] as string;
          const [positive, ...negatives] = row["answer"] as string[];
          const [, ...scores] = row["scores"] as number[];
          const pool = allowed.get(`${q}\u0000${positive}`)!;
          expect(pool, `${q} / ${positive}`).toBeDefined();
          expect(negatives.length).toBe(Math.min(3, pool.size));
          expect(new Set(negatives).size).toBe(negatives.length);
          for (const [i, n] of negatives.entries()) {
            expect(positivesOf(q)).not.toContain(n);
            expect(pool.has(n), `${n} is not a candidate of ${q}`).toBe(true);
            expect(Math.abs(scores[i]! - pool.get(n)!)).toBeLessThanOrEqual(1e-12);
            expect(scores[i]!).toBeLessThanOrEqual(0.945);
            if (i > 0) expect(scores[i]!).toBeLessThanOrEqual(scores[i - 1]!);
          }
        }
        const again = await mineHardNegatives(dataset, model, { ...BOUNDS, numNegatives: 3, samplingStrategy: "random", seed });
        expect(again.rows()).toEqual(drawn.rows());
        runs.push(JSON.stringify(drawn.rows()));
      }
      // The window holds up to 8 candidates and 3 are drawn: five seeds do not all draw the same.
      expect(new Set(runs).size).toBeGreaterThan(1);
      // 'top' is not among them by construction: with the same bounds it takes the best three.
      const top = await mineHardNegatives(dataset, model, { ...BOUNDS, numNegatives: 3 });
      expect(runs.some((r) => r !== JSON.stringify(top.rows()))).toBe(true);
    } finally {
      model.dispose();
    }
  });

  test("triplets: one row per drawn negative, up to numNegatives per (anchor, positive)", async () => {
    const model = await SentenceTransformer.load(cosineDir);
    try {
      const dataset = Dataset.fromColumns(COLUMNS);
      const drawn = await mineHardNegatives(dataset, model, { rangeMin: 2, rangeMax: 8, numNegatives: 2, samplingStrategy: "random", seed: 7, verbose: false });
      expect(drawn.columnNames).toEqual(["query", "answer", "negative"]);
      const perRow = new Map<string, number>();
      for (const row of drawn) {
        const key = `${row["query"]}\u0000${row["answer"]}`;
        perRow.set(key, (perRow.get(key) ?? 0) + 1);
        expect(PAIRS.filter((p) => p[0] === row["query"]).map((p) => p[1])).not.toContain(row["negative"]);
      }
      // 19 distinct (anchor, positive) pairs, each with a full window of 6 candidates: 2 negatives each.
      expect(perRow.size).toBe(19);
      for (const n of perRow.values()) expect(n).toBe(2);
    } finally {
      model.dispose();
    }
  });
});

describe("mineHardNegatives, invalid arguments", () => {
  let model: SentenceTransformer;
  const dataset = Dataset.fromColumns(COLUMNS);
  beforeAll(async () => {
    model = await SentenceTransformer.load(cosineDir);
    return () => model.dispose();
  });

  test.each<[string, MineHardNegativesOptions, ErrorConstructor, RegExp]>([
    ["an unknown anchor column", { anchorColumnName: "question" }, RangeError, /anchorColumnName "question" is not a column of the dataset; the columns are: query, answer/],
    ["an unknown positive column", { positiveColumnName: "positive" }, RangeError, /positiveColumnName "positive" .*query, answer/],
    ["the same column twice", { anchorColumnName: "answer" }, RangeError, /anchorColumnName and positiveColumnName are both "answer"/],
    ["numNegatives 0", { numNegatives: 0 }, RangeError, /numNegatives must be an integer >= 1, got 0/],
    ["numNegatives 1.5", { numNegatives: 1.5 }, RangeError, /numNegatives/],
    ["numNegatives as a string", { numNegatives: "3" as unknown as number }, TypeError, /numNegatives must be an integer/],
    ["a negative rangeMin", { rangeMin: -1 }, RangeError, /rangeMin must be an integer >= 0/],
    ["rangeMin not below rangeMax", { rangeMin: 5, rangeMax: 5 }, RangeError, /rangeMin must be smaller than rangeMax, got rangeMin=5 and rangeMax=5/],
    ["a window too small for numNegatives", { rangeMin: 2, rangeMax: 6, numNegatives: 5 }, RangeError, /numNegatives=5 .*only 4 candidates remain/],
    ["an unknown outputFormat", { outputFormat: "pairs" as "triplet" }, RangeError, /outputFormat must be one of "triplet", "n-tuple", "labeled-pair", "labeled-list", "n-tuple-scores", got "pairs"/],
    ["an unknown samplingStrategy", { samplingStrategy: "best" as "top" }, RangeError, /samplingStrategy must be one of "top", "random"/],
    ["maxScore as a string", { maxScore: "0.5" as unknown as number }, TypeError, /maxScore must be a number/],
    ["relativeMargin NaN", { relativeMargin: NaN }, RangeError, /relativeMargin must be a number, got NaN/],
    ["includePositives not a boolean", { includePositives: 1 as unknown as boolean }, TypeError, /includePositives must be a boolean/],
    ["a corpus with a number", { corpus: ["a", 3 as unknown as string] }, TypeError, /corpus\[1\] must be a string/],
    ["a prompt name the model lacks", { queryPromptName: "nope" }, RangeError, /queryPromptName "nope" is not one of the model's prompts \(query, document, other\)/],
    ["a negative seed", { seed: -1 }, RangeError, /seed must be an integer >= 0/],
    ["batchSize 0", { batchSize: 0 }, RangeError, /batchSize must be an integer >= 1/],
    ["useFaiss", { useFaiss: true } as MineHardNegativesOptions, TypeError, /option useFaiss is not supported/],
    ["useMultiProcess", { useMultiProcess: ["cpu", "cpu"] } as MineHardNegativesOptions, TypeError, /option useMultiProcess is not supported/],
    ["cacheFolder", { cacheFolder: "/tmp/x" } as MineHardNegativesOptions, TypeError, /option cacheFolder is not supported/],
    ["a snake_case option", { range_max: 10 } as MineHardNegativesOptions, TypeError, /unknown option "range_max"/],
  ])("%s", async (_, options, type, message) => {
    const call = mineHardNegatives(dataset, model, { ...options, verbose: false });
    await expect(call).rejects.toThrow(type);
    await expect(mineHardNegatives(dataset, model, { ...options, verbose: false })).rejects.toThrow(message);
  });

  test("an empty dataset, a non-string text, a clashing column name, a non-Dataset", async () => {
    await expect(mineHardNegatives(Dataset.fromColumns({ query: [], answer: [] }), model, { verbose: false })).rejects.toThrow(/the dataset is empty/);
    const withNumber = Dataset.fromColumns({ query: ["a", 2], answer: ["b", "c"] });
    await expect(mineHardNegatives(withNumber, model, { verbose: false })).rejects.toThrow(new TypeError('mineHardNegatives: dataset column "query"[1] must be a string, got number'));
    const clash = Dataset.fromColumns({ query: ["a", "b"], negative: ["c", "d"] });
    await expect(mineHardNegatives(clash, model, { verbose: false })).rejects.toThrow(/"negative" would clash/);
    await expect(mineHardNegatives(PAIRS as unknown as Dataset, model, { verbose: false })).rejects.toThrow(new TypeError("mineHardNegatives: dataset must be a Dataset"));
    const oneColumn = Dataset.fromColumns({ query: ["a", "b"] });
    await expect(mineHardNegatives(oneColumn, model, { verbose: false })).rejects.toThrow(/the dataset has 1 column\(s\) \(query\); give positiveColumnName/);
  });

  test("a cross-encoder with several labels", async () => {
    const threeLabels = await CrossEncoder.load(threeLabelDir);
    try {
      await expect(mineHardNegatives(dataset, model, { crossEncoder: threeLabels, maxScore: 0.5, verbose: false })).rejects.toThrow(
        new RangeError("mineHardNegatives: crossEncoder must have one label (one score per pair), this one has 3"),
      );
    } finally {
      threeLabels.dispose();
    }
  });
});
