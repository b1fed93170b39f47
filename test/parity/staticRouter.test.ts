// StaticEmbedding and Router against sentence-transformers itself: folders built and saved by sentence-transformers
// (test/fixtures/static_router.py), loaded here, encoded (encode, encodeQuery, encodeDocument, task) and trained
// one step (MultipleNegativesRankingLoss, MatryoshkaLoss, a Router's columns routed by routerMapping); folders saved
// here, loaded by sentence-transformers.
import { cp, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { DataLoader, Dataset, InputExample, SentenceTransformer, evaluation, SentenceTransformerTrainer, Tokenizer, losses, models } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import type { NativeLossSpec, NativeTokenBatch } from "../../types/native.js";
import { writeSafetensors } from "../../lib/io/safetensors.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, editJson, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const SCRIPT = fileURLToPath(new URL("../fixtures/static_router.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(1500, 7)];
// An empty text (an empty bag: zeros), characters the vocabulary lacks ([UNK]), long and short texts.
const TEXTS = [...SENTENCES, "", "A man plays the guitar.", "ŧħïş ŵøřð ïş ñøŧ ïñ ŧħë ĉøřþüş 🙂", "la città è piena di gente oggi perché è festa"];
const QUESTIONS = ["Chi suona la chitarra?", "Dove dorme il gatto?", "Cosa fa la ragazza?", "Quante donne parlano?", "Perché la città è piena?"];
const ANSWERS = ["Un uomo suona la chitarra.", "Il gatto dorme sul divano.", "Una ragazza si acconcia i capelli.", "Due donne parlano.", "Oggi è festa in città."];
const VOCAB = 400;
const DIM = 16;

type Spec = Record<string, unknown>;
const staticSpec = (dim: number, seed: number, extra: Spec = {}): Spec => ({ type: "static", dim, seed, ...extra });
const FOLDERS = {
  static: { modules: [staticSpec(DIM, 3)] },
  staticNorm: { modules: [staticSpec(12, 4, { truncation: 6 }), { type: "normalize" }] },
  staticLeft: { modules: [staticSpec(8, 5, { truncation: 3, truncation_direction: "left" })] },
  router: {
    modules: [{ type: "router", routes: { query: [staticSpec(DIM, 1)], document: [staticSpec(DIM, 2)] } }, { type: "normalize" }],
    prompts: { query: "query: ", passage: "passage: " },
  },
  routerMapped: {
    modules: [
      {
        type: "router",
        routes: { query: [staticSpec(8, 6)], document: [staticSpec(8, 7)] },
        default_route: null,
        allow_empty_key: false,
        route_mappings: [
          ["query", null, "query"],
          [null, "text", "document"],
        ],
      },
    ],
  },
  // A light query encoder beside a BERT document encoder (dropout off: the gradients are compared).
  routerMixed: {
    modules: [
      {
        type: "router",
        routes: {
          query: [staticSpec(32, 8)],
          document: [{ type: "encoder", spec: { arch: "bert", seed: 5, corpus: CORPUS, vocab_size: 300, max_seq_length: 24, config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 } } }],
        },
      },
    ],
  },
} as const;
type FolderName = keyof typeof FOLDERS;
const STATIC_FOLDERS: FolderName[] = ["static", "staticNorm", "staticLeft"];

interface EncodeJob {
  folder: FolderName;
  call: "encode" | "encode_query" | "encode_document";
  task?: string;
}
const ENCODES: EncodeJob[] = [
  ...STATIC_FOLDERS.map((folder) => ({ folder, call: "encode" as const })),
  { folder: "router", call: "encode_query" },
  { folder: "router", call: "encode_document" },
  { folder: "router", call: "encode" },
  { folder: "router", call: "encode", task: "query" },
  { folder: "routerMapped", call: "encode", task: "query" },
  { folder: "routerMapped", call: "encode", task: "document" },
  { folder: "routerMapped", call: "encode" },
  // Neither a mapping's task nor a route's name: the (any task, text) mapping takes it.
  { folder: "routerMapped", call: "encode", task: "other" },
  { folder: "routerMixed", call: "encode_query" },
  { folder: "routerMixed", call: "encode_document" },
];
/** The BERT route's float sums differ from PyTorch's in order (the suite's Transformer tolerance). */
const tolerance = (e: { folder: FolderName; call: string }) => (e.folder === "routerMixed" && e.call !== "encode_query" ? 1e-5 : 1e-6);

