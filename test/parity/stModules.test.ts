// LayerNorm, Dropout, WeightedLayerPooling, WordEmbeddings + WordWeights, CNN and LSTM against sentence-transformers
// itself: folders built and saved by sentence-transformers (py/st_modules.py), loaded here, encoded and trained
// one step; folders saved here, loaded by sentence-transformers.
import { access, cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { DataLoader, InputExample, SentenceTransformer, losses, models } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import type { NativeTokenBatch } from "../../types/native.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, editJson, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const SCRIPT = fileURLToPath(new URL("py/st_modules.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const TEXTS = [...SENTENCES, "A man plays the guitar.", "la città è piena di gente oggi perché è festa"];

// Texts for word-vector models: stop words, punctuation, capitals, words missing from the vectors.
const WORD_TEXTS = [
  "A man is playing the guitar.",
  "The quick brown fox jumps over the lazy dog!",
  "Una ragazza si acconcia i capelli.",
  "Il gatto dorme sul divano perché è stanco.",
  "Dogs, cats and BIRDS: (mostly) animals.",
  "Guitar guitar GUITAR guitar's",
  "Un bambino gioca con il cane nel parco vicino alla scuola e ride molto, e il cane corre.",
  "zebra unknownword quickly fox",
  "fox",
];
// ... and one whose every word is a stop word: no tokens at all.
const WORD_TEXTS_WITH_EMPTY = [...WORD_TEXTS, "the of and"];
// Whitespace and case as Python's str.split() and str.lower() see them.
const TOKENIZER_TEXTS = [
  ...WORD_TEXTS_WITH_EMPTY,
  "dog\u00a0cat\u3000fox\u001cman\u2028guitar\u0085zebra",
  "«guitar» …dog… 'fox' \"cat\"",
  "  leading and trailing  ",
  "",
];
const DIM = 6;
// The vectors' words: every lower-cased word of WORD_TEXTS but a few, plus capitalized forms of two.
function vectorWords(): string[] {
  const words = new Set<string>();
  for (const t of WORD_TEXTS) {
    for (const w of t.toLowerCase().split(/\s+/)) {
      const stripped = w.replace(/^[!-/:-@[-`{-~]+|[!-/:-@[-`{-~]+$/g, "");
      if (stripped) words.add(stripped);
    }
  }
  for (const missing of ["zebra", "unknownword", "quickly", "scuola"]) words.delete(missing);
  return [...words, "Guitar", "Dogs"];
}

/** A GloVe-style text file: word2vec's header line, fixed-seed values, one line of the wrong width (skipped). */
async function writeVectors(path: string): Promise<string[]> {
  let state = 12345;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return ((state / 2147483648) * 2 - 1).toFixed(5);
  };
  const words = vectorWords();
  const lines = [`${words.length} ${DIM}`];
  words.forEach((w, i) => {
    lines.push([w, ...Array.from({ length: DIM }, next)].join(" "));
    if (i === 3) lines.push(["broken", ...Array.from({ length: DIM - 1 }, next)].join(" "));
  });
  await writeFile(path, lines.join("\n") + "\n");
  return words;
}

const WORD_WEIGHTS: Record<string, number> = { guitar: 2.5, man: 0.4, fox: 1.7, dog: 0.9, gatto: 1.3, cane: 0.6, dogs: 3 };
const UNKNOWN_WEIGHT = 0.7;

const S1 = TEXTS.slice(0, 5);
const S2 = [...TEXTS.slice(5, 9), "ciao"];
const WORD_S1 = WORD_TEXTS.slice(0, 4);
const WORD_S2 = WORD_TEXTS.slice(4, 8);
const LABELS = [0.9, 0.1, 0.5, 0.7, 0.3];

const DROPOUT_FREE = { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };

type ModuleSpec = Record<string, unknown> & { type: string };
interface Case {
  /** the folder sentence-transformers builds */
  modules: ModuleSpec[];
  texts: string[];
  /** sentence-transformers' batch size for the reference */
  batchSize: number;
  tokenEmbeddings?: boolean;
  /** weights saved as pytorch_model.bin (torch.save) instead of model.safetensors */
  pytorchBin?: boolean;
  /** a training step's gradients are compared (the folder has no dropout) */
  grad?: { sentences1: string[]; sentences2: string[]; labels: number[] };
}

let root: string;
let vectorsFile: string;
const transformer = (config: Record<string, unknown> = {}): ModuleSpec => ({
  type: "transformer",
  spec: { arch: "bert", seed: 5, corpus: CORPUS, vocab_size: 1000, max_seq_length: 40, config: { ...DROPOUT_FREE, ...config } },
});
const wordEmbeddings = (extra: Record<string, unknown> = {}): ModuleSpec => ({ type: "word_embeddings", file: vectorsFile, ...extra });
const wordGrad = { sentences1: WORD_S1, sentences2: WORD_S2, labels: LABELS.slice(0, 4) };
const grad = { sentences1: S1, sentences2: S2, labels: LABELS };

function cases(): Record<string, Case> {
  return {
    // GloVe with idf-style weights: every pooling mode WordWeights changes (cls needs a [CLS] token; max meets -inf on empty texts).
    wordWeights: {
      modules: [
        wordEmbeddings(),
        { type: "word_weights", weights: WORD_WEIGHTS, unknown_word_weight: UNKNOWN_WEIGHT },
        { type: "pooling", modes: ["mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"] },
      ],
      texts: WORD_TEXTS_WITH_EMPTY,
      batchSize: 64,
    },
    wordWeightsTrained: {
      modules: [
        wordEmbeddings({ update_embeddings: true }),
        { type: "word_weights", weights: WORD_WEIGHTS, unknown_word_weight: UNKNOWN_WEIGHT },
        { type: "pooling", modes: ["mean"] },
      ],
      texts: WORD_TEXTS,
      batchSize: 4,
      grad: wordGrad,
    },
    lstm: {
      modules: [
        wordEmbeddings({ do_lower_case: true }),
        { type: "lstm", hidden_dim: 5, num_layers: 2, dropout: 0.25, bidirectional: true },
        { type: "pooling", modes: ["mean", "max", "lasttoken"] },
      ],
      texts: WORD_TEXTS,
      batchSize: 4,
      tokenEmbeddings: true,
    },
    lstmOneWay: {
      modules: [wordEmbeddings(), { type: "lstm", hidden_dim: 5, num_layers: 1, dropout: 0, bidirectional: false }, { type: "pooling", modes: ["mean"] }],
      texts: WORD_TEXTS,
      batchSize: 3,
      pytorchBin: true,
    },
    lstmTrained: {
      modules: [
        wordEmbeddings({ update_embeddings: true }),
        { type: "lstm", hidden_dim: 4, num_layers: 2, dropout: 0, bidirectional: true },
        { type: "pooling", modes: ["mean"] },
      ],
      texts: WORD_TEXTS,
      batchSize: 4,
      grad: wordGrad,
    },
    // The vectors' padding row is zero, as from_text_file makes it: sentence-transformers' batches agree with
    // each text alone.
    cnn: {
      modules: [wordEmbeddings({ update_embeddings: true }), { type: "cnn", out_channels: 4, kernel_sizes: [1, 3, 5] }, { type: "pooling", modes: ["mean", "max"] }],
      texts: WORD_TEXTS,
      batchSize: 4,
      tokenEmbeddings: true,
      grad: wordGrad,
    },
    // Over a Transformer sentence-transformers' CNN reads the encoder's output at padding too: compared text by text.
    transformerCnn: {
      modules: [transformer(), { type: "cnn", out_channels: 6, kernel_sizes: [3, 1] }, { type: "pooling", modes: ["mean", "max"] }],
      texts: TEXTS,
      batchSize: 1,
      tokenEmbeddings: true,
    },
    weightedLayerPooling: {
      modules: [transformer({ output_hidden_states: true }), { type: "weighted_layer_pooling", layer_start: 1 }, { type: "pooling", modes: ["mean", "cls"] }],
      texts: TEXTS,
      batchSize: 4,
      tokenEmbeddings: true,
      grad,
    },
    head: {
      modules: [
        transformer(),
        { type: "pooling", modes: ["mean"] },
        { type: "dropout", p: 0.1 },
        { type: "layer_norm" },
        { type: "dense", out_features: 8 },
        { type: "normalize" },
      ],
      texts: TEXTS,
      batchSize: 4,
    },
    headTrained: {
      modules: [transformer(), { type: "pooling", modes: ["mean"] }, { type: "dropout", p: 0 }, { type: "layer_norm" }, { type: "dense", out_features: 8 }],
      texts: TEXTS,
      batchSize: 4,
      grad,
    },
    // In training every value is dropped: the loss is the labels' mean square, in both.
    dropAll: {
      modules: [transformer(), { type: "pooling", modes: ["mean"] }, { type: "dropout", p: 1 }],
      texts: TEXTS,
      batchSize: 4,
      grad,
    },
  };
}

interface Reference {
  embeddings: number[][];
  token_embeddings?: number[][][];
}
interface GradReference {
  loss: number;
  grads: Record<string, Record<string, number[]>>;
}

const CASES = [
  "wordWeights",
  "wordWeightsTrained",
  "lstm",
  "lstmOneWay",
  "lstmTrained",
  "cnn",
  "transformerCnn",
  "weightedLayerPooling",
  "head",
  "headTrained",
  "dropAll",
] as const;
type CaseName = (typeof CASES)[number];
const GRAD_CASES: CaseName[] = ["wordWeightsTrained", "lstmTrained", "cnn", "weightedLayerPooling", "headTrained", "dropAll"];
let all: Record<CaseName, Case>;
const folder = (name: CaseName) => join(root, name);
const reference = new Map<CaseName, Reference>();
const gradReference = new Map<CaseName, GradReference>();
let pythonTokens: number[][];

// One Python start builds every folder and gives every answer (each start costs seconds).
beforeAll(async () => {
  root = await tempDir();
  vectorsFile = join(root, "vectors.txt");
  await writeVectors(vectorsFile);
  all = cases() as Record<CaseName, Case>;
  const jobs: Record<string, unknown>[] = CASES.map((name, i) => ({
    op: "build",
    dir: folder(name),
    seed: i + 1,
    modules: all[name].modules,
    safe_serialization: !all[name].pytorchBin,
  }));
  for (const name of CASES) {
    const c = all[name];
    jobs.push({ op: "encode", folder: folder(name), texts: c.texts, batch_size: c.batchSize, token_embeddings: c.tokenEmbeddings ?? false });
  }
  const withGrad = GRAD_CASES;
  for (const name of withGrad) jobs.push({ op: "grad", folder: folder(name), ...all[name].grad });
  jobs.push({ op: "tokenize", folder: folder("lstm"), texts: TOKENIZER_TEXTS });
  const results = await runPython<unknown[]>(SCRIPT, jobs);
  CASES.forEach((name, i) => reference.set(name, results[CASES.length + i] as Reference));
  withGrad.forEach((name, i) => gradReference.set(name, results[2 * CASES.length + i] as GradReference));
  pythonTokens = (results.at(-1) as { ids: number[][] }).ids;
}, 600_000);

function tokenBatch(model: SentenceTransformer, texts: string[]): NativeTokenBatch {
  const b = model.tokenize(texts);
  return { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds, batchSize: b.batchSize, seqLength: b.seqLength };
}

function expectEmbeddings(ours: Float32Array[], ref: number[][], name: string): void {
  expect(ours.length).toBe(ref.length);
  ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!), `${name} text ${i}`).toBeLessThan(1e-5));
}

