/**
 * The benchmark's models, as sentence-transformers folders (Transformer + mean Pooling) with seeded random weights:
 * MiniLM-L6 and BERT-base shapes with a 30522-token WordPiece vocabulary, written here; XLM-RoBERTa-base and
 * MPNet-base shapes, built by Hugging Face transformers itself (test/fixtures/hf_model.py) with a tokenizer trained
 * on the benchmark corpus and the embedding matrix at the real vocabulary size. Folders are cached under
 * bench/results/models and rebuilt when their recipe changes.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { writeSafetensors, type TensorToWrite } from "../lib/io/safetensors.js";
import { pyJsonDumps } from "../test/fixtures/pyjson.js";
import { gaussian, TINY_VOCAB, tinyBertConfig } from "../test/fixtures/tinyBert.js";
import { log, MODELS_DIR, REPO_ROOT, runPythonScript, type ModelName } from "./common.js";
import { seededRandom as mulberry32 } from "../lib/internal/random.js";

/** Hugging Face model_type: "bert" folders are written here, the others built by transformers. */
export type Arch = "bert" | "xlm-roberta" | "mpnet";

export interface ModelSpec {
  name: ModelName;
  label: string;
  arch: Arch;
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  maxPosition: number;
  seed: number;
}

export const MODEL_SPECS: Record<ModelName, ModelSpec> = {
  minilm: { name: "minilm", label: "MiniLM-L6 (6×384)", arch: "bert", layers: 6, hidden: 384, heads: 12, intermediate: 1536, maxPosition: 512, seed: 6 },
  base: { name: "base", label: "BERT-base (12×768)", arch: "bert", layers: 12, hidden: 768, heads: 12, intermediate: 3072, maxPosition: 512, seed: 12 },
  xlmr: { name: "xlmr", label: "XLM-R-base (12×768)", arch: "xlm-roberta", layers: 12, hidden: 768, heads: 12, intermediate: 3072, maxPosition: 514, seed: 13 },
  mpnet: { name: "mpnet", label: "MPNet-base (12×768)", arch: "mpnet", layers: 12, hidden: 768, heads: 12, intermediate: 3072, maxPosition: 514, seed: 14 },
};

export const VOCAB_SIZE = 30522;
const RECIPE_VERSION = 1;

/**
 * What transformers builds for the non-BERT shapes, on top of the spec's sizes: the real models' vocabulary and
 * config (xlm-roberta-base: 250002 entries, one token type, padding index 1; mpnet-base: 30527 entries, 32
 * relative-position buckets). The tokenizer is trained on the benchmark corpus with at most `tokenizerVocab`
 * entries; ids past it are never looked up, but the embedding matrix has the real size.
 */
interface HfRecipe {
  config: Record<string, number>;
  tokenizerVocab: number;
  initStd: number;
}

const HF_RECIPES: Partial<Record<ModelName, HfRecipe>> = {
  xlmr: { config: { vocab_size: 250002, type_vocab_size: 1, layer_norm_eps: 1e-5 }, tokenizerVocab: 30000, initStd: 0.02 },
  mpnet: { config: { vocab_size: 30527, relative_attention_num_buckets: 32, layer_norm_eps: 1e-5 }, tokenizerVocab: 30000, initStd: 0.02 },
};
export const HF_BUILDER = join(REPO_ROOT, "test", "fixtures", "hf_model.py");

// ---------------------------------------------------------------- vocabulary

const CONSONANTS = "bcdfglmnprstvz".split("");
const VOWELS = "aeiou".split("");

export function rng(seed: number): () => number {
  return mulberry32(seed);
}

function syllables(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += CONSONANTS[Math.floor(rand() * CONSONANTS.length)]! + VOWELS[Math.floor(rand() * VOWELS.length)]!;
  return s;
}

export interface BenchVocab {
  tokens: string[];
  /** Whole words a sentence can be made of (each one token). */
  words: string[];
  /** Continuation pieces ("##..."); a word followed by one makes a two-token word. */
  suffixes: string[];
}

/**
 * TINY_VOCAB (specials at 0–4, characters, ~600 words and pieces) followed by generated syllable words and
 * "##" pieces up to BERT's 30522 entries, so the embedding table has a real model's size.
 */
export function buildVocab(): BenchVocab {
  const tokens = [...TINY_VOCAB];
  const seen = new Set(tokens);
  const rand = mulberry32(0x5eed);
  const suffixTarget = 3000;
  const suffixes: string[] = [];
  while (suffixes.length < suffixTarget) {
    const piece = `##${syllables(rand, 1 + Math.floor(rand() * 2))}`;
    if (!seen.has(piece)) {
      seen.add(piece);
      suffixes.push(piece);
    }
  }
  const generated: string[] = [];
  while (tokens.length + suffixes.length + generated.length < VOCAB_SIZE) {
    const w = syllables(rand, 2 + Math.floor(rand() * 3));
    if (!seen.has(w)) {
      seen.add(w);
      generated.push(w);
    }
  }
  tokens.push(...generated, ...suffixes);
  const tinyWords = TINY_VOCAB.filter((t) => /^[a-zàèéìòù]{2,}$/.test(t));
  return { tokens, words: [...tinyWords, ...generated], suffixes };
}

