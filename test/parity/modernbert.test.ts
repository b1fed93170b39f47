// ModernBERT's config.json in its other spellings and edges, against sentence-transformers on the same weights
// (architectures.test.ts runs the common checks): transformers 4.x's fields (global_rope_theta, local_rope_theta,
// global_attn_every_n_layers, no layer_types), an odd local_attention (the band reaches local_attention // 2 each
// way), the errors for what sbert-node does not run, and fresh weights drawn as Hugging Face draws them.
import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, models } from "../../lib/index.js";
import { floatKeys, writeJsonWithFloats } from "../../lib/io/files.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const ORACLE = fileURLToPath(new URL("py/st_oracle.py", import.meta.url));
const CORPUS = [...SENTENCES, ...makeSentences(2000, 99)];
const TEXTS = [...SENTENCES, "il cane corre nel parco e il gatto guarda dalla finestra ".repeat(3), "A man plays the guitar."];
const VARIANTS = ["5.x", "4.x", "odd window", "wide window"] as const;
type Variant = (typeof VARIANTS)[number];

type Config = Record<string, unknown>;
// The built folder's config.json rewritten: as transformers 4.x saved it, with local_attention 3 (one key each way),
// and with local_attention 128 (no band within 48 tokens).
const REWRITE: Record<Variant, (c: Config) => Config> = {
  "5.x": (c) => c,
  "4.x": ({ rope_parameters: _, layer_types: __, ...c }) => ({ ...c, global_rope_theta: 160000.0, local_rope_theta: 10000.0, global_attn_every_n_layers: 2 }),
  "odd window": (c) => ({ ...c, local_attention: 3 }),
  "wide window": (c) => ({ ...c, local_attention: 128 }),
};

let root: string;
let built: { dir: string; config: Config };
const dirs = new Map<Variant, string>();
const reference = new Map<Variant, number[][]>();
beforeAll(async () => {
  root = await tempDir();
  built = await runPython<{ dir: string; config: Config }>(BUILD, { dir: join(root, "5.x"), arch: "modernbert", seed: 7, corpus: CORPUS, vocab_size: 1000, max_seq_length: 48, pooling: ["mean"] });
  for (const v of VARIANTS) {
    const dir = join(root, v);
    if (v !== "5.x") {
      await cp(built.dir, dir, { recursive: true });
      const file = join(dir, "config.json");
      const text = await readFile(file, "utf8");
      await writeJsonWithFloats(file, REWRITE[v](JSON.parse(text) as Config), [...floatKeys(text), "global_rope_theta", "local_rope_theta"]);
    }
    dirs.set(v, dir);
  }
  const answers = await runPython<{ embeddings: number[][] }[]>(
    ORACLE,
    VARIANTS.map((v) => ({ folder: dirs.get(v)!, texts: TEXTS, batch_size: 3 })),
  );
  VARIANTS.forEach((v, i) => reference.set(v, answers[i]!.embeddings));
}, 300_000);

describe("modernbert config.json", () => {
  test.each(VARIANTS)("%s: embeddings equal sentence-transformers' within 1e-5", async (v) => {
    const model = await SentenceTransformer.load(dirs.get(v)!);
    const ours = await model.encode(TEXTS, { batchSize: 3 });
    ours.forEach((e, i) => expect(maxAbsDiff(e, reference.get(v)![i]!)).toBeLessThan(1e-5));
    model.dispose();
  });

  test("the variants are different models where they should be: the band changes the embeddings, 4.x's spelling does not", () => {
    const far = (a: Variant, b: Variant) => Math.max(...reference.get(a)!.map((e, i) => maxAbsDiff(e, reference.get(b)![i]!)));
    expect(far("5.x", "4.x")).toBeLessThan(1e-6);
    expect(far("5.x", "odd window")).toBeGreaterThan(1e-3);
    expect(far("5.x", "wide window")).toBeGreaterThan(1e-3);
  });

  test("what sbert-node does not run is a Config error naming the field", async () => {
    const model = await SentenceTransformer.load(dirs.get("5.x")!);
    const { tokenizer } = model.modules[0] as models.Transformer;
    const config = built.config;
    const refused = async (change: Config, message: RegExp) =>
      expect(models.Transformer.fromConfig({ ...config, ...change }, tokenizer)).rejects.toMatchObject({ code: "ERR_CONFIG", message: expect.stringMatching(message) });
    const yarn = { full_attention: { rope_type: "default", rope_theta: 160000.0 }, sliding_attention: { rope_type: "yarn", rope_theta: 10000.0, factor: 2.0 } };
    await refused({ rope_parameters: yarn }, /config: field 'rope_parameters\.sliding_attention\.rope_type' 'yarn' is not supported \(only "default"\)/);
    await refused({ rope_scaling: { rope_type: "linear", factor: 2.0 } }, /field 'rope_scaling\.rope_type' 'linear' is not supported/);
    await refused({ rope_scaling: { type: "dynamic", factor: 2.0 } }, /field 'rope_scaling\.rope_type' 'dynamic' is not supported/);
    await refused({ layer_types: ["full_attention"] }, /field 'layer_types' has 1 entries for 3 layers/);
    await refused({ layer_types: ["full_attention", "chunked_attention", "full_attention"] }, /field 'layer_types' has 'chunked_attention'/);
    await refused({ hidden_activation: "gelu_python" }, /field 'hidden_activation' must be one of/);
    await refused({ num_attention_heads: 5 }, /field 'hidden_size' 32 is not a multiple of num_attention_heads 5/);
    model.dispose();
  });

  test("fresh weights: normals cut at two deviations, the output projections' deviation over sqrt(2 layers), norms one, no biases", async () => {
    const model = await SentenceTransformer.load(dirs.get("5.x")!);
    const { tokenizer } = model.modules[0] as models.Transformer;
    const config = { ...built.config, hidden_size: 256, intermediate_size: 512, num_attention_heads: 4 };
    const fresh = await models.Transformer.fromConfig(config, tokenizer, { seed: 3 });
    const state = new Map(fresh.native.stateDict().map((t) => [t.name, t.data]));
    expect([...state.keys()].some((k) => k.endsWith(".bias"))).toBe(false);
    expect(state.has("layers.0.attn_norm.weight")).toBe(false);
    expect(state.has("layers.1.attn_norm.weight")).toBe(true);
    const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    const maxAbs = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // A normal cut at ±2 deviations keeps 0.880 of its deviation.
    const inStd = 0.02, outStd = 0.02 / Math.sqrt(2 * 3);
    for (const [key, s] of [["embeddings.tok_embeddings.weight", inStd], ["layers.2.attn.Wqkv.weight", inStd], ["layers.2.mlp.Wi.weight", inStd], ["layers.1.attn.Wo.weight", outStd], ["layers.1.mlp.Wo.weight", outStd]] as const) {
      const w = state.get(key)!;
      expect(std(w) / (s * 0.8796), key).toBeCloseTo(1, 1);
      expect(maxAbs(w), key).toBeLessThanOrEqual(2 * s * (1 + 1e-6));
    }
    for (const key of ["embeddings.norm.weight", "layers.2.mlp_norm.weight", "final_norm.weight"]) expect([...new Set(state.get(key)!)], key).toEqual([1]);
    fresh.dispose();
    model.dispose();
  });
});
