/**
 * `loadDataset`, after Hugging Face `datasets.load_dataset`: local CSV/TSV/JSON/JSONL/Parquet/text files
 * (by builder name with `dataFiles`, a file path, or a folder whose file names give the splits), and Hub
 * datasets by id through the Hub's parquet export.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { gunzipSync } from "node:zlib";

import { parse as parseCsvText } from "csv-parse/sync";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import { compressors } from "hyparquet-compressors";

import { SbertError } from "../errors.js";
import { downloadParquetExport } from "../hub/datasets.js";
import { Dataset } from "./Dataset.js";

export interface LoadDatasetOptions {
  /** Config (subset) of a Hub dataset, e.g. "it" for stsb_multi_mt. */
  name?: string;
  /** "train", "test[:100]", "train[10%:20%]", "train+validation"; without it every split is returned. */
  split?: string;
  /** Hub datasets: revision of the parquet export, `refs/convert/parquet` (default) or one of its commit shas. */
  revision?: string;
  token?: string;
  cacheFolder?: string;
  /** Files per split (globs allowed: `*`, `?`, `**`); a string or list means split "train". Relative to the folder, or to the working directory with a builder name. */
  dataFiles?: string | string[] | Record<string, string | string[]>;
  endpoint?: string;
  /** Hub datasets: read only the cache (as HF_HUB_OFFLINE=1 does). */
  localFilesOnly?: boolean;
  /** CSV field separator; default "," (tab for .tsv files). */
  delimiter?: string;
}

type Format = "csv" | "json" | "parquet" | "text";
const BUILDERS: readonly Format[] = ["csv", "json", "parquet", "text"];
const OP = "loadDataset";

interface Table {
  columns: string[];
  rows: Record<string, unknown>[];
}

function formatError(file: string, what: string, cause?: unknown): SbertError {
  return new SbertError("ERR_FORMAT", `${file}: ${what}`, { op: OP, cause });
}

// ---------------------------------------------------------------- file formats

