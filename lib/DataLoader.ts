import { InputExample } from "./InputExample.js";
import { randomSeed, seededRandom, shuffled } from "./internal/random.js";

export interface DataLoaderOptions {
  /** Examples per batch. Default 1 (as torch's DataLoader). */
  batchSize?: number;
  /** Reshuffle at every pass over the data. */
  shuffle?: boolean;
  /** Seeds the shuffling, so a run (and a resumed run) sees the same order. Random when not given. */
  seed?: number;
  /** Leave out a last, smaller batch. */
  dropLast?: boolean;
}

/**
 * Batches of InputExamples for training. The order of pass `epoch` depends only on (seed, epoch), which is what
 * lets a resumed run continue with the same batches.
 */
export class DataLoader implements Iterable<InputExample[]> {
  readonly examples: readonly InputExample[];
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  private pass = 0;

  constructor(examples: readonly InputExample[] | Iterable<InputExample>, options: DataLoaderOptions = {}) {
    const list = Array.isArray(examples) ? (examples as readonly InputExample[]) : [...(examples as Iterable<InputExample>)];
    list.forEach((e, i) => {
      if (!(e instanceof InputExample)) throw new TypeError(`DataLoader: examples[${i}] is not an InputExample`);
    });
    const { batchSize = 1, shuffle = false, dropLast = false } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${String(batchSize)}`);
    if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new RangeError("DataLoader: seed must be an integer");
    this.examples = list;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = options.seed ?? randomSeed();
    this.dropLast = dropLast;
  }

  /** The same loader with another seed (a resumed run takes the seed its checkpoint recorded). */
  withSeed(seed: number): DataLoader {
    const Ctor = this.constructor as new (examples: readonly InputExample[], options: DataLoaderOptions) => DataLoader;
    return new Ctor(this.examples, { batchSize: this.batchSize, shuffle: this.shuffle, dropLast: this.dropLast, seed });
  }

  /** Batches per pass. */
  get length(): number {
    return this.dropLast ? Math.floor(this.examples.length / this.batchSize) : Math.ceil(this.examples.length / this.batchSize);
  }

  /** The batches of pass `epoch` (0-based), deterministic for this loader's seed. */
  epochBatches(epoch: number): InputExample[][] {
    const order = this.shuffle ? shuffled(this.examples, seededRandom(this.seed + epoch * 7919)) : this.examples.slice();
    const batches: InputExample[][] = [];
    for (let i = 0; i + (this.dropLast ? this.batchSize : 1) <= order.length; i += this.batchSize) {
      batches.push(order.slice(i, i + this.batchSize));
    }
    return batches;
  }

  [Symbol.iterator](): Iterator<InputExample[]> {
    return this.epochBatches(this.pass++)[Symbol.iterator]();
  }
}
