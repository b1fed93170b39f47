/**
 * GEMM roofline (measurement 10). The addon exposes no raw matmul, so PyTorch in Python on the same Debian libtorch
 * + OpenBLAS build stands in for it: F.linear / torch.matmul at the model's shapes for the batch-32 and
 * long-document workloads, at the engines' thread count and at 1 thread. From the rates, the time the matmuls of
 * one pass need (on the padded batches) gives the throughput the matmul engine allows; the report divides each
 * engine's measured throughput by it.
 */
import { fmt, log, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { encodeBatches } from "./engines.js";
import { batchFlops, MODEL_SPECS, type ModelSpec } from "./models.js";

interface Shape {
  kind: "linear" | "bmm";
  name: string;
  M: number;
  K: number;
  N: number;
  batch?: number;
}

export interface GemmRate extends Shape {
  threads: number;
  gflops: number;
  ms: number;
}

export interface RooflineResult {
  model: ModelName;
  workload: "b1" | "b32" | "long8";
  /** Mean tokens per batch (B·L, padded) the rates were measured at. */
  tokensPerBatch: number;
  rates: GemmRate[];
  /** Seconds the matmuls of one pass need at the best measured rate of each shape. */
  boundSecondsPerPass: number;
  /** Texts per second those matmuls allow. */
  boundPerSecond: number;
  /** Matmul FLOP/s that bound averages to. */
  boundGflops: number;
}

function shapesFor(spec: ModelSpec, M: number, B: number, L: number): Shape[] {
  const { hidden: H, intermediate: I, heads } = spec;
  const d = H / heads;
  return [
    { kind: "linear", name: "H→H (Q, K, V, out)", M, K: H, N: H },
    { kind: "linear", name: "H→3H (fused QKV, not in the bound)", M, K: H, N: 3 * H },
    { kind: "linear", name: "H→4H (FFN in)", M, K: H, N: I },
    { kind: "linear", name: "4H→H (FFN out)", M, K: I, N: H },
    { kind: "bmm", name: "Q·Kᵀ", batch: B * heads, M: L, K: d, N: L },
    { kind: "bmm", name: "P·V", batch: B * heads, M: L, K: L, N: d },
  ];
}

export async function runGemm(ctx: BenchContext): Promise<RooflineResult[]> {
  const py = await ctx.python();
  const out: RooflineResult[] = [];
  const threads = ctx.opts.quick ? [ctx.opts.torchThreads] : [1, 2];
  for (const name of ctx.opts.models) {
    const spec = MODEL_SPECS[name];
    const model = await ctx.sbert(name);
    for (const w of ctx.workloads(name).filter((x) => x.id !== "b128")) {
      const { batches } = encodeBatches(model, w.texts, w.batchSize);
      const meanB = batches.reduce((s, b) => s + b.B, 0) / batches.length;
      const meanL = batches.reduce((s, b) => s + b.L, 0) / batches.length;
      const M = Math.round(batches.reduce((s, b) => s + b.B * b.L, 0) / batches.length);
      const shapes = shapesFor(spec, M, Math.round(meanB), Math.round(meanL));
      const { results } = await py.call<{ results: GemmRate[] }>("gemm", { shapes, threads, budgetS: ctx.opts.quick ? 0.1 : 0.25 });
      const best = (shapeName: string) => Math.max(...results.filter((r) => r.name === shapeName).map((r) => r.gflops)) * 1e9;
      const [hh, , hi, ih, qk, pv] = shapes.map((s) => best(s.name));
      let seconds = 0;
      let flops = 0;
      const { hidden: H, intermediate: I, heads, layers } = spec;
      const d = H / heads;
      for (const b of batches) {
        const tokens = b.B * b.L;
        const f = { hh: 2 * tokens * H * H, hi: 2 * tokens * H * I, ih: 2 * tokens * I * H, qk: 2 * b.B * heads * b.L * b.L * d, pv: 2 * b.B * heads * b.L * b.L * d };
        seconds += layers * (4 * (f.hh / hh!) + f.hi / hi! + f.ih / ih! + f.qk / qk! + f.pv / pv!);
        flops += batchFlops(spec, b.B, b.L);
      }
      const r: RooflineResult = {
        model: name,
        workload: w.id as "b1" | "b32" | "long8",
        tokensPerBatch: M,
        rates: results,
        boundSecondsPerPass: seconds,
        boundPerSecond: w.texts.length / seconds,
        boundGflops: flops / seconds / 1e9,
      };
      out.push(r);
      const rate = (n: string, t: number) => results.find((x) => x.name === n && x.threads === t)?.gflops;
      log(
        `gemm: ${name} ${w.label} (M=${M}): H→4H ${threads.map((t) => `${fmt(rate(shapes[2]!.name, t))} GFLOP/s @${t}t`).join(", ")}; ` +
          `matmul bound ${fmt(r.boundPerSecond)} texts/s (${fmt(r.boundGflops)} GFLOP/s)`,
      );
    }
  }
  return out;
}
