// CrossEncoder against sentence-transformers 6 itself: small random-init *ForSequenceClassification models of every
// supported encoder architecture built by transformers (test/fixtures/cross_encoder_model.py), in both folder layouts,
// scored by CrossEncoder(path).predict / rank (py/st_oracle.py) and by sbert-node on the same pairs. Decoders:
// crossEncoderDecoders.test.ts.
import { cp, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, type CrossEncoderPair } from "../../lib/index.js";
import { CLASSIFICATION_HEADS } from "../../lib/crossEncoder/heads.js";
import { readSafetensorsHeader, writeSafetensors } from "../../lib/io/safetensors.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/cross_encoder_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/st_oracle.py", import.meta.url));
const TO_BIN = fileURLToPath(new URL("../fixtures/to_pytorch_bin.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const LONG = "Un testo più lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(8));
const QUERY = "Chi gioca con il cane nel parco?";
// Short and long documents: pairs longer than the 40 tokens allowed are cut longest_first.
const DOCUMENTS = [...SENTENCES, LONG, "A man plays the guitar.", "la città è piena di gente oggi perché è festa"];
const PAIRS: CrossEncoderPair[] = [...DOCUMENTS.map((d) => [QUERY, d] as CrossEncoderPair), [LONG, LONG], [LONG, "ciao"], ["ciao", LONG]];

const ARCHS = ["bert", "distilbert", "mpnet", "roberta", "xlm-roberta", "modernbert"] as const;
type Arch = (typeof ARCHS)[number];
const KINDS = ["hf1", "hf3", "st6"] as const;
type Kind = (typeof KINDS)[number];
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
  rank?: { corpus_id: number; score: number; text?: string }[];
}

function spec(dir: string, arch: Arch, kind: Kind): Record<string, unknown> {
  const base = { dir, arch, seed: 11, corpus: CORPUS, vocab_size: 1000 };
  if (kind === "hf1") return { ...base, num_labels: 1, layout: "hf" };
  // ModernBERT's head as config.json may shape it: the tokens' mean, biases everywhere (the encoder's too).
  if (kind === "hf3" && arch === "modernbert") {
    const config = { classifier_pooling: "mean", classifier_bias: true, classifier_activation: "silu", norm_bias: true, attention_bias: true, mlp_bias: true };
    return { ...base, num_labels: 3, layout: "hf", config };
  }
  if (kind === "hf3") return { ...base, num_labels: 3, layout: "hf" };
  return { ...base, num_labels: 1, layout: "st6", activation_fn: TANH };
}

function oracleJob(folder: string, kind: Kind): Record<string, unknown> {
  if (kind === "hf3") return { folder, cross_encoder: true, pairs: PAIRS, batch_size: 4 };
  return { folder, cross_encoder: true, pairs: PAIRS, batch_size: 4, rank: { query: QUERY, documents: DOCUMENTS, return_documents: true } };
}

const flat = (x: number[] | number[][]): number[] => (x as (number | number[])[]).flatMap((v) => v);

let root: string;
const built = new Map<string, Built>();
const answers = new Map<string, Answer>();
const softmax = new Map<Arch, Answer>();
beforeAll(async () => {
  root = await tempDir();
  const keys = ARCHS.flatMap((arch) => KINDS.map((kind) => [arch, kind] as const));
  const folders = await runPython<Built[]>(
    BUILD,
    keys.map(([arch, kind]) => spec(join(root, arch, kind), arch, kind)),
  );
  keys.forEach(([arch, kind], i) => built.set(`${arch}/${kind}`, folders[i]!));
  const jobs = keys.map(([arch, kind]) => oracleJob(built.get(`${arch}/${kind}`)!.dir, kind));
  const softmaxJobs = ARCHS.map((arch) => ({ folder: built.get(`${arch}/hf3`)!.dir, cross_encoder: true, pairs: PAIRS, batch_size: 4, apply_softmax: true }));
  const all = await runPython<Answer[]>(ORACLE, [...jobs, ...softmaxJobs]);
  keys.forEach(([arch, kind], i) => answers.set(`${arch}/${kind}`, all[i]!));
  ARCHS.forEach((arch, i) => softmax.set(arch, all[keys.length + i]!));
}, 600_000);

