// Every supported architecture against sentence-transformers and transformers themselves: small random-init
// models built by transformers and wrapped by sentence-transformers (test/fixtures/hf_model.py), encoded by
// SentenceTransformer(path).encode (py/st_oracle.py) and by sbert-node on the same texts.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, models, setKernelIsa } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import type { KernelIsa, TestingKernels } from "../../types/testingKernels.js";
import { oneStepGradients, tokenBatch } from "../helpers/gradients.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/st_oracle.py", import.meta.url));
const POOLING = ["cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"];
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const LONG = "Un testo più lungo: ".concat("il cane corre nel parco e il gatto guarda dalla finestra ".repeat(8));
// Plain Italian and English words: tokenized alike by every tokenizer kind here.
const TEXTS = [...SENTENCES, LONG, "A man plays the guitar.", "la città è piena di gente oggi perché è festa"];

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

interface Built {
  dir: string;
  embedding_dimension: number;
  config: Record<string, unknown>;
}

const ARCHS = ["bert", "distilbert", "mpnet", "roberta", "xlm-roberta", "qwen3", "gemma3_text", "modernbert"] as const;
// Tokenizers that pad on the left (decoder embedders): sentence-transformers' token embeddings of a padded text
// start with its padding, which sbert-node leaves out.
const LEFT_PADDED = new Set<string>(["qwen3"]);
type Arch = (typeof ARCHS)[number];

function spec(dir: string, arch: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { dir, arch, seed: 5, corpus: CORPUS, vocab_size: 1000, max_seq_length: 40, ...extra };
}

const DROPOUT_FREE: Record<string, Record<string, number>> = {
  distilbert: { dropout: 0, attention_dropout: 0 },
  qwen3: { attention_dropout: 0 },
  gemma3_text: { attention_dropout: 0 },
  modernbert: { embedding_dropout: 0, attention_dropout: 0, mlp_dropout: 0 },
  default: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
};
const S1 = TEXTS.slice(0, 5);
const S2 = [...TEXTS.slice(5, 9), "ciao"];
const LABELS = [0.9, 0.1, 0.5, 0.7, 0.3];

interface Reference {
  embeddings: number[][];
  token_embeddings: number[][][];
  loss: number;
  grads: Record<string, number[]>;
}

// Python starts once for all folders and once for all of sentence-transformers' answers (each start costs seconds).
let root: string;
const pooled = new Map<Arch, Built>();
const trainable = new Map<Arch, Built>();
const reference = new Map<Arch, Reference>();
beforeAll(async () => {
  root = await tempDir();
  const specs = ARCHS.flatMap((arch) => [
    // Over a left-padded batch, CLS pooling reads the padding's own output (which sbert-node never computes) and
    // weightedmean's weights count the padding before a text (so its value depends on the batch it ran in).
    spec(join(root, arch, "pooled"), arch, { pooling: LEFT_PADDED.has(arch) ? POOLING.filter((p) => p !== "cls" && p !== "weightedmean") : POOLING }),
    spec(join(root, arch, "grad"), arch, { config: DROPOUT_FREE[arch] ?? DROPOUT_FREE["default"] }),
  ]);
  const built = await runPython<Built[]>(BUILD, specs);
  ARCHS.forEach((arch, i) => {
    pooled.set(arch, built[2 * i]!);
    trainable.set(arch, built[2 * i + 1]!);
  });
  const jobs = ARCHS.map((arch) => ({
    folder: pooled.get(arch)!.dir,
    texts: TEXTS,
    batch_size: 4,
    token_embeddings: true,
    grad_folder: trainable.get(arch)!.dir,
  }));
  const answers = await runPython<Omit<Reference, "loss" | "grads">[]>(ORACLE, jobs.map(({ grad_folder: _, ...j }) => j));
  const grads = await runPython<Pick<Reference, "loss" | "grads">[]>(
    ORACLE,
    jobs.map((j) => ({ folder: j.grad_folder, grad: { sentences1: S1, sentences2: S2, labels: LABELS } })),
  );
  ARCHS.forEach((arch, i) => reference.set(arch, { ...answers[i]!, ...grads[i]! }));
}, 600_000);

