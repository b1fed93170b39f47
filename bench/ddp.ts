/**
 * Distributed data parallel scaling: one training run of global batch 2B in one process against the same in two
 * processes of batch B (each with half the cores, as `--nproc-per-node 2` gives them), on the same pairs, timed from
 * the end of the first step to the end of the last; and the share of a step the ranks spent averaging gradients
 * without overlap (the reductions run during backward as their buckets complete; what is left is waited for).
 */
import { spawn } from "node:child_process";
import { availableParallelism, tmpdir } from "node:os";
import { writeFile, rm } from "node:fs/promises";
import { join } from "node:path";

import { native } from "../lib/native.js";
import { BENCH_DIR, fmt, fmtRatio, log, ratio, REPO_ROOT, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { makePairs } from "./corpus.js";
import { MODEL_SPECS } from "./models.js";

export interface DdpRun {
  processes: number;
  batchPerProcess: number;
  threadsPerProcess: number;
  pairsPerSecond: number;
  /** Of rank 0's step time: gradient averaging not overlapped by computation. */
  communicationShare: number;
}

export interface DdpResult {
  model: ModelName;
  steps: number;
  single: DdpRun;
  ddp: DdpRun;
}

function rank(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, "child.ts"), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (err += b));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`child.ts ${args.join(" ")} exited with ${code}: ${err}`))));
  });
}

async function run(dir: string, processes: number, batch: number, steps: number, pairsFile: string, port: number): Promise<DdpRun> {
  const threads = Math.max(1, Math.floor(availableParallelism() / processes));
  const outs = await Promise.all(
    Array.from({ length: processes }, (_, r) =>
      rank(["ddp", dir, String(batch), String(steps), pairsFile], {
        OMP_NUM_THREADS: String(threads),
        ...(processes > 1 && { RANK: String(r), LOCAL_RANK: String(r), WORLD_SIZE: String(processes), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) }),
      }),
    ),
  );
  const line = outs.map((o) => o.trim()).find((o) => o.startsWith("{"));
  if (line === undefined) throw new Error("no rank reported");
  const r = JSON.parse(line) as { seconds: number; steps: number; communicationSeconds: number };
  return {
    processes,
    batchPerProcess: batch,
    threadsPerProcess: threads,
    pairsPerSecond: (r.steps * batch * processes) / r.seconds,
    communicationShare: r.communicationSeconds / r.seconds,
  };
}

export async function runDdp(ctx: BenchContext): Promise<DdpResult[]> {
  if (!native().distributedAvailable()) throw new Error("this build has no distributed training (Gloo's headers were missing at build time)");
  const model: ModelName = ctx.opts.models.includes("minilm") ? "minilm" : ctx.opts.models[0]!;
  const folder = await ctx.folder(model);
  const steps = ctx.opts.quick ? 4 : 9;
  const batch = 16;
  const pairsFile = join(tmpdir(), `sbert-bench-ddp-${process.pid}.json`);
  await writeFile(pairsFile, JSON.stringify(makePairs(ctx.sentences, 2 * batch * steps, 5)));
  try {
    log(`ddp: ${MODEL_SPECS[model].label}, CosineSimilarityLoss, global batch ${2 * batch}: 1 process vs 2 × ${batch}, ${steps} steps`);
    const single = await run(folder.dir, 1, 2 * batch, steps, pairsFile, 0);
    const ddp = await run(folder.dir, 2, batch, steps, pairsFile, 29400 + (process.pid % 500));
    log(`  1 process ${fmt(single.pairsPerSecond)} pairs/s, 2 processes ${fmt(ddp.pairsPerSecond)} pairs/s → ${fmtRatio(ratio(ddp.pairsPerSecond, single.pairsPerSecond))}; communication ${fmt(100 * ddp.communicationShare, 1)}% of a step`);
    return [{ model, steps, single, ddp }];
  } finally {
    await rm(pairsFile, { force: true });
  }
}
