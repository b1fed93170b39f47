// LoRA adapters against peft and sentence-transformers: adapter folders made by Python load here with the same
// embeddings, adapters trained here load in Python with the same embeddings, one step's adapter gradients equal
// PyTorch's, the base weights stay untouched, and bad adapter_config.json files are refused by name.
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { DataLoader, InputExample, SentenceTransformer, SbertError, losses } from "../../lib/index.js";
import { readSafetensorsHeader } from "../../lib/io/safetensors.js";
import { native } from "../../lib/native.js";
import { oneStepGradients, tokenBatch } from "../helpers/gradients.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const ADAPTER = fileURLToPath(new URL("../fixtures/lora_adapter.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/st_oracle.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const TEXTS = [...SENTENCES, "A man plays the guitar.", "la città è piena di gente oggi perché è festa"];
const S1 = TEXTS.slice(0, 5);
const S2 = [...TEXTS.slice(5, 9), "ciao"];
const LABELS = [0.9, 0.1, 0.5, 0.7, 0.3];

// qwen3: every projection of attention (Q, K and V run as one fused product, the adapters beside it) and the MLP's
// down projection; BERT: query and value by name, and every "dense" (attention output, intermediate, output).
const CASES = {
  qwen3: {
    config: { attention_dropout: 0 },
    lora: { r: 4, lora_alpha: 8, target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"], lora_dropout: 0.0 },
    targets: ["q_proj", "v_proj"],
  },
  bert: {
    config: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
    lora: { r: 3, lora_alpha: 6, target_modules: ["query", "value", "dense"], lora_dropout: 0.0, use_rslora: true },
    targets: ["query", "value"],
  },
} as const;
type Arch = keyof typeof CASES;
const ARCHS = Object.keys(CASES) as Arch[];

interface Grads {
  loss: number;
  grads: Record<string, number[]>;
  frozen: string[];
}

let root: string;
const base = new Map<Arch, string>();
const adapter = new Map<Arch, string>();
const pyEmbeddings = new Map<Arch, number[][]>();
const pyGrads = new Map<Arch, Grads>();
const pyKeys = new Map<Arch, string[]>();

beforeAll(async () => {
  root = await tempDir("sbert-lora-");
  await runPython(
    BUILD,
    ARCHS.map((arch) => ({
      dir: join(root, arch, "base"), arch, seed: 5, corpus: CORPUS, vocab_size: 1000, max_seq_length: 40, pooling: ["mean"], config: CASES[arch].config,
    })),
  );
  for (const arch of ARCHS) {
    base.set(arch, join(root, arch, "base"));
    adapter.set(arch, join(root, arch, "adapter"));
  }
  const made = await runPython<{ keys: string[] }[]>(ADAPTER, ARCHS.map((arch) => ({ base: base.get(arch), out: adapter.get(arch), config: CASES[arch].lora, seed: 3 })));
  ARCHS.forEach((arch, i) => pyKeys.set(arch, made[i]!.keys));
  const encoded = await runPython<{ embeddings: number[][] }[]>(ORACLE, ARCHS.map((arch) => ({ folder: adapter.get(arch), texts: TEXTS, batch_size: 4 })));
  const grads = await runPython<Grads[]>(
    ADAPTER,
    ARCHS.map((arch) => ({ base: base.get(arch), adapter: adapter.get(arch), grad: { sentences1: S1, sentences2: S2, labels: LABELS } })),
  );
  ARCHS.forEach((arch, i) => {
    pyEmbeddings.set(arch, encoded[i]!.embeddings);
    pyGrads.set(arch, grads[i]!);
  });
}, 600_000);

describe.each(ARCHS)("%s", (arch) => {
  test("an adapter folder saved by sentence-transformers + peft loads here and encodes within 1e-5 of Python; merged, too", async () => {
    const ref = pyEmbeddings.get(arch)!;
    const model = await SentenceTransformer.load(adapter.get(arch)!);
    const ours = await model.encode(TEXTS, { batchSize: 3 });
    ours.forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
    // One text at a time takes the few-row product paths.
    for (const [i, text] of TEXTS.slice(0, 3).entries()) expect(maxAbsDiff(await model.encode(text), ref[i]!)).toBeLessThan(1e-5);
    // Saved again here: the same keys as peft's file (BERT's pooler.dense adapter, which embeddings never use, included).
    const resaved = join(root, arch, "resaved");
    await model.saveAdapter(resaved);
    const header = await readSafetensorsHeader(join(resaved, "adapter_model.safetensors"));
    expect(header.entries.map((e) => e.name).sort()).toEqual(pyKeys.get(arch));
    // The adapter matters: the base model alone is far from these embeddings.
    const plain = await SentenceTransformer.load(base.get(arch)!);
    const without = await plain.encode(TEXTS);
    expect(Math.max(...without.map((v, i) => maxAbsDiff(v, ref[i]!)))).toBeGreaterThan(1e-2);
    // loadAdapter onto the base gives the same model.
    await plain.loadAdapter(adapter.get(arch)!);
    (await plain.encode(TEXTS)).forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
    plain.dispose();
    model.mergeAndUnload();
    (await model.encode(TEXTS, { batchSize: 3 })).forEach((v, i) => expect(maxAbsDiff(v, ref[i]!)).toBeLessThan(1e-5));
    model.dispose();
  });

  test("one training step's adapter gradients equal PyTorch's within 1e-4; only the adapter keeps optimizer state", async () => {
    const ref = pyGrads.get(arch)!;
    expect(ref.frozen).toEqual([]);
    const model = await SentenceTransformer.load(adapter.get(arch)!);
    const step = await oneStepGradients(model, S1, S2, LABELS);
    expect(Math.abs(step.loss - ref.loss)).toBeLessThan(1e-5);
    // peft names the adapter's parameters under "base_model.model.".
    const grads = new Map([...step.grads].map(([name, g]) => [`base_model.model.${name}`, g]));
    const names = Object.keys(ref.grads);
    expect(names.length).toBeGreaterThan(4);
    expect([...grads.keys()].sort()).toEqual([...names].sort());
    for (const name of names) expect(maxAbsDiff(grads.get(name)!, ref.grads[name]!), name).toBeLessThan(1e-4);
    model.dispose();
  });

  test("an adapter added and trained here (fit) changes only the adapter, saves in peft's layout, and loads in Python with the same embeddings", async () => {
    const model = await SentenceTransformer.load(base.get(arch)!);
    const before = model.modules[0]!.native.stateDict();
    // With adapter dropout in training (inference, here and in Python, runs without it).
    const paths = model.addAdapter({ r: 4, loraAlpha: 16, loraDropout: 0.1, targetModules: [...CASES[arch].targets], seed: 7 });
    expect(paths.length).toBe(2 * 2);
    const examples = S1.map((s, i) => new InputExample({ texts: [s, S2[i]!], label: LABELS[i]! }));
    await model.fit({
      trainObjectives: [[new DataLoader(examples, { batchSize: 5, shuffle: false }), new losses.CosineSimilarityLoss(model)]],
      epochs: 3,
      warmupSteps: 0,
      optimizerParams: { lr: 1e-2 },
      showProgressBar: false,
      seed: 1,
    });
    const after = model.modules[0]!.native.stateDict();
    expect(after.map((t) => t.name)).toEqual(before.map((t) => t.name));
    after.forEach((t, i) => expect(maxAbsDiff(t.data, before[i]!.data), t.name).toBe(0));
    const lora = model.modules[0]!.native.adapterStateDict();
    const bMax = Math.max(...lora.filter((t) => t.name.endsWith("lora_B.weight")).map((t) => Math.max(...t.data.map(Math.abs))));
    expect(bMax).toBeGreaterThan(1e-3);

    const saved = join(root, arch, "trained");
    await model.save(saved);
    const config = JSON.parse(await readFile(join(saved, "adapter_config.json"), "utf8")) as Record<string, unknown>;
    expect(config["peft_type"]).toBe("LORA");
    expect(config["base_model_name_or_path"]).toBe(base.get(arch));
    const ref = await runPython<{ embeddings: number[][] }>(ORACLE, { folder: saved, texts: TEXTS });
    const ours = await model.encode(TEXTS);
    ours.forEach((v, i) => expect(maxAbsDiff(v, ref.embeddings[i]!)).toBeLessThan(1e-5));
    model.dispose();
  });
});

describe("memory", () => {
  test("a LoRA run keeps optimizer state for the adapter only", async () => {
    const model = await SentenceTransformer.load(base.get("qwen3")!);
    const full = model.modules[0]!.native.parameterCount();
    model.addAdapter({ r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] });
    const adapterFloats = model.modules[0]!.native.adapterStateDict().reduce((n, t) => n + t.data.length, 0);
    const trainer = native().createTrainer(
      model.modules.map((m) => m.native),
      [{ loss: "CosineSimilarityLoss" }],
      { lr: 1e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 0 },
    );
    await trainer.step(0, [tokenBatch(model, S1), tokenBatch(model, S2)], { data: Float32Array.from(LABELS), shape: [LABELS.length] });
    const stateFloats = trainer.state().filter((t) => t.name.startsWith("exp_avg")).reduce((n, t) => n + t.data.length, 0);
    // Two moments per adapter weight; full fine-tuning would keep two per encoder weight.
    expect(stateFloats).toBe(2 * adapterFloats);
    expect(stateFloats).toBeLessThan((2 * full) / 20);
    console.log(`qwen3 fixture: optimizer state ${stateFloats} floats with LoRA r=4 on q_proj, v_proj vs ${2 * full} for full fine-tuning`);
    trainer.dispose();
    model.dispose();
  });
});