interface GradJob {
  name: string;
  folder: FolderName;
  routerMapping?: Record<string, string>;
  matryoshkaDims?: number[];
}
const GRADS: GradJob[] = [
  { name: "static MNRL", folder: "static" },
  { name: "static Matryoshka(MNRL)", folder: "static", matryoshkaDims: [16, 8, 4] },
  { name: "router MNRL, question → query, answer → document", folder: "router", routerMapping: { question: "query", answer: "document" } },
  { name: "router Matryoshka(MNRL), both columns → query", folder: "router", routerMapping: { question: "query", answer: "query" }, matryoshkaDims: [16, 4] },
  { name: "router of StaticEmbedding and BERT, question → query, answer → document", folder: "routerMixed", routerMapping: { question: "query", answer: "document" } },
];

interface GradReference {
  loss: number;
  grads: Record<string, number[]>;
}

let root: string;
const folder = (name: FolderName) => join(root, name);
const encodeRef: number[][][] = [];
const gradRef: GradReference[] = [];

function encodeJob(dir: string, e: EncodeJob) {
  return { op: "encode", folder: dir, texts: TEXTS, call: e.call, ...(e.task !== undefined && { task: e.task }), batch_size: 4 };
}

beforeAll(async () => {
  root = await tempDir();
  const jobs: Spec[] = Object.entries(FOLDERS).map(([name, f]) => ({ op: "build", dir: folder(name as FolderName), corpus: CORPUS, vocab_size: VOCAB, ...f }));
  for (const e of ENCODES) jobs.push(encodeJob(folder(e.folder), e));
  for (const g of GRADS) {
    jobs.push({
      op: "grad",
      folder: folder(g.folder),
      columns: { question: QUESTIONS, answer: ANSWERS },
      ...(g.routerMapping && { router_mapping: g.routerMapping }),
      ...(g.matryoshkaDims && { matryoshka_dims: g.matryoshkaDims }),
    });
  }
  const results = await runPython<unknown[]>(SCRIPT, jobs);
  const builds = Object.keys(FOLDERS).length;
  ENCODES.forEach((_, i) => encodeRef.push((results[builds + i] as { embeddings: number[][] }).embeddings));
  GRADS.forEach((_, i) => gradRef.push(results[builds + ENCODES.length + i] as GradReference));
}, 600_000);

function expectEmbeddings(ours: ArrayLike<number>[], ref: number[][], what: string, tol = 1e-6): void {
  expect(ours.length).toBe(ref.length);
  ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!), `${what} text ${i}`).toBeLessThanOrEqual(tol));
}

function ourEncode(model: SentenceTransformer, e: EncodeJob, batchSize: number): Promise<Float32Array[]> {
  if (e.call === "encode_query") return model.encodeQuery(TEXTS, { batchSize });
  if (e.call === "encode_document") return model.encodeDocument(TEXTS, { batchSize });
  return model.encode(TEXTS, { batchSize, ...(e.task !== undefined && { task: e.task }) });
}

const label = (e: EncodeJob) => `${e.folder} ${e.call}${e.task !== undefined ? ` task=${e.task}` : ""}`;