describe.each(ARCHS)("%s", (arch) => {
  test("one label, Hugging Face layout: predict (sigmoid), logits and rank equal sentence-transformers' within 1e-5", async () => {
    const ref = answers.get(`${arch}/hf1`)!;
    const model = await CrossEncoder.load(built.get(`${arch}/hf1`)!.dir);
    expect(model.numLabels).toBe(1);
    expect(model.activationFn).toBe("sigmoid");
    expect(ref.activation_fn).toBe("torch.nn.modules.activation.Sigmoid");
    expect(model.maxLength).toBe(ref.max_length);
    const scores = await model.predict(PAIRS, { batchSize: 3 });
    expect(scores.length).toBe(PAIRS.length);
    expect(maxAbsDiff(scores as number[], ref.scores as number[])).toBeLessThan(1e-5);
    const logits = await model.predict(PAIRS, { activationFn: "identity" });
    expect(maxAbsDiff(logits as number[], ref.logits as number[])).toBeLessThan(1e-5);
    // Not every score is alike: the head reads the pair.
    expect(Math.max(...(logits as number[])) - Math.min(...(logits as number[]))).toBeGreaterThan(1e-2);
    // A single pair gives a single score.
    expect(Math.abs((await model.predict(PAIRS[3]!)) as number - (ref.scores as number[])[3]!)).toBeLessThan(1e-5);

    const ranked = await model.rank(QUERY, DOCUMENTS, { returnDocuments: true });
    expect(ranked.map((r) => r.corpusId)).toEqual(ref.rank!.map((r) => r.corpus_id));
    ranked.forEach((r, i) => {
      expect(Math.abs(r.score - ref.rank![i]!.score)).toBeLessThan(1e-5);
      expect(r.text).toBe(DOCUMENTS[r.corpusId]);
    });
    const typed = await model.predict(PAIRS, { convertToArray: false });
    expect(typed).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(typed as Float32Array, ref.scores as number[])).toBeLessThan(1e-5);
    const top = await model.rank(QUERY, DOCUMENTS, { topK: 3 });
    expect(top).toEqual(ranked.slice(0, 3).map(({ corpusId, score }) => ({ corpusId, score })));
    model.dispose();
  });

  test("three labels: scores (identity), softmax, and Float32Array output equal sentence-transformers' within 1e-5; rank is refused", async () => {
    const ref = answers.get(`${arch}/hf3`)!;
    const model = await CrossEncoder.load(built.get(`${arch}/hf3`)!.dir);
    expect(model.numLabels).toBe(3);
    expect(model.activationFn).toBe("identity");
    const scores = (await model.predict(PAIRS)) as number[][];
    expect(scores.every((r) => r.length === 3)).toBe(true);
    expect(maxAbsDiff(flat(scores), flat(ref.scores))).toBeLessThan(1e-5);
    const soft = (await model.predict(PAIRS, { applySoftmax: true })) as number[][];
    expect(maxAbsDiff(flat(soft), flat(softmax.get(arch)!.scores))).toBeLessThan(1e-5);
    const typed = await model.predict(PAIRS, { convertToArray: false });
    expect((typed as Float32Array[])[0]).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff((typed as Float32Array[]).flatMap((r) => Array.from(r)), flat(ref.scores))).toBeLessThan(1e-5);
    await expect(model.rank(QUERY, DOCUMENTS)).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringMatching(/one label; this one has 3/) });
    model.dispose();
  });

  test("sentence-transformers 6's modular layout (modules.json) loads, with its saved activation (Tanh)", async () => {
    const b = built.get(`${arch}/st6`)!;
    expect(b.files).toContain("modules.json");
    const ref = answers.get(`${arch}/st6`)!;
    expect(ref.activation_fn).toBe(TANH);
    const model = await CrossEncoder.load(b.dir);
    expect(model.activationFn).toBe("tanh");
    expect(maxAbsDiff((await model.predict(PAIRS)) as number[], ref.scores as number[])).toBeLessThan(1e-5);
    expect((await model.rank(QUERY, DOCUMENTS)).map((r) => r.corpusId)).toEqual(ref.rank!.map((r) => r.corpus_id));
    model.dispose();
  });

  test("a folder saved here loads in sentence-transformers with the same scores, activation and max length", async () => {
    for (const kind of ["st6", "hf3"] as const) {
      const model = await CrossEncoder.load(built.get(`${arch}/${kind}`)!.dir);
      const saved = join(root, arch, `saved-${kind}`);
      await model.save(saved);
      const ours = await model.predict(PAIRS);
      const ref = await runPython<Answer>(ORACLE, oracleJob(saved, kind));
      expect(ref.num_labels).toBe(model.numLabels);
      expect(ref.max_length).toBe(model.maxLength);
      expect(ref.activation_fn).toBe(kind === "st6" ? TANH : "torch.nn.modules.linear.Identity");
      expect(maxAbsDiff(flat(ours as number[] | number[][]), flat(ref.scores))).toBeLessThan(1e-5);
      expect(maxAbsDiff(flat(ref.scores), flat(answers.get(`${arch}/${kind}`)!.scores))).toBeLessThan(1e-5);
      const config = JSON.parse(await readFile(join(saved, "config.json"), "utf8")) as Record<string, unknown>;
      expect(config["architectures"]).toEqual([CLASSIFICATION_HEADS[arch]!.modelClass]);
      const again = await CrossEncoder.load(saved);
      expect(await again.predict(PAIRS)).toEqual(ours);
      again.dispose();
      model.dispose();
    }
  });
});