describe.each(CASES)("%s", (name) => {
  test("encodes as sentence-transformers does (embeddings, and token embeddings where compared) within 1e-5", async () => {
    const c = all[name];
    const ref = reference.get(name)!;
    if (c.pytorchBin) {
      await expect(access(join(folder(name), "1_LSTM", "pytorch_model.bin"))).resolves.toBeUndefined();
      await expect(access(join(folder(name), "model.safetensors"))).rejects.toThrow();
    }
    const model = await SentenceTransformer.load(folder(name));
    // Batches of another size than the reference's: results do not depend on the batch.
    expectEmbeddings(await model.encode(c.texts, { batchSize: 3 }), ref.embeddings, name);
    if (c.tokenEmbeddings) {
      const tokens = await model.encode(c.texts, { outputValue: "token_embeddings", batchSize: 5 });
      tokens.forEach((rows, i) => {
        expect(rows.length).toBe(ref.token_embeddings![i]!.length);
        rows.forEach((v, t) => expect(maxAbsDiff(v, ref.token_embeddings![i]![t]!)).toBeLessThan(1e-5));
      });
    }
    model.dispose();
  });
});

describe.each(GRAD_CASES)("%s", (name) => {
  test("one training step's gradients equal PyTorch's within 1e-4 for every module (CosineSimilarityLoss)", async () => {
    const c = all[name];
    const ref = gradReference.get(name)!;
    const model = await SentenceTransformer.load(folder(name));
    const beta1 = 0.9;
    const trainer = native().createTrainer(
      model.modules.map((m) => m.native),
      [{ loss: "CosineSimilarityLoss" }],
      { lr: 1e-12, weightDecay: 0, beta1, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 0 },
    );
    const labels = c.grad!.labels;
    const r = await trainer.step(0, [tokenBatch(model, c.grad!.sentences1), tokenBatch(model, c.grad!.sentences2)], {
      data: Float32Array.from(labels),
      shape: [labels.length],
    });
    expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5);
    // After one step AdamW's first moment is (1 - beta1) times the gradient. A Transformer's keys lose the model's prefix.
    const ours = new Map<string, Float32Array>();
    for (const t of trainer.state().filter((s) => s.name.startsWith("exp_avg."))) {
      const [, index, ...key] = t.name.split(".");
      const transformerKey = model.modules[Number(index)] instanceof models.Transformer;
      ours.set(`${index}/${(transformerKey ? key.slice(1) : key).join(".")}`, t.data.map((x) => x / (1 - beta1)));
    }
    const expected = Object.entries(ref.grads).flatMap(([index, grads]) => Object.entries(grads).map(([key, g]) => [`${index}/${key}`, g] as const));
    expect(expected.length).toBeGreaterThan(0);
    // The same parameters learn in both (a frozen WordEmbeddings matrix in neither).
    expect([...ours.keys()].sort()).toEqual(expected.map(([k]) => k).sort());
    for (const [key, g] of expected) expect(maxAbsDiff(ours.get(key)!, g), `${name} ${key}`).toBeLessThan(1e-4);
    trainer.dispose();
    model.dispose();
  });
});

