/**
 * The benchmark's models: MiniLM-L6 and BERT-base shapes with seeded random weights and a 30522-token WordPiece
 * vocabulary, written as sentence-transformers folders (Transformer + mean Pooling). Folders are cached under
 * bench/results/models and rebuilt when their recipe changes.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { writeSafetensors, type TensorToWrite } from "../lib/io/safetensors.js";
import { pyJsonDumps } from "../test/fixtures/pyjson.js";
import { gaussian, TINY_VOCAB, tinyBertConfig } from "../test/fixtures/tinyBert.js";
import { log, MODELS_DIR, type ModelName } from "./common.js";
import { seededRandom as mulberry32 } from "../lib/internal/random.js";

export interface ModelSpec {
  name: ModelName;
  label: string;
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  maxPosition: number;
  seed: number;
}

export const MODEL_SPECS: Record<ModelName, ModelSpec> = {
  minilm: { name: "minilm", label: "MiniLM-L6 (6×384)", layers: 6, hidden: 384, heads: 12, intermediate: 1536, maxPosition: 512, seed: 6 },
  base: { name: "base", label: "BERT-base (12×768)", layers: 12, hidden: 768, heads: 12, intermediate: 3072, maxPosition: 512, seed: 12 },
};

export const VOCAB_SIZE = 30522;
const RECIPE_VERSION = 1;

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

/** Writes (or reuses) the sentence-transformers folder of `spec`. */
export async function ensureModel(spec: ModelSpec, vocab: BenchVocab): Promise<BenchModel> {
  const dir = join(MODELS_DIR, spec.name);
  const stampFile = join(dir, "bench-recipe.json");
  const stamp = JSON.stringify({ RECIPE_VERSION, spec, vocabSize: vocab.tokens.length });
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