describe("addAdapter and mergeAndUnload", () => {
  test("options are checked first; one adapter at a time; merging folds it in and lets the base train again", async () => {
    const model = await SentenceTransformer.load(base.get("qwen3")!);
    expect(() => model.addAdapter({ r: 0, targetModules: ["q_proj"] })).toThrow(RangeError);
    expect(() => model.addAdapter({ r: 2, targetModules: [] })).toThrow(TypeError);
    expect(() => model.addAdapter({ r: 2, loraDropout: 1, targetModules: ["q_proj"] })).toThrow(RangeError);
    expect(() => model.addAdapter({ r: 2, targetModules: ["nope"] })).toThrow(/match no module/);
    expect(() => model.addAdapter({ r: 2, targetModules: ["input_layernorm"] })).toThrow(/not a linear layer/);
    // A regular expression over the whole path, as peft takes a string.
    expect(model.addAdapter({ r: 2, targetModules: "layers\\.0\\.mlp\\.(up|down)_proj" })).toEqual(["layers.0.mlp.up_proj", "layers.0.mlp.down_proj"]);
    expect(() => model.addAdapter({ r: 2, targetModules: ["q_proj"] })).toThrow(SbertError);
    expect(model.modules[0]!.native.adapterStateDict().length).toBe(4);
    model.mergeAndUnload();
    expect(model.modules[0]!.native.adapterStateDict()).toEqual([]);
    // After merging, a training step keeps moments for every encoder weight again.
    const trainer = native().createTrainer(
      model.modules.map((m) => m.native),
      [{ loss: "CosineSimilarityLoss" }],
      { lr: 1e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 0 },
    );
    await trainer.step(0, [tokenBatch(model, S1), tokenBatch(model, S2)], { data: Float32Array.from(LABELS), shape: [LABELS.length] });
    const moments = trainer.state().filter((t) => t.name.startsWith("exp_avg."));
    expect(moments.length).toBe(model.modules[0]!.native.stateDict().length);
    trainer.dispose();
    model.dispose();
  });
});

describe("bad adapter_config.json", () => {
  const cases: [string, (c: Record<string, unknown>) => void, string][] = [
    ["unknown target module", (c) => (c["target_modules"] = ["no_such_layer"]), "target_modules"],
    ["r <= 0", (c) => (c["r"] = 0), "'r'"],
    ["an unsupported peft type", (c) => (c["peft_type"] = "IA3"), "peft_type"],
    ["DoRA", (c) => (c["use_dora"] = true), "use_dora"],
  ];
  test.each(cases)("%s: SbertError naming the file and field", async (_, change, field) => {
    const dir = join(root, "bad", field.replace(/'/g, ""));
    await cp(adapter.get("qwen3")!, dir, { recursive: true });
    const file = join(dir, "adapter_config.json");
    const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    change(config);
    await writeFile(file, JSON.stringify(config));
    const err = await SentenceTransformer.load(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SbertError);
    expect((err as SbertError).code).toBe("ERR_CONFIG");
    expect((err as SbertError).message).toContain(file);
    expect((err as SbertError).message).toContain(field);
  });
});
