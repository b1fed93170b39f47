/**
 * Long documents: one document of 2k and of 8k tokens through a decoder embedder (a Qwen3 shape built by
 * transformers, test/fixtures/hf_model.py: 4 layers × 512, 8 query and 2 key/value heads of 64, causal attention,
 * last-token pooling, positions up to 8448), each length in a fresh process, against sentence-transformers on the
 * same folder and text (transformers' Qwen3Model with its default sdpa attention). Reported: milliseconds per
 * document (median), tokens per second, and the peak RSS the encode adds above the loaded model — a [heads, L, L]
 * score tensor at 8k tokens would be 2 GiB per layer; sbert-node's attention works per (sentence, head) in blocks of
 * query rows, so its memory grows linearly with L.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { fmt, log, MODELS_DIR, REPO_ROOT, runPythonScript } from "./common.js";
import type { BenchContext } from "./context.js";
import { runChild } from "./memory.js";
import { HF_BUILDER } from "./models.js";

export const LONG_TOKENS = [2048, 8192] as const;
const CONFIG = {
  hidden_size: 512,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  head_dim: 64,
  intermediate_size: 1536,
  max_position_embeddings: 8448,
};

export interface LongResult {
  tokens: number;
  reps: number;
  sbertMs: number;
  referenceMs: number;
  /** Peak RSS above the loaded, warmed-up model. */
  sbertPeakMiB: number;
  referencePeakMiB: number;
  /** sbert-node throughput / the reference's. */
  ratio: number;
  referenceLabel: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The model folder, built once per recipe (cached under bench/results/models). */
async function ensureLongModel(corpus: string[]): Promise<string> {
  const recipe = { arch: "qwen3", seed: 31, vocab_size: 8000, config: CONFIG, pooling: ["lasttoken"], init_std: 0.02, version: 1 };
  const hash = createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 12);
  const dir = join(MODELS_DIR, `qwen3-long-${hash}`);
  try {
    await stat(join(dir, "modules.json"));
    return dir;
  } catch {
    // not built yet
  }
  log(`long: building the Qwen3 shape with transformers into ${dir}`);
  await mkdir(MODELS_DIR, { recursive: true });
  await runPythonScript(HF_BUILDER, { ...recipe, dir, corpus });
  return dir;
}

export async function runLong(ctx: BenchContext): Promise<LongResult[]> {
  const dir = await ensureLongModel(ctx.sentences);
  // One text longer than the longest length; each run truncates it.
  const words = ctx.documents.join(" ").split(" ");
  const text = Array.from({ length: 4 }, () => words.join(" ")).join(" ");
  const textFile = join(MODELS_DIR, "long-document.txt");
  await writeFile(textFile, text);
  const threads = ctx.opts.torchThreads;
  const out: LongResult[] = [];
  for (const tokens of LONG_TOKENS) {
    const reps = ctx.opts.quick || tokens > 4096 ? 2 : 3;
    const { value: ours } = await runChild<{ ms: number[]; tokens: number; baselineMiB: number; peakMiB: number }>([
      "long",
      dir,
      String(threads),
      String(tokens),
      String(reps),
      textFile,
    ]);
    const ref = await runPythonScript<{ ms: number[]; tokens: number; baseline_mib: number; peak_mib: number; torch: string }>(
      join(REPO_ROOT, "bench", "long_ref.py"),
      { folder: dir, text: await readFile(textFile, "utf8"), tokens, threads, reps },
    );
    if (ours.tokens !== tokens || ref.tokens !== tokens) throw new Error(`long: ran ${ours.tokens} (sbert-node) and ${ref.tokens} (reference) tokens, wanted ${tokens}`);
    const sbertMs = median(ours.ms);
    const referenceMs = median(ref.ms);
    const r: LongResult = {
      tokens,
      reps,
      sbertMs,
      referenceMs,
      sbertPeakMiB: ours.peakMiB - ours.baselineMiB,
      referencePeakMiB: ref.peak_mib - ref.baseline_mib,
      ratio: referenceMs / sbertMs,
      referenceLabel: `sentence-transformers (torch ${ref.torch}, sdpa)`,
    };
    log(`long ${tokens} tokens: sbert-node ${fmt(sbertMs, 0)} ms (+${fmt(r.sbertPeakMiB)} MiB), reference ${fmt(referenceMs, 0)} ms (+${fmt(r.referencePeakMiB)} MiB)`);
    out.push(r);
  }
  return out;
}
