// Decoder embedders (Qwen3-Embedding's and Gemma 3's layouts) against sentence-transformers and transformers themselves: last-token
// pooling over left-padded batches, the folder's prompts, right padding, and sliding-window layers. Models are
// small random-init Qwen3Models built by transformers and wrapped by sentence-transformers (test/fixtures/hf_model.py).
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/st_oracle.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(1500, 7)];
const LONG = "Un documento lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(5));
const TEXTS = [...SENTENCES.slice(0, 6), LONG, "ciao", "It's 2026: la città è piena di gente!"];
const PROMPTS = { query: "Instruct: trova il documento\nQuery: ", document: "" };

interface Built {
  dir: string;
}

let root: string;
let plain: string;
let windowed: string;
let gemmaCausal: string;
beforeAll(async () => {
  root = await tempDir("sbert-decoders-");
  const base = { arch: "qwen3", seed: 11, corpus: CORPUS, vocab_size: 800, max_seq_length: 60, pooling: ["lasttoken"], normalize: true, prompts: PROMPTS };
  const built = await runPython<Built[]>(BUILD, [
    { ...base, dir: join(root, "plain") },
    // Layer 1 of 2 sees a causal window of 4 keys.
    { ...base, dir: join(root, "windowed"), config: { use_sliding_window: true, sliding_window: 4, max_window_layers: 1 } },
    // Gemma 3 as a causal decoder (EmbeddingGemma's bidirectional layout runs in architectures.test.ts): windows
    // before each token only, and query_pre_attn_scalar apart from head_dim.
    { ...base, arch: "gemma3_text", dir: join(root, "gemma-causal"), config: { use_bidirectional_attention: false, query_pre_attn_scalar: 24 } },
  ]);
  [plain, windowed, gemmaCausal] = built.map((b) => b.dir) as [string, string, string];
}, 300_000);

async function reference(folder: string, extra: Record<string, unknown> = {}): Promise<number[][]> {
  return (await runPython<{ embeddings: number[][] }>(ORACLE, { folder, texts: TEXTS, batch_size: 4, ...extra })).embeddings;
}

describe("qwen3 embedder", () => {
  test("the folder's prompts: encode with promptName equals sentence-transformers' prompt_name, and differs from no prompt", async () => {
    const model = await SentenceTransformer.load(plain);
    expect(model.prompts).toEqual(PROMPTS);
    const [withPrompt, without] = await Promise.all([reference(plain, { prompt_name: "query" }), reference(plain)]);
    const ours = await model.encode(TEXTS, { batchSize: 4, promptName: "query" });
    ours.forEach((v, i) => expect(maxAbsDiff(v, withPrompt[i]!)).toBeLessThan(1e-5));
    const bare = await model.encode(TEXTS, { batchSize: 4 });
    bare.forEach((v, i) => expect(maxAbsDiff(v, without[i]!)).toBeLessThan(1e-5));
    expect(Math.max(...bare.map((v, i) => maxAbsDiff(v, withPrompt[i]!)))).toBeGreaterThan(1e-2);
    model.dispose();
  }, 120_000);

  test("left and right padding give the same embeddings, as in sentence-transformers; one text alone gives them too", async () => {
    const right = join(root, "right");
    await cp(plain, right, { recursive: true });
    const file = join(right, "tokenizer_config.json");
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, "utf8")), padding_side: "right" }));
    const ref = await reference(right);
    const model = await SentenceTransformer.load(right);
    expect((model.modules[0] as unknown as { tokenizer: { paddingSide: string } }).tokenizer.paddingSide).toBe("right");
    const ours = await model.encode(TEXTS, { batchSize: 4 });
    ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
    const left = await SentenceTransformer.load(plain);
    const leftOurs = await left.encode(TEXTS, { batchSize: 4 });
    leftOurs.forEach((v, i) => expect(maxAbsDiff(v, ours[i]!)).toBeLessThan(1e-5));
    for (const [i, t] of TEXTS.entries()) expect(maxAbsDiff(await left.encode(t), ours[i]!)).toBeLessThan(1e-5);
    model.dispose();
    left.dispose();
  }, 120_000);

  test("sliding-window layers: equal to transformers' windowed attention, and the window changes long texts", async () => {
    const ref = await reference(windowed);
    const model = await SentenceTransformer.load(windowed);
    const ours = await model.encode(TEXTS, { batchSize: 4 });
    ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
    const full = await SentenceTransformer.load(plain);
    const long = TEXTS.indexOf(LONG);
    expect(maxAbsDiff(ours[long]!, (await full.encode([LONG]))[0]!)).toBeGreaterThan(1e-3);
    model.dispose();
    full.dispose();
  }, 120_000);

  test("Gemma 3 causal, with sliding-window layers and its own query scale: equal to transformers', with and without the prompt", async () => {
    const model = await SentenceTransformer.load(gemmaCausal);
    for (const promptName of [undefined, "query"]) {
      const ref = await reference(gemmaCausal, promptName ? { prompt_name: promptName } : {});
      const ours = await model.encode(TEXTS, { batchSize: 4, promptName });
      ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
    }
    model.dispose();
  }, 120_000);

  test("bf16 and fp16 checkpoints load as stored and run in float32: equal to transformers computing in float32 on the same weights", async () => {
    const built = await runPython<Built[]>(BUILD, [
      { arch: "qwen3", seed: 13, corpus: CORPUS, vocab_size: 800, pooling: ["lasttoken"], dtype: "bfloat16", dir: join(root, "bf16") },
      { arch: "gemma3_text", seed: 13, corpus: CORPUS, vocab_size: 800, pooling: ["mean"], dtype: "float16", dir: join(root, "fp16") },
    ]);
    for (const { dir } of built) {
      const ref = await reference(dir, { float32: true });
      const model = await SentenceTransformer.load(dir);
      const ours = await model.encode(TEXTS, { batchSize: 4 });
      ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
      model.dispose();
    }
  }, 180_000);

  test("a bad rope or head setting names the field", async () => {
    const dir = join(root, "bad");
    await cp(plain, dir, { recursive: true });
    const file = join(dir, "config.json");
    const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, rope_parameters: { rope_type: "yarn", rope_theta: 10000, factor: 4 } }));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/config\.json: field 'rope_parameters\.rope_type' 'yarn' is not supported/) });
    await writeFile(file, JSON.stringify({ ...config, num_key_value_heads: 3 }));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/field 'num_key_value_heads' 3 does not divide num_attention_heads 4/) });
    await writeFile(file, JSON.stringify({ ...config, layer_types: ["full_attention"] }));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/field 'layer_types' has 1 entries for 2 layers/) });
    const gemma = join(root, "bad-gemma");
    await cp(gemmaCausal, gemma, { recursive: true });
    const gemmaFile = join(gemma, "config.json");
    const gemmaConfig = JSON.parse(await readFile(gemmaFile, "utf8")) as Record<string, unknown>;
    await writeFile(gemmaFile, JSON.stringify({ ...gemmaConfig, attn_logit_softcapping: 50 }));
    await expect(SentenceTransformer.load(gemma)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/field 'attn_logit_softcapping' is not supported/) });
    const rope = gemmaConfig["rope_parameters"] as Record<string, Record<string, unknown>>;
    await writeFile(gemmaFile, JSON.stringify({ ...gemmaConfig, rope_parameters: { ...rope, sliding_attention: { rope_type: "linear", rope_theta: 10000, factor: 2 } } }));
    await expect(SentenceTransformer.load(gemma)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/field 'rope_parameters\.sliding_attention\.rope_type' 'linear' is not supported/) });
  }, 60_000);
});