describe("weights in pytorch_model.bin", () => {
  test.each([
    ["torch's zip format", "roberta", { legacy: false }],
    ["torch < 1.6's format, every tensor a view into one storage", "bert", { legacy: true, views: true }],
  ] as const)("%s (%s): the head's tensors are read where the checkpoint keeps them", async (_, arch, format) => {
    const dir = join(root, "bin", arch);
    await cp(built.get(`${arch}/hf1`)!.dir, dir, { recursive: true });
    await runPython(TO_BIN, { folder: dir, delete_safetensors: true, ...format });
    expect(await readdir(dir)).not.toContain("model.safetensors");
    const model = await CrossEncoder.load(dir);
    expect(maxAbsDiff((await model.predict(PAIRS)) as number[], answers.get(`${arch}/hf1`)!.scores as number[])).toBeLessThan(1e-5);
    model.dispose();
  });
});

/** Every tensor of a float32 safetensors file. */
async function readTensors(path: string): Promise<{ name: string; dtype: "F32"; shape: number[]; data: Float32Array }[]> {
  const header = await readSafetensorsHeader(path);
  const bytes = await readFile(path);
  return header.entries.map((e) => {
    expect(e.dtype).toBe("F32");
    const copy = bytes.subarray(e.begin, e.end);
    return { name: e.name, dtype: "F32" as const, shape: e.shape, data: new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength)) };
  });
}