describe.each(ARCHS)("%s", (arch) => {
  test("embeddings and token embeddings equal sentence-transformers' within 1e-5 (all six pooling modes concatenated; four for left padding)", async () => {
    const ref = reference.get(arch)!;
    const model = await SentenceTransformer.load(pooled.get(arch)!.dir);
    expect(model.getSentenceEmbeddingDimension()).toBe(pooled.get(arch)!.embedding_dimension);
    const ours = await model.encode(TEXTS, { batchSize: 3 });
    ours.forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!)).toBeLessThan(1e-5));
    const tokens = await model.encode(TEXTS, { outputValue: "token_embeddings" });
    tokens.forEach((rows, i) => {
      const refRows = ref.token_embeddings[i]!;
      const padding = refRows.length - rows.length;
      if (LEFT_PADDED.has(arch)) expect(padding).toBeGreaterThanOrEqual(0);
      else expect(padding).toBe(0);
      rows.forEach((v, t) => expect(maxAbsDiff(v, refRows[padding + t]!)).toBeLessThan(1e-5));
    });
    model.dispose();
  });

  test("a copy saved here names its architecture in config.json and loads in sentence-transformers with the same embeddings", async () => {
    const model = await SentenceTransformer.load(pooled.get(arch)!.dir);
    const saved = join(root, arch, "saved");
    await model.save(saved);
    const config = JSON.parse(await readFile(join(saved, "config.json"), "utf8")) as Record<string, unknown>;
    expect(config["model_type"]).toBe(pooled.get(arch)!.config["model_type"]);
    expect(config["architectures"]).toEqual(pooled.get(arch)!.config["architectures"]);
    const ref = await runPython<{ embeddings: number[][] }>(ORACLE, { folder: saved, texts: TEXTS });
    const ours = await model.encode(TEXTS);
    ours.forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!)).toBeLessThan(1e-5));
    model.dispose();
  });

  test("one training step's gradients equal PyTorch's within 1e-4 (CosineSimilarityLoss, dropout off)", async () => {
    const ref = reference.get(arch)!;
    const model = await SentenceTransformer.load(trainable.get(arch)!.dir);
    const { loss, grads } = await oneStepGradients(model, S1, S2, LABELS);
    expect(Math.abs(loss - ref.loss)).toBeLessThan(1e-5);
    const names = Object.keys(ref.grads);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const ours = grads.get(name);
      expect(ours, name).toBeDefined();
      expect(maxAbsDiff(ours!, ref.grads[name]!), name).toBeLessThan(1e-4);
    }
    model.dispose();
  });
});

// Linear weights of more than 4 MiB are kept row-major where AVX-512 products run on oneDNN (ops::choose_weight_layout),
// column-major elsewhere: a BERT layer of BERT-base's width with a 768x1536 feed-forward, whichever layout this host
// picks, against sentence-transformers and PyTorch.
describe("bert with feed-forward weights over 4 MiB", () => {
  const WIDE = { hidden_size: 768, num_attention_heads: 12, intermediate_size: 1536, num_hidden_layers: 1, ...DROPOUT_FREE["default"] };
  let built: Built;
  let ref: Reference;
  beforeAll(async () => {
    [built] = await runPython<Built[]>(BUILD, [spec(join(root, "wide"), "bert", { config: WIDE, init_std: 0.02 })]);
    const [embedded] = await runPython<Omit<Reference, "loss" | "grads">[]>(ORACLE, [{ folder: built!.dir, texts: TEXTS, batch_size: 16 }]);
    const [graded] = await runPython<Pick<Reference, "loss" | "grads">[]>(ORACLE, [{ folder: built!.dir, grad: { sentences1: S1, sentences2: S2, labels: LABELS } }]);
    ref = { ...embedded!, ...graded! };
  }, 600_000);

  test("embeddings equal sentence-transformers' within 1e-5, as one batch and one text at a time; a saved copy loads in sentence-transformers alike", async () => {
    const model = await SentenceTransformer.load(built.dir);
    (await model.encode(TEXTS, { batchSize: 16 })).forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!), `batched ${i}`).toBeLessThan(1e-5));
    for (const [i, text] of TEXTS.entries()) expect(maxAbsDiff(await model.encode(text), ref.embeddings[i]!), `alone ${i}`).toBeLessThan(1e-5);
    const saved = join(root, "wide", "saved");
    await model.save(saved);
    const again = await runPython<{ embeddings: number[][] }>(ORACLE, { folder: saved, texts: TEXTS });
    again.embeddings.forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!), `saved ${i}`).toBeLessThan(1e-5));
    model.dispose();
  });

  test("one training step's gradients equal PyTorch's within 1e-4", async () => {
    const model = await SentenceTransformer.load(built.dir);
    const { loss, grads } = await oneStepGradients(model, S1, S2, LABELS);
    expect(Math.abs(loss - ref.loss)).toBeLessThan(1e-5);
    const names = Object.keys(ref.grads);
    expect(names.some((n) => n.endsWith("intermediate.dense.weight"))).toBe(true);
    for (const name of names) {
      expect(grads.get(name), name).toBeDefined();
      expect(maxAbsDiff(grads.get(name)!, ref.grads[name]!), name).toBeLessThan(1e-4);
    }
    model.dispose();
  });
});

