/**
 * Opt-in int8 inference (`model.quantize("int8")`: int8 linear layers, on sbert-node's kernel over few rows and
 * oneDNN's dynamic quantization over more) next to onnxruntime-node in float32, on the same workloads, with the
 * int8 embeddings' cosine agreement with float32.
 */
import { fmt, fmtRatio, log, ratio, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { encodeBatches } from "./engines.js";
import { roundRobin, timeSbert, type EngineRun } from "./encode.js";
import { MODEL_SPECS } from "./models.js";

export interface Int8Result {
  model: ModelName;
  /** Cosine similarity of int8 and float32 embeddings over the agreement sentences. */
  meanCosine: number;
  minCosine: number;
  workloads: { workload: string; label: string; int8: EngineRun; ort: EngineRun }[];
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

export async function runInt8(ctx: BenchContext): Promise<Int8Result[]> {
  const out: Int8Result[] = [];
  for (const name of ctx.opts.models) {
    const model = await ctx.sbert(name);
    const ort = await ctx.ortModel(name);
    const sample = ctx.sentences.slice(0, 256);
    const float = await model.encode(sample, { batchSize: 32 });
    model.quantize("int8");
    try {
      const int8 = await model.encode(sample, { batchSize: 32 });
      const cos = int8.map((e, i) => cosine(e, float[i]!));
      const res: Int8Result = {
        model: name,
        meanCosine: cos.reduce((a, b) => a + b, 0) / cos.length,
        minCosine: Math.min(...cos),
        workloads: [],
      };
      log(`int8: ${MODEL_SPECS[name].label}: cosine to float32 mean ${res.meanCosine.toFixed(4)}, min ${res.minCosine.toFixed(4)}`);
      for (const w of ctx.workloads(name).filter((x) => x.id !== "b128")) {
        const { batches } = encodeBatches(model, w.texts, w.batchSize);
        const warm = encodeBatches(model, w.warmTexts, w.batchSize).batches;
        const runs = await roundRobin<"int8" | "ort">(
          [
            ["int8", (p) => timeSbert(ctx, name, w, p)],
            ["ort", (p) => ort.time(name, batches, warm, p, w.perItem)],
          ],
          w,
          ctx.opts.quick ? 1 : 2,
          15,
        );
        res.workloads.push({ workload: w.id, label: w.label, int8: runs.int8, ort: runs.ort });
        log(
          `  ${w.label}: sbert int8 ${fmt(runs.int8.perSecond)}/s, ORT float32 ${fmt(runs.ort.perSecond)}/s → ${fmtRatio(ratio(runs.int8.perSecond, runs.ort.perSecond))}` +
            (w.perItem ? `; p50 ${fmt(runs.int8.p50Ms, 2)} / ${fmt(runs.ort.p50Ms, 2)} ms` : ""),
        );
      }
      out.push(res);
    } finally {
      model.quantize("float32");
    }
  }
  return out;
}
