import { DataLoader, type DataLoaderOptions } from "../DataLoader.js";
import type { InputExample } from "../InputExample.js";
import { seededRandom, shuffled } from "../internal/random.js";

/**
 * Batches in which no text appears twice (compared trimmed and lower-cased), for losses that use the other
 * examples of a batch as negatives: a duplicate would be a false negative. Examples that would repeat a text are
 * kept for a later batch. As sentence-transformers, the data is reshuffled whenever it has been gone through.
 */
export class NoDuplicatesDataLoader extends DataLoader {
  constructor(examples: readonly InputExample[] | Iterable<InputExample>, options: Omit<DataLoaderOptions, "shuffle" | "dropLast"> = {}) {
    super(examples, { ...options, shuffle: true, dropLast: true });
    const distinct = new Set(this.examples.map((e) => e.texts.map((t) => t.trim().toLowerCase()).join("\u0000")));
    if (this.examples.length > 0 && distinct.size < this.batchSize) {
      throw new RangeError(`NoDuplicatesDataLoader: batchSize ${this.batchSize} is larger than the ${distinct.size} distinct examples`);
    }
  }

  override epochBatches(epoch: number): InputExample[][] {
    // The pointer and the order carry over from pass to pass, so pass `epoch` is found by replaying from the start.
    let round = 0;
    let order = shuffled(this.examples, seededRandom(this.seed + round * 7919));
    let pointer = 0;
    let result: InputExample[][] = [];
    for (let pass = 0; pass <= epoch; pass++) {
      result = [];
      for (let b = 0; b < this.length; b++) {
        const batch: InputExample[] = [];
        const seen = new Set<string>();
        let scanned = 0;
        while (batch.length < this.batchSize) {
          const example = order[pointer]!;
          const keys = example.texts.map((t) => t.trim().toLowerCase());
          if (keys.every((k) => !seen.has(k))) {
            batch.push(example);
            for (const k of keys) seen.add(k);
          }
          pointer++;
          if (pointer >= order.length) {
            pointer = 0;
            round++;
            order = shuffled(this.examples, seededRandom(this.seed + round * 7919));
          }
          if (++scanned > 2 * order.length + this.batchSize) {
            throw new RangeError(`NoDuplicatesDataLoader: cannot fill a batch of ${this.batchSize} without repeating a text`);
          }
        }
        result.push(batch);
      }
    }
    return result;
  }
}