describe.each(ARCHS)("%s with gradient checkpointing", (arch) => {
  test("one step's loss and gradients equal those without it, dropout on (the recomputation draws the first pass's noise)", async () => {
    const model = await SentenceTransformer.load(pooled.get(arch)!.dir);
    const beta1 = 0.9;
    const step = async (gradientCheckpointing: boolean) => {
      const trainer = native().createTrainer(
        model.modules.map((m) => m.native),
        [{ loss: "CosineSimilarityLoss" }],
        { lr: 1e-12, weightDecay: 0, beta1, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 7, gradientCheckpointing },
      );
      const r = await trainer.step(0, [tokenBatch(model, S1), tokenBatch(model, S2)], { data: Float32Array.from(LABELS), shape: [LABELS.length] });
      const grads = new Map(trainer.state().filter((t) => t.name.startsWith("exp_avg.0.")).map((t) => [t.name, t.data]));
      trainer.dispose();
      return { loss: r.loss, grads };
    };
    const plain = await step(false);
    const checkpointed = await step(true);
    // Dropout is on in this folder: a replay with other noise would change the loss's gradient by far more.
    expect(Math.abs(checkpointed.loss - plain.loss)).toBeLessThan(1e-6);
    expect(checkpointed.grads.size).toBe(plain.grads.size);
    expect(plain.grads.size).toBeGreaterThan(10);
    for (const [name, g] of plain.grads) expect(maxAbsDiff(checkpointed.grads.get(name)!, g), name).toBeLessThan(1e-6);
    model.dispose();
  });
});

// Each kernel instruction set this CPU runs, end to end through the public switch (the portable one everywhere).
const FEATURES = (native()._testing as unknown as { kernels: TestingKernels }).kernels.features();
const ISAS: { isa: KernelIsa; missing?: string }[] = [
  { isa: "generic" },
  { isa: "avx2", missing: FEATURES.supported.includes("avx2") ? undefined : "host lacks AVX2 + FMA" },
  { isa: "avx512", missing: FEATURES.supported.includes("avx512") ? undefined : "host lacks AVX-512 F/BW/VL" },
];

describe.each(ISAS)("kernels on $isa", ({ isa, missing }) => {
  test.skipIf(missing !== undefined).each(["bert", "mpnet", "xlm-roberta", "qwen3", "gemma3_text", "modernbert"] as const)(
    `%s: one text at a time, batches of 3, and int8 agree with sentence-transformers${missing ? ` (skipped: ${missing})` : ""}`,
    async (arch) => {
      const ref = reference.get(arch)!;
      const model = await SentenceTransformer.load(pooled.get(arch)!.dir);
      setKernelIsa(isa);
      try {
        const single: Float32Array[] = [];
        for (const t of TEXTS) single.push(await model.encode(t));
        single.forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!)).toBeLessThan(1e-5));
        (await model.encode(TEXTS, { batchSize: 3 })).forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!)).toBeLessThan(1e-5));
        const int8 = await SentenceTransformer.load(pooled.get(arch)!.dir, { quantize: "int8" });
        const q: Float32Array[] = [];
        for (const t of TEXTS.slice(0, 4)) q.push(await int8.encode(t));
        q.forEach((v, i) => expect(cosine(v, ref.embeddings[i]!)).toBeGreaterThan(0.99));
        int8.dispose();
      } finally {
        setKernelIsa("auto");
        model.dispose();
      }
    },
  );
});

describe("bad configs name the file and the field", () => {
  test("an unknown model_type lists the supported ones; a wrong type names the field", async () => {
    const dir = join(root, "distilbert", "pooled");
    const file = join(dir, "config.json");
    const original = await readFile(file, "utf8");
    const config = JSON.parse(original) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, model_type: "gpt_neo" }));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/config\.json: model_type 'gpt_neo' is not supported \(supported: bert, roberta, xlm-roberta, distilbert, mpnet, qwen3, gemma3_text, modernbert\)/),
    });
    await writeFile(file, JSON.stringify({ ...config, n_layers: "two" }));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/config\.json: field 'n_layers' must be an integer, got "two"/),
    });
    // Refused before anything is allocated: against the checkpoint, and without one against a bound.
    await writeFile(file, JSON.stringify({ ...config, n_layers: 10_000_000 }));
    await expect(SentenceTransformer.load(dir)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/field 'n_layers' is 10000000 but the checkpoint holds 2 layers \(transformer\.layer\.0 to transformer\.layer\.1\)/),
    });
    const bert = await SentenceTransformer.load(pooled.get("bert")!.dir);
    const { tokenizer } = bert.modules[0] as models.Transformer;
    await expect(models.Transformer.fromConfig({ ...config, n_layers: 10_000_000 }, tokenizer)).rejects.toMatchObject({
      code: "ERR_CONFIG",
      message: expect.stringMatching(/config: field 'n_layers' must be a positive integer of at most 1024, got 10000000/),
    });
    bert.dispose();
    await writeFile(file, original);
  }, 120_000);
});