describe("saving", () => {
  test("folders saved here (legacy module types and config keys) load in sentence-transformers, and here, with the same embeddings", async () => {
    const ours = new Map<CaseName, Float32Array[]>();
    for (const name of CASES) {
      const model = await SentenceTransformer.load(folder(name));
      await model.save(join(root, "saved", name));
      ours.set(name, await model.encode(all[name].texts));
      model.dispose();
    }
    const wordModules = JSON.parse(await readFile(join(root, "saved", "lstm", "modules.json"), "utf8")) as { path: string; type: string }[];
    expect(wordModules.map((m) => [m.path, m.type])).toEqual([
      ["0_WordEmbeddings", "sentence_transformers.models.WordEmbeddings"],
      ["1_LSTM", "sentence_transformers.models.LSTM"],
      ["2_Pooling", "sentence_transformers.models.Pooling"],
    ]);
    // sentence-transformers wrote the v5.4+ spelling: both are read.
    const theirs = JSON.parse(await readFile(join(folder("lstm"), "modules.json"), "utf8")) as { type: string }[];
    expect(theirs[1]!.type).toBe("sentence_transformers.sentence_transformer.modules.lstm.LSTM");
    const lstmConfig = JSON.parse(await readFile(join(root, "saved", "lstm", "1_LSTM", "lstm_config.json"), "utf8")) as Record<string, unknown>;
    expect(lstmConfig).toEqual({ word_embedding_dimension: DIM, hidden_dim: 5, num_layers: 2, dropout: 0.25, bidirectional: true });

    const answers = await runPython<Reference[]>(
      SCRIPT,
      CASES.map((name) => ({ op: "encode", folder: join(root, "saved", name), texts: all[name].texts, batch_size: all[name].batchSize })),
    );
    for (const [i, name] of CASES.entries()) {
      expectEmbeddings(ours.get(name)!, answers[i]!.embeddings, `${name} saved here, encoded by sentence-transformers`);
      const again = await SentenceTransformer.load(join(root, "saved", name));
      expectEmbeddings(await again.encode(all[name].texts), answers[i]!.embeddings, `${name} saved here, loaded here`);
      again.dispose();
    }
  }, 300_000);
});

