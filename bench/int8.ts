/**
 * Opt-in int8 inference (`model.quantize("int8")`: int8 linear layers, on sbert-node's kernel over few rows and
 * oneDNN's dynamic quantization over more) next to onnxruntime-node in float32, on the same workloads, with the
 * int8 embeddings' cosine agreement with float32. On CPUs with AVX512_BF16 or AMX-BF16, bf16 inference
 * (`model.quantize("bf16")`) too, against sbert-node's own float32 on the same workloads.
 */
import { backendInfo } from "../lib/index.js";
import { cosine, fmt, fmtRatio, log, ratio, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { encodeBatches } from "./engines.js";
import { roundRobin, timeSbert, type EngineRun } from "./encode.js";
import { MODEL_SPECS } from "./models.js";

export interface Agreement {
  /** Cosine similarity of the quantized and float32 embeddings over the agreement sentences. */
  meanCosine: number;
  minCosine: number;
}

export interface Int8Result extends Agreement {
  model: ModelName;
  /** Present where the CPU runs bf16. */
  bf16?: Agreement;
  workloads: { workload: string; label: string; int8: EngineRun; ort: EngineRun; float32?: EngineRun; bf16?: EngineRun }[];
}

type Engine = "int8" | "ort" | "float32" | "bf16";

function agreement(quantized: Float32Array[], float: Float32Array[]): Agreement {
  const cos = quantized.map((e, i) => cosine(e, float[i]!));
  return { meanCosine: cos.reduce((a, b) => a + b, 0) / cos.length, minCosine: Math.min(...cos) };
}

export async function runInt8(ctx: BenchContext): Promise<Int8Result[]> {
  const out: Int8Result[] = [];
  const bf16 = /avx512_bf16: yes|amx_bf16: yes/.test(backendInfo().cpuFeatures);
  if (!bf16) log("int8: this CPU has neither AVX512_BF16 nor AMX-BF16: no bf16 rows");
  for (const name of ctx.opts.models) {
    const model = await ctx.sbert(name);
    const ort = await ctx.ortModel(name);
    const sample = ctx.sentences.slice(0, 256);
    const float = await model.encode(sample, { batchSize: 32 });
    try {
      model.quantize("int8");
      const res: Int8Result = { model: name, ...agreement(await model.encode(sample, { batchSize: 32 }), float), workloads: [] };
      log(`int8: ${MODEL_SPECS[name].label}: cosine to float32 mean ${res.meanCosine.toFixed(4)}, min ${res.minCosine.toFixed(4)}`);
      if (bf16) {
        model.quantize("bf16");
        res.bf16 = agreement(await model.encode(sample, { batchSize: 32 }), float);
        log(`bf16: ${MODEL_SPECS[name].label}: cosine to float32 mean ${res.bf16.meanCosine.toFixed(6)}, min ${res.bf16.minCosine.toFixed(6)}`);
      }
      // Each sbert engine sets the model's precision before its turn.
      const sbertAt = (precision: "float32" | "int8" | "bf16", w: Parameters<typeof timeSbert>[2]) => (p: Parameters<typeof timeSbert>[3]) => {
        model.quantize(precision);
        return timeSbert(ctx, name, w, p);
      };
      for (const w of ctx.workloads(name).filter((x) => x.id !== "b128")) {
        const { batches } = encodeBatches(model, w.texts, w.batchSize);
        const warm = encodeBatches(model, w.warmTexts, w.batchSize).batches;
        const engines: [Engine, (p: Parameters<typeof timeSbert>[3]) => ReturnType<typeof timeSbert>][] = [
          ["int8", sbertAt("int8", w)],
          ["ort", (p) => ort.time(name, batches, warm, p, w.perItem)],
        ];
        if (bf16) engines.push(["float32", sbertAt("float32", w)], ["bf16", sbertAt("bf16", w)]);
        const runs = await roundRobin<Engine>(
          engines,
          w,
          ctx.opts.quick ? 1 : 2,
          bf16 ? 30 : 15,
        );
        res.workloads.push({ workload: w.id, label: w.label, int8: runs.int8, ort: runs.ort, float32: runs.float32, bf16: runs.bf16 });
        log(
          `  ${w.label}: sbert int8 ${fmt(runs.int8.perSecond)}/s, ORT float32 ${fmt(runs.ort.perSecond)}/s → ${fmtRatio(ratio(runs.int8.perSecond, runs.ort.perSecond))}` +
            (w.perItem ? `; p50 ${fmt(runs.int8.p50Ms, 2)} / ${fmt(runs.ort.p50Ms, 2)} ms` : ""),
        );
        if (runs.bf16 && runs.float32) {
          log(
            `  ${w.label}: sbert bf16 ${fmt(runs.bf16.perSecond)}/s, sbert float32 ${fmt(runs.float32.perSecond)}/s → ${fmtRatio(ratio(runs.bf16.perSecond, runs.float32.perSecond))}` +
              (w.perItem ? `; p50 ${fmt(runs.bf16.p50Ms, 2)} / ${fmt(runs.float32.p50Ms, 2)} ms` : ""),
          );
        }
      }
      out.push(res);
    } finally {
      model.quantize("float32");
    }
  }
  return out;
}
