// sbert-node's embeddings against an independent plain-PyTorch implementation (py/reference.py) on the same
// weights and the same token ids: max abs difference <= 1e-5.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import type { EncodedBatch } from "../../lib/tokenization/Tokenizer.js";
import { makeSentenceTransformerFolder, type PoolingMode } from "../fixtures/sentenceTransformerFolder.js";
import { runPython } from "../helpers/python.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const REFERENCE = fileURLToPath(new URL("py/reference.py", import.meta.url));
const TOL = 1e-5;

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

const TEXTS = [
  ...SENTENCES,
  "perché la città è così rumorosa? ¿Qué? Über! 東京",
  "Un testo più lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(6)),
];

function rows(b: EncodedBatch, data: Int32Array): number[][] {
  return Array.from({ length: b.batchSize }, (_, i) => Array.from(data.subarray(i * b.seqLength, (i + 1) * b.seqLength)));
}

/** Encodes TEXTS both ways, one batch of all texts for the reference; returns the worst difference. */
async function compare(model: SentenceTransformer, dir: string, opts: { prompt?: string; output?: "sentence_embedding" | "token_embeddings" } = {}) {
  const texts = opts.prompt === undefined ? TEXTS : TEXTS.map((t) => opts.prompt + t);
  const batch = model.tokenize(texts);
  const promptLength = opts.prompt === undefined ? undefined : model.tokenize([opts.prompt]).seqLength - 1;
  const output = opts.output ?? "sentence_embedding";
  const ref = await runPython<{ embeddings: number[][][] }>(REFERENCE, {
    folder: dir,
    batches: [
      {
        input_ids: rows(batch, batch.inputIds),
        attention_mask: rows(batch, batch.attentionMask),
        token_type_ids: rows(batch, batch.tokenTypeIds),
        ...(promptLength === undefined ? {} : { prompt_length: promptLength }),
      },
    ],
    output,
  });
  let worst = 0;
  if (output === "token_embeddings") {
    const ours = await model.encode(TEXTS, { outputValue: "token_embeddings", prompt: opts.prompt });
    ours.forEach((tokens, i) =>
      tokens.forEach((vec, t) => vec.forEach((v, d) => (worst = Math.max(worst, Math.abs(v - (ref.embeddings[0] as unknown as number[][][])[i]![t]![d]!))))),
    );
  } else {
    const ours = await model.encode(TEXTS, { prompt: opts.prompt, batchSize: 4 });
    ours.forEach((vec, i) => vec.forEach((v, d) => (worst = Math.max(worst, Math.abs(v - ref.embeddings[0]![i]![d]!)))));
  }
  return worst;
}

