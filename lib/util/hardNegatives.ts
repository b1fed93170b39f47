/**
 * Hard-negative mining of `sentence_transformers.util` (`mine_hard_negatives`): embeds the anchors and a corpus,
 * takes each anchor's nearest corpus texts as negative candidates, drops its positives and the candidates the
 * range, score and margin options rule out, and returns a dataset in one of the training formats.
 */
import type { CrossEncoder } from "../crossEncoder/CrossEncoder.js";
import { Dataset } from "../datasets/Dataset.js";
import { randomSeed, seededRandom } from "../internal/random.js";
import type { SentenceTransformer, SimilarityFnName } from "../SentenceTransformer.js";
import { TopK } from "./heap.js";
import { cosSim, dotScore, euclideanSim, forEachScoreRow, manhattanSim, type ScoreFunction } from "./similarity.js";

export type HardNegativesOutputFormat = "triplet" | "n-tuple" | "labeled-pair" | "labeled-list";
export type HardNegativesSamplingStrategy = "top" | "random";

export const HARD_NEGATIVES_OUTPUT_FORMATS: readonly HardNegativesOutputFormat[] = ["triplet", "n-tuple", "labeled-pair", "labeled-list"];
export const HARD_NEGATIVES_SAMPLING_STRATEGIES: readonly HardNegativesSamplingStrategy[] = ["top", "random"];

export interface MineHardNegativesOptions {
  /** Column of anchors (queries). Default: the dataset's first column. */
  anchorColumnName?: string;
  /** Column of positives. Default: the dataset's second column. */
  positiveColumnName?: string;
  /** Texts added to the positives as negative candidates. Default: the positives alone. */
  corpus?: string[];
  /** Rescores the candidates and positives when a margin or maxScore is set (a model with one label). */
  crossEncoder?: CrossEncoder;
  /** Rank of the first candidate that may be taken. Default 0. */
  rangeMin?: number;
  /** Ranks from rangeMax on are not considered. Default: rangeMin + numNegatives + the most positives of an
   * anchor, with 10 * numNegatives instead of numNegatives when a margin or maxScore is set. */
  rangeMax?: number;
  /** Candidates scoring above this are dropped. */
  maxScore?: number;
  /** Candidates scoring below this are dropped. */
  minScore?: number;
  /** Drops candidates scoring above (the anchor's lowest positive score - absoluteMargin). */
  absoluteMargin?: number;
  /** Drops candidates scoring above (p - |p| * relativeMargin), p the anchor's lowest positive score. */
  relativeMargin?: number;
  /** Negatives per anchor. Default 3. */
  numNegatives?: number;
  /** "top" (default): the best remaining candidates; "random": a sample of them, best first. */
  samplingStrategy?: HardNegativesSamplingStrategy;
  /** Key of the model's prompts put before the anchors (see SentenceTransformer.encodeQuery). */
  queryPromptName?: string;
  /** Prompt put before the anchors; wins over queryPromptName. */
  queryPrompt?: string;
  /** Key of the model's prompts put before the corpus (see SentenceTransformer.encodeDocument). */
  corpusPromptName?: string;
  /** Prompt put before the corpus; wins over corpusPromptName. */
  corpusPrompt?: string;
  /** Keep the positives among the candidates (a full first-stage ranking); forces outputFormat "n-tuple". */
  includePositives?: boolean;
  /** Default "triplet". "n-tuple-scores" is read as "n-tuple" with outputScores, as sentence-transformers does. */
  outputFormat?: HardNegativesOutputFormat | "n-tuple-scores";
  /** Adds the scores: a `scores` column (triplet, n-tuple, labeled-list) or `score` in place of `label` (labeled-pair). */
  outputScores?: boolean;
  /** Encoding (and cross-encoder) batch size. Default 32. */
  batchSize?: number;
  /** Prints the statistics sentence-transformers prints and shows progress bars. Default true. */
  verbose?: boolean;
  /** Seed of the "random" sampling; the same seed gives the same negatives. Default: a fresh one. */
  seed?: number;
  /** Deprecated in sentence-transformers: true means outputFormat "triplet", false "n-tuple". */
  asTriplets?: boolean;
  /** Deprecated in sentence-transformers: read as absoluteMargin. */
  margin?: number;
}

const FN = "mineHardNegatives";