// ---------------------------------------------------------------- weights

/**
 * BERT-style initialisation (std 0.02) from one seeded stream per tensor, with query/key at 0.05 so attention is
 * not uniform; LayerNorm weights near 1.
 */
function values(seed: number, key: string, n: number, kind: "matrix" | "qk" | "bias" | "lnWeight"): Float32Array {
  const g = gaussian(seed, key, n);
  const out = new Float32Array(n);
  const std = kind === "qk" ? 0.05 : 0.02;
  for (let i = 0; i < n; i++) out[i] = kind === "lnWeight" ? 1 + 0.05 * g[i]! : std * g[i]!;
  return out;
}

function bertTensors(spec: ModelSpec, vocabSize: number): TensorToWrite[] {
  const { hidden: H, intermediate: I, maxPosition: P, seed } = spec;
  const out: TensorToWrite[] = [];
  const add = (name: string, shape: number[], kind: "matrix" | "qk" | "bias" | "lnWeight") =>
    out.push({ name, dtype: "F32", shape, data: values(seed, name, shape.reduce((a, b) => a * b, 1), kind) });
  const linear = (key: string, outF: number, inF: number, kind: "matrix" | "qk" = "matrix") => {
    add(`${key}.weight`, [outF, inF], kind);
    add(`${key}.bias`, [outF], "bias");
  };
  const layerNorm = (key: string) => {
    add(`${key}.weight`, [H], "lnWeight");
    add(`${key}.bias`, [H], "bias");
  };
  add("embeddings.word_embeddings.weight", [vocabSize, H], "matrix");
  add("embeddings.position_embeddings.weight", [P, H], "matrix");
  add("embeddings.token_type_embeddings.weight", [2, H], "matrix");
  layerNorm("embeddings.LayerNorm");
  for (let l = 0; l < spec.layers; l++) {
    const p = `encoder.layer.${l}`;
    linear(`${p}.attention.self.query`, H, H, "qk");
    linear(`${p}.attention.self.key`, H, H, "qk");
    linear(`${p}.attention.self.value`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, I, H);
    linear(`${p}.output.dense`, H, I);
    layerNorm(`${p}.output.LayerNorm`);
  }
  return out;
}

// ---------------------------------------------------------------- folders