describe("parity with an independent PyTorch reference", () => {
  const modes: PoolingMode[] = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"];
  for (const dtype of ["F32", "F16"] as const) {
    test.each(modes)(`${dtype} weights, pooling %s`, async (mode) => {
      const dir = join(root, `${dtype}-${mode}`);
      await makeSentenceTransformerFolder(dir, { pooling: { modes: [mode] }, bert: { dtype, seed: 7 } });
      const model = await SentenceTransformer.load(dir);
      expect(await compare(model, dir)).toBeLessThanOrEqual(TOL);
      model.dispose();
    });
  }

  test("BF16 weights, several modes, Dense and Normalize, v5.4 layout", async () => {
    const dir = join(root, "bf16-stack");
    await makeSentenceTransformerFolder(dir, {
      layout: "v5",
      pooling: { modes: ["mean", "cls", "max"] },
      dense: { outFeatures: 24, activation: "tanh" },
      normalize: true,
      bert: { dtype: "BF16", seed: 11 },
    });
    const model = await SentenceTransformer.load(dir);
    expect(await compare(model, dir)).toBeLessThanOrEqual(TOL);
    model.dispose();
  });

  test("token embeddings, gelu_new activation, 3 layers", async () => {
    const dir = join(root, "tokens");
    await makeSentenceTransformerFolder(dir, { bert: { hiddenAct: "gelu_new", layers: 3, seed: 3 } });
    const model = await SentenceTransformer.load(dir);
    expect(await compare(model, dir, { output: "token_embeddings" })).toBeLessThanOrEqual(TOL);
    model.dispose();
  });

  test("a prompt excluded from pooling (include_prompt false)", async () => {
    const dir = join(root, "prompt");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean", "lasttoken", "cls"], includePrompt: false }, bert: { seed: 5 } });
    const model = await SentenceTransformer.load(dir);
    expect(await compare(model, dir, { prompt: "domanda: " })).toBeLessThanOrEqual(TOL);
    model.dispose();
  });

  test("a plain BERT folder (no modules.json), MLM checkpoint with bert. prefix, pytorch-era position_ids, sharded", async () => {
    const dir = join(root, "plain");
    const { makeTinyBert } = await import("../fixtures/tinyBert.js");
    await makeTinyBert(dir, { prefix: "bert.", positionIdsBuffer: true, sharded: true, seed: 9 });
    const model = await SentenceTransformer.load(dir);
    expect(model.modules).toHaveLength(2);
    expect(await compare(model, dir)).toBeLessThanOrEqual(TOL);
    model.dispose();
  });

  test("a wider model encoding texts one at a time (products over few rows split across idle cores), alone and side by side", async () => {
    const dir = join(root, "wide");
    await makeSentenceTransformerFolder(dir, { bert: { hidden: 128, intermediate: 512, heads: 4, layers: 2, seed: 13 } });
    const model = await SentenceTransformer.load(dir);
    const batch = model.tokenize(TEXTS);
    const ref = await runPython<{ embeddings: number[][][] }>(REFERENCE, {
      folder: dir,
      batches: [{ input_ids: rows(batch, batch.inputIds), attention_mask: rows(batch, batch.attentionMask), token_type_ids: rows(batch, batch.tokenTypeIds) }],
      output: "sentence_embedding",
    });
    const alone: Float32Array[] = [];
    for (const text of TEXTS) alone.push(await model.encode(text));
    let worst = 0;
    alone.forEach((vec, i) => vec.forEach((v, d) => (worst = Math.max(worst, Math.abs(v - ref.embeddings[0]![i]![d]!)))));
    expect(worst).toBeLessThanOrEqual(TOL);
    // The same bits whether a helper thread was free or busy with another batch.
    const sideBySide = await Promise.all(TEXTS.map((t) => model.encode(t)));
    const again = await Promise.all([model.encode(TEXTS, { batchSize: 2 }), ...TEXTS.map((t) => model.encode(t))]);
    for (const results of [sideBySide, again.slice(1) as Float32Array[]]) {
      results.forEach((vec, i) => expect(Array.from(vec)).toEqual(Array.from(alone[i]!)));
    }
    model.dispose();
  });

  test("sbert-node's own kernels (few-row linear layers, attention) and libtorch's ops both match, on odd widths and a long text", async () => {
    const { backendInfo, getLinearBackend, setLinearBackend } = await import("../../lib/index.js");
    // head_dim 24 and widths 120 / 360 / 300 leave partial 16-column panels; 300 tokens take the attention
    // kernel past its 96-row and 256-deep blocks.
    const dir = join(root, "kernels");
    await makeSentenceTransformerFolder(dir, { bert: { hidden: 120, intermediate: 300, heads: 5, layers: 2, maxPosition: 320, seed: 17 } });
    const model = await SentenceTransformer.load(dir);
    const long = "Un documento lungo: ".concat("la pioggia cade lenta sulla città mentre il treno parte ".repeat(40));
    const texts = [...TEXTS, long];
    const batch = model.tokenize(texts);
    expect(batch.seqLength).toBeGreaterThan(256);
    const ref = await runPython<{ embeddings: number[][][] }>(REFERENCE, {
      folder: dir,
      batches: [{ input_ids: rows(batch, batch.inputIds), attention_mask: rows(batch, batch.attentionMask), token_type_ids: rows(batch, batch.tokenTypeIds) }],
      output: "sentence_embedding",
    });
    const worst = (embeddings: Float32Array[]) => {
      let w = 0;
      embeddings.forEach((vec, i) => vec.forEach((v, d) => (w = Math.max(w, Math.abs(v - ref.embeddings[0]![i]![d]!)))));
      return w;
    };
    expect(getLinearBackend()).toBe("auto");
    // One at a time (few rows: the packed kernel) and in batches of 3 (attention kernel, BLAS linear layers).
    const single: Float32Array[] = [];
    for (const t of texts) single.push(await model.encode(t));
    const batched = await model.encode(texts, { batchSize: 3 });
    expect(worst(single)).toBeLessThanOrEqual(TOL);
    expect(worst(batched)).toBeLessThanOrEqual(TOL);
    setLinearBackend("blas");
    try {
      const blas = await model.encode(texts, { batchSize: 1 });
      expect(worst(blas)).toBeLessThanOrEqual(TOL);
      // Where this CPU runs the kernels, they really ran: they sum in another order than BLAS does.
      const differs = blas.some((vec, i) => vec.some((v, d) => v !== single[i]![d]));
      expect(differs).toBe(backendInfo().ownKernels);
    } finally {
      setLinearBackend("auto");
    }
    model.dispose();
  });

  test("a batch padded on the left (real tokens after the padding) matches the reference on the same ids, with own kernels and with libtorch's ops", async () => {
    const { setLinearBackend } = await import("../../lib/index.js");
    const { native } = await import("../../lib/native.js");
    // The encoder leaves padding out wherever it sits: a sentence's real tokens are its rows whatever the mask's
    // shape, at the positions (0..L-1) Hugging Face gives them.
    const dir = join(root, "left-padded");
    await makeSentenceTransformerFolder(dir, { bert: { hidden: 48, intermediate: 96, heads: 3, layers: 2, seed: 23 } });
    const model = await SentenceTransformer.load(dir);
    const right = model.tokenize(TEXTS);
    const { batchSize: B, seqLength: L } = right;
    const left: EncodedBatch = { ...right, inputIds: new Int32Array(B * L), attentionMask: new Int32Array(B * L), tokenTypeIds: new Int32Array(B * L) };
    for (let b = 0; b < B; b++) {
      const n = right.attentionMask.subarray(b * L, (b + 1) * L).reduce((a, m) => a + m, 0);
      for (let t = 0; t < n; t++) {
        left.inputIds[b * L + L - n + t] = right.inputIds[b * L + t]!;
        left.attentionMask[b * L + L - n + t] = 1;
        left.tokenTypeIds[b * L + L - n + t] = right.tokenTypeIds[b * L + t]!;
      }
    }
    const ref = await runPython<{ embeddings: number[][][] }>(REFERENCE, {
      folder: dir,
      batches: [{ input_ids: rows(left, left.inputIds), attention_mask: rows(left, left.attentionMask), token_type_ids: rows(left, left.tokenTypeIds) }],
      output: "sentence_embedding",
    });
    const handles = model.modules.map((m) => m.native);
    const worst = async () => {
      const out = await native().encode(handles, left, { output: "sentence_embedding", normalize: false, truncateDim: 0 });
      const dim = out.shape[1]!;
      return Math.max(...ref.embeddings[0]!.map((r, b) => maxAbsDiff(out.data.subarray(b * dim, (b + 1) * dim), r)));
    };
    expect(await worst()).toBeLessThanOrEqual(TOL);
    setLinearBackend("blas");
    try {
      expect(await worst()).toBeLessThanOrEqual(TOL);
    } finally {
      setLinearBackend("auto");
    }
    model.dispose();
  });

  test("int8 over few rows (sbert-node's int8 kernel) matches an int8 reference: per-channel weights, per-row activations, exact sums", async () => {
    const { backendInfo } = await import("../../lib/index.js");
    // Odd widths: partial 16-column panels, and an odd FFN width (301) leaves the last k pair half empty.
    const dir = join(root, "int8-rows");
    await makeSentenceTransformerFolder(dir, { bert: { hidden: 120, intermediate: 301, heads: 5, layers: 2, seed: 19 } });
    const model = await SentenceTransformer.load(dir, { quantize: "int8" });
    const texts = [...SENTENCES, TEXTS[SENTENCES.length]!];
    const batch = model.tokenize(texts);
    expect(batch.seqLength).toBeLessThan(64); // each text alone runs over few rows
    const reference = async (linear: "float32" | "int8_rows") =>
      (
        await runPython<{ embeddings: number[][][] }>(REFERENCE, {
          folder: dir,
          batches: [{ input_ids: rows(batch, batch.inputIds), attention_mask: rows(batch, batch.attentionMask), token_type_ids: rows(batch, batch.tokenTypeIds) }],
          output: "sentence_embedding",
          linear,
        })
      ).embeddings[0]!;
    const [int8Ref, floatRef] = [await reference("int8_rows"), await reference("float32")];
    const alone: Float32Array[] = [];
    for (const t of texts) alone.push(await model.encode(t));
    // Per text, the largest difference to a reference.
    const diffs = (ref: number[][]) => alone.map((vec, i) => vec.reduce((w, v, d) => Math.max(w, Math.abs(v - ref[i]![d]!)), 0));
    if (!backendInfo().ownKernels) {
      // Without AVX2 and FMA few rows stay in float32.
      expect(Math.max(...diffs(floatRef))).toBeLessThanOrEqual(TOL);
    } else {
      // Float32 rounding differs slightly between any two implementations (attention, LayerNorm, GELU), and
      // where an activation lands near a rounding midpoint its int8 value then differs by one step, which moves
      // the text's embedding by up to ~1e-2 here (5 of these 9 texts agree to 2.4e-7, the others within 7e-3,
      // against 0.04-0.16 from float32). Agreement to float32 precision on several texts takes the same int8
      // arithmetic.
      const toInt8 = diffs(int8Ref), toFloat = diffs(floatRef);
      expect(toInt8.filter((d) => d <= TOL).length).toBeGreaterThanOrEqual(texts.length / 3);
      toInt8.forEach((d, i) => expect(d).toBeLessThan(toFloat[i]! / 4));
      expect(Math.min(...toFloat)).toBeGreaterThan(100 * TOL); // it really ran in int8
    }
    model.dispose();
  });
});
