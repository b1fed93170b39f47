import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { f32ToBF16, f32ToF16, readSafetensorsHeader, type SafetensorsHeader } from "../../lib/io/safetensors.js";
import { findWeights } from "../../lib/io/weights.js";
import { makePytorchBinFolder } from "../fixtures/pytorchBin.js";
import { pyJsonDumps } from "../fixtures/pyjson.js";
import { LEGACY_TYPES, makeSentenceTransformerFolder, V5_TYPES } from "../fixtures/sentenceTransformerFolder.js";
import { makeTinyBert, TINY_VOCAB } from "../fixtures/tinyBert.js";
import { PYTHON } from "../helpers/python.js";

let root: string;
let n = 0;
const fresh = (name: string) => join(root, `${n++}-${name}`);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "sbert-fixtures-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
}

/** Every file under `dir` (relative path → bytes); directories appear with an empty buffer. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out.set(relative(dir, p) + "/", Buffer.alloc(0));
        await walk(p);
      } else out.set(relative(dir, p), await readFile(p));
    }
  };
  await walk(dir);
  return out;
}

function shapes(h: SafetensorsHeader): Record<string, number[]> {
  return Object.fromEntries(h.entries.map((e) => [e.name, e.shape]));
}

async function tensorBytes(h: SafetensorsHeader, name: string): Promise<Buffer> {
  const e = h.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no tensor ${name} in ${h.path}`);
  return (await readFile(h.path)).subarray(e.begin, e.end);
}

function expectedKeys(layers: number, V: number, H: number, I: number, P: number, T: number): Record<string, number[]> {
  const k: Record<string, number[]> = {
    "embeddings.word_embeddings.weight": [V, H],
    "embeddings.position_embeddings.weight": [P, H],
    "embeddings.token_type_embeddings.weight": [T, H],
    "embeddings.LayerNorm.weight": [H],
    "embeddings.LayerNorm.bias": [H],
    "pooler.dense.weight": [H, H],
    "pooler.dense.bias": [H],
  };
  for (let l = 0; l < layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const m of ["query", "key", "value"]) {
      k[`${p}.attention.self.${m}.weight`] = [H, H];
      k[`${p}.attention.self.${m}.bias`] = [H];
    }
    k[`${p}.attention.output.dense.weight`] = [H, H];
    k[`${p}.attention.output.dense.bias`] = [H];
    k[`${p}.attention.output.LayerNorm.weight`] = [H];
    k[`${p}.attention.output.LayerNorm.bias`] = [H];
    k[`${p}.intermediate.dense.weight`] = [I, H];
    k[`${p}.intermediate.dense.bias`] = [I];
    k[`${p}.output.dense.weight`] = [H, I];
    k[`${p}.output.dense.bias`] = [H];
    k[`${p}.output.LayerNorm.weight`] = [H];
    k[`${p}.output.LayerNorm.bias`] = [H];
  }
  return k;
}

/** Checks with Python's json module that each file is exactly what `json.dumps(..., **kwargs)` writes. */
function expectPythonJson(files: [string, string][]): void {
  const code = `
import json, sys
bad = []
for path, kw in json.loads(sys.argv[1]):
    s = open(path, encoding="utf-8").read()
    out = eval("json.dumps(json.loads(s), " + kw + ")")
    if s not in (out, out + "\\n"):
        bad.append(path)
print(json.dumps(bad))`;
  const r = spawnSync(PYTHON, ["-c", code, JSON.stringify(files)], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual([]);
}

describe("TINY_VOCAB", () => {
  it("has the special tokens first, no duplicates, and what WordPiece needs", () => {
    expect(TINY_VOCAB.slice(0, 5)).toEqual(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    expect(new Set(TINY_VOCAB).size).toBe(TINY_VOCAB.length);
    expect(TINY_VOCAB.length).toBeLessThanOrEqual(1000);
    expect(TINY_VOCAB.length).toBeGreaterThan(400);
    for (const t of ["a", "z", "é", "ù", "0", "9", ".", "?", "的", "the", "model", "casa", "perché", "##a", "##z", "##è", "##mente", "##zione", "##ing"]) {
      expect(TINY_VOCAB, t).toContain(t);
    }
    expect(TINY_VOCAB.every((t) => t.length > 0 && !/\s/.test(t))).toBe(true);
  });
});

describe("makeTinyBert", () => {
  it("writes a transformers-style BERT folder with every BertModel key and HF shapes", async () => {
    const dir = fresh("bert");
    const res = await makeTinyBert(dir);
    expect((await readdir(dir)).sort()).toEqual(["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]);
    expect(res.vocab).toEqual(TINY_VOCAB);
    expect(await readFile(join(dir, "vocab.txt"), "utf8")).toBe(TINY_VOCAB.join("\n") + "\n");

    const config = await readJson(join(dir, "config.json"));
    expect(config).toEqual(res.config);
    expect(config).toMatchObject({
      architectures: ["BertModel"],
      model_type: "bert",
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 64,
      hidden_act: "gelu",
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
      max_position_embeddings: 64,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      pad_token_id: 0,
      position_embedding_type: "absolute",
      vocab_size: TINY_VOCAB.length,
      torch_dtype: "float32",
    });
    expect(typeof config["transformers_version"]).toBe("string");
    expect(await readJson(join(dir, "tokenizer_config.json"))).toMatchObject({
      do_lower_case: true,
      model_max_length: 64,
      tokenizer_class: "BertTokenizer",
      cls_token: "[CLS]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      unk_token: "[UNK]",
      mask_token: "[MASK]",
    });
    expect(await readJson(join(dir, "special_tokens_map.json"))).toEqual({
      cls_token: "[CLS]",
      mask_token: "[MASK]",
      pad_token: "[PAD]",
      sep_token: "[SEP]",
      unk_token: "[UNK]",
    });

    const h = await readSafetensorsHeader(join(dir, "model.safetensors"));
    expect(h.metadata).toEqual({ format: "pt" });
    expect(shapes(h)).toEqual(expectedKeys(2, TINY_VOCAB.length, 32, 64, 64, 2));
    expect(new Set(h.entries.map((e) => e.dtype))).toEqual(new Set(["F32"]));

    expectPythonJson([
      [join(dir, "config.json"), "indent=2, sort_keys=True"],
      [join(dir, "tokenizer_config.json"), "indent=2, sort_keys=True, ensure_ascii=False"],
      [join(dir, "special_tokens_map.json"), "indent=2, sort_keys=True, ensure_ascii=False"],
    ]);
  });

  it("draws non-degenerate values: matrices std ≈ 0.2, LayerNorm weights ≈ 1, small biases", async () => {
    const dir = fresh("bert");
    await makeTinyBert(dir, { seed: 7 });
    const h = await readSafetensorsHeader(join(dir, "model.safetensors"));
    const stats = async (name: string) => {
      const b = await tensorBytes(h, name);
      const v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      const mean = v.reduce((a, x) => a + x, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
      return { mean, std };
    };
    const word = await stats("embeddings.word_embeddings.weight");
    expect(Math.abs(word.mean)).toBeLessThan(0.01);
    expect(word.std).toBeGreaterThan(0.19);
    expect(word.std).toBeLessThan(0.21);
    const ln = await stats("encoder.layer.0.output.LayerNorm.weight");
    expect(Math.abs(ln.mean - 1)).toBeLessThan(0.05);
    expect(ln.std).toBeGreaterThan(0.05);
    expect(ln.std).toBeLessThan(0.15);
    const bias = await stats("encoder.layer.1.intermediate.dense.bias");
    expect(bias.std).toBeGreaterThan(0.02);
    expect(bias.std).toBeLessThan(0.08);
  });

  it("honours the size, activation and eps options", async () => {
    const dir = fresh("bert");
    const res = await makeTinyBert(dir, { layers: 3, hidden: 24, heads: 6, intermediate: 40, maxPosition: 20, typeVocab: 3, hiddenAct: "gelu_new", layerNormEps: 1e-5, doLowerCase: false });
    expect(res.config).toMatchObject({ num_hidden_layers: 3, hidden_size: 24, num_attention_heads: 6, intermediate_size: 40, max_position_embeddings: 20, type_vocab_size: 3, hidden_act: "gelu_new", layer_norm_eps: 1e-5 });
    // Python writes 1e-5 as 1e-05.
    expect(await readFile(join(dir, "config.json"), "utf8")).toContain('"layer_norm_eps": 1e-05,');
    expect(await readJson(join(dir, "tokenizer_config.json"))).toMatchObject({ do_lower_case: false, model_max_length: 20 });
    const h = await readSafetensorsHeader(join(dir, "model.safetensors"));
    expect(shapes(h)).toEqual(expectedKeys(3, TINY_VOCAB.length, 24, 40, 20, 3));
    expectPythonJson([[join(dir, "config.json"), "indent=2, sort_keys=True"]]);
  });

  it("prefix bert. adds the MLM head; withPooler false drops the pooler; positionIdsBuffer adds position_ids", async () => {
    const plainDir = fresh("plain");
    await makeTinyBert(plainDir);
    const plain = await readSafetensorsHeader(join(plainDir, "model.safetensors"));

    const mlmDir = fresh("mlm");
    const mlm = await makeTinyBert(mlmDir, { prefix: "bert.", positionIdsBuffer: true, withPooler: false });
    expect(mlm.config["architectures"]).toEqual(["BertForMaskedLM"]);
    const h = await readSafetensorsHeader(join(mlmDir, "model.safetensors"));
    const V = TINY_VOCAB.length;
    const expected: Record<string, number[]> = {};
    for (const [k, s] of Object.entries(expectedKeys(2, V, 32, 64, 64, 2))) if (!k.startsWith("pooler.")) expected[`bert.${k}`] = s;
    expected["bert.embeddings.position_ids"] = [1, 64];
    Object.assign(expected, {
      "cls.predictions.bias": [V],
      "cls.predictions.transform.dense.weight": [32, 32],
      "cls.predictions.transform.dense.bias": [32],
      "cls.predictions.transform.LayerNorm.weight": [32],
      "cls.predictions.transform.LayerNorm.bias": [32],
    });
    expect(shapes(h)).toEqual(expected);
    const pos = h.entries.find((e) => e.name === "bert.embeddings.position_ids")!;
    expect(pos.dtype).toBe("I64");
    const ids = await tensorBytes(h, pos.name);
    expect(Array.from(new BigInt64Array(ids.buffer.slice(ids.byteOffset, ids.byteOffset + ids.byteLength)), Number)).toEqual(
      Array.from({ length: 64 }, (_, i) => i),
    );
    // Shared tensors keep their values whatever the prefix and the other options.
    for (const name of ["embeddings.word_embeddings.weight", "encoder.layer.1.output.dense.weight", "embeddings.LayerNorm.bias"]) {
      expect((await tensorBytes(h, `bert.${name}`)).equals(await tensorBytes(plain, name)), name).toBe(true);
    }
  });

  it("dtype F16 / BF16 stores the F32 values cast with round-to-nearest-even", async () => {
    const f32Dir = fresh("f32");
    await makeTinyBert(f32Dir);
    const f32 = await readSafetensorsHeader(join(f32Dir, "model.safetensors"));
    for (const dtype of ["F16", "BF16"] as const) {
      const dir = fresh(dtype);
      const res = await makeTinyBert(dir, { dtype });
      expect(res.config["torch_dtype"]).toBe(dtype === "F16" ? "float16" : "bfloat16");
      const h = await readSafetensorsHeader(join(dir, "model.safetensors"));
      expect(new Set(h.entries.map((e) => e.dtype))).toEqual(new Set([dtype]));
      expect(shapes(h)).toEqual(shapes(f32));
      for (const name of ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.key.bias"]) {
        const b = await tensorBytes(f32, name);
        const v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        const cast = dtype === "F16" ? f32ToF16(v) : f32ToBF16(v);
        expect((await tensorBytes(h, name)).equals(Buffer.from(cast.buffer)), name).toBe(true);
      }
    }
  });

  it("sharded writes two shards and an index with the same tensors", async () => {
    const plainDir = fresh("plain");
    await makeTinyBert(plainDir, { positionIdsBuffer: true });
    const dir = fresh("sharded");
    await makeTinyBert(dir, { sharded: true, positionIdsBuffer: true });
    const s1 = "model-00001-of-00002.safetensors";
    const s2 = "model-00002-of-00002.safetensors";
    expect((await readdir(dir)).filter((f) => f.startsWith("model")).sort()).toEqual([s1, s2, "model.safetensors.index.json"]);
    const index = await readJson(join(dir, "model.safetensors.index.json"));
    const weightMap = index["weight_map"] as Record<string, string>;
    expect(new Set(Object.values(weightMap))).toEqual(new Set([s1, s2]));
    expectPythonJson([[join(dir, "model.safetensors.index.json"), "indent=2, sort_keys=True"]]);

    const src = await findWeights(dir);
    if (src.format !== "safetensors") throw new Error("expected safetensors");
    expect(src.headers).toHaveLength(2);
    const plain = await readSafetensorsHeader(join(plainDir, "model.safetensors"));
    let total = 0;
    for (const h of src.headers) {
      for (const e of h.entries) {
        expect(weightMap[e.name]).toBe(h.path.endsWith(s1) ? s1 : s2);
        expect((await tensorBytes(h, e.name)).equals(await tensorBytes(plain, e.name)), e.name).toBe(true);
        total += e.end - e.begin;
      }
    }
    expect(Object.keys(weightMap).sort()).toEqual(plain.entries.map((e) => e.name).sort());
    expect((index["metadata"] as Record<string, number>)["total_size"]).toBe(total);
  });

  it("weights none writes no weights; tokenizer json needs the WordPiece module", async () => {
    const dir = fresh("none");
    await makeTinyBert(dir, { weights: "none" });
    expect((await readdir(dir)).sort()).toEqual(["config.json", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]);

    const jsonDir = fresh("json");
    const hasWordpiece = existsSync(new URL("../../lib/tokenization/wordpiece.ts", import.meta.url));
    const made = makeTinyBert(jsonDir, { tokenizer: "json" });
    if (hasWordpiece) {
      await made;
      const tok = await readJson(join(jsonDir, "tokenizer.json"));
      expect(tok).toHaveProperty("model");
    } else {
      await expect(made).rejects.toThrow(/buildBertTokenizerJson/);
    }
  });

  it("is byte-identical across runs with the same seed and differs with another seed", async () => {
    const opts = { sharded: true, positionIdsBuffer: true, dtype: "BF16" as const };
    const a = fresh("a");
    const b = fresh("b");
    const c = fresh("c");
    await makeTinyBert(a, { seed: 5, ...opts });
    await makeTinyBert(b, { seed: 5, ...opts });
    await makeTinyBert(c, { seed: 6, ...opts });
    const [sa, sb, sc] = await Promise.all([snapshot(a), snapshot(b), snapshot(c)]);
    expect([...sa.keys()]).toEqual([...sb.keys()]);
    for (const [k, v] of sa) expect(v.equals(sb.get(k)!), k).toBe(true);
    expect([...sc.keys()]).toEqual([...sa.keys()]);
    expect(sc.get("config.json")!.equals(sa.get("config.json")!)).toBe(true);
    for (const shard of ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) {
      expect(sc.get(shard)!.equals(sa.get(shard)!), shard).toBe(false);
    }
    // Same layout, different values: every float tensor differs.
    const ha = await readSafetensorsHeader(join(a, "model-00001-of-00002.safetensors"));
    const hc = await readSafetensorsHeader(join(c, "model-00001-of-00002.safetensors"));
    expect(shapes(hc)).toEqual(shapes(ha));
    for (const e of ha.entries.filter((x) => x.dtype !== "I64")) {
      expect((await tensorBytes(ha, e.name)).equals(await tensorBytes(hc, e.name)), e.name).toBe(false);
    }
  });
});

describe("makeSentenceTransformerFolder", () => {
  it("legacy layout: sentence_transformers.models.* with boolean pooling modes", async () => {
    const dir = fresh("st-legacy");
    const res = await makeSentenceTransformerFolder(dir, {
      layout: "legacy",
      pooling: { modes: ["mean", "cls"], includePrompt: false },
      dense: { outFeatures: 16, bias: true, activation: "tanh" },
      normalize: true,
      maxSeqLength: 48,
      prompts: { query: "query: ", document: "" },
      defaultPromptName: "query",
      similarityFnName: "dot",
    });
    expect(res.embeddingDimension).toBe(16);
    expect(await readJson(join(dir, "modules.json"))).toEqual([
      { idx: 0, name: "0", path: "", type: LEGACY_TYPES.transformer },
      { idx: 1, name: "1", path: "1_Pooling", type: LEGACY_TYPES.pooling },
      { idx: 2, name: "2", path: "2_Dense", type: LEGACY_TYPES.dense },
      { idx: 3, name: "3", path: "3_Normalize", type: LEGACY_TYPES.normalize },
    ]);
    expect(await readJson(join(dir, "sentence_bert_config.json"))).toEqual({ max_seq_length: 48, do_lower_case: false });
    expect(await readJson(join(dir, "1_Pooling/config.json"))).toEqual({
      word_embedding_dimension: 32,
      pooling_mode_cls_token: true,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: false,
      include_prompt: false,
    });
    expect(await readJson(join(dir, "2_Dense/config.json"))).toEqual({
      in_features: 64,
      out_features: 16,
      bias: true,
      activation_function: "torch.nn.modules.activation.Tanh",
    });
    const dense = await readSafetensorsHeader(join(dir, "2_Dense/model.safetensors"));
    expect(shapes(dense)).toEqual({ "linear.weight": [16, 64], "linear.bias": [16] });
    expect(dense.metadata).toEqual({});
    expect(await readdir(join(dir, "3_Normalize"))).toEqual([]);
    expect((await stat(join(dir, "3_Normalize"))).isDirectory()).toBe(true);
    expect(await readJson(join(dir, "config_sentence_transformers.json"))).toEqual({
      model_type: "SentenceTransformer",
      __version__: expect.objectContaining({ sentence_transformers: expect.stringMatching(/^5\.[0-3]\./) }),
      prompts: { query: "query: ", document: "" },
      default_prompt_name: "query",
      similarity_fn_name: "dot",
    });
    expect(await readJson(join(dir, "tokenizer_config.json"))).toMatchObject({ model_max_length: 48 });
    expect(existsSync(join(dir, "model.safetensors"))).toBe(true);
    expectPythonJson([
      [join(dir, "modules.json"), "indent=2"],
      [join(dir, "sentence_bert_config.json"), "indent=4"],
      [join(dir, "1_Pooling/config.json"), "indent=4"],
      [join(dir, "2_Dense/config.json"), "indent=4"],
      [join(dir, "config_sentence_transformers.json"), "indent=2"],
    ]);
  });

  it("v5 layout: 5.4 module paths, pooling_mode string or list, max length in tokenizer_config only", async () => {
    const dir = fresh("st-v5");
    const res = await makeSentenceTransformerFolder(dir, {
      layout: "v5",
      pooling: { modes: ["lasttoken", "mean"] },
      dense: { outFeatures: 8, bias: false, activation: "identity" },
      maxSeqLength: 40,
    });
    expect(res.embeddingDimension).toBe(8);
    expect(await readJson(join(dir, "modules.json"))).toEqual([
      { idx: 0, name: "0", path: "", type: V5_TYPES.transformer },
      { idx: 1, name: "1", path: "1_Pooling", type: V5_TYPES.pooling },
      { idx: 2, name: "2", path: "2_Dense", type: V5_TYPES.dense },
    ]);
    expect(V5_TYPES).toEqual({
      transformer: "sentence_transformers.base.modules.transformer.Transformer",
      pooling: "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
      dense: "sentence_transformers.base.modules.dense.Dense",
      normalize: "sentence_transformers.sentence_transformer.modules.normalize.Normalize",
    });
    expect(await readJson(join(dir, "sentence_bert_config.json"))).toEqual({
      transformer_task: "feature-extraction",
      modality_config: { text: { method: "forward", method_output_name: "last_hidden_state" } },
      module_output_name: "token_embeddings",
    });
    expect(await readJson(join(dir, "1_Pooling/config.json"))).toEqual({ embedding_dimension: 32, pooling_mode: ["lasttoken", "mean"], include_prompt: true });
    expect(await readJson(join(dir, "2_Dense/config.json"))).toEqual({
      in_features: 64,
      out_features: 8,
      bias: false,
      activation_function: "torch.nn.modules.linear.Identity",
      module_input_name: "sentence_embedding",
      module_output_name: "sentence_embedding",
    });
    expect(shapes(await readSafetensorsHeader(join(dir, "2_Dense/model.safetensors")))).toEqual({ "linear.weight": [8, 64] });
    expect(await readJson(join(dir, "tokenizer_config.json"))).toMatchObject({ model_max_length: 40 });
    const cfg = await readJson(join(dir, "config_sentence_transformers.json"));
    expect(cfg).toEqual({
      __version__: expect.objectContaining({ sentence_transformers: "5.4.0" }),
      model_type: "SentenceTransformer",
      prompts: { query: "", document: "" },
      default_prompt_name: null,
      similarity_fn_name: "cosine",
    });
    expectPythonJson([
      [join(dir, "modules.json"), "indent=2"],
      [join(dir, "sentence_bert_config.json"), "indent=4"],
      [join(dir, "1_Pooling/config.json"), "indent=4"],
      [join(dir, "config_sentence_transformers.json"), "indent=2, sort_keys=True"],
    ]);

    const single = fresh("st-v5-single");
    await makeSentenceTransformerFolder(single, { layout: "v5", pooling: { modes: ["cls"] }, normalize: true });
    expect(await readJson(join(single, "1_Pooling/config.json"))).toEqual({ embedding_dimension: 32, pooling_mode: "cls", include_prompt: true });
    expect((await readJson(join(single, "modules.json")) as unknown as { path: string; type: string }[])[2]).toEqual({
      idx: 2,
      name: "2",
      path: "2_Normalize",
      type: V5_TYPES.normalize,
    });
  });

  it("passes the BERT options through and is reproducible", async () => {
    const opts = { layout: "legacy" as const, dense: { outFeatures: 4 }, bert: { seed: 3, hidden: 16, heads: 2, layers: 1 } };
    const a = fresh("st-a");
    const b = fresh("st-b");
    const res = await makeSentenceTransformerFolder(a, opts);
    await makeSentenceTransformerFolder(b, opts);
    expect(res.config["hidden_size"]).toBe(16);
    const [sa, sb] = await Promise.all([snapshot(a), snapshot(b)]);
    expect([...sa.keys()]).toEqual([...sb.keys()]);
    for (const [k, v] of sa) expect(v.equals(sb.get(k)!), k).toBe(true);
    const c = fresh("st-c");
    await makeSentenceTransformerFolder(c, { ...opts, bert: { ...opts.bert, seed: 4 } });
    expect((await readFile(join(c, "2_Dense/model.safetensors"))).equals(sa.get("2_Dense/model.safetensors")!)).toBe(false);
  });
});

describe("makePytorchBinFolder", () => {
  it("converts to a torch.save zip checkpoint in state-dict order with the same values", async () => {
    const stDir = fresh("st");
    await makeTinyBert(stDir, { dtype: "BF16", positionIdsBuffer: true });
    const dir = fresh("bin");
    const res = await makePytorchBinFolder(dir, { dtype: "BF16", positionIdsBuffer: true });
    expect(existsSync(join(dir, "model.safetensors"))).toBe(false);
    expect(await findWeights(dir)).toEqual({ format: "pytorch", path: join(dir, "pytorch_model.bin") });
    expect(res.path).toBe(join(dir, "pytorch_model.bin"));
    expect((await readFile(res.path)).subarray(0, 4).toString("latin1")).toBe("PK\x03\x04");

    // torch.load gives the tensors in state-dict order, with the dtypes and bytes of the safetensors file.
    const code = `
import json, sys, torch
sd = torch.load(sys.argv[1], map_location="cpu")
print(json.dumps([[k, str(v.dtype), list(v.shape), v.contiguous().view(-1).view(torch.uint8).numpy().tobytes().hex()] for k, v in sd.items()]))`;
    const r = spawnSync(PYTHON, ["-c", code, res.path], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const loaded = JSON.parse(r.stdout) as [string, string, number[], string][];
    // Insertion order of expectedKeys is the state-dict order, except that it lists the pooler early.
    const keys = Object.keys(expectedKeys(2, TINY_VOCAB.length, 32, 64, 64, 2));
    expect(loaded.map((x) => x[0])).toEqual([
      "embeddings.position_ids",
      ...keys.filter((k) => k.startsWith("embeddings.")),
      ...keys.filter((k) => k.startsWith("encoder.")),
      "pooler.dense.weight",
      "pooler.dense.bias",
    ]);
    const h = await readSafetensorsHeader(join(stDir, "model.safetensors"));
    for (const [name, dtype, shape, hex] of loaded) {
      expect(dtype).toBe(name.endsWith("position_ids") ? "torch.int64" : "torch.bfloat16");
      expect(shape).toEqual(h.entries.find((e) => e.name === name)!.shape);
      expect(hex === (await tensorBytes(h, name)).toString("hex"), name).toBe(true);
    }

    const keep = fresh("bin-keep");
    await makePytorchBinFolder(keep, { keepSafetensors: true, sharded: true });
    expect((await readdir(keep)).filter((f) => f.startsWith("model") || f.startsWith("pytorch")).sort()).toEqual([
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
      "pytorch_model.bin",
    ]);
  });
});

describe("pyJsonDumps", () => {
  it("writes numbers, strings and nesting as Python's json.dumps", () => {
    const value = { b: [1, 0.1, 1e-5, 1e-12, 2.5e-20, -3e-7, 123456.789], a: { "ü": "é\u2028\"\n", e: [], o: {} }, n: null, t: true };
    const cases: [object, string][] = [
      [{ indent: 2, sortKeys: true }, "indent=2, sort_keys=True"],
      [{ indent: 4 }, "indent=4"],
      [{}, ""],
      [{ indent: 2, ensureAscii: false }, "indent=2, ensure_ascii=False"],
    ];
    for (const [opts, kw] of cases) {
      const code = `import json, sys; print(json.dumps(json.loads(sys.argv[1]), ${kw}), end="")`;
      const r = spawnSync(PYTHON, ["-c", code, JSON.stringify(value)], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(pyJsonDumps(value, opts), kw).toBe(r.stdout);
    }
  });
});