describe("bad folders give an SbertError naming the file and the key or field", () => {
  async function copyOf(kind: Kind, name: string): Promise<string> {
    const dir = join(root, "bad", name);
    await cp(built.get(`bert/${kind}`)!.dir, dir, { recursive: true });
    return dir;
  }

  test("missing classifier weights, a mis-shaped head, and a wrong label count", async () => {
    const missing = await copyOf("hf1", "missing");
    const file = join(missing, "model.safetensors");
    const tensors = await readTensors(file);
    await writeSafetensors(file, tensors.filter((t) => t.name !== "classifier.weight"), { format: "pt" });
    await expect(CrossEncoder.load(missing)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`missing key 'classifier.weight' in ${file}`),
    });

    const shaped = await copyOf("hf1", "shaped");
    const file2 = join(shaped, "model.safetensors");
    await writeSafetensors(
      file2,
      tensors.map((t) => (t.name === "classifier.bias" ? { ...t, shape: [2], data: new Float32Array(2) } : t)),
      { format: "pt" },
    );
    await expect(CrossEncoder.load(shaped)).rejects.toMatchObject({
      code: "ERR_WEIGHTS",
      message: expect.stringContaining(`key 'classifier.bias' has shape [2] in ${file2} but BertForSequenceClassification's head expects [1]`),
    });
    // The encoder's own keys are checked by the encoder's loader.
    await writeSafetensors(
      file2,
      tensors.map((t) => (t.name === "bert.embeddings.word_embeddings.weight" ? { ...t, shape: [t.shape[0]!, 16], data: new Float32Array(t.shape[0]! * 16) } : t)),
      { format: "pt" },
    );
    await expect(CrossEncoder.load(shaped)).rejects.toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringContaining("embeddings.word_embeddings.weight") });

    await expect(CrossEncoder.load(built.get("bert/hf1")!.dir, { numLabels: 3 })).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/numLabels 3 was asked for but .*config\.json gives 1 labels/),
    });
  });

  test("an unknown model_type, an activation sbert-node cannot run, and a modular folder with other modules", async () => {
    const unknown = await copyOf("hf1", "unknown");
    const configFile = join(unknown, "config.json");
    const config = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
    await writeFile(configFile, JSON.stringify({ ...config, model_type: "gpt_neo" }));
    await expect(CrossEncoder.load(unknown)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringContaining(`${configFile}: model_type "gpt_neo" has no sequence-classification head in sbert-node (supported: bert, roberta, xlm-roberta, mpnet, distilbert, modernbert, qwen3, gemma3_text)`),
    });
    await writeFile(configFile, JSON.stringify({ ...config, sentence_transformers: { activation_fn: "torch.nn.modules.activation.Softplus" } }));
    await expect(CrossEncoder.load(unknown)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringContaining(`${configFile}: sentence_transformers.activation_fn: activation function "torch.nn.modules.activation.Softplus" is not one of`),
    });

    const modular = await copyOf("st6", "modular");
    const modulesFile = join(modular, "modules.json");
    const modules = JSON.parse(await readFile(modulesFile, "utf8")) as unknown[];
    await writeFile(modulesFile, JSON.stringify([...modules, { idx: 1, name: "1", path: "1_Dense", type: "sentence_transformers.base.modules.dense.Dense" }]));
    await expect(CrossEncoder.load(modular)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringContaining(`${modulesFile}: sbert-node runs cross-encoders made of one`) });
  });

  test("bad arguments are refused by name; a failed save leaves nothing behind", async () => {
    const model = await CrossEncoder.load(built.get("bert/hf1")!.dir);
    await expect(model.predict([["a", "b"], ["c"] as unknown as CrossEncoderPair])).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringContaining("pairs[1] must be a [string, string] pair") });
    await expect(model.predict([["a", "b"]], { activationFn: "softplus" })).rejects.toThrow(/activation function "softplus" is not one of/);
    await expect(model.predict([["a", "b"]], { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
    await expect(model.rank(QUERY, ["a", 3 as unknown as string])).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringContaining("documents[1] must be a string") });
    expect(await model.predict([])).toEqual([]);
    const parent = join(root, "bad", "save");
    await cp(built.get("bert/hf1")!.dir, parent, { recursive: true });
    const target = join(parent, "config.json");
    await expect(model.save(target)).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringContaining("is not a folder") });
    expect((await readdir(parent)).filter((e) => e.startsWith("."))).toEqual([]);
    model.dispose();
    await expect(model.predict([["a", "b"]])).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  });
});