describe("folders sentence-transformers saved", () => {
  test.each(ENCODES.map((e, i) => [label(e), i] as const))("%s equals sentence-transformers (within 1e-6; a BERT route 1e-5)", async (_, i) => {
    const e = ENCODES[i]!;
    const model = await SentenceTransformer.load(folder(e.folder));
    // Another batch size than the reference's: results do not depend on the batch.
    expectEmbeddings(await ourEncode(model, e, 3), encodeRef[i]!, label(e), tolerance(e));
    model.dispose();
  });

  test("the v6 layout is read: StaticEmbedding and Router saved at the root, the Router's modules in {route}_{i}_{Class}/", async () => {
    const modules = JSON.parse(await readFile(join(folder("router"), "modules.json"), "utf8")) as { path: string; type: string }[];
    expect(modules[0]).toMatchObject({ path: "", type: "sentence_transformers.base.modules.router.Router" });
    const stModules = JSON.parse(await readFile(join(folder("static"), "modules.json"), "utf8")) as { path: string; type: string }[];
    expect(stModules[0]).toMatchObject({ path: "", type: "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding" });
    const model = await SentenceTransformer.load(folder("router"));
    const router = model.modules[0] as models.Router;
    expect(router).toBeInstanceOf(models.Router);
    expect(Object.keys(router.subModules)).toEqual(["query", "document"]);
    expect(router.defaultRoute).toBe("document");
    expect(model.getSentenceEmbeddingDimension()).toBe(DIM);
    expect(model.maxSeqLength).toBe(Infinity);
    model.dispose();
  });

  test("a task no route takes is an ERR_INPUT naming the routes (as sentence-transformers refuses it)", async () => {
    const model = await SentenceTransformer.load(folder("router"));
    await expect(model.encode(TEXTS, { task: "other" })).rejects.toMatchObject({
      code: "ERR_INPUT",
      message: expect.stringMatching(/no route for task "other"; it has task="query", task="document"/),
    });
    model.dispose();
  });
});

describe("StaticEmbedding built here", () => {
  test("a fresh matrix is the one torch.manual_seed(seed) + nn.EmbeddingBag draws (bit for bit)", async () => {
    const loaded = await SentenceTransformer.load(folder("static"));
    const tokenizer = (loaded.modules[0] as models.StaticEmbedding).tokenizer;
    const fresh = new models.StaticEmbedding({ tokenizer, embeddingDim: DIM, seed: 3 });
    const other = new models.StaticEmbedding({ tokenizer, embeddingDim: DIM, seed: 4 });
    const [theirs] = loaded.modules[0]!.native.stateDict();
    const [ours] = fresh.native.stateDict();
    expect(ours!.name).toBe("embedding.weight");
    expect(ours!.shape).toEqual([tokenizer.vocabSize, DIM]);
    expect(theirs!.shape).toEqual(ours!.shape);
    expect(maxAbsDiff(ours!.data, theirs!.data)).toBe(0);
    expect(maxAbsDiff(other.native.stateDict()[0]!.data, theirs!.data)).toBeGreaterThan(0.1);
    const model = new SentenceTransformer({ modules: [fresh] });
    expectEmbeddings(await model.encode(TEXTS), encodeRef[0]!, "built from a tokenizer and a seed");
    other.dispose();
    model.dispose();
    loaded.dispose();
  });

  test("from a tokenizer and weights; pairs and a maxSeqLength are refused", async () => {
    const tokenizer = await Tokenizer.fromFolder(folder("static"));
    const [w] = (await SentenceTransformer.load(folder("static"))).modules[0]!.native.stateDict();
    const module = new models.StaticEmbedding({ tokenizer, embeddingWeights: { data: w!.data, shape: w!.shape as [number, number] } });
    const model = new SentenceTransformer({ modules: [module] });
    expectEmbeddings(await model.encode(TEXTS), encodeRef[0]!, "built from weights");
    await expect(model.encode([["a pair", "of texts"]])).rejects.toMatchObject({ code: "ERR_INPUT", message: expect.stringMatching(/StaticEmbedding embeds single texts/) });
    expect(() => (model.maxSeqLength = 5)).toThrow(/StaticEmbedding has no maxSeqLength/);
    expect(() => new models.StaticEmbedding({ tokenizer })).toThrow(/give embeddingWeights or embeddingDim/);
    model.dispose();
  });
});

