// CrossEncoder on decoders against sentence-transformers 6 itself: random-init Qwen3ForSequenceClassification and
// Gemma3TextForSequenceClassification models built by transformers (test/fixtures/cross_encoder_model.py), scored
// on the last token that is not the pad token. Qwen's tokenizer here appends <|endoftext|>, its pad token, to each
// text, so reading the last attended token instead would score the wrong one; batches are padded on either side.
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, type CrossEncoderPair } from "../../lib/index.js";
import { getEncodeConcurrency, setEncodeConcurrency } from "../../lib/backend.js";
import { readSafetensorsHeader, writeSafetensors } from "../../lib/io/safetensors.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/cross_encoder_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/st_oracle.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(1500, 5)];
const LONG = "Un testo più lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(8));
const QUERY = "Chi gioca con il cane nel parco?";
const DOCUMENTS = [...SENTENCES, LONG, "A man plays the guitar.", "ciao"];
// Lengths vary within every batch of 4, so each batch is padded; long pairs are cut longest_first to 40 tokens.
const PAIRS: CrossEncoderPair[] = [...DOCUMENTS.map((d) => [QUERY, d] as CrossEncoderPair), [LONG, LONG], [LONG, "ciao"], ["ciao", LONG], ["a", "b"]];
const TANH = "torch.nn.modules.activation.Tanh";

interface Built {
  dir: string;
  config: Record<string, unknown>;
  files: string[];
}
interface Answer {
  scores: number[] | number[][];
  logits: number[] | number[][];
  num_labels: number;
  max_length: number;
  activation_fn: string;
  rank?: { corpus_id: number; score: number }[];
}

// name -> fixture spec (beside the common fields)
const MODELS: Record<string, Record<string, unknown>> = {
  "qwen3-left-1": { arch: "qwen3", num_labels: 1, layout: "hf" },
  "qwen3-right-3": { arch: "qwen3", num_labels: 3, layout: "hf", padding_side: "right" },
  "qwen3-st6": { arch: "qwen3", num_labels: 1, layout: "st6", activation_fn: TANH, padding_side: "right" },
  "qwen3-nopad": { arch: "qwen3", num_labels: 1, layout: "hf", config: { pad_token_id: null } },
  // Qwen3's own tokenizer layout: no special tokens added, a pair is its two texts one after the other.
  "qwen3-plain": { arch: "qwen3", num_labels: 1, layout: "hf", plain_pairs: true },
  // Gemma 3 as a causal decoder and as EmbeddingGemma's bidirectional one; its tokenizer pads on the right.
  "gemma-causal-1": { arch: "gemma3_text", num_labels: 1, layout: "hf", config: { use_bidirectional_attention: false } },
  "gemma-bidi-3": { arch: "gemma3_text", num_labels: 3, layout: "hf", padding_side: "left" },
};
const NAMES = Object.keys(MODELS);

const flat = (x: number[] | number[][]): number[] => (x as (number | number[])[]).flatMap((v) => v);

/** Runs `fn` with one batch at a time, so that a call's batches are as large as its batchSize (and padded). */
async function wholeBatches<T>(fn: () => Promise<T>): Promise<T> {
  const before = getEncodeConcurrency();
  setEncodeConcurrency(1);
  try {
    return await fn();
  } finally {
    setEncodeConcurrency(before);
  }
}

let root: string;
const built = new Map<string, Built>();
const answers = new Map<string, Answer>();
beforeAll(async () => {
  root = await tempDir("sbert-ce-decoders-");
  const folders = await runPython<Built[]>(
    BUILD,
    NAMES.map((name) => ({ dir: join(root, name), seed: 17, corpus: CORPUS, vocab_size: 600, ...MODELS[name] })),
  );
  NAMES.forEach((name, i) => built.set(name, folders[i]!));
  // The model without a pad id is scored one pair at a time (transformers refuses more).
  const jobs = NAMES.map((name) => ({
    folder: built.get(name)!.dir,
    cross_encoder: true,
    pairs: PAIRS,
    batch_size: name === "qwen3-nopad" ? 1 : 4,
    ...(MODELS[name]!["num_labels"] === 1 ? { rank: { query: QUERY, documents: DOCUMENTS } } : {}),
  }));
  const all = await runPython<Answer[]>(ORACLE, jobs);
  NAMES.forEach((name, i) => answers.set(name, all[i]!));
}, 600_000);