describe("WordEmbeddings' tokenizer and text files", () => {
  test("WhitespaceTokenizer gives sentence-transformers' ids (stop words, punctuation, case, Python's whitespace)", async () => {
    const model = await SentenceTransformer.load(folder("lstm"));
    const tokenizer = model.tokenizer as models.WhitespaceTokenizer;
    expect(tokenizer.doLowerCase).toBe(true);
    expect(TOKENIZER_TEXTS.map((t) => tokenizer.tokenize(t))).toEqual(pythonTokens);
    // The default stop words are sentence-transformers' (from_text_file's default tokenizer saved them).
    const saved = JSON.parse(await readFile(join(folder("wordWeights"), "whitespacetokenizer_config.json"), "utf8")) as { stop_words: string[] };
    expect([...models.ENGLISH_STOP_WORDS].sort()).toEqual([...saved.stop_words].sort());
    model.dispose();
  });

  test("WordEmbeddings.fromTextFile + WordWeights + Pooling built here equal the model sentence-transformers built from the same file", async () => {
    const embeddings = await models.WordEmbeddings.fromTextFile(vectorsFile);
    const vocab = embeddings.tokenizer.getVocab();
    expect(vocab[0]).toBe("PADDING_TOKEN");
    expect(vocab).not.toContain("broken");
    const weights = new models.WordWeights({ vocab, wordWeights: WORD_WEIGHTS, unknownWordWeight: UNKNOWN_WEIGHT });
    const pooling = new models.Pooling(embeddings.getWordEmbeddingDimension(), { poolingMode: ["mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"] });
    const model = new SentenceTransformer({ modules: [embeddings, weights, pooling] });
    expectEmbeddings(await model.encode(WORD_TEXTS_WITH_EMPTY), reference.get("wordWeights")!.embeddings, "built here");
    await expect(model.encode([["a pair", "of texts"]])).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringMatching(/WordEmbeddings tokenizes single texts/) });
    model.dispose();
  });

  test("a frozen WordEmbeddings matrix does not learn; the modules after it do", async () => {
    const model = await SentenceTransformer.load(folder("lstm"));
    const trainer = native().createTrainer(
      model.modules.map((m) => m.native),
      [{ loss: "CosineSimilarityLoss" }],
      { lr: 1e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 0 },
    );
    await trainer.step(0, [tokenBatch(model, WORD_S1), tokenBatch(model, WORD_S2)], { data: Float32Array.from(LABELS.slice(0, 4)), shape: [4] });
    const trained = trainer.state().filter((t) => t.name.startsWith("exp_avg.")).map((t) => t.name.split(".")[1]);
    expect(new Set(trained)).toEqual(new Set(["1"]));
    trainer.dispose();
    model.dispose();
  });
});

