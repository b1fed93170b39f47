// Training-step memory: once a run has grown its memory on its longest batch, batches of other lengths reuse it
// (no new memory from the system), and emptyCache() hands it back.
import { describe, expect, test } from "vitest";

import { DataLoader, InputExample, SentenceTransformer, Tokenizer, backendInfo, emptyCache, losses, models } from "../../lib/index.js";

const WORDS = ["alba", "bosco", "cielo", "duna", "erba", "fiume", "gelo", "lago", "mare", "neve", "onda", "pino", "rosa", "sole", "vento"];

async function model(): Promise<SentenceTransformer> {
  const tokenizer = Tokenizer.fromVocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...WORDS], { doLowerCase: true });
  // Wide enough that a batch's activations are blocks of hundreds of KiB.
  const transformer = await models.Transformer.fromConfig(
    { vocab_size: WORDS.length + 5, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 512, max_position_embeddings: 128 },
    tokenizer,
    { seed: 3 },
  );
  return new SentenceTransformer({ modules: [transformer, new models.Pooling(128)] });
}

/** Batches of 16 pairs whose texts are `length` words long, longest batch first. */
function examples(lengths: number[]): InputExample[] {
  const text = (n: number, shift: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + shift) % WORDS.length]).join(" ");
  return lengths.flatMap((length, b) =>
    Array.from({ length: 16 }, (_, i) => new InputExample({ texts: [text(length, i + b), text(Math.max(4, length - 3), i * 3 + b)], label: (i % 5) / 4 })),
  );
}

describe("training memory", () => {
  test("batches of other lengths reuse the memory of the longest one; emptyCache() hands it back", async () => {
    const m = await model();
    const loss = new losses.CosineSimilarityLoss(m);
    const fit = (lengths: number[]) =>
      m.fit({ trainObjectives: [[new DataLoader(examples(lengths), { batchSize: 16 }), loss]], epochs: 1, warmupSteps: 0, showProgressBar: false, seed: 1 });
    await fit([100, 60]);
    const before = backendInfo().cpuCache;
    await fit([100, 17, 43, 29, 71, 9, 88, 54]);
    const after = backendInfo().cpuCache;
    // Every block of a page and more was served from memory the first run took: none of these lengths' sizes
    // occurred in it.
    expect(after.misses - before.misses).toBe(0);
    expect(after.hits - before.hits).toBeGreaterThan(100);
    expect(after.cachedBytes).toBeGreaterThan(0);
    emptyCache();
    expect(backendInfo().cpuCache.cachedBytes).toBe(0);
    // Training again after that maps memory anew, and still trains.
    await fit([30]);
    expect(backendInfo().cpuCache.misses).toBeGreaterThan(after.misses);
    m.dispose();
  });
});