describe("model2vec weights", () => {
  test("a folder whose safetensors holds model2vec's 'embeddings' (and a tensor StaticEmbedding does not read) loads as in sentence-transformers", async () => {
    const dir = join(root, "model2vec");
    await cp(folder("static"), dir, { recursive: true });
    const loaded = await SentenceTransformer.load(folder("static"));
    const [w] = loaded.modules[0]!.native.stateDict();
    loaded.dispose();
    await writeSafetensors(join(dir, "model.safetensors"), [
      { name: "embeddings", dtype: "F32", shape: w!.shape, data: w!.data },
      { name: "weights", dtype: "F32", shape: [w!.shape[0]!], data: new Float32Array(w!.shape[0]!).fill(2) },
    ]);
    const [answer] = await runPython<{ embeddings: number[][] }[]>(SCRIPT, [encodeJob(dir, ENCODES[0]!)]);
    expectEmbeddings(answer!.embeddings, encodeRef[0]!, "model2vec keys, in sentence-transformers");
    const model = await SentenceTransformer.load(dir);
    expectEmbeddings(await model.encode(TEXTS), encodeRef[0]!, "model2vec keys, here");
    model.dispose();
  });
});

describe("saved here, loaded by sentence-transformers", () => {
  test.each([...STATIC_FOLDERS, "router", "routerMapped", "routerMixed"] as FolderName[])("%s: the same embeddings in Python and after reloading here", async (name) => {
    const model = await SentenceTransformer.load(folder(name));
    const dir = join(root, "saved", name);
    await model.save(dir);
    const jobs = ENCODES.map((e, i) => [e, i] as const).filter(([e]) => e.folder === name);
    const answers = await runPython<{ embeddings: number[][] }[]>(SCRIPT, jobs.map(([e]) => encodeJob(dir, e)));
    const again = await SentenceTransformer.load(dir);
    for (const [k, [e, i]] of jobs.entries()) {
      expectEmbeddings(answers[k]!.embeddings, encodeRef[i]!, `${label(e)}: saved here, encoded by sentence-transformers`, tolerance(e));
      expectEmbeddings(await ourEncode(again, e, 8), encodeRef[i]!, `${label(e)}: saved here, loaded here`, tolerance(e));
    }
    again.dispose();
    model.dispose();
  }, 120_000);

  test("the layout written: legacy module types, StaticEmbedding in its folder, router_config.json as Python writes it", async () => {
    const dir = join(root, "saved", "routerMapped");
    const modules = JSON.parse(await readFile(join(dir, "modules.json"), "utf8")) as { path: string; type: string }[];
    expect(modules).toEqual([{ idx: 0, name: "0", path: "", type: "sentence_transformers.models.Router" }]);
    const config = JSON.parse(await readFile(join(dir, "router_config.json"), "utf8"));
    expect(config).toEqual({
      types: { query_0_StaticEmbedding: "sentence_transformers.models.StaticEmbedding", document_0_StaticEmbedding: "sentence_transformers.models.StaticEmbedding" },
      structure: { query: ["query_0_StaticEmbedding"], document: ["document_0_StaticEmbedding"] },
      parameters: { default_route: null, allow_empty_key: false, route_mappings: { "('query', None)": "query", "(None, 'text')": "document" } },
    });
    const staticModules = JSON.parse(await readFile(join(root, "saved", "staticNorm", "modules.json"), "utf8")) as { path: string; type: string }[];
    expect(staticModules.map((m) => [m.path, m.type])).toEqual([
      ["0_StaticEmbedding", "sentence_transformers.models.StaticEmbedding"],
      ["1_Normalize", "sentence_transformers.models.Normalize"],
    ]);
    const tokenizerJson = JSON.parse(await readFile(join(root, "saved", "staticNorm", "0_StaticEmbedding", "tokenizer.json"), "utf8"));
    expect(tokenizerJson.padding).toBeNull();
    expect(tokenizerJson.truncation).toMatchObject({ max_length: 6, direction: "Right" });
  });
});