const OPTION_NAMES = new Set<string>([
  "anchorColumnName", "positiveColumnName", "corpus", "crossEncoder", "rangeMin", "rangeMax", "maxScore", "minScore",
  "absoluteMargin", "relativeMargin", "numNegatives", "samplingStrategy", "queryPromptName", "queryPrompt",
  "corpusPromptName", "corpusPrompt", "includePositives", "outputFormat", "outputScores", "batchSize", "verbose", "seed",
  "asTriplets", "margin",
]);

// Search runs on the embeddings in this process, one query at a time; none of these has anything to set.
const REFUSED_OPTIONS: Record<string, string> = {
  useFaiss: "FAISS is not available: candidates are found by scoring every corpus text, one query at a time",
  faissBatchSize: "queries are scored one at a time, so there is no query batch to size",
  useMultiProcess: "encoding already runs on native worker threads (see setEncodeConcurrency)",
  cacheFolder: "embeddings are not cached to disk",
};

const SCORE_FUNCTIONS: Record<SimilarityFnName, ScoreFunction> = {
  cosine: cosSim,
  dot: dotScore,
  euclidean: euclideanSim,
  manhattan: manhattanSim,
};

function warn(message: string): void {
  process.emitWarning(`${FN}: ${message}`);
}

function integer(value: unknown, name: string, min: number): number {
  if (typeof value !== "number") throw new TypeError(`${FN}: ${name} must be an integer, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${FN}: ${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

function optionalNumber(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") throw new TypeError(`${FN}: ${name} must be a number, got ${value === null ? "null" : typeof value}`);
  if (Number.isNaN(value)) throw new RangeError(`${FN}: ${name} must be a number, got NaN`);
  return value;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new TypeError(`${FN}: ${name} must be a string, got ${value === null ? "null" : typeof value}`);
  return value;
}

function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${FN}: ${name} must be a boolean, got ${value === null ? "null" : typeof value}`);
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new RangeError(`${FN}: ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function columnName(value: unknown, name: string, columns: string[], fallbackIndex: number): string {
  if (value === undefined) {
    const c = columns[fallbackIndex];
    if (c === undefined) throw new RangeError(`${FN}: the dataset has ${columns.length} column(s) (${columns.join(", ") || "none"}); give ${name}`);
    return c;
  }
  if (typeof value !== "string") throw new TypeError(`${FN}: ${name} must be a string, got ${value === null ? "null" : typeof value}`);
  if (!columns.includes(value)) throw new RangeError(`${FN}: ${name} ${JSON.stringify(value)} is not a column of the dataset; the columns are: ${columns.join(", ")}`);
  return value;
}

function texts(values: unknown[], where: string): string[] {
  values.forEach((v, i) => {
    if (typeof v !== "string") throw new TypeError(`${FN}: ${where}[${i}] must be a string, got ${v === null ? "null" : typeof v}`);
  });
  return values as string[];
}

/** The distinct values in order of first appearance. */
function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

interface Summary {
  count: number;
  mean: number;
  median: number;
  std: number;
  min: number;
  q25: number;
  q50: number;
  q75: number;
  max: number;
}

/** The statistics sentence-transformers reports: torch's lower median, unbiased std, linearly interpolated quantiles. */
function summarize(values: readonly number[]): Summary {
  const n = values.length;
  const s = [...values].sort((a, b) => a - b);
  const mean = n ? s.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  const quantile = (q: number): number => {
    if (!n) return Infinity;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
  };
  return {
    count: n,
    mean,
    median: n ? s[(n - 1) >> 1]! : NaN,
    std,
    min: n ? s[0]! : Infinity,
    q25: quantile(0.25),
    q50: quantile(0.5),
    q75: quantile(0.75),
    max: n ? s[n - 1]! : -Infinity,
  };
}

function formatStat(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return v.toFixed(4);
}

function printStatistics(positive: readonly number[], negative: readonly number[], difference: readonly number[]): void {
  const row = (a: string, b: string, c: string, d: string): string => `${a.padEnd(6)} ${b.padStart(14)} ${c.padStart(14)} ${d.padStart(14)}`;
  const [p, n, d] = [summarize(positive), summarize(negative), summarize(difference)];
  console.log(row("Metric", "Positive", "Negative", "Difference"));
  console.log(row("Count", p.count.toLocaleString("en-US"), n.count.toLocaleString("en-US"), ""));
  const metrics: Array<[string, keyof Summary]> = [
    ["Mean", "mean"], ["Median", "median"], ["Std", "std"], ["Min", "min"], ["25%", "q25"], ["50%", "q50"], ["75%", "q75"], ["Max", "max"],
  ];
  for (const [label, key] of metrics) console.log(row(label, formatStat(p[key]), formatStat(n[key]), formatStat(d[key])));
}

/**
 * Adds hard negatives to a dataset of (anchor, positive) pairs, as sentence-transformers' `mine_hard_negatives`.
 *
 * Anchors that appear on several rows are embedded once and all their positives count as positives. The corpus is
 * the distinct positives (after `corpus`, when given); anchors are embedded with the model's `encodeQuery`, the
 * corpus with `encodeDocument`, both normalized, and scored with the model's similarity function. Each anchor keeps
 * its `rangeMax` + (most positives of an anchor) best candidates; its positives (unless `includePositives`) and the
 * candidates outside the margins and score bounds are dropped, the first `rangeMin` ranks skipped, and
 * `numNegatives` taken from the rest (the best, or a sample). Rows that cannot be filled are left out: a triplet per
 * negative found; an n-tuple only when all `numNegatives` were found. Equal scores keep the lower corpus index first.
 *
 * Output columns (anchor and positive keep their names): "triplet" anchor, positive, `negative` (+ `scores`:
 * [positive, negative]); "n-tuple" anchor, positive, `negative_1` … `negative_n` (+ `scores`); "labeled-pair"
 * anchor, positive (a positive or a negative text), `label` 1/0 or `score`; "labeled-list" anchor, positive (a list:
 * the positive, then the negatives), `labels` or `scores`.
 *
 * Unlike sentence-transformers, a column name the dataset lacks is an error (it falls back to the first two
 * columns), FAISS, multi-process and embedding-cache options are refused, and "random" draws from a generator
 * seeded by `seed` rather than Python's `random`.
 */
export async function mineHardNegatives(dataset: Dataset, model: SentenceTransformer, options: MineHardNegativesOptions = {}): Promise<Dataset> {
  if (!(dataset instanceof Dataset)) throw new TypeError(`${FN}: dataset must be a Dataset`);
  if (typeof model !== "object" || model === null || typeof model.encodeQuery !== "function" || typeof model.encodeDocument !== "function") {
    throw new TypeError(`${FN}: model must be a SentenceTransformer`);
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw new TypeError(`${FN}: options must be an object (or left out)`);
  for (const [key, value] of Object.entries(options)) {
    if (key in REFUSED_OPTIONS) {
      if (value !== undefined) throw new TypeError(`${FN}: option ${key} is not supported: ${REFUSED_OPTIONS[key]}`);
    } else if (!OPTION_NAMES.has(key)) {
      throw new TypeError(`${FN}: unknown option ${JSON.stringify(key)}; the options are: ${[...OPTION_NAMES].join(", ")}`);
    }
  }
  if (dataset.length === 0) throw new RangeError(`${FN}: the dataset is empty`);

  // ---- options ----
  const columns = dataset.columnNames;
  const anchorColumn = columnName(options.anchorColumnName, "anchorColumnName", columns, 0);
  const positiveColumn = columnName(options.positiveColumnName, "positiveColumnName", columns, 1);
  if (anchorColumn === positiveColumn) throw new RangeError(`${FN}: anchorColumnName and positiveColumnName are both ${JSON.stringify(anchorColumn)}`);
  let extraCorpus: string[] | undefined;
  if (options.corpus !== undefined) {
    if (!Array.isArray(options.corpus)) throw new TypeError(`${FN}: corpus must be an array of strings`);
    extraCorpus = texts(options.corpus, "corpus");
  }
  const crossEncoder = options.crossEncoder;
  if (crossEncoder !== undefined) {
    if (typeof crossEncoder !== "object" || crossEncoder === null || typeof crossEncoder.predict !== "function") {
      throw new TypeError(`${FN}: crossEncoder must be a CrossEncoder`);
    }
    if (crossEncoder.numLabels !== 1) throw new RangeError(`${FN}: crossEncoder must have one label (one score per pair), this one has ${crossEncoder.numLabels}`);
  }
  const rangeMin = integer(options.rangeMin ?? 0, "rangeMin", 0);
  const givenRangeMax = options.rangeMax === undefined ? undefined : integer(options.rangeMax, "rangeMax", 1);
  const maxScore = optionalNumber(options.maxScore, "maxScore");
  const minScore = optionalNumber(options.minScore, "minScore");
  let absoluteMargin = optionalNumber(options.absoluteMargin, "absoluteMargin");
  const relativeMargin = optionalNumber(options.relativeMargin, "relativeMargin");
  const margin = optionalNumber(options.margin, "margin");
  const numNegatives = integer(options.numNegatives ?? 3, "numNegatives", 1);
  const samplingStrategy = oneOf(options.samplingStrategy, "samplingStrategy", HARD_NEGATIVES_SAMPLING_STRATEGIES, "top");
  const queryPromptName = optionalString(options.queryPromptName, "queryPromptName");
  const queryPrompt = optionalString(options.queryPrompt, "queryPrompt");
  const corpusPromptName = optionalString(options.corpusPromptName, "corpusPromptName");
  const corpusPrompt = optionalString(options.corpusPrompt, "corpusPrompt");
  for (const [name, value] of [["queryPromptName", queryPromptName], ["corpusPromptName", corpusPromptName]] as const) {
    if (value !== undefined && !(value in model.prompts)) {
      throw new RangeError(`${FN}: ${name} ${JSON.stringify(value)} is not one of the model's prompts (${Object.keys(model.prompts).join(", ") || "none"})`);
    }
  }
  const includePositives = boolean(options.includePositives, "includePositives", false);
  let outputFormat = oneOf(options.outputFormat, "outputFormat", [...HARD_NEGATIVES_OUTPUT_FORMATS, "n-tuple-scores"] as const, "triplet");
  let outputScores = boolean(options.outputScores, "outputScores", false);
  const batchSize = integer(options.batchSize ?? 32, "batchSize", 1);
  const verbose = boolean(options.verbose, "verbose", true);
  const seed = options.seed === undefined ? randomSeed() : integer(options.seed, "seed", 0);
  const asTriplets = options.asTriplets === undefined ? undefined : boolean(options.asTriplets, "asTriplets", true);

  if (asTriplets !== undefined) {
    outputFormat = asTriplets ? "triplet" : "n-tuple";
    warn(`asTriplets is deprecated; use outputFormat. Setting outputFormat to "${outputFormat}".`);
  }
  if (includePositives) {
    if (rangeMin !== 0 || givenRangeMax !== undefined || maxScore !== undefined || margin !== undefined || absoluteMargin !== undefined || relativeMargin !== undefined || samplingStrategy !== "top") {
      warn("with includePositives, rangeMin, rangeMax, maxScore, the margins or samplingStrategy other than their defaults may still discard positives.");
    }
    if (outputFormat !== "n-tuple") {
      warn('with includePositives, outputFormat is set to "n-tuple" so that the ranking order is kept.');
      outputFormat = "n-tuple";
    }
  }
  if (outputFormat === "n-tuple-scores") {
    warn('outputFormat "n-tuple-scores" is deprecated; use outputFormat "n-tuple" with outputScores: true.');
    outputFormat = "n-tuple";
    outputScores = true;
  }
  const format: HardNegativesOutputFormat = outputFormat;
  if (margin !== undefined) {
    absoluteMargin = margin;
    warn(`margin is deprecated; use absoluteMargin and/or relativeMargin. Setting absoluteMargin to ${margin}.`);
  }

  const queryTexts = texts(dataset.column(anchorColumn), `dataset column ${JSON.stringify(anchorColumn)}`);
  const positiveTexts = texts(dataset.column(positiveColumn), `dataset column ${JSON.stringify(positiveColumn)}`);
  const scoreColumns = (name: string): string[] => (outputScores ? [name] : []);
  const addedColumns = {
    triplet: ["negative", ...scoreColumns("scores")],
    "n-tuple": [...Array.from({ length: numNegatives }, (_, i) => `negative_${i + 1}`), ...scoreColumns("scores")],
    "labeled-pair": [outputScores ? "score" : "label"],
    "labeled-list": [outputScores ? "scores" : "labels"],
  }[format];
  for (const c of [anchorColumn, positiveColumn]) {
    if (addedColumns.includes(c)) throw new RangeError(`${FN}: the column ${JSON.stringify(c)} would clash with the ${JSON.stringify(c)} column outputFormat "${format}" adds; rename it first`);
  }

  // Rows per anchor, duplicates included: room kept beside rangeMax for that many positives among the candidates.
  const rowsPerQuery = new Map<string, number>();
  for (const q of queryTexts) rowsPerQuery.set(q, (rowsPerQuery.get(q) ?? 0) + 1);
  let maxPositives = 0;
  for (const n of rowsPerQuery.values()) maxPositives = Math.max(maxPositives, n);

  let rangeMax: number;
  if (givenRangeMax === undefined) {
    const filtered = absoluteMargin !== undefined || relativeMargin !== undefined || maxScore !== undefined;
    // With filters, ten times the candidates, since some will be dropped.
    rangeMax = rangeMin + numNegatives * (filtered ? 10 : 1) + maxPositives;
    if (verbose) console.log(`Setting rangeMax to ${rangeMax} based on the provided parameters.`);
  } else {
    rangeMax = givenRangeMax;
  }
  if (rangeMin >= rangeMax) throw new RangeError(`${FN}: rangeMin must be smaller than rangeMax, got rangeMin=${rangeMin} and rangeMax=${rangeMax}`);
  if (numNegatives > rangeMax - rangeMin) {
    throw new RangeError(
      `${FN}: cannot mine numNegatives=${numNegatives} negatives per anchor: only ${rangeMax - rangeMin} candidates remain after skipping the first rangeMin=${rangeMin} of rangeMax=${rangeMax}; decrease numNegatives or rangeMin, or increase rangeMax`,
    );
  }

  // ---- corpus and queries ----
  const corpus = distinct([...(extraCorpus ?? positiveTexts), ...positiveTexts]);
  const corpusIndex = new Map(corpus.map((t, i) => [t, i]));
  const queries = distinct(queryTexts);
  const queryIndex = new Map(queries.map((q, i) => [q, i]));
  const nQueries = queries.length;
  if (verbose && nQueries !== queryTexts.length) console.log(`Found ${nQueries} unique queries out of ${queryTexts.length} total queries.`);
  if (verbose && maxPositives > 1) console.log(`Found an average of ${(queryTexts.length / nQueries).toFixed(3)} positives per query.`);

  const corpusEmbeddings = await model.encodeDocument(corpus, { batchSize, normalizeEmbeddings: true, showProgressBar: verbose, promptName: corpusPromptName, prompt: corpusPrompt });
  const queryEmbeddings = await model.encodeQuery(queries, { batchSize, normalizeEmbeddings: true, showProgressBar: verbose, promptName: queryPromptName, prompt: queryPrompt });

  // ---- candidates: each query's `width` best corpus entries, best first, padded with index -1 ----
  const width = rangeMax + maxPositives;
  const candidates = new Int32Array(nQueries * width).fill(-1);
  const scores = new Float64Array(nQueries * width).fill(-Infinity);
  const best = new TopK(Math.min(width, corpus.length));
  forEachScoreRow(
    SCORE_FUNCTIONS[model.similarityFnName],
    queryEmbeddings,
    corpusEmbeddings,
    (qi, row) => {
      best.clear();
      best.pushRow(row);
      best.sorted().forEach(({ id, score }, c) => {
        candidates[qi * width + c] = id;
        scores[qi * width + c] = score;
      });
    },
    FN,
  );

  // Each query's distinct positives (corpus indices), in order of first appearance; rows of the output are per
  // (query, positive) in this order.
  const positiveIndices: number[][] = queries.map(() => []);
  queryTexts.forEach((q, i) => {
    const list = positiveIndices[queryIndex.get(q)!]!;
    const p = corpusIndex.get(positiveTexts[i]!)!;
    if (!list.includes(p)) list.push(p);
  });
  const rowQuery: number[] = [];
  const rowPositive: number[] = [];
  positiveIndices.forEach((list, q) => {
    for (const p of list) {
      rowQuery.push(q);
      rowPositive.push(p);
    }
  });
  const nRows = rowQuery.length;
  let positiveScores = model.similarityPairwise(
    rowQuery.map((q) => queryEmbeddings[q]!),
    rowPositive.map((p) => corpusEmbeddings[p]!),
  );

  if (crossEncoder !== undefined && (absoluteMargin !== undefined || relativeMargin !== undefined || maxScore !== undefined)) {
    const slots: number[] = [];
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < candidates.length; i++) {
      if (candidates[i]! < 0) continue;
      slots.push(i);
      pairs.push([queries[Math.floor(i / width)]!, corpus[candidates[i]!]!]);
    }
    const candidateScores = (await crossEncoder.predict(pairs, { batchSize, showProgressBar: verbose })) as number[];
    slots.forEach((slot, k) => (scores[slot] = candidateScores[k]!));
    const rowPairs = rowQuery.map((q, r) => [queries[q]!, corpus[rowPositive[r]!]!] as [string, string]);
    positiveScores = (await crossEncoder.predict(rowPairs, { batchSize, showProgressBar: verbose })) as number[];
  }

  if (!includePositives) {
    for (let q = 0; q < nQueries; q++) {
      const own = positiveIndices[q]!;
      for (let c = 0; c < width; c++) if (own.includes(candidates[q * width + c]!)) scores[q * width + c] = -Infinity;
    }
  }

  // ---- filters; counts as sentence-transformers reports them ----
  const skipped = new Map<string, { skipped: number; ratio: number }>();
  let numCandidates = scores.length;
  const drop = (name: string, test: (score: number, q: number) => boolean, shrink: boolean): void => {
    let n = 0;
    for (let i = 0; i < scores.length; i++) {
      if (test(scores[i]!, Math.floor(i / width))) {
        scores[i] = -Infinity;
        n++;
      }
    }
    if (n) {
      skipped.set(name, { skipped: n, ratio: n / numCandidates });
      if (shrink) numCandidates -= n;
    }
  };
  if (absoluteMargin !== undefined || relativeMargin !== undefined) {
    // Against the anchor's lowest (hardest) positive score when it has several.
    const floor = new Float64Array(nQueries).fill(Infinity);
    rowQuery.forEach((q, r) => (floor[q] = Math.min(floor[q]!, positiveScores[r]!)));
    if (absoluteMargin !== undefined) drop("absoluteMargin", (s, q) => s + absoluteMargin! > floor[q]!, true);
    if (relativeMargin !== undefined) {
      // |p| * margin below p, so the bound is lower than p whatever its sign.
      drop("relativeMargin", (s, q) => s > floor[q]! - Math.abs(floor[q]!) * relativeMargin, true);
    }
  }
  if (maxScore !== undefined) drop("maxScore", (s) => s > maxScore, false);
  // Candidates already dropped count here too, as they do in sentence-transformers.
  if (minScore !== undefined) drop("minScore", (s) => s < minScore, false);

  // ---- per query: rank, skip rangeMin, take numNegatives ----
  const random = seededRandom(seed);
  const negIndex: number[][] = [];
  const negScore: number[][] = [];
  for (let q = 0; q < nQueries; q++) {
    const order = Array.from({ length: width }, (_, c) => q * width + c);
    // Stable: equal scores keep the similarity ranking's order.
    order.sort((a, b) => (scores[b]! > scores[a]! ? 1 : scores[b]! < scores[a]! ? -1 : 0));
    let window = order.slice(rangeMin, rangeMax);
    if (samplingStrategy === "top") {
      window = window.slice(0, numNegatives);
    } else {
      // Sample among the candidates still standing, or among all ranks when too few are.
      const standing = window.filter((i) => Number.isFinite(scores[i]!)).length;
      const options = Math.max(standing, numNegatives);
      const pool = Array.from({ length: options }, (_, k) => k);
      for (let k = 0; k < numNegatives; k++) {
        const j = k + Math.floor(random() * (options - k));
        [pool[k], pool[j]] = [pool[j]!, pool[k]!];
      }
      window = pool
        .slice(0, numNegatives)
        .map((k) => window[k]!)
        .sort((a, b) => (scores[b]! > scores[a]! ? 1 : scores[b]! < scores[a]! ? -1 : 0));
    }
    negIndex.push(window.map((i) => candidates[i]!));
    negScore.push(window.map((i) => scores[i]!));
  }
  if (verbose) console.log("Negative candidates mined, preparing dataset...");

  // ---- output ----
  const found = (s: number): boolean => s !== -Infinity;
  const out: Record<string, unknown>[] = [];
  let outColumns: string[];
  const negativeStats: number[] = [];
  const differenceStats: number[] = [];
  let maximumPossible: number;
  // The negatives found for row r, and their distance below its positive, for the statistics.
  const collect = (r: number): void => {
    for (const s of negScore[rowQuery[r]!]!) {
      if (found(s)) {
        negativeStats.push(s);
        differenceStats.push(positiveScores[r]! - s);
      }
    }
  };

  if (format === "triplet") {
    outColumns = [anchorColumn, positiveColumn, "negative", ...(outputScores ? ["scores"] : [])];
    for (let r = 0; r < nRows; r++) {
      const q = rowQuery[r]!;
      negIndex[q]!.forEach((idx, j) => {
        const s = negScore[q]![j]!;
        if (!found(s)) return;
        const row: Record<string, unknown> = { [anchorColumn]: queries[q], [positiveColumn]: corpus[rowPositive[r]!], negative: corpus[idx] };
        if (outputScores) row["scores"] = [positiveScores[r]!, s];
        out.push(row);
      });
      collect(r);
    }
    maximumPossible = nRows * numNegatives;
  } else if (format === "labeled-pair") {
    const key = outputScores ? "score" : "label";
    outColumns = [anchorColumn, positiveColumn, key];
    for (let q = 0, r = 0; q < nQueries; q++) {
      for (const p of positiveIndices[q]!) {
        out.push({ [anchorColumn]: queries[q], [positiveColumn]: corpus[p], [key]: outputScores ? positiveScores[r]! : 1 });
        r++;
      }
      negIndex[q]!.forEach((idx, j) => {
        const s = negScore[q]![j]!;
        if (found(s)) out.push({ [anchorColumn]: queries[q], [positiveColumn]: corpus[idx], [key]: outputScores ? s : 0 });
      });
    }
    for (let r = 0; r < nRows; r++) collect(r);
    maximumPossible = nQueries * numNegatives + dataset.length;
  } else if (format === "n-tuple") {
    const negatives = Array.from({ length: numNegatives }, (_, i) => `negative_${i + 1}`);
    outColumns = [anchorColumn, positiveColumn, ...negatives, ...(outputScores ? ["scores"] : [])];
    for (let r = 0; r < nRows; r++) {
      const q = rowQuery[r]!;
      if (!negScore[q]!.every(found)) continue;
      const row: Record<string, unknown> = { [anchorColumn]: queries[q], [positiveColumn]: corpus[rowPositive[r]!] };
      negatives.forEach((name, j) => (row[name] = corpus[negIndex[q]![j]!]));
      if (outputScores) row["scores"] = [positiveScores[r]!, ...negScore[q]!];
      out.push(row);
      collect(r);
    }
    maximumPossible = nRows;
  } else {
    const key = outputScores ? "scores" : "labels";
    outColumns = [anchorColumn, positiveColumn, key];
    for (let r = 0; r < nRows; r++) {
      const q = rowQuery[r]!;
      const kept = negIndex[q]!.map((idx, j) => ({ idx, s: negScore[q]![j]! })).filter((n) => found(n.s));
      if (kept.length === 0) continue;
      out.push({
        [anchorColumn]: queries[q],
        [positiveColumn]: [corpus[rowPositive[r]!], ...kept.map((n) => corpus[n.idx])],
        [key]: outputScores ? [positiveScores[r]!, ...kept.map((n) => n.s)] : [1, ...kept.map(() => 0)],
      });
      collect(r);
    }
    maximumPossible = nRows;
  }
  const result = new Dataset(out, { columnNames: outColumns });

  if (verbose) {
    printStatistics(positiveScores, negativeStats, differenceStats);
    const values: Record<string, number | undefined> = { absoluteMargin, relativeMargin, maxScore, minScore };
    for (const [name, value] of Object.entries(values)) {
      const s = skipped.get(name);
      if (s) console.log(`Skipped ${s.skipped.toLocaleString("en-US")} potential negatives (${(s.ratio * 100).toFixed(2)}%) due to the ${name} of ${value}.`);
    }
    const missing = maximumPossible - result.length;
    if (missing > 0) {
      const solutions = ["rangeMax"];
      if (rangeMin > 0) solutions.push("rangeMin");
      if (absoluteMargin !== undefined) solutions.push("absoluteMargin");
      if (relativeMargin !== undefined) solutions.push("relativeMargin");
      if (maxScore !== undefined) solutions.push("maxScore");
      const considered = solutions.length > 1 ? `${solutions.slice(0, -1).join(", ")} and ${solutions.at(-1)}` : solutions[0];
      console.log(
        `Could not find enough negatives for ${missing} samples (${((missing / maximumPossible) * 100).toFixed(2)}%). ` +
          `Consider adjusting the ${considered} parameter${solutions.length > 1 ? "s" : ""} if you'd like to find more valid negatives.`,
      );
    }
  }
  return result;
}