export interface BenchModel {
  spec: ModelSpec;
  dir: string;
  onnxPath: string;
  weightsBytes: number;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Runs hf_model.py on one spec (JSON on stdin), in the benchmark's Python environment. */
async function runBuilder(input: unknown): Promise<void> {
  await runPythonScript(HF_BUILDER, input);
}

/**
 * The folder of a transformers-built shape: `corpus` trains its tokenizer. The stamp covers the recipe, the
 * builder's source and the corpus, so changing any of them rebuilds the folder.
 */
async function ensureHfModel(spec: ModelSpec, recipe: HfRecipe, corpus: string[]): Promise<BenchModel> {
  const dir = join(MODELS_DIR, spec.name);
  const stampFile = join(dir, "bench-recipe.json");
  const onnxPath = join(MODELS_DIR, `${spec.name}.onnx`);
  const stamp = JSON.stringify({ spec, recipe, builder: sha256(await readFile(HF_BUILDER, "utf8")), corpus: sha256(corpus.join("\n")) });
  const cached = (await exists(stampFile)) && (await readFile(stampFile, "utf8")) === stamp;
  if (!cached) {
    const t0 = performance.now();
    await rm(dir, { recursive: true, force: true });
    await rm(onnxPath, { force: true });
    const config = {
      hidden_size: spec.hidden,
      num_hidden_layers: spec.layers,
      num_attention_heads: spec.heads,
      intermediate_size: spec.intermediate,
      max_position_embeddings: spec.maxPosition,
      ...recipe.config,
    };
    await runBuilder({
      dir,
      arch: spec.arch,
      seed: spec.seed,
      corpus,
      vocab_size: recipe.tokenizerVocab,
      config,
      init_std: recipe.initStd,
      pooling: ["mean"],
      max_seq_length: 512,
    });
    await writeFile(stampFile, stamp);
    log(`built ${spec.label} with transformers into ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const weightsBytes = (await stat(join(dir, "model.safetensors"))).size;
  return { spec, dir, onnxPath, weightsBytes };
}

/**
 * Writes (or reuses) the sentence-transformers folder of `spec`. `corpus` (the benchmark's texts) trains the
 * tokenizer of the transformers-built shapes.
 */
export async function ensureModel(spec: ModelSpec, vocab: BenchVocab, corpus: string[]): Promise<BenchModel> {
  const recipe = HF_RECIPES[spec.name];
  if (spec.arch !== "bert" && recipe) return ensureHfModel(spec, recipe, corpus);
  const dir = join(MODELS_DIR, spec.name);
  const stampFile = join(dir, "bench-recipe.json");
  // Without `arch` (always "bert" here), the stamp reads as before the field existed: folders already written stay.
  const stamp = JSON.stringify({ RECIPE_VERSION, spec: { ...spec, arch: undefined }, vocabSize: vocab.tokens.length });
  const onnxPath = join(MODELS_DIR, `${spec.name}.onnx`);
  const cached = (await exists(stampFile)) && (await readFile(stampFile, "utf8")) === stamp;
  if (!cached) {
    const t0 = performance.now();
    await rm(dir, { recursive: true, force: true });
    await rm(onnxPath, { force: true });
    await mkdir(join(dir, "1_Pooling"), { recursive: true });
    const opts = { layers: spec.layers, hidden: spec.hidden, heads: spec.heads, intermediate: spec.intermediate, maxPosition: spec.maxPosition, seed: spec.seed };
    const json = (v: unknown, indent = 2) => pyJsonDumps(v, { indent, sortKeys: true }) + "\n";
    await writeFile(join(dir, "config.json"), json(tinyBertConfig(opts, vocab.tokens.length)));
    await writeFile(join(dir, "vocab.txt"), vocab.tokens.map((t) => `${t}\n`).join(""));
    const specials = { cls_token: "[CLS]", mask_token: "[MASK]", pad_token: "[PAD]", sep_token: "[SEP]", unk_token: "[UNK]" };
    await writeFile(
      join(dir, "tokenizer_config.json"),
      json({ ...specials, do_lower_case: true, model_max_length: spec.maxPosition, tokenize_chinese_chars: true, strip_accents: null, tokenizer_class: "BertTokenizer" }),
    );
    await writeFile(join(dir, "special_tokens_map.json"), json(specials));
    await writeSafetensors(join(dir, "model.safetensors"), bertTensors(spec, vocab.tokens.length), { format: "pt" });
    await writeFile(join(dir, "sentence_bert_config.json"), json({ max_seq_length: spec.maxPosition, do_lower_case: false }, 4));
    await writeFile(
      join(dir, "1_Pooling", "config.json"),
      json(
        {
          word_embedding_dimension: spec.hidden,
          pooling_mode_cls_token: false,
          pooling_mode_mean_tokens: true,
          pooling_mode_max_tokens: false,
          pooling_mode_mean_sqrt_len_tokens: false,
          pooling_mode_weightedmean_tokens: false,
          pooling_mode_lasttoken: false,
          include_prompt: true,
        },
        4,
      ),
    );
    await writeFile(
      join(dir, "modules.json"),
      json([
        { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
        { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      ]),
    );
    await writeFile(join(dir, "config_sentence_transformers.json"), json({ prompts: {}, default_prompt_name: null, similarity_fn_name: "cosine" }));
    await writeFile(stampFile, stamp);
    log(`wrote ${spec.label} to ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const weightsBytes = (await stat(join(dir, "model.safetensors"))).size;
  return { spec, dir, onnxPath, weightsBytes };
}

// ---------------------------------------------------------------- cost model

/** Weights of the matmuls of one layer (Q, K, V, attention output, two feed-forward), biases left out. */
export function linearParams(spec: ModelSpec): number {
  return spec.layers * (4 * spec.hidden * spec.hidden + 2 * spec.hidden * spec.intermediate);
}

/** Matmul FLOPs of one sequence of `tokens` tokens: 2·params·tokens + QKᵀ and PV (2·T²·H each per layer). */
export function sequenceFlops(spec: ModelSpec, tokens: number): number {
  return 2 * linearParams(spec) * tokens + spec.layers * 4 * tokens * tokens * spec.hidden;
}

/** Matmul FLOPs of a padded batch, as an engine computes it. */
export function batchFlops(spec: ModelSpec, B: number, L: number): number {
  return B * sequenceFlops(spec, L);
}

/**
 * Bytes of the largest set of tensors alive at once in one inference layer: the input and Q, K, V, the scores
 * and the softmax (B·heads·L² each) and the context, or the input, the attention output and the two
 * feed-forward tensors (before and after GELU); plus the output of the layer.
 */
export function activationBytes(spec: ModelSpec, B: number, L: number): number {
  const { hidden: H, heads, intermediate: I } = spec;
  const attention = B * L * H * 5 + 2 * B * heads * L * L;
  const feedForward = B * L * (2 * H + 2 * I);
  return 4 * (Math.max(attention, feedForward) + B * L * H);
}