/** The loss and every parameter's gradient after one native step (AdamW's first moment / (1 - beta1)). */
async function ourGrads(model: SentenceTransformer, spec: NativeLossSpec, columns: NativeTokenBatch[]): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const beta1 = 0.9;
  const trainer = native().createTrainer(model.modules.map((m) => m.native), [spec], {
    lr: 1e-12, weightDecay: 0, beta1, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 0,
  });
  const r = await trainer.step(0, columns, null);
  const grads = new Map<string, Float32Array>();
  for (const t of trainer.state().filter((s) => s.name.startsWith("exp_avg."))) grads.set(t.name.slice("exp_avg.".length), t.data.map((x) => x / (1 - beta1)));
  trainer.dispose();
  return { loss: r.loss, grads };
}

describe("one training step equals sentence-transformers' (loss and every gradient within 1e-5)", () => {
  test.each(GRADS.map((g, i) => [g.name, i] as const))("%s", async (_, i) => {
    const g = GRADS[i]!;
    const ref = gradRef[i]!;
    const model = await SentenceTransformer.load(folder(g.folder));
    const mnrl = new losses.MultipleNegativesRankingLoss(model);
    const loss = g.matryoshkaDims ? new losses.MatryoshkaLoss(model, mnrl, { matryoshkaDims: g.matryoshkaDims }) : mnrl;
    const columns = [QUESTIONS, ANSWERS].map((texts, c) => model.tokenize(texts, { task: g.routerMapping?.[c === 0 ? "question" : "answer"] }));
    const ours = await ourGrads(model, loss.nativeSpec(), columns);
    expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(1e-5);
    // Python's Transformer holds the BertModel as `model`; here the encoder is registered as `bert`.
    const refGrads = Object.fromEntries(Object.entries(ref.grads).map(([k, v]) => [k.replace(/^(0\.sub_modules\.\w+\.0)\.model\./, "$1.bert."), v]));
    expect([...ours.grads.keys()].sort()).toEqual(Object.keys(refGrads).sort());
    for (const [key, grad] of Object.entries(refGrads)) expect(maxAbsDiff(ours.grads.get(key)!, grad), key).toBeLessThan(1e-5);
    // The routes the columns took learn; a route no column took gets no gradient (in neither).
    if (g.routerMapping) {
      const used = new Set(Object.values(g.routerMapping));
      for (const route of ["query", "document"]) {
        const learns = [...ours.grads].some(([key, grad]) => key.startsWith(`0.sub_modules.${route}.`) && grad.some((x) => x !== 0));
        expect(learns, route).toBe(used.has(route));
      }
    }
    model.dispose();
  });
});

