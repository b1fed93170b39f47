/**
 * The batch samplers of sentence-transformers' trainer (`sentence_transformers.base.sampler`), drawing from a
 * torch-compatible generator so that a run sees the batches Python's trainer would for the same datasets and seed.
 * Each sampler is a generator function over row indices, lazy in the same places as Python's (a sampler draws its
 * permutation when its first batch is asked for, and torch's RandomSampler draws one more when it runs out), which
 * matters when several samplers share one generator in multi-dataset training.
 */
import type { Dataset } from "./datasets/Dataset.js";
import { TorchGenerator } from "./internal/torchRandom.js";

/** How the rows of one dataset are grouped into batches (Python's `BatchSamplers`). */
export const BatchSamplers = {
  /** Shuffled rows in order, as torch's BatchSampler over a RandomSampler. */
  BATCH_SAMPLER: "batch_sampler",
  /** No value appears twice in a batch (for in-batch negatives); conflicting rows wait for a later batch. */
  NO_DUPLICATES: "no_duplicates",
  /** Every batch holds at least 2 rows of each of at least 2 labels (for in-batch triplet mining). */
  GROUP_BY_LABEL: "group_by_label",
} as const;
export type BatchSamplerName = (typeof BatchSamplers)[keyof typeof BatchSamplers];

/** In what order batches of several datasets are taken (Python's `MultiDatasetBatchSamplers`). */
export const MultiDatasetBatchSamplers = {
  /** One batch of each dataset in turn, until one runs out. */
  ROUND_ROBIN: "round_robin",
  /** Datasets in a random order, each as often as it has batches: every row is used. */
  PROPORTIONAL: "proportional",
} as const;
export type MultiDatasetBatchSamplerName = (typeof MultiDatasetBatchSamplers)[keyof typeof MultiDatasetBatchSamplers];

/** The columns sentence-transformers reads labels from, the first one present winning. */
export const LABEL_COLUMNS = ["label", "labels", "score", "scores"] as const;

export interface BatchSamplerOptions {
  batchSize: number;
  dropLast: boolean;
  generator: TorchGenerator;
  /**
   * Reseeds the generator with seed + epoch when an epoch starts. sentence-transformers' trainer gives its
   * per-dataset samplers seed 0 (its `get_batch_sampler` is called without a seed), so NO_DUPLICATES and
   * GROUP_BY_LABEL orders do not depend on the training seed; the shuffling of BATCH_SAMPLER does (accelerate's
   * SeedableRandomSampler reseeds with the training seed + epoch when it is the only sampler).
   */
  seed: number;
  /** BATCH_SAMPLER only: reseed (true for a single dataset, whose RandomSampler accelerate makes seedable). */
  reseed?: boolean;
}

/** One dataset's batches of row indices for one epoch (`setEpoch` first), and their count. */
export interface RowBatchSampler extends Iterable<number[]> {
  readonly batchSize: number;
  readonly dropLast: boolean;
  epoch: number;
  /** The number of batches (for NO_DUPLICATES an upper bound, as in Python). */
  readonly length: number;
}

