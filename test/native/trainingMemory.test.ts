// Training-step memory: once a run has grown its memory on its longest batch, batches of other lengths reuse it
// (no new memory from the system), and emptyCache() hands it back.
import { describe, expect, test } from "vitest";

import { DataLoader, InputExample, SentenceTransformer, SentenceTransformerTrainingArguments, Tokenizer, backendInfo, emptyCache, losses, models } from "../../lib/index.js";
import { native } from "../../lib/native.js";

const WORDS = ["alba", "bosco", "cielo", "duna", "erba", "fiume", "gelo", "lago", "mare", "neve", "onda", "pino", "rosa", "sole", "vento"];

async function model(layers = 2): Promise<SentenceTransformer> {
  const tokenizer = Tokenizer.fromVocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...WORDS], { doLowerCase: true });
  // Wide enough that a batch's activations are blocks of hundreds of KiB.
  const transformer = await models.Transformer.fromConfig(
    { vocab_size: WORDS.length + 5, hidden_size: 128, num_hidden_layers: layers, num_attention_heads: 4, intermediate_size: 512, max_position_embeddings: 128 },
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

describe("gradient checkpointing", () => {
  test("a step keeps about half the memory of a plain one on six layers, for the same loss; the option reaches it from the trainer's arguments", async () => {
    const m = await model(6);
    const text = (n: number, shift: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + shift) % WORDS.length]).join(" ");
    const batch = (shift: number) => {
      const b = m.tokenize(Array.from({ length: 16 }, (_, i) => text(100, i + shift)));
      return { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds, batchSize: b.batchSize, seqLength: b.seqLength };
    };
    const step = async (gradientCheckpointing: boolean) => {
      const trainer = native().createTrainer(
        m.modules.map((x) => x.native),
        [{ loss: "CosineSimilarityLoss" }],
        { lr: 1e-12, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 1, gradientCheckpointing },
      );
      emptyCache();
      const r = await trainer.step(0, [batch(0), batch(1)], { data: new Float32Array(16).fill(0.5), shape: [16] });
      trainer.dispose();
      // The cache keeps what the step freed, never more than its peak in use: a measure of the step's peak.
      return { loss: r.loss, kept: backendInfo().cpuCache.cachedBytes };
    };
    const plain = await step(false);
    const checkpointed = await step(true);
    expect(Math.abs(checkpointed.loss - plain.loss)).toBeLessThan(1e-6);
    expect(plain.kept).toBeGreaterThan(50 * 2 ** 20);
    expect(checkpointed.kept).toBeLessThan(0.6 * plain.kept);
    expect(new SentenceTransformerTrainingArguments({ outputDir: "unused", gradientCheckpointing: true }).gradientCheckpointing).toBe(true);
    expect(() => new SentenceTransformerTrainingArguments({ outputDir: "unused", gradientCheckpointing: true, bf16: true })).toThrow(/gradientCheckpointing cannot be combined with bf16/);
    emptyCache();
    m.dispose();
  });
});