describe("bad folders give an SbertError naming the file and the field", () => {
  async function copyOf(name: CaseName, tag: string): Promise<string> {
    const dir = join(root, "bad", tag);
    await cp(folder(name), dir, { recursive: true });
    return dir;
  }

  test("a module type sbert-node does not have names modules.json and the type", async () => {
    const dir = await copyOf("cnn", "type");
    await editJson(join(dir, "modules.json"), (m) => (m[1].type = "sentence_transformers.models.BoW"));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/modules\.json: module type "sentence_transformers\.models\.BoW" is not supported \(sbert-node has .*WordEmbeddings.*LSTM/),
    });
  });

  test("config values and weights that cannot make the module", async () => {
    const cnn = await copyOf("cnn", "kernel");
    const cnnPath = (JSON.parse(await readFile(join(cnn, "modules.json"), "utf8")) as { path: string }[])[1]!.path;
    await editJson(join(cnn, cnnPath, "cnn_config.json"), (c) => (c.kernel_sizes = [1, 2]));
    await expect(SentenceTransformer.load(cnn)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/cnn_config\.json: field 'kernel_sizes'.*odd positive integers/),
    });

    const lstm = await copyOf("lstm", "hidden");
    await editJson(join(lstm, "1_LSTM", "lstm_config.json"), (c) => (c.hidden_dim = 7));
    await expect(SentenceTransformer.load(lstm)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringMatching(/key 'encoder\.\w+' has shape \[20(, \d+)?\] in .*1_LSTM.model\.safetensors but the model expects \[28(, \d+)?\]/),
    });

    const phrase = await copyOf("lstm", "phrase");
    await editJson(join(phrase, "wordembedding_config.json"), (c) => (c.tokenizer_class = "sentence_transformers.models.tokenizer.PhraseTokenizer.PhraseTokenizer"));
    await expect(SentenceTransformer.load(phrase)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/wordembedding_config\.json: tokenizer_class ".*PhraseTokenizer" is not supported/),
    });

    const vocab = await copyOf("lstm", "vocab");
    await editJson(join(vocab, "whitespacetokenizer_config.json"), (c) => c.vocab.push("extra1", "extra2"));
    await expect(SentenceTransformer.load(vocab)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/whitespacetokenizer_config\.json: the vocabulary has \d+ words but .*model\.safetensors has \d+ embedding rows/),
    });
  });
});