function batchCount(n: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** torch's BatchSampler: islice batches, or zip batches when dropping the last one. */
function* batchesOf(indices: Iterator<number>, batchSize: number, dropLast: boolean): Generator<number[]> {
  for (;;) {
    const batch: number[] = [];
    while (batch.length < batchSize) {
      const r = indices.next();
      if (r.done) {
        if (!dropLast && batch.length > 0) yield batch;
        return;
      }
      batch.push(r.value);
    }
    yield batch;
  }
}

/** BatchSamplers.BATCH_SAMPLER: torch's BatchSampler over a RandomSampler. */
export class RandomBatchSampler implements RowBatchSampler {
  epoch = 0;
  readonly batchSize: number;
  readonly dropLast: boolean;

  constructor(
    readonly numRows: number,
    private readonly options: BatchSamplerOptions,
  ) {
    this.batchSize = options.batchSize;
    this.dropLast = options.dropLast;
  }

  get length(): number {
    return batchCount(this.numRows, this.batchSize, this.dropLast);
  }

  *#rows(): Generator<number> {
    const { generator, seed, reseed } = this.options;
    if (reseed) generator.manualSeed(seed + this.epoch);
    yield* generator.randperm(this.numRows);
    // torch's RandomSampler then yields randperm(n)[: num_samples % n]: one more permutation drawn, none of it used.
    generator.randperm(this.numRows);
  }

  [Symbol.iterator](): Iterator<number[]> {
    return batchesOf(this.#rows(), this.batchSize, this.dropLast);
  }
}

/** Python's `str()` of a value as the duplicate check compares it (strings as they are). */
function valueKey(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
}

/** BatchSamplers.NO_DUPLICATES: Python's NoDuplicatesBatchSampler (exact values of every non-label column). */
export class NoDuplicatesBatchSampler implements RowBatchSampler {
  epoch = 0;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly #values: string[][];

  constructor(
    dataset: Dataset,
    private readonly options: BatchSamplerOptions,
  ) {
    this.batchSize = options.batchSize;
    this.dropLast = options.dropLast;
    const columns = dataset.columnNames.filter((c) => !(LABEL_COLUMNS as readonly string[]).includes(c) && c !== "dataset_name");
    this.#values = dataset.rows().map((r) => columns.map((c) => valueKey(r[c])));
  }

  get length(): number {
    return batchCount(this.#values.length, this.batchSize, this.dropLast);
  }

  *[Symbol.iterator](): Iterator<number[]> {
    const { generator, seed } = this.options;
    generator.manualSeed(seed + this.epoch);
    const n = this.#values.length;
    if (n === 0) return;
    const order = generator.randperm(n);
    // A singly linked list over the shuffled positions: rows that conflict with a batch stay where they are, in
    // order, for the next batches.
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    let head = 0;
    while (head !== -1) {
      const seen = new Set<string>();
      const batch: number[] = [];
      let current = head;
      let previous = -1;
      let full = false;
      while (current !== -1) {
        const following = next[current]!;
        const index = order[current]!;
        const values = this.#values[index]!;
        if (values.some((v) => seen.has(v))) {
          previous = current;
          current = following;
          continue;
        }
        batch.push(index);
        if (previous === -1) head = following;
        else next[previous] = following;
        if (batch.length === this.batchSize) {
          full = true;
          yield batch;
          break;
        }
        for (const v of values) seen.add(v);
        current = following;
      }
      // A batch that could not be filled (the rows left conflict with it) is yielded short or, with dropLast,
      // dropped with its rows; the rows after it make the next batches.
      if (!full && !this.dropLast) yield batch;
    }
  }
}

/** BatchSamplers.GROUP_BY_LABEL: Python's GroupByLabelBatchSampler. */
export class GroupByLabelBatchSampler implements RowBatchSampler {
  epoch = 0;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly #groups: number[][];
  readonly #streamLength: number;

  constructor(
    labels: readonly unknown[],
    private readonly options: BatchSamplerOptions,
  ) {
    this.batchSize = options.batchSize;
    this.dropLast = options.dropLast;
    if (this.batchSize < 4 || this.batchSize % 2 === 1) {
      throw new RangeError(`GroupByLabelBatchSampler: batch size must be an even number >= 4, but got ${this.batchSize}`);
    }
    const byLabel = new Map<unknown, number[]>();
    labels.forEach((label, i) => {
      const key = typeof label === "object" ? JSON.stringify(label) : label;
      if (!byLabel.has(key)) byLabel.set(key, []);
      byLabel.get(key)!.push(i);
    });
    // Labels with at least 2 rows, each trimmed to an even count (pairs).
    this.#groups = [...byLabel.values()].filter((g) => g.length >= 2).map((g) => g.slice(0, Math.floor(g.length / 2) * 2));
    if (this.#groups.length < 2) {
      throw new RangeError(
        `GroupByLabelBatchSampler: needs at least 2 distinct labels with >= 2 rows each, but only ${this.#groups.length} label(s) qualified`,
      );
    }
    const pairs = this.#groups.map((g) => g.length / 2).sort((a, b) => b - a);
    const cap = pairs[1]!;
    this.#streamLength = 2 * pairs.reduce((acc, p) => acc + Math.min(p, cap), 0);
  }

  get length(): number {
    let n = Math.floor(this.#streamLength / this.batchSize);
    if (!this.dropLast && this.#streamLength % this.batchSize >= 4) n++;
    return n;
  }

  *[Symbol.iterator](): Iterator<number[]> {
    const { generator, seed } = this.options;
    generator.manualSeed(seed + this.epoch);
    const queues = this.#groups.map((g) => generator.randperm(g.length).map((i) => g[i]!));
    let remaining = queues.map((_, i) => i);
    let batch: number[] = [];
    while (remaining.length >= 2) {
      const perm = generator.randperm(remaining.length);
      remaining = perm.map((i) => remaining[i]!);
      for (const label of remaining) {
        batch.push(queues[label]!.shift()!, queues[label]!.shift()!);
        if (batch.length >= this.batchSize) {
          yield batch.slice(0, this.batchSize);
          batch = batch.slice(this.batchSize);
        }
      }
      remaining = remaining.filter((label) => queues[label]!.length > 0);
    }
    if (!this.dropLast && batch.length >= 4) yield batch;
  }
}

interface SubSampler {
  sampler: RowBatchSampler;
  numRows: number;
}

/**
 * Batches of several datasets, as indices into their concatenation (torch's ConcatDataset); Python's
 * MultiDatasetDefaultBatchSampler. The generator, shared with the datasets' samplers, is reseeded with
 * seed + epoch when an epoch starts.
 */
export abstract class MultiDatasetBatchSampler implements Iterable<number[]> {
  epoch = 0;
  /** Where each dataset's rows start in the concatenation. */
  readonly offsets: readonly number[];

  constructor(
    protected readonly samplers: readonly SubSampler[],
    protected readonly generator: TorchGenerator,
    protected readonly seed: number,
  ) {
    const offsets = [0];
    for (const s of samplers) offsets.push(offsets[offsets.length - 1]! + s.numRows);
    this.offsets = offsets;
  }

  abstract readonly length: number;

  /** The datasets' batches in this sampler's order (dataset index, row batch). */
  protected abstract order(iterators: Iterator<number[]>[]): Generator<[number, number[]]>;

  *[Symbol.iterator](): Iterator<number[]> {
    this.generator.manualSeed(this.seed + this.epoch);
    for (const [d, batch] of this.order(this.samplers.map((s) => s.sampler[Symbol.iterator]()))) yield batch.map((i) => i + this.offsets[d]!);
  }
}

/** MultiDatasetBatchSamplers.ROUND_ROBIN: Python's RoundRobinBatchSampler. */
export class RoundRobinBatchSampler extends MultiDatasetBatchSampler {
  get length(): number {
    return Math.min(...this.samplers.map((s) => s.sampler.length)) * this.samplers.length;
  }

  protected *order(iterators: Iterator<number[]>[]): Generator<[number, number[]]> {
    for (let d = 0; ; d = (d + 1) % iterators.length) {
      const r = iterators[d]!.next();
      if (r.done) return;
      yield [d, r.value];
    }
  }
}

/** MultiDatasetBatchSamplers.PROPORTIONAL: Python's ProportionalBatchSampler. */
export class ProportionalBatchSampler extends MultiDatasetBatchSampler {
  get length(): number {
    return this.samplers.reduce((acc, s) => acc + s.sampler.length, 0);
  }

  protected *order(iterators: Iterator<number[]>[]): Generator<[number, number[]]> {
    const datasetIndices = this.samplers.flatMap((s, d) => Array.from({ length: s.sampler.length }, () => d));
    // SubsetRandomSampler: the whole order is drawn before the first batch.
    for (const d of this.generator.randperm(datasetIndices.length).map((i) => datasetIndices[i]!)) {
      const r = iterators[d]!.next();
      if (!r.done) yield [d, r.value];
    }
  }
}

export interface ScheduleOptions {
  batchSampler: BatchSamplerName;
  multiDatasetBatchSampler: MultiDatasetBatchSamplerName;
  batchSize: number;
  dropLast: boolean;
  /** The training seed. */
  seed: number;
}

/** One batch of a schedule: which dataset, and its rows there. */
export interface ScheduledBatch {
  dataset: number;
  rows: number[];
}

/** The rows' labels, from the first label column the dataset has. */
function labelsOf(dataset: Dataset): unknown[] {
  const column = LABEL_COLUMNS.find((c) => dataset.columnNames.includes(c));
  if (column === undefined) {
    throw new RangeError(`GroupByLabelBatchSampler: none of the label columns ${LABEL_COLUMNS.join(", ")} is in the dataset, whose columns are ${dataset.columnNames.join(", ")}`);
  }
  return dataset.column(column);
}

/**
 * The batches of one or several datasets for each epoch, as sentence-transformers' trainer builds its
 * DataLoader: one generator seeded with the training seed, shared by every sampler.
 */
export class BatchSchedule {
  readonly #top: RowBatchSampler | MultiDatasetBatchSampler;
  readonly #multi: boolean;

  constructor(datasets: readonly Dataset[], options: ScheduleOptions) {
    if (datasets.length === 0) throw new RangeError("BatchSchedule: no datasets");
    const generator = new TorchGenerator().manualSeed(options.seed);
    this.#multi = datasets.length > 1;
    const make = (dataset: Dataset): RowBatchSampler => {
      const o: BatchSamplerOptions = { batchSize: options.batchSize, dropLast: options.dropLast, generator, seed: 0 };
      switch (options.batchSampler) {
        case "no_duplicates":
          return new NoDuplicatesBatchSampler(dataset, o);
        case "group_by_label":
          return new GroupByLabelBatchSampler(labelsOf(dataset), o);
        case "batch_sampler":
          return new RandomBatchSampler(dataset.length, { ...o, seed: options.seed, reseed: !this.#multi });
      }
    };
    const samplers = datasets.map((d) => ({ sampler: make(d), numRows: d.length }));
    if (!this.#multi) {
      this.#top = samplers[0]!.sampler;
    } else {
      const Multi = options.multiDatasetBatchSampler === "round_robin" ? RoundRobinBatchSampler : ProportionalBatchSampler;
      this.#top = new Multi(samplers, generator, options.seed);
    }
  }

  /** Batches per epoch (the DataLoader's length). */
  get length(): number {
    return this.#top.length;
  }

  /** The batches of `epoch`, in order. */
  epoch(epoch: number): ScheduledBatch[] {
    this.#top.epoch = epoch;
    const out: ScheduledBatch[] = [];
    const offsets = this.#top instanceof MultiDatasetBatchSampler ? this.#top.offsets : [0];
    for (const batch of this.#top) {
      let d = 0;
      while (d + 1 < offsets.length - 1 && batch[0]! >= offsets[d + 1]!) d++;
      out.push({ dataset: d, rows: batch.map((i) => i - offsets[d]!) });
    }
    return out;
  }
}