describe("Qwen3ForSequenceClassification", () => {
  test("one label, left padding: predict (sigmoid), logits and rank equal sentence-transformers' within 1e-5", async () => {
    const b = built.get("qwen3-left-1")!;
    expect(b.config["architectures"]).toEqual(["Qwen3ForSequenceClassification"]);
    const ref = answers.get("qwen3-left-1")!;
    const model = await CrossEncoder.load(b.dir);
    expect(model.numLabels).toBe(1);
    expect(model.tokenizer.paddingSide).toBe("left");
    expect(model.head.padTokenId).toBe(model.tokenizer.padTokenId);
    expect(model.maxLength).toBe(ref.max_length);
    expect(model.activationFn).toBe("sigmoid");
    const scores = (await model.predict(PAIRS, { batchSize: 4 })) as number[];
    expect(maxAbsDiff(scores, ref.scores as number[])).toBeLessThan(1e-5);
    const logits = (await model.predict(PAIRS, { activationFn: "identity", batchSize: 3 })) as number[];
    expect(maxAbsDiff(logits, ref.logits as number[])).toBeLessThan(1e-5);
    expect(Math.max(...logits) - Math.min(...logits)).toBeGreaterThan(1e-2);
    // One pair alone (no padding) scores the same.
    expect(Math.abs(((await model.predict(PAIRS[2]!)) as number) - (ref.scores as number[])[2]!)).toBeLessThan(1e-5);
    const ranked = await model.rank(QUERY, DOCUMENTS);
    expect(ranked.map((r) => r.corpusId)).toEqual(ref.rank!.map((r) => r.corpus_id));
    ranked.forEach((r, i) => expect(Math.abs(r.score - ref.rank![i]!.score)).toBeLessThan(1e-5));
    model.dispose();
  }, 120_000);

  test("three labels, right padding: scores equal sentence-transformers' within 1e-5, whatever the batch size", async () => {
    const ref = answers.get("qwen3-right-3")!;
    const model = await CrossEncoder.load(built.get("qwen3-right-3")!.dir);
    expect(model.tokenizer.paddingSide).toBe("right");
    expect(model.numLabels).toBe(3);
    expect(model.activationFn).toBe("identity");
    for (const batchSize of [4, 7, 1]) {
      const scores = (await model.predict(PAIRS, { batchSize })) as number[][];
      expect(maxAbsDiff(flat(scores), flat(ref.scores))).toBeLessThan(1e-5);
    }
    model.dispose();
  }, 120_000);

  test("the score is read on the last token that is not the pad token, not on the last attended one", async () => {
    // A pad id that is not <|endoftext|> makes the appended <|endoftext|> the scored token: other scores. Where
    // transformers would then read padding (right padding, the tokenizer padding with <|endoftext|>), the state
    // depends on the batch; each pair gets what transformers gives it alone.
    const dir = join(root, "other-pad");
    await cp(built.get("qwen3-right-3")!.dir, dir, { recursive: true });
    const file = join(dir, "config.json");
    const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, pad_token_id: 3 }));
    const alone = await runPython<Answer>(ORACLE, { folder: dir, cross_encoder: true, pairs: PAIRS, batch_size: 1 });
    expect(maxAbsDiff(flat(alone.scores), flat(answers.get("qwen3-right-3")!.scores))).toBeGreaterThan(1e-3);
    const model = await CrossEncoder.load(dir);
    for (const batchSize of [4, 1]) {
      expect(maxAbsDiff(flat((await wholeBatches(() => model.predict(PAIRS, { batchSize }))) as number[][]), flat(alone.scores))).toBeLessThan(1e-5);
    }
    model.dispose();
  }, 120_000);

  test("a tokenizer that adds no special tokens (Qwen3's own): pairs joined as sentence-transformers joins them, scores within 1e-5", async () => {
    const b = built.get("qwen3-plain")!;
    const model = await CrossEncoder.load(b.dir);
    const batch = model.tokenizePairs([["il cane", "il gatto"]]);
    expect(Array.from(batch.inputIds)).toEqual([...model.tokenizer.encode("il cane"), ...model.tokenizer.encode("il gatto")]);
    for (const batchSize of [4, 1]) {
      expect(maxAbsDiff((await model.predict(PAIRS, { batchSize })) as number[], answers.get("qwen3-plain")!.scores as number[])).toBeLessThan(1e-5);
    }
    model.dispose();
  }, 120_000);

  test("sentence-transformers 6's modular layout loads with its activation; a folder saved here loads there with the same scores", async () => {
    for (const name of ["qwen3-st6", "qwen3-right-3", "gemma-bidi-3"]) {
      const b = built.get(name)!;
      const ref = answers.get(name)!;
      const model = await CrossEncoder.load(b.dir);
      if (name === "qwen3-st6") {
        expect(b.files).toContain("modules.json");
        expect(ref.activation_fn).toBe(TANH);
        expect(model.activationFn).toBe("tanh");
      }
      const ours = (await model.predict(PAIRS, { batchSize: 4 })) as number[] | number[][];
      expect(maxAbsDiff(flat(ours), flat(ref.scores))).toBeLessThan(1e-5);
      const saved = join(root, `saved-${name}`);
      await model.save(saved);
      const config = JSON.parse(await readFile(join(saved, "config.json"), "utf8")) as Record<string, unknown>;
      expect(config["architectures"]).toEqual([model.head.modelClass]);
      expect(config["pad_token_id"]).toBe(b.config["pad_token_id"]);
      const again = await runPython<Answer>(ORACLE, { folder: saved, cross_encoder: true, pairs: PAIRS, batch_size: 4 });
      expect(again.activation_fn).toBe(ref.activation_fn);
      expect(again.max_length).toBe(model.maxLength);
      expect(maxAbsDiff(flat(again.scores), flat(ref.scores))).toBeLessThan(1e-5);
      const reloaded = await CrossEncoder.load(saved);
      expect(maxAbsDiff(flat((await reloaded.predict(PAIRS, { batchSize: 4 })) as number[] | number[][]), flat(ours))).toBeLessThan(1e-6);
      reloaded.dispose();
      model.dispose();
    }
  }, 300_000);

  test("config.json without pad_token_id: one pair per batch equals sentence-transformers'; a larger batch is refused, as transformers refuses it", async () => {
    const b = built.get("qwen3-nopad")!;
    expect(b.config["pad_token_id"] ?? null).toBeNull();
    const model = await CrossEncoder.load(b.dir);
    expect(model.head.padTokenId).toBeNull();
    const scores = (await model.predict(PAIRS, { batchSize: 1 })) as number[];
    expect(maxAbsDiff(scores, answers.get("qwen3-nopad")!.scores as number[])).toBeLessThan(1e-5);
    // A single pair needs no padding whatever the batch size.
    expect(Math.abs(((await model.predict(PAIRS[0]!)) as number) - scores[0]!)).toBeLessThan(1e-5);
    await expect(model.predict(PAIRS, { batchSize: 4 })).rejects.toMatchObject({
      code: "ERR_INPUT",
      message: expect.stringContaining("config.json sets no pad_token_id: it can score only one pair per batch (batchSize 1)"),
    });
    await expect(runPython(ORACLE, { folder: b.dir, cross_encoder: true, pairs: PAIRS.slice(0, 3), batch_size: 4 })).rejects.toThrow(/Cannot handle batch sizes > 1 if no padding token is defined/);
    model.dispose();
  }, 120_000);

  test("a pair of pad tokens only gets its first token's score, as sentence-transformers gives it alone, in a left-padded batch too", async () => {
    const b = built.get("qwen3-left-1")!;
    const model = await CrossEncoder.load(b.dir);
    const empty: CrossEncoderPair = ["", ""];
    const pairs: CrossEncoderPair[] = [empty, PAIRS[0]!, PAIRS[7]!];
    const alone = await runPython<Answer>(ORACLE, { folder: b.dir, cross_encoder: true, pairs, batch_size: 1 });
    for (const batchSize of [3, 1]) {
      expect(maxAbsDiff((await wholeBatches(() => model.predict(pairs, { batchSize }))) as number[], alone.scores as number[])).toBeLessThan(1e-5);
    }
    model.dispose();
  }, 120_000);

  test("a chat template, or a bad pad_token_id, is refused naming the file", async () => {
    const dir = join(root, "chat");
    await cp(built.get("qwen3-left-1")!.dir, dir, { recursive: true });
    const tokFile = join(dir, "tokenizer_config.json");
    const tok = JSON.parse(await readFile(tokFile, "utf8")) as Record<string, unknown>;
    await writeFile(tokFile, JSON.stringify({ ...tok, chat_template: "{% for m in messages %}{{ m.content }}{% endfor %}" }));
    await expect(CrossEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${tokFile} (chat_template)`) });
    await writeFile(tokFile, JSON.stringify(tok));
    await writeFile(join(dir, "chat_template.jinja"), "{{ messages[0].content }}");
    await expect(CrossEncoder.load(dir)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining("chat_template.jinja") });

    const bad = join(root, "bad-pad");
    await cp(built.get("qwen3-left-1")!.dir, bad, { recursive: true });
    const file = join(bad, "config.json");
    const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, pad_token_id: "0" }));
    await expect(CrossEncoder.load(bad)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${file}: field 'pad_token_id' must be a non-negative integer or null, got "0"`) });
    // The score layer, without bias, is looked for by its key.
    await writeFile(file, JSON.stringify(config));
    const weightsFile = join(bad, "model.safetensors");
    const header = await readSafetensorsHeader(weightsFile);
    expect(header.entries.map((e) => e.name)).toContain("score.weight");
    expect(header.entries.map((e) => e.name)).not.toContain("score.bias");
    const bytes = await readFile(weightsFile);
    const tensors = header.entries
      .filter((e) => e.name !== "score.weight")
      .map((e) => {
        const copy = bytes.subarray(e.begin, e.end);
        return { name: e.name, dtype: "F32" as const, shape: e.shape, data: new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength)) };
      });
    await writeSafetensors(weightsFile, tensors, { format: "pt" });
    await expect(CrossEncoder.load(bad)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`missing key 'score.weight' in ${weightsFile}: Qwen3ForSequenceClassification's classification head needs it`),
    });
  }, 60_000);
});

describe("Gemma3TextForSequenceClassification", () => {
  test.each(["gemma-causal-1", "gemma-bidi-3"])("%s: scores equal sentence-transformers' within 1e-5", async (name) => {
    const b = built.get(name)!;
    expect(b.config["architectures"]).toEqual(["Gemma3TextForSequenceClassification"]);
    const ref = answers.get(name)!;
    const model = await CrossEncoder.load(b.dir);
    expect(model.head.padTokenId).toBe(0);
    expect(model.numLabels).toBe(ref.num_labels);
    const scores = (await model.predict(PAIRS, { batchSize: 4 })) as number[] | number[][];
    expect(maxAbsDiff(flat(scores), flat(ref.scores))).toBeLessThan(1e-5);
    if (ref.rank) expect((await model.rank(QUERY, DOCUMENTS)).map((r) => r.corpusId)).toEqual(ref.rank.map((r) => r.corpus_id));
    model.dispose();
  }, 120_000);
});
