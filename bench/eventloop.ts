/**
 * Event-loop lag (measurement 7): how late a 1 ms setInterval fires while a long `encode` call runs (batches run on
 * libuv worker threads; tokenizing and unpacking each batch run on the JS thread).
 */
import { fmt, log, percentile, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";

export interface LagResult {
  model: ModelName;
  workload: string;
  ticks: number;
  encodeSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function measure(run: () => Promise<unknown>): Promise<{ lags: number[]; seconds: number }> {
  const lags: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  const t0 = performance.now();
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  return { lags, seconds: (performance.now() - t0) / 1000 };
}

export async function runEventLoop(ctx: BenchContext): Promise<LagResult[]> {
  const name: ModelName = ctx.opts.models.includes("minilm") ? "minilm" : ctx.opts.models[0]!;
  const model = await ctx.sbert(name);
  const out: LagResult[] = [];
  const sentences = ctx.sentences.slice(0, ctx.opts.quick ? 256 : 1024);
  const docs = ctx.documents.slice(0, ctx.opts.quick ? 8 : name !== "minilm" ? 8 : 24);
  await model.encode(sentences.slice(0, 32), { batchSize: 32 });
  for (const [label, texts, batchSize] of [
    [`${sentences.length} sentences, batch 32`, sentences, 32],
    [`${sentences.length} sentences, batch 128`, sentences, 128],
    [`${docs.length} documents, batch 8`, docs, 8],
  ] as const) {
    const { lags, seconds } = await measure(() => model.encode([...texts], { batchSize }));
    const r: LagResult = {
      model: name,
      workload: label,
      ticks: lags.length,
      encodeSeconds: seconds,
      p50Ms: percentile(lags, 50),
      p99Ms: percentile(lags, 99),
      maxMs: Math.max(...lags),
    };
    out.push(r);
    log(`eventloop: ${label} (${seconds.toFixed(1)} s): lateness p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, max ${fmt(r.maxMs, 1)} ms`);
  }
  return out;
}
