// Encode memory: blocks kept for reuse after a long batch are the process's own pages, and emptyCache() gives them
// back to the system at once (process RSS falls by what was cached), whichever thread ran the encode.
import { readFileSync } from "node:fs";

import { describe, expect, test } from "vitest";

import { SentenceTransformer, Tokenizer, backendInfo, emptyCache, models } from "../../lib/index.js";

const WORDS = ["alba", "bosco", "cielo", "duna", "erba", "fiume", "gelo", "lago", "mare", "neve", "onda", "pino", "rosa", "sole", "vento"];

function rssBytes(): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return Number(kb) * 1024;
}

describe("encode memory", () => {
  test("after a long batch, emptyCache() lowers the process's RSS by the bytes that were cached", async () => {
    const tokenizer = Tokenizer.fromVocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...WORDS], { doLowerCase: true });
    // Wide enough that one batch's activations are blocks of megabytes.
    const transformer = await models.Transformer.fromConfig(
      { vocab_size: WORDS.length + 5, hidden_size: 256, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 1024, max_position_embeddings: 512 },
      tokenizer,
      { seed: 5 },
    );
    const model = new SentenceTransformer({ modules: [transformer, new models.Pooling(256)] });
    const text = (n: number, shift: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + shift) % WORDS.length]).join(" ");
    emptyCache();
    // Batches of several lengths: blocks of many sizes pass through the cache.
    for (const length of [400, 120, 310, 60, 500]) {
      await model.encode(Array.from({ length: 8 }, (_, i) => text(length, i)), { batchSize: 8 });
    }
    const cached = backendInfo().cpuCache.cachedBytes;
    expect(cached).toBeGreaterThan(16 * 2 ** 20);
    const before = rssBytes();
    emptyCache();
    const after = rssBytes();
    expect(backendInfo().cpuCache.cachedBytes).toBe(0);
    expect(before - after).toBeGreaterThan(0.9 * cached);
    model.dispose();
  });
});
