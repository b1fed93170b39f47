/**
 * A table of rows, as Hugging Face `datasets.Dataset` is for sentence-transformers training and evaluation:
 * named columns in a fixed order (training reads input columns in that order), rows by index, and the
 * usual derivations (map, filter, select, shuffle, train/test split). Every derivation returns a new
 * Dataset; rows handed out are copies, so changing them does not change the dataset.
 */
import { randomBytes } from "node:crypto";

export type DatasetRow = Record<string, unknown>;

export interface DatasetOptions {
  /** Column order; default: keys in order of first appearance over the rows. */
  columnNames?: string[];
}

export interface TrainTestSplitOptions {
  /** Fraction in (0, 1) or a row count. Default 0.25 (or what trainSize leaves). */
  testSize?: number;
  /** Fraction in (0, 1) or a row count. Default: what testSize leaves. */
  trainSize?: number;
  /** Seed of the shuffle before splitting. */
  seed?: number;
  /** Default true. */
  shuffle?: boolean;
}

/** Row arrays built here and handed to the constructor without a defensive copy. */
const owned = new WeakSet<object>();

function own<R>(rows: R[]): R[] {
  owned.add(rows);
  return rows;
}

function checkSeed(seed: unknown, where: string): number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${where}: seed must be a non-negative integer, got ${String(seed)}`);
  return seed;
}

/**
 * Deterministic generator for shuffles: splitmix64 expands the seed into the state of xoshiro128**
 * (32-bit arithmetic only). The order is reproducible for a seed here, not the one numpy would give.
 */
function seededRandom(seed: number): () => number {
  let z = BigInt(seed);
  const mask = (1n << 64n) - 1n;
  const next64 = (): bigint => {
    z = (z + 0x9e3779b97f4a7c15n) & mask;
    let x = z;
    x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & mask;
    return x ^ (x >> 31n);
  };
  const a = next64();
  const b = next64();
  const s = new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
  if (s[0] === 0 && s[1] === 0 && s[2] === 0 && s[3] === 0) s[0] = 1;
  const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  // 53 random bits → [0, 1).
  return () => ((nextU32() >>> 5) * 67108864 + (nextU32() >>> 6)) / 9007199254740992;
}

/** A permutation of 0..n-1 (Fisher–Yates). */
function permutation(n: number, seed: number): number[] {
  const rand = seededRandom(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

function columnsOf(rows: readonly DatasetRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

export class Dataset<Row extends Record<string, unknown> = Record<string, unknown>> implements Iterable<Row> {
  readonly #rows: Row[];
  readonly #columns: string[];

  constructor(rows: Row[], options: DatasetOptions = {}) {
    if (!Array.isArray(rows)) throw new TypeError("Dataset: rows must be an array of objects");
    if (typeof options !== "object" || options === null) throw new TypeError("Dataset: options must be an object");
    if (owned.has(rows)) {
      owned.delete(rows);
      this.#rows = rows;
    } else {
      this.#rows = rows.map((r, i) => {
        if (typeof r !== "object" || r === null || Array.isArray(r)) throw new TypeError(`Dataset: rows[${i}] must be an object`);
        return { ...r };
      });
    }
    if (options.columnNames !== undefined) {
      const names = options.columnNames;
      if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) throw new TypeError("Dataset: columnNames must be an array of strings");
      if (new Set(names).size !== names.length) throw new RangeError(`Dataset: columnNames lists a column twice (${names.join(", ")})`);
      this.#columns = [...names];
    } else {
      this.#columns = columnsOf(this.#rows);
    }
  }

  /** A dataset from columns of equal length: `{ text: [...], label: [...] }`. */
  static fromColumns<R extends Record<string, unknown>>(columns: { [K in keyof R]: R[K][] }): Dataset<R> {
    if (typeof columns !== "object" || columns === null) throw new TypeError("Dataset.fromColumns: columns must be an object of arrays");
    const names = Object.keys(columns);
    let n: number | undefined;
    for (const name of names) {
      const col = (columns as Record<string, unknown>)[name];
      if (!Array.isArray(col)) throw new TypeError(`Dataset.fromColumns: column '${name}' must be an array`);
      if (n !== undefined && col.length !== n) throw new RangeError(`Dataset.fromColumns: column '${name}' has ${col.length} values, the others ${n}`);
      n = col.length;
    }
    const rows = Array.from({ length: n ?? 0 }, (_, i) => {
      const r: Record<string, unknown> = {};
      for (const name of names) r[name] = (columns as Record<string, unknown[]>)[name]![i];
      return r as R;
    });
    return new Dataset<R>(own(rows), { columnNames: names });
  }

  get length(): number {
    return this.#rows.length;
  }

  get numRows(): number {
    return this.#rows.length;
  }

  get columnNames(): string[] {
    return [...this.#columns];
  }

  #checkColumn(name: unknown, where: string): string {
    if (typeof name !== "string" || !this.#columns.includes(name)) {
      throw new RangeError(`${where}: no column ${JSON.stringify(name)}; the columns are: ${this.#columns.join(", ") || "(none)"}`);
    }
    return name;
  }

  /** The values of one column, in row order. */
  column<K extends keyof Row & string>(name: K): Row[K][] {
    const key = this.#checkColumn(name, "Dataset.column");
    return this.#rows.map((r) => r[key] as Row[K]);
  }

  #index(i: unknown, where: string): number {
    if (typeof i !== "number" || !Number.isInteger(i) || i >= this.#rows.length || i < -this.#rows.length) {
      throw new RangeError(`${where}: index ${String(i)} is out of range for ${this.#rows.length} rows`);
    }
    return i < 0 ? i + this.#rows.length : i;
  }

  /** Row `i` (negative counts from the end, as in Python). */
  row(i: number): Row {
    return { ...this.#rows[this.#index(i, "Dataset.row")]! };
  }

  /** Rows `start` to `end` (exclusive), with Array.prototype.slice's reading of the bounds. */
  rows(start?: number, end?: number): Row[] {
    for (const [name, v] of [["start", start], ["end", end]] as const) {
      if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v))) throw new TypeError(`Dataset.rows: ${name} must be an integer`);
    }
    return this.#rows.slice(start, end).map((r) => ({ ...r }));
  }

  *[Symbol.iterator](): Iterator<Row> {
    for (const r of this.#rows) yield { ...r };
  }

  /** A dataset of `fn`'s results. To keep the other columns, return them too: `ds.map((r) => ({ ...r, n: r.text.length }))`. */
  map<R extends Record<string, unknown>>(fn: (row: Row, i: number) => R): Dataset<R> {
    if (typeof fn !== "function") throw new TypeError("Dataset.map: fn must be a function");
    const out = this.#rows.map((r, i) => {
      const v = fn({ ...r }, i);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TypeError(`Dataset.map: fn must return an object (row ${i} gave ${String(v)})`);
      return { ...v };
    });
    return new Dataset<R>(own(out));
  }

  filter(fn: (row: Row, i: number) => boolean): Dataset<Row> {
    if (typeof fn !== "function") throw new TypeError("Dataset.filter: fn must be a function");
    return new Dataset<Row>(own(this.#rows.filter((r, i) => fn({ ...r }, i))), { columnNames: this.#columns });
  }

  /** The rows at `indices`, in that order (repeats allowed). */
  select(indices: Iterable<number>): Dataset<Row> {
    if (indices === null || typeof (indices as Iterable<number>)?.[Symbol.iterator] !== "function") throw new TypeError("Dataset.select: indices must be an array of integers");
    const rows: Row[] = [];
    for (const i of indices) rows.push(this.#rows[this.#index(i, "Dataset.select")]!);
    return new Dataset<Row>(own(rows), { columnNames: this.#columns });
  }

  /** Rows in a random order; the same `seed` gives the same order. */
  shuffle(seed?: number): Dataset<Row> {
    const s = seed === undefined ? randomBytes(6).readUIntBE(0, 6) : checkSeed(seed, "Dataset.shuffle");
    return this.select(permutation(this.#rows.length, s));
  }

  /** Splits into `train` and `test` as datasets' train_test_split does (test rows first in the shuffled order). */
  trainTestSplit(options: TrainTestSplitOptions = {}): { train: Dataset<Row>; test: Dataset<Row> } {
    if (typeof options !== "object" || options === null) throw new TypeError("Dataset.trainTestSplit: options must be an object");
    const n = this.#rows.length;
    const count = (v: unknown, name: string, fraction: (f: number) => number): number | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new RangeError(`Dataset.trainTestSplit: ${name} must be a positive fraction below 1 or a row count, got ${String(v)}`);
      if (v < 1) return fraction(v);
      if (!Number.isInteger(v)) throw new RangeError(`Dataset.trainTestSplit: ${name} must be below 1 (a fraction) or an integer (a row count), got ${v}`);
      if (v > n) throw new RangeError(`Dataset.trainTestSplit: ${name}=${v} is more than the ${n} rows`);
      return v;
    };
    let nTest = count(options.testSize, "testSize", (f) => Math.ceil(f * n));
    let nTrain = count(options.trainSize, "trainSize", (f) => Math.floor(f * n));
    if (nTest === undefined && nTrain === undefined) nTest = Math.ceil(0.25 * n);
    if (nTest === undefined) nTest = n - nTrain!;
    if (nTrain === undefined) nTrain = n - nTest;
    if (nTrain + nTest > n) throw new RangeError(`Dataset.trainTestSplit: train (${nTrain}) and test (${nTest}) together exceed the ${n} rows`);
    if (nTrain === 0 || nTest === 0) {
      throw new RangeError(`Dataset.trainTestSplit: with ${n} rows, testSize=${String(options.testSize)} and trainSize=${String(options.trainSize)} leave an empty ${nTrain === 0 ? "train" : "test"} set`);
    }
    const shuffle = options.shuffle ?? true;
    if (typeof shuffle !== "boolean") throw new TypeError("Dataset.trainTestSplit: shuffle must be a boolean");
    let order: number[];
    if (shuffle) {
      const s = options.seed === undefined ? randomBytes(6).readUIntBE(0, 6) : checkSeed(options.seed, "Dataset.trainTestSplit");
      order = permutation(n, s);
      return { train: this.select(order.slice(nTest, nTest + nTrain)), test: this.select(order.slice(0, nTest)) };
    }
    order = Array.from({ length: n }, (_, i) => i);
    return { train: this.select(order.slice(0, nTrain)), test: this.select(order.slice(nTrain, nTrain + nTest)) };
  }

  /** Only these columns, in this order. */
  selectColumns<K extends keyof Row & string>(names: K[]): Dataset<Pick<Row, K>> {
    if (!Array.isArray(names)) throw new TypeError("Dataset.selectColumns: names must be an array of column names");
    for (const n of names) this.#checkColumn(n, "Dataset.selectColumns");
    const rows = this.#rows.map((r) => {
      const out: Record<string, unknown> = {};
      for (const n of names) out[n] = r[n];
      return out as Pick<Row, K>;
    });
    return new Dataset<Pick<Row, K>>(own(rows), { columnNames: [...names] });
  }

  removeColumns<K extends keyof Row & string>(names: K | K[]): Dataset<Omit<Row, K>> {
    const list = Array.isArray(names) ? names : [names];
    for (const n of list) this.#checkColumn(n, "Dataset.removeColumns");
    const keep = this.#columns.filter((c) => !(list as string[]).includes(c));
    const rows = this.#rows.map((r) => {
      const out: Record<string, unknown> = { ...r };
      for (const n of list) delete out[n];
      return out as Omit<Row, K>;
    });
    return new Dataset<Omit<Row, K>>(own(rows), { columnNames: keep });
  }

  renameColumn<K extends keyof Row & string, N extends string>(from: K, to: N): Dataset<Omit<Row, K> & Record<N, Row[K]>> {
    this.#checkColumn(from, "Dataset.renameColumn");
    if (typeof to !== "string" || to === "") throw new TypeError("Dataset.renameColumn: the new name must be a non-empty string");
    if ((to as string) !== from && this.#columns.includes(to)) throw new RangeError(`Dataset.renameColumn: there is already a column '${to}'`);
    const names = this.#columns.map((c) => (c === from ? to : c));
    const rows = this.#rows.map((r) => {
      const out: Record<string, unknown> = {};
      for (const c of this.#columns) if (c in r) out[c === from ? to : c] = r[c];
      return out as Omit<Row, K> & Record<N, Row[K]>;
    });
    return new Dataset<Omit<Row, K> & Record<N, Row[K]>>(own(rows), { columnNames: names });
  }

  /** Rows of this dataset followed by those of `other`. */
  concat(other: Dataset<Row>): Dataset<Row> {
    if (!(other instanceof Dataset)) throw new TypeError("Dataset.concat: other must be a Dataset");
    const names = [...this.#columns, ...other.#columns.filter((c) => !this.#columns.includes(c))];
    return new Dataset<Row>(own([...this.#rows, ...other.#rows]), { columnNames: names });
  }

  toString(): string {
    return `Dataset({ features: [${this.#columns.map((c) => `'${c}'`).join(", ")}], num_rows: ${this.#rows.length} })`;
  }
}
