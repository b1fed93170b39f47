import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, models } from "../../lib/index.js";
import { readSafetensorsHeader } from "../../lib/io/safetensors.js";
import { makePytorchBinFolder } from "../fixtures/pytorchBin.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

async function embeddings(path: string): Promise<Float32Array[]> {
  const m = await SentenceTransformer.load(path);
  try {
    return await m.encode(SENTENCES);
  } finally {
    m.dispose();
  }
}

const readJson = async (p: string) => JSON.parse(await readFile(p, "utf8"));

describe("save and load", () => {
  test("save writes the sentence-transformers legacy layout, and loading it back gives the same embeddings", async () => {
    const src = join(root, "src");
    await makeSentenceTransformerFolder(src, {
      pooling: { modes: ["cls", "mean"] },
      dense: { outFeatures: 16, activation: "tanh" },
      normalize: true,
      maxSeqLength: 48,
      prompts: { query: "q: ", document: "" },
      similarityFnName: "dot",
    });
    const model = await SentenceTransformer.load(src);
    const before = await model.encode(SENTENCES);
    const out = join(root, "saved");
    await model.save(out, { modelName: "tiny-italian" });

    const files = (await readdir(out)).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        "1_Pooling",
        "2_Dense",
        "3_Normalize",
        "README.md",
        "config.json",
        "config_sentence_transformers.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
      ]),
    );
    expect(await readJson(join(out, "modules.json"))).toEqual([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      { idx: 2, name: "2", path: "2_Dense", type: "sentence_transformers.models.Dense" },
      { idx: 3, name: "3", path: "3_Normalize", type: "sentence_transformers.models.Normalize" },
    ]);
    expect(await readJson(join(out, "sentence_bert_config.json"))).toEqual({ max_seq_length: 48, do_lower_case: false });
    expect(await readJson(join(out, "1_Pooling", "config.json"))).toEqual({
      word_embedding_dimension: 32,
      pooling_mode_cls_token: true,
      pooling_mode_max_tokens: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: false,
      include_prompt: true,
    });
    expect(await readJson(join(out, "2_Dense", "config.json"))).toEqual({
      in_features: 64,
      out_features: 16,
      bias: true,
      activation_function: "torch.nn.modules.activation.Tanh",
    });
    expect((await readSafetensorsHeader(join(out, "2_Dense", "model.safetensors"))).entries.map((e) => e.name).sort()).toEqual([
      "linear.bias",
      "linear.weight",
    ]);
    expect(await readdir(join(out, "3_Normalize"))).toEqual([]);
    const st = await readJson(join(out, "config_sentence_transformers.json"));
    expect(st).toMatchObject({ prompts: { query: "q: ", document: "" }, default_prompt_name: null, similarity_fn_name: "dot" });
    expect(st.__version__.sentence_transformers).toMatch(/^\d+\.\d+\.\d+$/);
    const card = await readFile(join(out, "README.md"), "utf8");
    expect(card).toMatch(/^---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n/);
    expect(card).toContain("tiny-italian");
    const weights = await readSafetensorsHeader(join(out, "model.safetensors"));
    expect(weights.metadata).toEqual({ format: "pt" });
    expect(weights.entries.every((e) => e.dtype === "F32")).toBe(true);
    expect(weights.entries.map((e) => e.name)).toContain("encoder.layer.1.attention.self.query.weight");
    // The pooler was in the source checkpoint, so it is kept.
    expect(weights.entries.map((e) => e.name)).toContain("pooler.dense.weight");

    const reloaded = await SentenceTransformer.load(out);
    expect(reloaded.similarityFnName).toBe("dot");
    expect(reloaded.maxSeqLength).toBe(48);
    expect(maxAbsDiffAll(await reloaded.encode(SENTENCES), before)).toBeLessThanOrEqual(1e-6);
    // Saved again, the weights are byte-identical.
    await reloaded.save(join(root, "saved-again"));
    expect(await readFile(join(root, "saved-again", "model.safetensors"))).toEqual(await readFile(join(out, "model.safetensors")));
    model.dispose();
    reloaded.dispose();
  });

  test("legacy and v5.4+ folders with the same weights load to the same model", async () => {
    const opts = { pooling: { modes: ["mean", "max"] as ("mean" | "max")[] }, normalize: true };
    await makeSentenceTransformerFolder(join(root, "legacy"), { ...opts, layout: "legacy" });
    await makeSentenceTransformerFolder(join(root, "v5"), { ...opts, layout: "v5" });
    const v5 = await SentenceTransformer.load(join(root, "v5"));
    expect((v5.modules[1] as models.Pooling).poolingModes).toEqual(["mean", "max"]);
    expect(v5.modules.map((m) => m.constructor.name)).toEqual(["Transformer", "Pooling", "Normalize"]);
    // A v5 list in an order the legacy booleans cannot express is saved with the v5 key.
    await v5.save(join(root, "v5-saved"));
    expect(await readJson(join(root, "v5-saved", "1_Pooling", "config.json"))).toEqual({
      embedding_dimension: 32,
      pooling_mode: ["mean", "max"],
      include_prompt: true,
    });
    v5.dispose();
    // Legacy booleans concatenate max before mean; v5 keeps the listed order (mean, max).
    const legacy = await embeddings(join(root, "legacy"));
    const v5e = await embeddings(join(root, "v5"));
    const swapped = v5e.map((e) => Float32Array.from([...e.subarray(32, 64), ...e.subarray(0, 32)]));
    expect(maxAbsDiffAll(legacy, swapped)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiffAll(await embeddings(join(root, "v5-saved")), v5e)).toBeLessThanOrEqual(1e-6);
  });

  test("a plain BERT folder becomes Transformer + mean Pooling; tokenizer.json and vocab.txt folders agree", async () => {
    await makeTinyBert(join(root, "vocab"), { tokenizer: "vocab" });
    await makeTinyBert(join(root, "json"), { tokenizer: "json" });
    const m = await SentenceTransformer.load(join(root, "vocab"));
    expect(m.modules.map((x) => x.constructor.name)).toEqual(["Transformer", "Pooling"]);
    expect((m.modules[1] as models.Pooling).poolingModes).toEqual(["mean"]);
    m.dispose();
    expect(maxAbsDiffAll(await embeddings(join(root, "vocab")), await embeddings(join(root, "json")))).toBe(0);
  });

  test("pytorch_model.bin-only, sharded, F16 and bert.-prefixed folders load the same weights", async () => {
    const base = await embeddings((await makeTinyBert(join(root, "base"), { seed: 21 })).dir);
    await makePytorchBinFolder(join(root, "bin"), { seed: 21 });
    expect((await readdir(join(root, "bin"))).includes("model.safetensors")).toBe(false);
    expect(maxAbsDiffAll(await embeddings(join(root, "bin")), base)).toBe(0);
    await makeTinyBert(join(root, "sharded"), { seed: 21, sharded: true });
    expect(maxAbsDiffAll(await embeddings(join(root, "sharded")), base)).toBe(0);
    await makeTinyBert(join(root, "prefixed"), { seed: 21, prefix: "bert.", positionIdsBuffer: true });
    const prefixed = await models.Transformer.load(join(root, "prefixed"));
    expect(prefixed.ignoredKeys).toEqual(expect.arrayContaining(["bert.embeddings.position_ids"]));
    expect(prefixed.ignoredKeys.some((k) => k.startsWith("cls."))).toBe(true);
    prefixed.dispose();
    expect(maxAbsDiffAll(await embeddings(join(root, "prefixed")), base)).toBe(0);
    await makeTinyBert(join(root, "half"), { seed: 21, dtype: "F16" });
    expect(maxAbsDiffAll(await embeddings(join(root, "half")), base)).toBeLessThan(1e-2);
  });

  test("a model built from parts equals the loaded one; Transformer.load takes maxSeqLength", async () => {
    const dir = join(root, "parts");
    await makeTinyBert(dir, { seed: 4 });
    const transformer = await models.Transformer.load(dir, { maxSeqLength: 16 });
    expect(transformer.maxSeqLength).toBe(16);
    expect(transformer.getWordEmbeddingDimension()).toBe(32);
    const pooling = new models.Pooling(transformer.getWordEmbeddingDimension(), { poolingMode: "mean" });
    const model = new SentenceTransformer({ modules: [transformer, pooling] });
    const loaded = await SentenceTransformer.load(dir);
    loaded.maxSeqLength = 16;
    expect(maxAbsDiffAll(await model.encode(SENTENCES), await loaded.encode(SENTENCES))).toBe(0);
    expect(String(model)).toMatch(/Transformer[\s\S]*Pooling/);
    model.dispose();
    loaded.dispose();
  });

  test("a save that fails leaves the previous folder untouched and no temporary folder behind", async () => {
    const dir = join(root, "atomic-src");
    await makeSentenceTransformerFolder(dir, {});
    const model = await SentenceTransformer.load(dir);
    const target = join(root, "atomic");
    await model.save(target);
    const before = await readFile(join(target, "model.safetensors"));
    await writeFile(join(target, "marker"), "previous");
    const pooling = model.modules[1] as models.Pooling;
    pooling.save = async () => {
      throw new Error("disk full");
    };
    await expect(model.save(target)).rejects.toThrow("disk full");
    expect(await readFile(join(target, "marker"), "utf8")).toBe("previous");
    expect(await readFile(join(target, "model.safetensors"))).toEqual(before);
    expect((await readdir(root)).filter((f) => f.includes(".tmp-") || f.includes(".old-"))).toEqual([]);
    model.dispose();
  });

  test("saving over a file, or under one, is an SbertError naming the path, and leaves nothing behind", async () => {
    const dir = join(root, "over-file");
    await mkdir(dir);
    await makeSentenceTransformerFolder(join(dir, "src"), {});
    const model = await SentenceTransformer.load(join(dir, "src"));
    const file = join(dir, "a-file");
    await writeFile(file, "keep me");
    await expect(model.save(file)).rejects.toMatchObject({ name: "SbertError", code: "ERR_INPUT", message: `SentenceTransformer.save: cannot save to ${file}: it exists and is not a folder` });
    await expect(model.save(join(file, "sub"))).rejects.toMatchObject({ name: "SbertError", code: "ERR_INPUT", message: expect.stringMatching(/cannot create its parent folder .*a-file \(E(EXIST|NOTDIR)\)/) });
    expect(await readFile(file, "utf8")).toBe("keep me");
    expect((await readdir(dir)).sort()).toEqual(["a-file", "src"]);
    model.dispose();
  });

  test("what a killed save left is cleaned up by the next save: temporary folders of dead processes go, a moved-aside folder comes back", async () => {
    const dir = join(root, "stale");
    await mkdir(dir);
    await makeSentenceTransformerFolder(join(dir, "src"), {});
    const model = await SentenceTransformer.load(join(dir, "src"));
    const child = spawn(process.execPath, ["-e", ""]);
    const dead = child.pid!;
    await new Promise((r) => child.on("exit", r));
    const fill = async (entry: string) => {
      await mkdir(join(dir, entry));
      await writeFile(join(dir, entry, "marker"), entry);
    };
    // Killed while writing `out`, and killed between moving `back` aside and moving the new one in.
    await fill(`.out.tmp-${dead}-0a1b2c`);
    await fill(`.back.old-${dead}-0a1b2c`);
    await fill(`.back.tmp-${dead}-0a1b2c`);
    // A save in progress in a live process is left alone.
    await fill(`.out.tmp-${process.pid}-3d4e5f`);
    await model.save(join(dir, "out"));
    await model.save(join(dir, "back"));
    expect((await readdir(dir)).sort()).toEqual([`.out.tmp-${process.pid}-3d4e5f`, "back", "out", "src"]);
    // The previous `back` came back, so its entries are carried over as for any save into an existing folder.
    expect(await readFile(join(dir, "back", "marker"), "utf8")).toBe(`.back.old-${dead}-0a1b2c`);
    const back = await SentenceTransformer.load(join(dir, "back"));
    expect(maxAbsDiffAll(await back.encode(SENTENCES), await model.encode(SENTENCES))).toBe(0);
    back.dispose();
    model.dispose();
  });

  test("Dense built in TypeScript saves and reloads", async () => {
    const dir = join(root, "dense-new");
    await makeTinyBert(join(dir, "bert"), { seed: 2 });
    const t = await models.Transformer.load(join(dir, "bert"));
    const p = new models.Pooling(32);
    const d = new models.Dense({ inFeatures: 32, outFeatures: 12, activationFunction: "tanh", seed: 5 });
    const n = new models.Normalize();
    const model = new SentenceTransformer({ modules: [t, p, d, n] });
    const before = await model.encode(SENTENCES);
    await model.save(join(dir, "out"));
    expect(maxAbsDiffAll(await embeddings(join(dir, "out")), before)).toBeLessThanOrEqual(1e-6);
    await mkdir(join(dir, "x"), { recursive: true });
    expect(() => new models.Dense({ inFeatures: 0, outFeatures: 3 })).toThrow(RangeError);
    expect(() => new models.Dense({ inFeatures: 3, outFeatures: 3, activationFunction: "softmax" })).toThrow(/activation/);
    model.dispose();
  });
});
