/**
 * Tokenization throughput (measurement 6): `model.tokenize` on the very batches encode builds for the batch-32 and
 * long-document workloads. The WordPiece step keeps a per-word cache, so two numbers: "cold", one pass with a
 * freshly loaded tokenizer (every word new to it), and "warm", repeated passes. The report takes the cold one
 * for the share of encode time.
 */
import { Tokenizer } from "../lib/index.js";
import { fmt, log, timePasses, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { encodeOrder } from "./engines.js";

export interface TokenizeResult {
  model: ModelName;
  workload: "b32" | "long8";
  items: number;
  tokens: number;
  /** Warm: repeated passes. */
  itemsPerSecond: number;
  tokensPerSecond: number;
  /** Seconds of tokenization in one pass over the workload: cold (fresh tokenizer) and warm. */
  coldSecondsPerPass: number;
  warmSecondsPerPass: number;
}

export async function runTokenize(ctx: BenchContext): Promise<TokenizeResult[]> {
  const out: TokenizeResult[] = [];
  for (const name of ctx.opts.models) {
    const model = await ctx.sbert(name);
    const dir = (await ctx.folder(name)).dir;
    for (const w of ctx.workloads(name).filter((x) => x.id === "b32" || x.id === "long8")) {
      const order = encodeOrder(w.texts);
      const chunks: string[][] = [];
      for (let s = 0; s < order.length; s += w.batchSize) chunks.push(order.slice(s, s + w.batchSize).map((i) => w.texts[i]!));
      let tokens = 0;
      for (const c of chunks) for (const m of model.tokenize(c).attentionMask) tokens += m;
      // Same call as Transformer.tokenize (no extra lowercasing in these folders), on a tokenizer with an empty cache.
      const fresh = await Tokenizer.fromFolder(dir);
      const c0 = performance.now();
      for (const c of chunks) fresh.encodeBatch(c, { maxLength: model.maxSeqLength });
      const coldSecondsPerPass = (performance.now() - c0) / 1000;
      const t = await timePasses(
        async () => {
          model.tokenize(chunks[0]!);
        },
        async () => {
          for (const c of chunks) model.tokenize(c);
        },
        { budgetS: ctx.opts.quick ? 0.3 : 1.0, minPasses: 2, maxPasses: 1000, minItems: 0 },
        w.texts.length,
      );
      const r: TokenizeResult = {
        model: name,
        workload: w.id as "b32" | "long8",
        items: w.texts.length,
        tokens,
        itemsPerSecond: t.items / t.seconds,
        tokensPerSecond: (t.passes * tokens) / t.seconds,
        coldSecondsPerPass,
        warmSecondsPerPass: t.seconds / t.passes,
      };
      out.push(r);
      log(
        `tokenize: ${name} ${w.label}: warm ${fmt(r.itemsPerSecond)} texts/s (${fmt(r.tokensPerSecond / 1e3)}k tokens/s), ` +
          `cold ${fmt(w.texts.length / coldSecondsPerPass)} texts/s`,
      );
    }
  }
  return out;
}