describe("SentenceTransformerTrainer", () => {
  /** The rows of a matrix that differ from before. */
  function changedRows(before: Float32Array, after: Float32Array, dim: number): Set<number> {
    const rows = new Set<number>();
    for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) rows.add(Math.floor(i / dim));
    return rows;
  }

  test("routes columns by routerMapping: its first step's loss is sentence-transformers', and each route learns only its column's tokens", async () => {
    const model = await SentenceTransformer.load(folder("router"));
    const router = model.modules[0] as models.Router;
    const query = router.subModules["query"]![0] as models.StaticEmbedding;
    const document = router.subModules["document"]![0] as models.StaticEmbedding;
    const before = [query, document].map((m) => Float32Array.from(m.native.stateDict()[0]!.data));
    const trainer = new SentenceTransformerTrainer({
      model,
      args: {
        outputDir: join(root, "trainer-router"), saveStrategy: "no", disableTqdm: true, maxSteps: 1, loggingSteps: 1, learningRate: 1e-2,
        perDeviceTrainBatchSize: QUESTIONS.length, routerMapping: { question: "query", answer: "document" },
      },
      trainDataset: Dataset.fromColumns({ question: QUESTIONS, answer: ANSWERS }),
      loss: new losses.MultipleNegativesRankingLoss(model),
    });
    await trainer.train();
    // A batch of every row: MultipleNegativesRankingLoss does not depend on the rows' order.
    const logged = trainer.state.log_history.find((e) => "loss" in e)!;
    expect(Math.abs(logged["loss"]! - gradRef[2]!.loss)).toBeLessThan(1e-5);
    const ids = (texts: string[]) => new Set(texts.flatMap((t) => query.tokenizer.encode(t, { addSpecialTokens: false })));
    expect(changedRows(before[0]!, query.native.stateDict()[0]!.data, DIM)).toEqual(ids(QUESTIONS));
    expect(changedRows(before[1]!, document.native.stateDict()[0]!.data, DIM)).toEqual(ids(ANSWERS));
    model.dispose();
  }, 60_000);

  test("a Router model resumed from a checkpoint ends with the weights of an uninterrupted run, bit for bit", async () => {
    const run = async (outputDir: string, resumeFromCheckpoint?: string) => {
      const model = await SentenceTransformer.load(folder("router"));
      const trainer = new SentenceTransformerTrainer({
        model,
        args: {
          outputDir, saveStrategy: "steps", saveSteps: 1, maxSteps: 3, perDeviceTrainBatchSize: 2, learningRate: 1e-2, disableTqdm: true,
          routerMapping: { question: "query", answer: "document" },
        },
        trainDataset: Dataset.fromColumns({ question: QUESTIONS, answer: ANSWERS }),
        loss: new losses.MultipleNegativesRankingLoss(model),
      });
      await trainer.train(resumeFromCheckpoint === undefined ? {} : { resumeFromCheckpoint });
      const router = model.modules[0] as models.Router;
      const weights = ["query", "document"].map((r) => Float32Array.from(router.subModules[r]![0]!.native.stateDict()[0]!.data));
      model.dispose();
      return weights;
    };
    const whole = await run(join(root, "resume-whole"));
    const resumed = await run(join(root, "resume-again"), join(root, "resume-whole", "checkpoint-1"));
    const fresh = await SentenceTransformer.load(folder("router"));
    const start = (fresh.modules[0] as models.Router).subModules["query"]![0]!.native.stateDict()[0]!.data;
    fresh.dispose();
    expect(maxAbsDiff(whole[0]!, start)).toBeGreaterThan(1e-3);
    whole.forEach((w, i) => expect(maxAbsDiff(resumed[i]!, w)).toBe(0));
  }, 120_000);

  test("trains a StaticEmbedding with MatryoshkaLoss(MNRL): the loss falls and the saved model loads in sentence-transformers", async () => {
    const model = await SentenceTransformer.load(folder("static"));
    const pairs = makeSentences(64, 3);
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir: join(root, "trainer-static"), saveStrategy: "no", disableTqdm: true, numTrainEpochs: 8, loggingSteps: 1, learningRate: 5e-2, perDeviceTrainBatchSize: 16 },
      trainDataset: Dataset.fromColumns({ anchor: pairs.slice(0, 32), positive: pairs.slice(32) }),
      loss: new losses.MatryoshkaLoss(model, new losses.MultipleNegativesRankingLoss(model), { matryoshkaDims: [16, 8] }),
    });
    await trainer.train();
    const logged = trainer.state.log_history.filter((e) => "loss" in e).map((e) => e["loss"]!);
    expect(logged.length).toBe(16);
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    expect(mean(logged.slice(-4))).toBeLessThan(0.5 * mean(logged.slice(0, 4)));
    const dir = join(root, "saved", "trained");
    await model.save(dir);
    const [answer] = await runPython<{ embeddings: number[][] }[]>(SCRIPT, [{ op: "encode", folder: dir, texts: TEXTS, call: "encode", batch_size: 4 }]);
    expectEmbeddings(await model.encode(TEXTS), answer!.embeddings, "trained here, encoded by sentence-transformers");
    model.dispose();
  }, 120_000);

  test("fit trains a StaticEmbedding built from a tokenizer and a dimension (MNRL): the loss falls, the matrix changes", async () => {
    const tokenizer = await Tokenizer.fromFolder(folder("static"));
    const module = new models.StaticEmbedding({ tokenizer, embeddingDim: 8, seed: 11 });
    const model = new SentenceTransformer({ modules: [module] });
    const before = Float32Array.from(module.native.stateDict()[0]!.data);
    const pairs = makeSentences(32, 9);
    const examples = pairs.slice(0, 16).map((t, i) => new InputExample({ texts: [t, pairs[16 + i]!] }));
    const result = await model.fit({
      trainObjectives: [[new DataLoader(examples, { batchSize: 8, shuffle: true, seed: 1 }), new losses.MultipleNegativesRankingLoss(model)]],
      epochs: 10, warmupSteps: 0, optimizerParams: { lr: 5e-2 }, showProgressBar: false,
    });
    const mean = (xs: { loss: number }[]) => xs.reduce((a, x) => a + x.loss, 0) / xs.length;
    expect(mean(result.log.slice(-4))).toBeLessThan(0.5 * mean(result.log.slice(0, 4)));
    expect(maxAbsDiff(module.native.stateDict()[0]!.data, before)).toBeGreaterThan(1e-2);
    model.dispose();
  }, 60_000);

  test("a Router model without routerMapping (or in fit, which has none) is refused, as sentence-transformers refuses it", async () => {
    const model = await SentenceTransformer.load(folder("router"));
    expect(
      () =>
        new SentenceTransformerTrainer({
          model,
          args: { outputDir: join(root, "trainer-none"), saveStrategy: "no" },
          trainDataset: Dataset.fromColumns({ question: QUESTIONS, answer: ANSWERS }),
          loss: new losses.MultipleNegativesRankingLoss(model),
        }),
    ).toThrow(/the model has a Router but args\.routerMapping is empty/);
    await expect(model.fit({ trainObjectives: [[new DataLoader([new InputExample({ texts: ["a", "b"] })]), new losses.MultipleNegativesRankingLoss(model)]] })).rejects.toThrow(
      /fit: the model has a Router/,
    );
    expect(() => new models.Router({ subModules: { query: [] } })).toThrow(/subModules\.query must be a non-empty list/);
    model.dispose();
  });
});

