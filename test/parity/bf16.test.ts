// bf16 inference (quantize("bf16")) against float32 on small random-init models of five architectures built by
// transformers (test/fixtures/hf_model.py): every text's embedding close in direction, over one text at a time
// (few rows) and over batches, and float32 again bit for bit after switching back. Skipped where the CPU has
// neither AVX512_BF16 nor AMX-BF16 (test/native/bf16.test.ts checks the refusal there).
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, backendInfo, util } from "../../lib/index.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const HAS_BF16 = /avx512_bf16: yes|amx_bf16: yes/.test(backendInfo().cpuFeatures);
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const TEXTS = [...SENTENCES, ...makeSentences(40, 7)];
const ARCHS = ["bert", "distilbert", "mpnet", "qwen3", "gemma3_text"] as const;
// Measured on an AMD EPYC (Zen 5, AVX512_BF16) with libtorch 1.13: the lowest cosine to float32 over these texts
// is 0.99997 for both (mean 0.99999); the bound allows ~16x that distance, for other CPUs' and libtorch versions'
// bf16 kernels (other sum orders and blockings).
const MIN_COSINE = 0.9995;

const dirs = new Map<string, string>();
beforeAll(async () => {
  if (!HAS_BF16) return;
  const root = await tempDir();
  const built = await runPython<{ dir: string }[]>(
    BUILD,
    ARCHS.map((arch) => ({ dir: join(root, arch), arch, seed: 11, corpus: CORPUS, vocab_size: 1000, max_seq_length: 64, pooling: ["mean"] })),
  );
  ARCHS.forEach((arch, i) => dirs.set(arch, built[i]!.dir));
}, 600_000);

describe.skipIf(!HAS_BF16).each(ARCHS)("%s in bf16", (arch) => {
  test(`every text's embedding has cosine > ${MIN_COSINE} to float32's, alone and in batches; float32 comes back exactly`, async () => {
    const model = await SentenceTransformer.load(dirs.get(arch)!);
    const float = await model.encode(TEXTS, { batchSize: 16 });
    model.quantize("bf16");
    const batched = await model.encode(TEXTS, { batchSize: 16 });
    const alone: Float32Array[] = [];
    for (const t of TEXTS.slice(0, 12)) alone.push(await model.encode(t));
    const cos = [...util.pairwiseCosSim(batched, float), ...util.pairwiseCosSim(alone, float.slice(0, 12))];
    expect(Math.min(...cos)).toBeGreaterThan(MIN_COSINE);
    expect(maxAbsDiffAll(batched, float)).toBeGreaterThan(1e-6); // it really ran in bf16
    model.quantize("float32");
    expect(maxAbsDiffAll(await model.encode(TEXTS, { batchSize: 16 }), float)).toBe(0);
    model.dispose();
  });
});

describe.skipIf(!HAS_BF16)("bf16 with a LoRA adapter", () => {
  test("adapters on the output denses, one of which takes the feed-forward's bf16 first-layer result, stay close to float32", async () => {
    const model = await SentenceTransformer.load(dirs.get("bert")!);
    // Every "output.dense" (the attention's and the feed-forward's), none of the "intermediate.dense".
    expect(model.addAdapter({ r: 4, loraAlpha: 8, targetModules: ".*\\.output\\.dense", seed: 3 }).length).toBeGreaterThan(0);
    const float = await model.encode(TEXTS, { batchSize: 16 });
    model.quantize("bf16");
    const batched = await model.encode(TEXTS, { batchSize: 16 });
    expect(Math.min(...util.pairwiseCosSim(batched, float))).toBeGreaterThan(MIN_COSINE);
    expect(maxAbsDiffAll(batched, float)).toBeGreaterThan(1e-6);
    model.dispose();
  });
});