/** Data file extension → format; `.gz` files are read through gunzip by the inner extension. */
function formatOf(file: string): Format | undefined {
  const name = file.toLowerCase().replace(/\.gz$/, "");
  if (name.endsWith(".csv") || name.endsWith(".tsv")) return "csv";
  if (name.endsWith(".json") || name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "json";
  if (name.endsWith(".parquet")) return "parquet";
  if (name.endsWith(".txt")) return "text";
  return undefined;
}

async function readText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${file}: ${(e as Error).message}`, { op: OP, cause: e });
  }
  if (file.toLowerCase().endsWith(".gz")) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw formatError(file, `not a gzip file (${(e as Error).message})`, e);
    }
  }
  const text = bytes.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** pandas' default missing-value strings: these cells read as null. */
const NA_VALUES = new Set([
  "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]);
const TRUE_VALUES = new Set(["True", "TRUE", "true"]);
const FALSE_VALUES = new Set(["False", "FALSE", "false"]);
const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity)$/i;

function toFloat(s: string): number {
  const t = s.trim().toLowerCase();
  if (/^[+]?inf(inity)?$/.test(t)) return Infinity;
  if (/^-inf(inity)?$/.test(t)) return -Infinity;
  return Number(t);
}

/**
 * One column's cells typed as pandas' read_csv would: all booleans → booleans, all integers → numbers (integers
 * past 2^53 keep the column as text rather than lose digits), all numbers → numbers, otherwise text; the
 * missing-value strings become null.
 */
function typeColumn(cells: (string | undefined)[]): unknown[] {
  const present = cells.filter((c): c is string => c !== undefined && !NA_VALUES.has(c));
  const out = (f: (c: string) => unknown): unknown[] => cells.map((c) => (c === undefined || NA_VALUES.has(c) ? null : f(c)));
  if (present.length === 0) return out(() => null);
  if (present.every((c) => TRUE_VALUES.has(c) || FALSE_VALUES.has(c))) return out((c) => TRUE_VALUES.has(c));
  const numeric = present.every((c) => {
    const t = c.trim();
    if (INT_RE.test(t)) return Number.isSafeInteger(Number(t));
    return FLOAT_RE.test(t);
  });
  if (numeric) return out(toFloat);
  return out((c) => c);
}

/** pandas' header clean-up: unnamed columns become "Unnamed: i", repeated names get ".1", ".2"… */
function headerNames(raw: string[]): string[] {
  const seen = new Map<string, number>();
  const taken = new Set<string>();
  return raw.map((name, i) => {
    let n = name === "" ? `Unnamed: ${i}` : name;
    if (taken.has(n)) {
      let k = seen.get(n) ?? 0;
      let candidate: string;
      do candidate = `${n}.${++k}`;
      while (taken.has(candidate));
      seen.set(n, k);
      n = candidate;
    }
    taken.add(n);
    return n;
  });
}

function parseCsv(text: string, file: string, delimiter: string): Table {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsvText(text, { delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, info: true }) as unknown as typeof records;
  } catch (e) {
    const line = (e as { lines?: number }).lines;
    throw formatError(file, `${line !== undefined ? `line ${line}: ` : ""}malformed CSV: ${(e as Error).message}`, e);
  }
  if (records.length === 0) throw formatError(file, "empty: a CSV file needs a header line");
  const columns = headerNames(records[0]!.record);
  const cells: (string | undefined)[][] = columns.map(() => []);
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r]!;
    if (record.length > columns.length) {
      throw formatError(file, `line ${info.lines}: malformed CSV: ${record.length} fields, but the header has ${columns.length}`);
    }
    for (let c = 0; c < columns.length; c++) cells[c]!.push(record[c]);
  }
  const typed = cells.map(typeColumn);
  const rows = Array.from({ length: records.length - 1 }, (_, r) => {
    const row: Record<string, unknown> = {};
    columns.forEach((name, c) => (row[name] = typed[c]![r]));
    return row;
  });
  return { columns, rows };
}

function jsonErrorLine(text: string, e: Error): string {
  const m = /line (\d+)/.exec(e.message) ?? undefined;
  if (m) return `line ${m[1]}: `;
  const p = /position (\d+)/.exec(e.message);
  if (!p) return "";
  return `line ${text.slice(0, Number(p[1])).split("\n").length}: `;
}

function tableFromRows(items: unknown[], file: string, lineOf: (i: number) => number | undefined): Table {
  const columns: string[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      const line = lineOf(i);
      throw formatError(file, `${line !== undefined ? `line ${line}: ` : `row ${i}: `}each row must be a JSON object, got ${JSON.stringify(item)?.slice(0, 80)}`);
    }
    for (const k of Object.keys(item)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  });
  // Rows missing a column get null, as datasets fills them.
  const rows = (items as Record<string, unknown>[]).map((item) => {
    const row: Record<string, unknown> = {};
    for (const c of columns) row[c] = c in item ? item[c] : null;
    return row;
  });
  return { columns, rows };
}

function parseJsonLines(text: string, file: string): Table {
  const items: unknown[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      items.push(JSON.parse(line));
    } catch (e) {
      throw formatError(file, `line ${i + 1}: not valid JSON (${(e as Error).message})`, e);
    }
    lines.push(i + 1);
  });
  return tableFromRows(items, file, (i) => lines[i]);
}

/** A JSON array of rows, `{ "data": [rows] }`, an object of equally long columns, or JSON lines. */
function parseJson(text: string, file: string): Table {
  if (/\.(jsonl|ndjson)(\.gz)?$/i.test(file)) return parseJsonLines(text, file);
  if (text.trim() === "") throw formatError(file, "empty JSON file");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // A .json file may hold JSON lines (pandas and datasets read those too).
    const nonEmpty = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    if (nonEmpty.length > 1 && nonEmpty[0]!.trim().startsWith("{")) return parseJsonLines(text, file);
    throw formatError(file, `${jsonErrorLine(text, e as Error)}not valid JSON (${(e as Error).message})`, e);
  }
  if (Array.isArray(value)) return tableFromRows(value, file, () => undefined);
  if (typeof value === "object" && value !== null) {
    const obj = value as Record<string, unknown>;
    if (Array.isArray(obj["data"])) return tableFromRows(obj["data"], file, () => undefined);
    const cols = Object.entries(obj);
    if (cols.length > 0 && cols.every(([, v]) => Array.isArray(v))) {
      const n = (cols[0]![1] as unknown[]).length;
      const bad = cols.find(([, v]) => (v as unknown[]).length !== n);
      if (bad) throw formatError(file, `column '${bad[0]}' has ${(bad[1] as unknown[]).length} values, '${cols[0]![0]}' has ${n}`);
      const columns = cols.map(([k]) => k);
      const rows = Array.from({ length: n }, (_, i) => Object.fromEntries(cols.map(([k, v]) => [k, (v as unknown[])[i]])));
      return { columns, rows };
    }
  }
  throw formatError(file, 'expected a list of row objects, {"data": [rows]}, an object of column lists, or JSON lines');
}

function parseTextLines(text: string): Table {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return { columns: ["text"], rows: lines.map((text) => ({ text })) };
}

/** 64-bit integers come out of parquet as bigint; those a double holds exactly become numbers. */
function plainNumbers(v: unknown): unknown {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(plainNumbers);
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plainNumbers(x);
    return out;
  }
  return v;
}

async function readParquet(file: string): Promise<Table> {
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const columns = parquetSchema(metadata).children.map((c) => c.element.name);
    const objects = await parquetReadObjects({ file: buffer, metadata, compressors });
    const rows = objects.map((o) => {
      const row: Record<string, unknown> = {};
      for (const c of columns) row[c] = plainNumbers(o[c]);
      return row;
    });
    return { columns, rows };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new SbertError("ERR_FILE_NOT_FOUND", `no file at ${file}`, { op: OP, cause: e });
    throw formatError(file, `not a readable parquet file (${(e as Error).message})`, e);
  }
}

async function readTable(file: string, format: Format, delimiter: string | undefined): Promise<Table> {
  switch (format) {
    case "parquet":
      return readParquet(file);
    case "csv":
      return parseCsv(await readText(file), file, delimiter ?? (/\.tsv(\.gz)?$/i.test(file) ? "\t" : ","));
    case "json":
      return parseJson(await readText(file), file);
    case "text":
      return parseTextLines(await readText(file));
  }
}

async function readSplit(files: string[], format: Format | undefined, delimiter: string | undefined): Promise<Dataset> {
  const columns: string[] = [];
  const rows: Record<string, unknown>[] = [];
  for (const file of files) {
    const f = format ?? formatOf(file);
    if (f === undefined) throw formatError(file, "unknown data file type (expected .csv, .tsv, .json, .jsonl, .parquet or .txt)");
    const t = await readTable(file, f, delimiter);
    for (const c of t.columns) if (!columns.includes(c)) columns.push(c);
    rows.push(...t.rows);
  }
  // Files of one split may differ in columns; absent ones are null.
  for (const r of rows) for (const c of columns) if (!(c in r)) r[c] = null;
  return new Dataset(rows, { columnNames: columns });
}

// ---------------------------------------------------------------- locating files

function isHidden(rel: string): boolean {
  return rel.split("/").some((p) => p.startsWith(".") || p.startsWith("__"));
}

async function listFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const full = resolve(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    const rel = full.slice(resolve(dir).length + 1).split(sep).join("/");
    if (isHidden(rel)) continue;
    if (e.isFile() || (e.isSymbolicLink() && (await stat(full).then((s) => s.isFile(), () => false)))) out.push(rel);
  }
  return out.sort();
}

function globRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else {
        re += ".*";
      }
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Files a data_files entry names: a path, or a glob over the files below its fixed leading folders. */
async function expandDataFiles(pattern: string, base: string): Promise<string[]> {
  if (typeof pattern !== "string" || pattern === "") throw new TypeError(`${OP}: dataFiles entries must be non-empty strings`);
  const full = resolve(base, pattern).split(sep).join("/");
  if (!/[*?]/.test(pattern)) {
    const ok = await stat(full).then((s) => s.isFile(), () => false);
    if (!ok) throw new SbertError("ERR_FILE_NOT_FOUND", `no data file at ${full}`, { op: OP });
    return [full];
  }
  const parts = full.split("/");
  const firstWild = parts.findIndex((p) => /[*?]/.test(p));
  const root = parts.slice(0, firstWild).join("/") || "/";
  const re = globRegex(parts.slice(firstWild).join("/"));
  const isDir = await stat(root).then((s) => s.isDirectory(), () => false);
  const matches = isDir ? (await listFilesUnder(root)).filter((rel) => re.test(rel)).map((rel) => `${root === "/" ? "" : root}/${rel}`) : [];
  if (matches.length === 0) throw new SbertError("ERR_FILE_NOT_FOUND", `no data file matches ${full}`, { op: OP });
  return matches;
}

async function resolveDataFiles(dataFiles: NonNullable<LoadDatasetOptions["dataFiles"]>, base: string): Promise<Map<string, string[]>> {
  const bySplit: [string, string | string[]][] =
    typeof dataFiles === "string" || Array.isArray(dataFiles) ? [["train", dataFiles]] : Object.entries(dataFiles as Record<string, string | string[]>);
  if (typeof dataFiles === "object" && dataFiles !== null && !Array.isArray(dataFiles) && bySplit.length === 0) {
    throw new TypeError(`${OP}: dataFiles names no split`);
  }
  const out = new Map<string, string[]>();
  for (const [split, entry] of bySplit) {
    const patterns = typeof entry === "string" ? [entry] : entry;
    if (!Array.isArray(patterns) || patterns.length === 0) throw new TypeError(`${OP}: dataFiles["${split}"] must be a path or a non-empty list of paths`);
    const files: string[] = [];
    for (const p of patterns) for (const f of await expandDataFiles(p, base)) if (!files.includes(f)) files.push(f);
    out.set(split, files);
  }
  return out;
}

/** datasets' split keywords: a file or folder name holding one (between separators) belongs to that split. */
const SPLIT_KEYWORDS: [string, string[]][] = [
  ["train", ["train", "training"]],
  ["validation", ["validation", "valid", "dev", "val"]],
  ["test", ["test", "testing", "eval", "evaluation"]],
];

function splitOfPath(rel: string): string | undefined {
  const parts = rel.split("/");
  for (const [split, words] of SPLIT_KEYWORDS) {
    for (const w of words) {
      const inName = new RegExp(`(^|[-._ 0-9])${w}[-._ 0-9]`).test(parts[parts.length - 1]!);
      const inDir = parts.slice(0, -1).some((d) => new RegExp(`(^|[-._ 0-9])${w}([-._ 0-9]|$)`).test(d));
      if (inName || inDir) return split;
    }
  }
  return undefined;
}

/** The data files of a folder by split, as datasets finds them; files without a split keyword are all "train". */
async function detectSplits(dir: string): Promise<{ files: Map<string, string[]>; format: Format }> {
  const all = (await listFilesUnder(dir)).filter((f) => formatOf(f) !== undefined);
  if (all.length === 0) throw new SbertError("ERR_FILE_NOT_FOUND", `no data files (.csv, .tsv, .json, .jsonl, .parquet, .txt) in ${dir}`, { op: OP });
  // One format per dataset: the most common one, as datasets picks.
  const counts = new Map<Format, number>();
  for (const f of all) counts.set(formatOf(f)!, (counts.get(formatOf(f)!) ?? 0) + 1);
  const format = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const files = all.filter((f) => formatOf(f) === format);
  const bySplit = new Map<string, string[]>();
  for (const f of files) {
    const s = splitOfPath(f);
    if (s === undefined) continue;
    if (!bySplit.has(s)) bySplit.set(s, []);
    bySplit.get(s)!.push(resolve(dir, f));
  }
  if (bySplit.size === 0) bySplit.set("train", files.map((f) => resolve(dir, f)));
  const ordered = new Map([...bySplit.entries()].sort((a, b) => SPLIT_KEYWORDS.findIndex(([s]) => s === a[0]) - SPLIT_KEYWORDS.findIndex(([s]) => s === b[0])));
  return { files: ordered, format };
}

// ---------------------------------------------------------------- split specs

interface SplitPart {
  split: string;
  from?: string;
  to?: string;
}

function parseSplitSpec(spec: string): SplitPart[] {
  return spec.split("+").map((raw) => {
    const m = /^\s*(\w+(?:\.\w+)*)\s*(?:\[\s*(-?\d+%?)?\s*:\s*(-?\d+%?)?\s*\])?\s*$/.exec(raw);
    if (!m) throw new RangeError(`${OP}: split ${JSON.stringify(spec)} is not a split name, a slice like "train[:100]" / "train[10%:20%]", or a '+' of those`);
    return { split: m[1]!, ...(m[2] !== undefined && { from: m[2] }), ...(m[3] !== undefined && { to: m[3] }) };
  });
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function boundary(b: string | undefined, n: number, fallback: number): number {
  if (b === undefined) return fallback;
  let v = b.endsWith("%") ? roundHalfEven((Number(b.slice(0, -1)) * n) / 100) : Number(b);
  if (v < 0) v += n;
  return Math.min(Math.max(v, 0), n);
}

function applySpec(parts: SplitPart[], datasets: Map<string, Dataset>): Dataset {
  let out: Dataset | undefined;
  for (const p of parts) {
    let d = datasets.get(p.split)!;
    if (p.from !== undefined || p.to !== undefined) {
      const from = boundary(p.from, d.length, 0);
      const to = boundary(p.to, d.length, d.length);
      d = d.select(Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i));
    }
    out = out === undefined ? d : out.concat(d);
  }
  return out!;
}

// ---------------------------------------------------------------- entry point

function checkOptions(opts: LoadDatasetOptions): void {
  if (typeof opts !== "object" || opts === null) throw new TypeError(`${OP}: options must be an object`);
  for (const key of ["name", "split", "revision", "token", "cacheFolder", "endpoint", "delimiter"] as const) {
    const v = opts[key];
    if (v !== undefined && (typeof v !== "string" || v === "")) throw new TypeError(`${OP}: ${key} must be a non-empty string`);
  }
  if (opts.localFilesOnly !== undefined && typeof opts.localFilesOnly !== "boolean") throw new TypeError(`${OP}: localFilesOnly must be a boolean`);
  const df = opts.dataFiles;
  if (df !== undefined && typeof df !== "string" && !Array.isArray(df) && (typeof df !== "object" || df === null)) {
    throw new TypeError(`${OP}: dataFiles must be a path, a list of paths, or an object of split → path(s)`);
  }
}

/**
 * Loads a dataset: with `split`, that split as one Dataset; without, every split by name.
 *
 *   loadDataset("csv", { dataFiles: { train: "train.csv", test: "test.csv" } })
 *   loadDataset("data/pairs.jsonl")                      // one file: split "train"
 *   loadDataset("data/stsb")                             // a folder of train.* / validation.* / test.* files
 *   loadDataset("stsb_multi_mt", { name: "it", split: "train" })   // the Hub, through its parquet export
 */
export async function loadDataset(pathOrId: string, opts: LoadDatasetOptions & { split: string }): Promise<Dataset>;
export async function loadDataset(pathOrId: string, opts?: LoadDatasetOptions & { split?: undefined }): Promise<Record<string, Dataset>>;
export async function loadDataset(pathOrId: string, opts?: LoadDatasetOptions): Promise<Dataset | Record<string, Dataset>>;
export async function loadDataset(pathOrId: string, opts: LoadDatasetOptions = {}): Promise<Dataset | Record<string, Dataset>> {
  if (typeof pathOrId !== "string" || pathOrId === "") throw new TypeError(`${OP}: pathOrId must be a non-empty string`);
  checkOptions(opts);
  const spec = opts.split !== undefined ? parseSplitSpec(opts.split) : undefined;
  const wanted = spec ? [...new Set(spec.map((p) => p.split))] : undefined;

  let files: Map<string, string[]>;
  let format: Format | undefined;
  let source: string;
  const builder = BUILDERS.find((b) => b === pathOrId);
  const local = builder ? undefined : await stat(pathOrId).catch(() => undefined);
  if (builder) {
    if (opts.dataFiles === undefined) throw new TypeError(`${OP}: loading with the "${builder}" builder needs dataFiles`);
    files = await resolveDataFiles(opts.dataFiles, process.cwd());
    format = builder;
    source = `${builder} files`;
  } else if (local?.isFile()) {
    if (opts.dataFiles !== undefined) throw new TypeError(`${OP}: dataFiles goes with a builder name or a folder, not with a file path`);
    format = formatOf(pathOrId);
    if (format === undefined) throw formatError(pathOrId, "unknown data file type (expected .csv, .tsv, .json, .jsonl, .parquet or .txt, optionally .gz)");
    files = new Map([["train", [resolve(pathOrId)]]]);
    source = pathOrId;
  } else if (local?.isDirectory()) {
    if (opts.dataFiles !== undefined) {
      files = await resolveDataFiles(opts.dataFiles, pathOrId);
    } else {
      ({ files, format } = await detectSplits(pathOrId));
    }
    source = pathOrId;
  } else {
    if (formatOf(pathOrId) !== undefined || pathOrId.startsWith(".") || pathOrId.startsWith("/") || pathOrId.includes("\\") || pathOrId.split("/").length > 2) {
      throw new SbertError("ERR_FILE_NOT_FOUND", `no file or folder at ${pathOrId}`, { op: OP });
    }
    if (opts.dataFiles !== undefined) throw new TypeError(`${OP}: dataFiles is for local files; Hub datasets are read from their parquet export`);
    const exp = await downloadParquetExport(pathOrId, {
      ...(opts.name !== undefined && { name: opts.name }),
      ...(wanted !== undefined && { splits: wanted }),
      ...(opts.revision !== undefined && { revision: opts.revision }),
      ...(opts.token !== undefined && { token: opts.token }),
      ...(opts.cacheFolder !== undefined && { cacheFolder: opts.cacheFolder }),
      ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }),
      ...(opts.localFilesOnly !== undefined && { localFilesOnly: opts.localFilesOnly }),
      op: OP,
    });
    files = new Map(Object.entries(exp.splits));
    format = "parquet";
    source = `dataset '${pathOrId}' (config '${exp.config}')`;
  }

  for (const s of wanted ?? []) {
    if (!files.has(s)) {
      throw new SbertError("ERR_INPUT", `${source} has no split '${s}'; available splits: ${[...files.keys()].join(", ")}`, { op: OP });
    }
  }
  const datasets = new Map<string, Dataset>();
  for (const [split, list] of files) {
    if (wanted && !wanted.includes(split)) continue;
    datasets.set(split, await readSplit(list, format, opts.delimiter));
  }
  if (spec) return applySpec(spec, datasets);
  return Object.fromEntries(datasets);
}
