import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { beforeAll, describe, expect, test } from "vitest";

import { SbertError, SentenceTransformer, models, util } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { SENTENCES, maxAbsDiff, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

let root: string;
let model: SentenceTransformer;

beforeAll(async () => {
  root = await tempDir();
  await makeSentenceTransformerFolder(join(root, "mean"), { pooling: { modes: ["mean"] } });
  model = await SentenceTransformer.load(join(root, "mean"));
});

function sum(tokens: Float32Array[], weight: (i: number) => number = () => 1): Float64Array {
  const out = new Float64Array(tokens[0]!.length);
  tokens.forEach((t, i) => t.forEach((v, d) => (out[d] += weight(i) * v)));
  return out;
}

// Each pooling mode recomputed here from the token embeddings encode returns.
const POOL: Record<models.PoolingMode, (tokens: Float32Array[]) => ArrayLike<number>> = {
  cls: (t) => t[0]!,
  lasttoken: (t) => t[t.length - 1]!,
  mean: (t) => sum(t).map((v) => v / t.length),
  mean_sqrt_len_tokens: (t) => sum(t).map((v) => v / Math.sqrt(t.length)),
  weightedmean: (t) => sum(t, (i) => i + 1).map((v) => v / ((t.length * (t.length + 1)) / 2)),
  max: (t) => t[0]!.map((_, d) => Math.max(...t.map((x) => x[d]!))),
};

describe("encode", () => {
  test("a string gives one Float32Array; a list gives one per text, in input order", async () => {
    const all = await model.encode(SENTENCES);
    expect(all).toHaveLength(SENTENCES.length);
    for (const e of all) {
      expect(e).toBeInstanceOf(Float32Array);
      expect(e.length).toBe(32);
    }
    const one = await model.encode(SENTENCES[3]!);
    expect(one).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(one, all[3]!)).toBeLessThan(1e-5);
    // Different sentences give different embeddings (the order really is the input order).
    expect(maxAbsDiff(all[0]!, all[2]!)).toBeGreaterThan(1e-3);
  });

  test("results do not depend on the batch size or on the other texts in the batch", async () => {
    const big = await model.encode(SENTENCES, { batchSize: 32 });
    const small = await model.encode(SENTENCES, { batchSize: 1 });
    const three = await model.encode(SENTENCES, { batchSize: 3 });
    expect(maxAbsDiffAll(big, small)).toBeLessThan(1e-5);
    expect(maxAbsDiffAll(big, three)).toBeLessThan(1e-5);
    const reversed = await model.encode([...SENTENCES].reverse());
    expect(maxAbsDiffAll(big, reversed.reverse())).toBeLessThan(1e-5);
  });

  test("a padded batch runs its layers on its real tokens only: padded positions come out zero, real ones as each text alone", async () => {
    const transformer = model.modules[0] as models.Transformer;
    const run = (texts: string[]) =>
      native().encode([transformer.native], transformer.tokenize(texts), { output: "token_embeddings", normalize: false, truncateDim: 0 });
    const texts = [SENTENCES[0]!, SENTENCES[4]!, SENTENCES[2]!];
    const batch = transformer.tokenize(texts);
    const out = await run(texts);
    const [rows, seq, hidden] = out.shape as [number, number, number];
    expect(rows).toBe(texts.length);
    let padded = 0;
    for (let r = 0; r < rows; r++) {
      const alone = await run([texts[r]!]);
      const length = alone.shape[1]!;
      for (let t = 0; t < seq; t++) {
        const got = out.data.subarray((r * seq + t) * hidden, (r * seq + t + 1) * hidden);
        if (batch.attentionMask[r * seq + t] === 0) {
          padded++;
          expect(got.every((v) => v === 0), `text ${r}, padded position ${t}`).toBe(true);
        } else {
          expect(t).toBeLessThan(length);
          expect(maxAbsDiff(got, alone.data.subarray(t * hidden, (t + 1) * hidden)), `text ${r}, token ${t}`).toBeLessThan(1e-5);
        }
      }
    }
    expect(padded).toBeGreaterThan(0);
  });

  test("an empty list gives an empty list; an empty string and a 100,000-character string are encoded", async () => {
    expect(await model.encode([])).toEqual([]);
    const [empty, long] = await model.encode(["", "parola ".repeat(100_000 / 7)]);
    expect(empty!.every(Number.isFinite)).toBe(true);
    expect(long!.every(Number.isFinite)).toBe(true);
  });

  test("token embeddings: one vector per real token, padding left out", async () => {
    const tokens = await model.encode(SENTENCES, { outputValue: "token_embeddings" });
    const batch = model.tokenize(SENTENCES);
    SENTENCES.forEach((_, i) => {
      const real = batch.attentionMask.subarray(i * batch.seqLength, (i + 1) * batch.seqLength).reduce((a, b) => a + b, 0);
      expect(tokens[i]).toHaveLength(real);
      expect(tokens[i]![0]!.length).toBe(32);
    });
    const single = await model.encode(SENTENCES[0]!, { outputValue: "token_embeddings" });
    expect(maxAbsDiffAll(single, tokens[0]!)).toBeLessThan(1e-5);
  });

  test.each(["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"] as const)(
    "pooling mode %s equals the same pooling done here on the token embeddings",
    async (mode) => {
      const dir = join(root, `pool-${mode}`);
      await makeSentenceTransformerFolder(dir, { pooling: { modes: [mode] } });
      const m = await SentenceTransformer.load(dir);
      expect(m.getSentenceEmbeddingDimension()).toBe(32);
      const emb = await m.encode(SENTENCES);
      const tokens = await m.encode(SENTENCES, { outputValue: "token_embeddings" });
      SENTENCES.forEach((_, i) => expect(maxAbsDiff(emb[i]!, POOL[mode](tokens[i]!))).toBeLessThan(1e-5));
      m.dispose();
    },
  );

  test("several pooling modes concatenate in the order given", async () => {
    const dir = join(root, "pool-multi");
    await makeSentenceTransformerFolder(dir, { layout: "v5", pooling: { modes: ["max", "cls", "mean"] } });
    const m = await SentenceTransformer.load(dir);
    expect(m.getSentenceEmbeddingDimension()).toBe(96);
    const [emb] = await m.encode([SENTENCES[1]!]);
    const [tokens] = await m.encode([SENTENCES[1]!], { outputValue: "token_embeddings" });
    const expected = [...Array.from(POOL.max(tokens!)), ...Array.from(POOL.cls(tokens!)), ...Array.from(POOL.mean(tokens!))];
    expect(maxAbsDiff(emb!, expected)).toBeLessThan(1e-5);
    m.dispose();
  });

  test("Normalize and normalizeEmbeddings give unit vectors in the same direction", async () => {
    const dir = join(root, "normalized");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, normalize: true });
    const m = await SentenceTransformer.load(dir);
    const unit = await m.encode(SENTENCES);
    const plain = await model.encode(SENTENCES, { normalizeEmbeddings: true });
    for (const e of unit) expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    expect(maxAbsDiffAll(unit, plain)).toBeLessThan(1e-5);
    m.dispose();
  });

  test("Dense applies its weights and activation to the pooled embedding", async () => {
    const dir = join(root, "dense");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, dense: { outFeatures: 16, activation: "tanh" } });
    const m = await SentenceTransformer.load(dir);
    expect(m.getSentenceEmbeddingDimension()).toBe(16);
    const [emb] = await m.encode([SENTENCES[0]!]);
    const [pooled] = await model.encode([SENTENCES[0]!]);
    const dense = m.modules[2] as models.Dense;
    const state = dense.native.stateDict();
    const weight = state.find((t) => t.name === "linear.weight")!.data;
    const bias = state.find((t) => t.name === "linear.bias")!.data;
    const expected = Array.from({ length: 16 }, (_, o) => {
      let acc = bias[o]!;
      for (let i = 0; i < 32; i++) acc += weight[o * 32 + i]! * pooled![i]!;
      return Math.tanh(acc);
    });
    expect(maxAbsDiff(emb!, expected)).toBeLessThan(1e-5);
    m.dispose();
  });

  test("truncation: texts past maxSeqLength are cut; a lower maxSeqLength changes long texts only", async () => {
    const dir = join(root, "short");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, maxSeqLength: 8 });
    const m = await SentenceTransformer.load(dir);
    expect(m.maxSeqLength).toBe(8);
    const long = SENTENCES[5]!;
    expect(m.tokenize([long]).seqLength).toBe(8);
    const [cut] = await m.encode([long]);
    const [full] = await model.encode([long]);
    expect(maxAbsDiff(cut!, full!)).toBeGreaterThan(1e-3);
    // [CLS], the first 6 word pieces, [SEP].
    const full6 = (m.tokenizer as models.Transformer["tokenizer"]).encode(long, { addSpecialTokens: true });
    expect(Array.from(m.tokenize([long]).inputIds)).toEqual([...full6.slice(0, 7), full6[full6.length - 1]]);
    const [short] = await m.encode(["ciao"]);
    const [shortFull] = await model.encode(["ciao"]);
    expect(maxAbsDiff(short!, shortFull!)).toBeLessThan(1e-5);
    expect(() => (m.maxSeqLength = 0)).toThrow(RangeError);
    expect(() => (m.maxSeqLength = 10_000)).toThrow(/max_position_embeddings/);
    m.dispose();
  });

  test("text pairs are encoded as one input with token types 0 and 1", async () => {
    const batch = model.tokenize([["Una ragazza", "un uomo"]]);
    const types = Array.from(batch.tokenTypeIds);
    expect(types.filter((t) => t === 1).length).toBeGreaterThan(0);
    const [pair] = await model.encode([["Una ragazza", "un uomo"]]);
    const [joined] = await model.encode(["Una ragazza un uomo"]);
    expect(pair!.length).toBe(32);
    expect(maxAbsDiff(pair!, joined!)).toBeGreaterThan(1e-4);
  });

  test("prompts: prompt, promptName and defaultPromptName prepend text; includePrompt=false pools only the sentence", async () => {
    const dir = join(root, "prompted");
    await makeSentenceTransformerFolder(dir, {
      pooling: { modes: ["mean"], includePrompt: false },
      prompts: { query: "domanda: ", document: "" },
      defaultPromptName: "query",
    });
    const m = await SentenceTransformer.load(dir);
    expect(m.prompts).toEqual({ query: "domanda: ", document: "" });
    expect(m.defaultPromptName).toBe("query");
    const [byDefault] = await m.encode([SENTENCES[0]!]);
    const [byName] = await m.encode([SENTENCES[0]!], { promptName: "query" });
    const [byText] = await m.encode([SENTENCES[0]!], { prompt: "domanda: " });
    const [none] = await m.encode([SENTENCES[0]!], { promptName: "document" });
    expect(maxAbsDiff(byDefault!, byName!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(byDefault!, byText!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(byDefault!, none!)).toBeGreaterThan(1e-4);
    // Pooled without the prompt: the mean of the token embeddings after [CLS] + prompt tokens.
    const [tokens] = await m.encode([SENTENCES[0]!], { outputValue: "token_embeddings" });
    const promptTokens = m.tokenize(["domanda: "]).seqLength - 1;
    expect(maxAbsDiff(byDefault!, POOL.mean(tokens!.slice(promptTokens)))).toBeLessThan(1e-5);
    await expect(m.encode(["x"], { promptName: "missing" })).rejects.toThrow(/missing/);
    m.dispose();
  });

  test("precision: int8, uint8, binary and ubinary quantize the float32 embeddings as util.quantizeEmbeddings does", async () => {
    const float = await model.encode(SENTENCES);
    for (const precision of ["int8", "uint8", "binary", "ubinary"] as const) {
      const q = await model.encode(SENTENCES, { precision });
      const expected = util.quantizeEmbeddings(float, precision);
      expect(q.map((x) => Array.from(x))).toEqual((expected as ArrayLike<number>[]).map((x) => Array.from(x)));
      expect(q[0]).toBeInstanceOf(precision === "int8" || precision === "binary" ? Int8Array : Uint8Array);
    }
    const binary = await model.encode(SENTENCES, { precision: "ubinary" });
    expect(binary[0]!.length).toBe(4);
    // Packed bits: bit 7 of byte 0 is dimension 0 > 0.
    expect((binary[0]![0]! >> 7) & 1).toBe(float[0]![0]! > 0 ? 1 : 0);
  });

  test("truncateDim keeps the first dimensions, before normalization", async () => {
    const full = await model.encode(SENTENCES);
    const cut = await model.encode(SENTENCES, { truncateDim: 8 });
    expect(cut[0]!.length).toBe(8);
    expect(maxAbsDiff(cut[0]!, full[0]!.subarray(0, 8))).toBeLessThan(1e-6);
    const cutUnit = await model.encode(SENTENCES, { truncateDim: 8, normalizeEmbeddings: true });
    expect(Math.hypot(...cutUnit[0]!)).toBeCloseTo(1, 5);
  });

  test("concurrent encode calls on one model give the same results as one call", async () => {
    const expected = await model.encode(SENTENCES);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => model.encode(SENTENCES, { batchSize: 1 + (i % 4) })));
    for (const r of results) expect(maxAbsDiffAll(r, expected)).toBeLessThan(1e-5);
  });

  test("similarity uses the model's similarity function", async () => {
    const [a, b] = await model.encode(SENTENCES.slice(0, 2));
    expect(model.similarity([a!], [b!])[0]![0]).toBeCloseTo(util.cosSim(a!, b!)[0]![0]!, 6);
    model.similarityFnName = "dot";
    expect(model.similarity([a!], [b!])[0]![0]).toBeCloseTo(util.dotScore(a!, b!)[0]![0]!, 4);
    model.similarityFnName = "cosine";
    expect(model.similarityPairwise([a!, b!], [b!, a!])).toHaveLength(2);
  });

  test("bad inputs are SbertErrors or RangeErrors naming the problem, and the model keeps working", async () => {
    await expect(model.encode(["ok", 42 as unknown as string])).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringMatching(/sentences\[1\]/) });
    await expect(model.encode([null as unknown as string])).rejects.toBeInstanceOf(SbertError);
    await expect(model.encode(123 as unknown as string)).rejects.toMatchObject({ code: "ERR_INPUT" });
    await expect(model.encode(["x"], { batchSize: 0 })).rejects.toThrow(RangeError);
    await expect(model.encode(["x"], { precision: "int4" as "int8" })).rejects.toThrow(/precision/);
    await expect(model.encode(["x"], { outputValue: "logits" as "token_embeddings" })).rejects.toThrow(/outputValue/);
    expect(await model.encode("still works")).toHaveLength(32);
  });

  test("the event loop keeps ticking while a long encode runs", async () => {
    const dir = join(root, "bigger");
    await makeSentenceTransformerFolder(dir, { bert: { hidden: 256, intermediate: 1024, heads: 4, layers: 4, maxPosition: 128 } });
    const m = await SentenceTransformer.load(dir);
    const texts = Array.from({ length: 256 }, (_, i) => `${SENTENCES[i % SENTENCES.length]} ${"parola ".repeat(40 + (i % 30))}`);
    let ticks = 0;
    let maxLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
      ticks++;
    }, 5);
    const started = performance.now();
    await m.encode(texts, { batchSize: 64 });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    m.dispose();
    // The encode took long enough for many timer ticks, and the timer was never held up for long.
    expect(elapsed).toBeGreaterThan(100);
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
    expect(maxLag).toBeLessThan(100);
  });

  test("a disposed model refuses to encode with ERR_DISPOSED", async () => {
    const m = await SentenceTransformer.load(join(root, "mean"));
    m.dispose();
    await expect(m.encode("x")).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  });
});

