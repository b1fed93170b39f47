/**
 * Peak RSS (measurement 8), in a fresh process per model: VmHWM after encoding the eight longest documents at
 * batch 8, against the weights plus an estimate of one batch's inference activations (models.ts activationBytes).
 * The target is checked on the peak above the process before the model is loaded (Node, tsx, the addon and
 * libtorch, reported apart); what a one-word encode adds first (kernel code paged in, thread pools, OpenBLAS
 * buffers) stays in, and is shown on its own.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

import { BENCH_DIR, fmt, log, REPO_ROOT, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { activationBytes, MODEL_SPECS } from "./models.js";

const MiB = 1024 * 1024;

export interface MemoryResult {
  model: ModelName;
  batch: number;
  seqLength: number;
  baselineRssMiB: number;
  afterLoadRssMiB: number;
  /** Peak during load, above the baseline. */
  loadPeakMiB: number;
  /** RSS a one-word encode adds. */
  firstEncodeMiB: number;
  peakRssMiB: number;
  weightsMiB: number;
  activationsMiB: number;
  /** (peak − baseline) / (weights + activations). */
  ratio: number;
  /** Whole-process peak over weights + activations. */
  ratioWholeProcess: number;
}

/** Runs `node --import tsx bench/child.ts ...args` and returns its JSON line and wall time. */
export function runChild<T>(args: string[]): Promise<{ value: T; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, "child.ts"), ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let wallMs: number | undefined;
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (wallMs === undefined && out.includes("\n")) wallMs = performance.now() - t0;
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`child.ts ${args[0]} exited with ${code}: ${err.slice(-2000)}`));
      try {
        resolve({ value: JSON.parse(out.split("\n")[0]!) as T, wallMs: wallMs ?? performance.now() - t0 });
      } catch (e) {
        reject(new Error(`child.ts ${args[0]}: no JSON (${(e as Error).message}): ${out} ${err}`));
      }
    });
  });
}

interface RssChild {
  baseline: { rss: number; hwm: number };
  afterLoad: { rss: number; hwm: number };
  afterWarm: { rss: number; hwm: number };
  afterEncode: { rss: number; hwm: number };
  seqLength: number;
  batch: number;
}

export async function runMemory(ctx: BenchContext): Promise<MemoryResult[]> {
  const out: MemoryResult[] = [];
  for (const name of ctx.opts.models) {
    const m = await ctx.folder(name);
    const { value: r } = await runChild<RssChild>(["rss", name, String(ctx.opts.torchThreads)]);
    const weightsMiB = m.weightsBytes / MiB;
    const activationsMiB = activationBytes(MODEL_SPECS[name], r.batch, r.seqLength) / MiB;
    const peak = r.afterEncode.hwm;
    const firstEncodeMiB = r.afterWarm.rss - r.afterLoad.rss;
    const res: MemoryResult = {
      model: name,
      batch: r.batch,
      seqLength: r.seqLength,
      baselineRssMiB: r.baseline.rss,
      afterLoadRssMiB: r.afterLoad.rss,
      loadPeakMiB: r.afterLoad.hwm - r.baseline.rss,
      firstEncodeMiB,
      peakRssMiB: peak,
      weightsMiB,
      activationsMiB,
      ratio: (peak - r.baseline.rss) / (weightsMiB + activationsMiB),
      ratioWholeProcess: peak / (weightsMiB + activationsMiB),
    };
    out.push(res);
    log(
      `memory: ${name}: peak ${fmt(peak)} MiB (baseline ${fmt(r.baseline.rss)}, after load ${fmt(r.afterLoad.rss)}, load peak +${fmt(res.loadPeakMiB)}, ` +
        `first encode +${fmt(firstEncodeMiB)}); weights ${fmt(weightsMiB)} + activations ${fmt(activationsMiB)} MiB (batch 8 × ${r.seqLength}) → ${res.ratio.toFixed(2)}×`,
    );
  }
  return out;
}