describe("InformationRetrievalEvaluator", () => {
  test("embeds queries with encodeQuery and the corpus with encodeDocument: a Router model's metrics are sentence-transformers'", async () => {
    const queries = Object.fromEntries(QUESTIONS.map((q, i) => [`q${i}`, q]));
    // No text twice: equal scores would leave the ranking to tie-breaking.
    const corpus = Object.fromEntries([...new Set([...ANSWERS, ...SENTENCES])].map((d, i) => [`d${i}`, d]));
    const relevant = Object.fromEntries(QUESTIONS.map((_, i) => [`q${i}`, [`d${i}`]]));
    const [answer] = await runPython<{ metrics: Record<string, number> }[]>(SCRIPT, [{ op: "ir", folder: folder("router"), queries, corpus, relevant }]);
    const model = await SentenceTransformer.load(folder("router"));
    const ours = await new evaluation.InformationRetrievalEvaluator(queries, corpus, relevant, { name: "ir" }).evaluate(model);
    const keys = Object.keys(answer!.metrics);
    expect(keys).toContain("ir_cosine_ndcg@10");
    for (const key of keys) expect(Math.abs(ours[key]! - answer!.metrics[key]!), key).toBeLessThan(1e-6);
    model.dispose();
  });
});

describe("bad folders give an SbertError naming the file and the field", () => {
  async function copyOf(name: FolderName, tag: string): Promise<string> {
    const dir = join(root, "bad", tag);
    await cp(folder(name), dir, { recursive: true });
    return dir;
  }

  test("router_config.json missing, or with fields that cannot make the Router", async () => {
    const missing = await copyOf("router", "missing");
    await rm(join(missing, "router_config.json"));
    await expect(SentenceTransformer.load(missing)).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringMatching(/router_config\.json is missing/) });

    const cases: [string, (c: any) => void, RegExp][] = [
      ["types", (c) => (c.types = []), /router_config\.json: field 'types' must map module folder names to module types/],
      ["structure", (c) => (c.structure.query = ["nowhere_0_StaticEmbedding"]), /router_config\.json: field 'structure\.query\[0\]' names "nowhere_0_StaticEmbedding", which 'types' does not list/],
      ["type", (c) => (c.types.query_0_StaticEmbedding = "sentence_transformers.models.BoW"), /router_config\.json: field 'types\.query_0_StaticEmbedding' "sentence_transformers\.models\.BoW" is not a module type/],
      ["mapping", (c) => (c.parameters.route_mappings = { "('query' None)": "query" }), /router_config\.json: field 'parameters\.route_mappings\["\('query' None\)"\]' is not a \(task, modality\) tuple/],
      ["default", (c) => (c.parameters.default_route = "nowhere"), /router_config\.json: Router: defaultRoute "nowhere" is not one of the routes/],
      ["parameter", (c) => (c.parameters.colour = "blue"), /router_config\.json: field 'parameters\.colour' is not a Router parameter/],
    ];
    for (const [tag, change, message] of cases) {
      const dir = await copyOf("router", tag);
      await editJson(join(dir, "router_config.json"), change);
      await expect(SentenceTransformer.load(dir), tag).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(message) });
    }
  });

  test("a tokenizer.json without a pad token loads (a StaticEmbedding never pads)", async () => {
    const dir = await copyOf("static", "no-pad");
    await editJson(join(dir, "tokenizer.json"), (t) => {
      t.added_tokens = t.added_tokens.filter((a: { content: string }) => a.content !== "[PAD]");
      t.model.vocab["[NOPAD]"] = t.model.vocab["[PAD]"];
      delete t.model.vocab["[PAD]"];
    });
    await expect(Tokenizer.fromFolder(dir)).rejects.toMatchObject({ message: expect.stringMatching(/no pad token/) });
    const model = await SentenceTransformer.load(dir);
    expectEmbeddings(await model.encode(TEXTS), encodeRef[0]!, "without a pad token");
    model.dispose();
  });

  test("a StaticEmbedding folder without tokenizer.json or without embedding.weight", async () => {
    const noTokenizer = await copyOf("static", "no-tokenizer");
    await rm(join(noTokenizer, "tokenizer.json"));
    await expect(SentenceTransformer.load(noTokenizer)).rejects.toMatchObject({ message: expect.stringMatching(/no-tokenizer.tokenizer\.json/) });

    const truncation = await copyOf("static", "truncation");
    await editJson(join(truncation, "tokenizer.json"), (t) => (t.truncation = { max_length: -1 }));
    await expect(SentenceTransformer.load(truncation)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(/tokenizer\.json: field 'truncation\.max_length' must be a non-negative integer/) });

    // A legacy folder (module in 0_StaticEmbedding/) whose weights lack the key.
    const legacy = await copyOf("static", "legacy");
    await mkdir(join(legacy, "0_StaticEmbedding"));
    for (const f of ["tokenizer.json", "model.safetensors"]) await rename(join(legacy, f), join(legacy, "0_StaticEmbedding", f));
    await editJson(join(legacy, "modules.json"), (m) => Object.assign(m[0], { path: "0_StaticEmbedding", type: "sentence_transformers.models.StaticEmbedding" }));
    const ok = await SentenceTransformer.load(legacy);
    expectEmbeddings(await ok.encode(TEXTS), encodeRef[0]!, "legacy layout");
    ok.dispose();
    const raw = await readFile(join(legacy, "0_StaticEmbedding", "model.safetensors"));
    const renamed = Buffer.from(raw.toString("latin1").replace("embedding.weight", "embedding.wxight"), "latin1");
    await writeFile(join(legacy, "0_StaticEmbedding", "model.safetensors"), renamed);
    await expect(SentenceTransformer.load(legacy)).rejects.toMatchObject({ code: "ERR_WEIGHTS", message: expect.stringMatching(/model\.safetensors: needs a 2-d 'embedding\.weight' \(or model2vec's 'embeddings'\)/) });
  });
});