describe("fit", () => {
  test("trains a GloVe-style model built here (vectors, word weights, LSTM, LayerNorm, Dropout): the loss falls, every trainable module changes, the saved folder reloads", async () => {
    const embeddings = await models.WordEmbeddings.fromTextFile(vectorsFile, { updateEmbeddings: true });
    const vocab = embeddings.tokenizer.getVocab();
    const lstm = new models.LSTM({ wordEmbeddingDimension: DIM, hiddenDim: 4, numLayers: 2, dropout: 0.1, seed: 3 });
    const modules = [
      embeddings,
      new models.WordWeights({ vocab, wordWeights: WORD_WEIGHTS }),
      lstm,
      new models.Pooling(lstm.getWordEmbeddingDimension()),
      new models.Dropout(0.1),
      new models.LayerNorm(lstm.getWordEmbeddingDimension()),
    ];
    const model = new SentenceTransformer({ modules });
    const before = modules.map((m) => m.native.stateDict().map((t) => Float32Array.from(t.data)));
    const examples = WORD_TEXTS.slice(0, 8).map((t, i) => new InputExample({ texts: [t, WORD_TEXTS[(i + 1) % 8]!], label: i % 2 }));
    const loader = new DataLoader(examples, { batchSize: 4, shuffle: true, seed: 1 });
    const result = await model.fit({
      trainObjectives: [[loader, new losses.CosineSimilarityLoss(model)]],
      epochs: 30,
      warmupSteps: 0,
      optimizerParams: { lr: 1e-2 },
      showProgressBar: false,
      seed: 2,
    });
    const mean = (xs: { loss: number }[]) => xs.reduce((a, x) => a + x.loss, 0) / xs.length;
    expect(mean(result.log.slice(-10))).toBeLessThan(0.5 * mean(result.log.slice(0, 10)));
    modules.forEach((m, i) => {
      const after = m.native.stateDict();
      after.forEach((t, j) => expect(maxAbsDiff(t.data, before[i]![j]!), `${m.className} ${t.name}`).toBeGreaterThan(1e-4));
    });
    const dir = join(root, "fitted");
    await model.save(dir);
    const again = await SentenceTransformer.load(dir);
    expect(again.modules.map((m) => m.className)).toEqual(["WordEmbeddings", "WordWeights", "LSTM", "Pooling", "Dropout", "LayerNorm"]);
    // WordWeights is rebuilt from its config on load (as in sentence-transformers): compare with it reset alike.
    const freshWeights = new models.WordWeights({ vocab, wordWeights: WORD_WEIGHTS });
    const reset = new SentenceTransformer({ modules: [modules[0]!, freshWeights, ...modules.slice(2)] });
    expectEmbeddings(await again.encode(WORD_TEXTS), Array.from(await reset.encode(WORD_TEXTS), (v) => Array.from(v)), "reloaded");
    freshWeights.dispose();
    again.dispose();
    model.dispose();
  }, 120_000);
});