describe("inference backends", () => {
  test("int8 quantized encode stays close to float32, and float32 comes back exactly", async () => {
    const dir = join(root, "quantized");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, bert: { seed: 12 } });
    const m = await SentenceTransformer.load(dir);
    // Enough tokens per batch for oneDNN's int8 path (fewer rows take sbert-node's int8 kernel: test/parity).
    const texts = [...SENTENCES, ...SENTENCES.map((s) => s.toUpperCase()), ...SENTENCES.map((s) => `${s} ${s}`)];
    const float = await m.encode(texts, { batchSize: 64 });
    m.quantize("int8");
    const int8 = await m.encode(texts, { batchSize: 64 });
    const cos = util.pairwiseCosSim(int8, float);
    expect(Math.min(...cos)).toBeGreaterThan(0.9);
    expect(maxAbsDiffAll(int8, float)).toBeGreaterThan(1e-6); // it really ran quantized
    m.quantize("float32");
    expect(maxAbsDiffAll(await m.encode(texts, { batchSize: 64 }), float)).toBeLessThan(1e-6);
    const loaded = await SentenceTransformer.load(dir, { quantize: "int8" });
    expect(maxAbsDiffAll(await loaded.encode(texts, { batchSize: 64 }), int8)).toBeLessThan(1e-6);
    expect(() => m.quantize("int4" as "int8")).toThrow(RangeError);
    m.dispose();
    loaded.dispose();
  });

  test("a NaN in the weights gives NaN embeddings in int8 as in float32, not finite garbage", async () => {
    const dir = join(root, "nan");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, bert: { seed: 14 } });
    // One NaN among finite inputs of a product: the first FFN's bias[0], so every token's input to the second
    // FFN product holds one NaN. In float32 it spreads to everything.
    const file = join(dir, "model.safetensors");
    const bytes = await readFile(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { data_offsets: [number, number] }>;
    bytes.writeFloatLE(Number.NaN, 8 + headerLength + header["encoder.layer.0.intermediate.dense.bias"]!.data_offsets[0]);
    await writeFile(file, bytes);
    const m = await SentenceTransformer.load(dir);
    const text = SENTENCES[0]!; // few tokens: the int8 kernel's path where this CPU has one
    expect(Array.from(await m.encode(text)).every(Number.isNaN)).toBe(true);
    m.quantize("int8");
    expect(Array.from(await m.encode(text)).every(Number.isNaN)).toBe(true);
    m.dispose();
  });

  test("the BLAS and oneDNN backends give the default backend's embeddings", async () => {
    const { setLinearBackend, getLinearBackend } = await import("../../lib/index.js");
    expect(getLinearBackend()).toBe("auto");
    const auto = await model.encode(SENTENCES);
    try {
      for (const backend of ["blas", "onednn"] as const) {
        setLinearBackend(backend);
        expect(getLinearBackend()).toBe(backend);
        expect(maxAbsDiffAll(await model.encode(SENTENCES), auto)).toBeLessThan(1e-5);
      }
      expect(() => setLinearBackend("mkl" as "blas")).toThrow(RangeError);
    } finally {
      setLinearBackend("auto");
    }
  });
});
