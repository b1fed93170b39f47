/**
 * The report: targets with pass/fail from what was measured, one table per measurement group, written as JSON
 * and Markdown to bench/results/ (a timestamped pair and latest.json / latest.md).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

import { fmt, fmtRatio, ratio, RESULTS_DIR, type BenchOptions, type CpuDescription, type Float32Peak, type ModelName } from "./common.js";
import type { Engine, EncodeResults, WorkloadResult } from "./encode.js";
import type { Int8Result } from "./int8.js";
import type { LagResult } from "./eventloop.js";
import type { RooflineResult } from "./gemm.js";
import type { LongResult } from "./long.js";
import type { MemoryResult } from "./memory.js";
import { MODEL_SPECS } from "./models.js";
import type { ServeResult } from "./serve.js";
import type { StartupResult } from "./startup.js";
import type { TokenizeResult } from "./tokenize.js";
import type { TrainResult } from "./train.js";
import type { DdpResult } from "./ddp.js";

export interface BenchResults {
  startedAt: string;
  options: BenchOptions;
  seconds: number;
  environment: Record<string, unknown>;
  /** The CPU and the float32 peak the report measures engines against. */
  host: { cpu: CpuDescription; peak: Float32Peak };
  encode?: EncodeResults;
  int8?: Int8Result[];
  train?: TrainResult[];
  ddp?: DdpResult[];
  tokenize?: TokenizeResult[];
  eventloop?: LagResult[];
  memory?: MemoryResult[];
  long?: LongResult[];
  startup?: StartupResult[];
  serve?: ServeResult[];
  gemm?: RooflineResult[];
  errors: { group: string; error: string }[];
}

export interface Target {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

const label = (m: ModelName) => MODEL_SPECS[m].label;
const pct = (share: number, digits = 1) => (Number.isFinite(share) ? `${fmt(100 * share, digits)}%` : "–");

function workload(r: BenchResults, m: ModelName, id: WorkloadResult["workload"]): WorkloadResult | undefined {
  return r.encode?.workloads.find((w) => w.model === m && w.workload === id);
}

/** Tokenization seconds of one pass over a workload (cold or warm), over sbert-node's encode seconds for it. */
function tokenizeShare(r: BenchResults, t: TokenizeResult, which: "cold" | "warm" = "cold"): number {
  const w = workload(r, t.model, t.workload);
  const s = w?.engines.sbert;
  const tok = which === "cold" ? t.coldSecondsPerPass : t.warmSecondsPerPass;
  return s ? tok / (s.seconds / s.passes) : NaN;
}

/**
 * Matmul FLOPs an engine computes in one pass: sbert-node the real tokens only, the others the padded batches
 * (sentence-transformers pads its own length-sorted batches of the same size, which match these but for ties).
 */
function executedFlops(w: WorkloadResult, e: Engine): number {
  return e === "sbert" ? w.usefulFlops : w.paddedFlops;
}

/** An engine's matmul GFLOP/s on a workload over the host's float32 peak. */
function peakShare(r: BenchResults, w: WorkloadResult, e: Engine): number {
  const run = w.engines[e];
  return run ? ((executedFlops(w, e) / w.items) * run.perSecond) / 1e9 / r.host.peak.gflops : NaN;
}

/** Workloads whose time is mostly large matrix products (batch 1 is bound by reading the weights). */
const GEMM_HEAVY: WorkloadResult["workload"][] = ["b32", "b128", "long8"];
const ENGINES: Engine[] = ["sbert", "torch", "ort", "st"];
const ENGINE_LABEL: Record<Engine, string> = { sbert: "sbert-node", torch: "PyTorch eager", ort: "ORT", st: "ST" };

function roofline(r: BenchResults, m: ModelName, id: WorkloadResult["workload"]): RooflineResult | undefined {
  return r.gemm?.find((g) => g.model === m && g.workload === id);
}

export function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const check = (target: string, value: number, limit: number, higherIsBetter: boolean, show: (v: number) => string) =>
    out.push({ target, measured: show(value), pass: Number.isFinite(value) ? (higherIsBetter ? value >= limit : value <= limit) : undefined });
  for (const m of r.options.models) {
    const b32 = workload(r, m, "b32");
    if (b32) {
      const e = b32.engines;
      check(`${label(m)}: encode batch 32 ≥ 1.0× ORT`, ratio(e.sbert?.perSecond, e.ort?.perSecond), 1.0, true, fmtRatio);
      check(`${label(m)}: encode batch 32 ≥ 3× PyTorch eager`, ratio(e.sbert?.perSecond, e.torch?.perSecond), 3.0, true, fmtRatio);
    }
    const b1 = workload(r, m, "b1");
    if (b1) {
      const s = b1.engines.sbert?.p50Ms ?? NaN;
      const o = b1.engines.ort?.p50Ms ?? NaN;
      out.push({ target: `${label(m)}: batch 1 latency (p50) ≤ ORT's`, measured: `${fmt(s, 2)} ms vs ${fmt(o, 2)} ms`, pass: Number.isFinite(s / o) ? s <= o : undefined });
    }
    const b128 = workload(r, m, "b128");
    if (b128) check(`${label(m)}: encode batch 128 matmuls ≥ 80% of the host's float32 peak`, peakShare(r, b128, "sbert"), 0.8, true, (v) => pct(v, 0));
  }
  for (const q of r.int8 ?? []) {
    const b32 = q.workloads.find((w) => w.workload === "b32");
    if (b32) check(`${label(q.model)}: int8 encode batch 32 ≥ 2× ORT float32`, ratio(b32.int8.perSecond, b32.ort.perSecond), 2.0, true, fmtRatio);
    check(`${label(q.model)}: int8 mean cosine to float32 ≥ 0.99`, q.meanCosine, 0.99, true, (v) => v.toFixed(4));
  }
  for (const t of r.train ?? []) {
    check(`${label(t.model)}: training ${t.loss} batch ${t.batchSize} ≥ 1.5× PyTorch eager`, ratio(t.sbert.pairsPerSecond, t.torch.pairsPerSecond), 1.5, true, fmtRatio);
  }
  for (const t of r.tokenize ?? []) {
    if (t.workload !== "b32") continue;
    check(`${label(t.model)}: tokenization ≤ 10% of encode time (batch 32, cold tokenizer)`, tokenizeShare(r, t), 0.1, false, (v) => pct(v, 2));
  }
  for (const sv of r.serve ?? []) {
    const at64 = sv.levels.find((l) => l.clients === 64);
    if (at64) {
      check(`${label(sv.model)}: HTTP server within 10% of in-process throughput at 64 clients`, ratio(at64.server.textsPerSecond, at64.inProcess.textsPerSecond), 0.9, true, fmtRatio);
    }
  }
  if (r.eventloop?.length) {
    const worst = Math.max(...r.eventloop.map((l) => l.p99Ms));
    check("event-loop lag p99 ≤ 20 ms during encode (worst workload)", worst, 20, false, (v) => `${fmt(v, 2)} ms`);
  }
  for (const mem of r.memory ?? []) {
    check(`${label(mem.model)}: peak RSS (above the process before loading) ≤ 1.3× (weights + one batch's activations)`, mem.ratio, 1.3, false, (v) => `${v.toFixed(2)}×`);
  }
  return out;
}

function hostLines({ cpu, peak: p }: BenchResults["host"]): string[] {
  const kernelLanes: Record<string, number> = { avx512: 16, avx2: 8 };
  const narrower = (kernelLanes[p.kernelIsa] ?? 1) < p.lanes ? `, ${kernelLanes[p.kernelIsa] ?? "scalar"} lanes: narrower than the peak assumes` : "";
  return [
    `- Host: ${cpu.model} (${cpu.vendor}, family ${cpu.family}, model ${cpu.modelNumber}); ISA flags: ${cpu.flags.join(" ") || "none of avx2, fma, avx512*, amx*, avx_vnni*"}`,
    `- float32 peak assumed: **${fmt(p.gflops, 0)} GFLOP/s** = ${p.lanes} lanes (${p.isa}: the widest float32 FMA set the CPU reports) × 2 FLOP per FMA ` +
      `× ${p.fmaPerCycle} FMA per cycle (${p.fmaWhy}; an assumption by family, not measured) × ${fmt(p.ghz, 2)} GHz (${p.clockWhy}) × ${p.cores} cores (${p.coresWhy}). ` +
      `sbert-node's own kernels run ${p.kernelIsa} here (backendInfo().kernelIsa${narrower}).`,
  ];
}

/** A Markdown table: the first `left` columns are labels (left-aligned), the rest numbers. */
function table(head: string[], rows: string[][], left = 2): string {
  const align = head.map((_, i) => (i < left ? " --- " : " ---: ")).join("|");
  return [`| ${head.join(" | ")} |`, `|${align}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export function markdown(r: BenchResults): string {
  const env = r.environment as Record<string, string>;
  const lines: string[] = [];
  lines.push(`# sbert-node benchmark, ${r.startedAt}`);
  lines.push("");
  lines.push(...hostLines(r.host));
  lines.push("");
  lines.push(`Run took **${r.seconds.toFixed(0)} s** (${r.options.quick ? "--quick" : "full"}; groups: ${r.options.only.join(", ")}; models: ${r.options.models.join(", ")}).`);
  lines.push("");
  lines.push(`- Machine: ${env["cpu"]}, ${env["cores"]} cores, ${env["memoryGiB"]} GiB; load average ${env["loadStart"]} at start, ${env["loadEnd"]} at end`);
  lines.push(`- Versions: Node ${env["node"]}, libtorch ${env["libtorch"]} (addon) / torch ${env["torch"]} (Python), onnxruntime-node ${env["onnxruntime"]}, sentence-transformers ${env["sentenceTransformers"] ?? "–"}`);
  lines.push(`- Threads: ${env["threads"]}`);
  lines.push(`- Other processes on the machine used ${env["otherCpu"]} during the run; hypervisor steal ${env["steal"]}`);
  if ((env["otherShare"] as unknown as number) > 0.1) {
    lines.push("");
    lines.push(
      "**Other work took more than 10% of the machine during this run: the numbers below are skewed " +
        "(ORT's spinning thread pool suffers most); rerun on a quiet machine.**",
    );
  }
  lines.push("");

  const t = targets(r);
  if (t.length) {
    lines.push("## Targets");
    lines.push("");
    lines.push(table(["Target", "Measured", "Result"], t.map((x) => [x.target, x.measured, x.pass === undefined ? "n/a" : x.pass ? "pass" : "**fail**"]), 1));
    lines.push("");
  }

  if (r.encode) {
    lines.push("## Encode");
    lines.push("");
    lines.push(
      "Outputs before timing (64 sentences at batch 32, 2 documents): on the same token ids for sbert-node, PyTorch eager and ORT; " +
        "sentence-transformers (ST) from the same strings, through its own tokenizer:",
    );
    lines.push("");
    lines.push(
      table(
        ["Model", "max abs diff sbert–torch", "ORT–torch", "sbert–ORT", "ST–sbert", "ST–sbert lowest cosine", "largest value"],
        r.encode.agreement.map((a) => [
          label(a.model),
          a.sbertVsTorch.toExponential(1),
          a.ortVsTorch.toExponential(1),
          a.sbertVsOrt.toExponential(1),
          a.stVsSbert.toExponential(1),
          a.stMinCosine.toFixed(6),
          a.maxAbsValue.toFixed(2),
        ]),
        1,
      ),
    );
    lines.push("");
    lines.push(
      "Throughput in texts/s (higher is better); ratios are sbert-node over the reference. " +
        "sbert-node and sentence-transformers (ST, Python, `model.encode(texts, batch_size=B)`, same intra-op threads as PyTorch eager) take the strings " +
        "and tokenize inside their time; PyTorch eager and ORT get sbert-node's token batches. \"ST tokenize\" is the share of ST's time per text that " +
        "its tokenization alone takes (`model.preprocess` on the batches encode forms, one pass after the timed ones). " +
        "GEMM % is the share of the matmul-only bound (GEMM section: the matmuls of the padded batches) each engine reaches; " +
        "sbert-node computes the real tokens only (padded/real tokens), PyTorch eager and ORT the padded batches.",
    );
    lines.push("");
    const otherThreads = r.options.torchThreads === 1 ? 2 : 1;
    const rows = r.encode.workloads.map((w) => {
      const e = w.engines;
      const g = roofline(r, w.model, w.workload);
      const frac = (x?: number) => (g && x ? `${fmt((100 * x) / g.boundPerSecond, 0)}%` : "–");
      return [
        label(w.model),
        w.label,
        fmt(e.sbert?.perSecond),
        fmt(e.torch?.perSecond),
        fmt(e.ort?.perSecond),
        fmt(e.st?.perSecond),
        fmtRatio(ratio(e.sbert?.perSecond, e.torch?.perSecond)),
        fmtRatio(ratio(e.sbert?.perSecond, e.ort?.perSecond)),
        fmtRatio(ratio(e.sbert?.perSecond, e.st?.perSecond)),
        pct(e.st?.tokenizeShare ?? NaN),
        w.workload === "b1" ? ENGINES.map((x) => fmt(e[x]?.p50Ms, 2)).join(" / ") : "",
        g ? ENGINES.map((x) => frac(e[x]?.perSecond)).join(" / ") : "",
        fmt(w.paddedTokens / w.realTokens, 2),
        w.otherThreads
          ? `${fmt(w.otherThreads.sbert?.perSecond)} / ${fmt(w.otherThreads.torch?.perSecond)}` +
            (w.workload === "b1" ? ` (p50 ${fmt(w.otherThreads.sbert?.p50Ms, 2)} / ${fmt(w.otherThreads.torch?.p50Ms, 2)} ms)` : "")
          : "",
      ];
    });
    lines.push(
      table(
        [
          "Model",
          "Workload",
          "sbert-node",
          "PyTorch eager",
          "ORT",
          "ST",
          "vs torch",
          "vs ORT",
          "vs ST",
          "ST tokenize",
          "p50 ms (sbert/torch/ORT/ST)",
          "GEMM % (sbert/torch/ORT/ST)",
          "padded/real tokens",
          `${otherThreads} threads: sbert / torch`,
        ],
        rows,
      ),
    );
    lines.push("");
    lines.push(
      "Per-text cost (matmul FLOPs on the real tokens: 2·params·tokens + QKᵀ and PV), what each engine achieves, and how many of the " +
        "2 cores each engine's process kept busy (CPU time / wall time; in brackets the share of it spent in the kernel, and minor page " +
        "faults per text, i.e. fresh 4 KiB pages the kernel zero-filled):",
    );
    lines.push("");
    const cores = (e?: { cores: number; sysShare: number; faultsPerItem: number }) =>
      e ? `${fmt(e.cores, 2)} (${fmt(100 * e.sysShare, 0)}%, ${fmt(e.faultsPerItem, 0)})` : "–";
    lines.push(
      table(
        ["Model", "Workload", "mean tokens", "GFLOP per text", "sbert GFLOP/s", "torch GFLOP/s", "ORT GFLOP/s", "ST GFLOP/s", "cores busy (sys %, faults/text): sbert", "torch", "ORT", "ST"],
        r.encode.workloads.map((w) => {
          const per = w.usefulFlops / w.items;
          const g = (x?: number) => fmt(x ? (x * per) / 1e9 : undefined);
          const e = w.engines;
          return [
            label(w.model),
            w.label,
            fmt(w.realTokens / w.items),
            fmt(per / 1e9, 2),
            g(e.sbert?.perSecond),
            g(e.torch?.perSecond),
            g(e.ort?.perSecond),
            g(e.st?.perSecond),
            cores(e.sbert),
            cores(e.torch),
            cores(e.ort),
            cores(e.st),
          ];
        }),
      ),
    );
    lines.push("");
    const heavy = r.encode.workloads.filter((w) => GEMM_HEAVY.includes(w.workload));
    if (heavy.length) {
      lines.push(
        `Matmul rate against the host's float32 peak (${fmt(r.host.peak.gflops, 0)} GFLOP/s, top of the report), on the workloads that are mostly large products: ` +
          "the matmul FLOPs each engine computes (sbert-node the real tokens, the others the padded batches) per second, and that over the peak.",
      );
      lines.push("");
      lines.push(
        table(
          ["Model", "Workload", "GFLOP per text (real / padded)", ...ENGINES.map((x) => `${ENGINE_LABEL[x]} GFLOP/s (% of peak)`)],
          heavy.map((w) => [
            label(w.model),
            w.label,
            `${fmt(w.usefulFlops / w.items / 1e9, 2)} / ${fmt(w.paddedFlops / w.items / 1e9, 2)}`,
            ...ENGINES.map((x) => {
              const share = peakShare(r, w, x);
              return Number.isFinite(share) ? `${fmt(share * r.host.peak.gflops)} (${pct(share, 0)})` : "–";
            }),
          ]),
        ),
      );
      lines.push("");
      if (heavy.some((w) => ENGINES.some((x) => peakShare(r, w, x) > 1))) {
        lines.push("**A rate above is over the assumed peak: one of its factors (FMA per cycle, clock) is too low for this host.**");
        lines.push("");
      }
    }
  }

  if (r.int8?.length) {
    lines.push("## int8 inference (opt-in: `model.quantize(\"int8\")`)");
    lines.push("");
    lines.push("int8 linear layers, weights per output channel: under 64 tokens in a batch on sbert-node's int8 kernel (activations per token), else oneDNN's dynamic quantization (activations per batch); against onnxruntime-node in float32 on the same texts; agreement is the cosine of each int8 embedding with its float32 one.");
    lines.push("");
    lines.push(
      table(
        ["Model", "Workload", "sbert-node int8", "ORT float32", "ratio", "p50 ms (int8 / ORT)", "cosine to float32 (mean / min)"],
        r.int8.flatMap((q) =>
          q.workloads.map((w) => [
            label(q.model),
            w.label,
            fmt(w.int8.perSecond),
            fmt(w.ort.perSecond),
            fmtRatio(ratio(w.int8.perSecond, w.ort.perSecond)),
            w.int8.p50Ms !== undefined ? `${fmt(w.int8.p50Ms, 2)} / ${fmt(w.ort.p50Ms, 2)}` : "",
            `${q.meanCosine.toFixed(4)} / ${q.minCosine.toFixed(4)}`,
          ]),
        ),
      ),
    );
    lines.push("");
    const bf16 = r.int8.filter((q) => q.bf16);
    if (bf16.length) {
      lines.push("bf16 inference (opt-in: `model.quantize(\"bf16\")`, on CPUs with AVX512_BF16 or AMX-BF16): bf16 weights and linear-layer inputs, float32 sums and outputs, the rest of the model in float32; against sbert-node in float32 on the same texts.");
      lines.push("");
      lines.push(
        table(
          ["Model", "Workload", "sbert-node bf16", "sbert-node float32", "ratio", "p50 ms (bf16 / float32)", "cosine to float32 (mean / min)"],
          bf16.flatMap((q) =>
            q.workloads
              .filter((w) => w.bf16 && w.float32)
              .map((w) => [
                label(q.model),
                w.label,
                fmt(w.bf16!.perSecond),
                fmt(w.float32!.perSecond),
                fmtRatio(ratio(w.bf16!.perSecond, w.float32!.perSecond)),
                w.bf16!.p50Ms !== undefined ? `${fmt(w.bf16!.p50Ms, 2)} / ${fmt(w.float32!.p50Ms, 2)}` : "",
                `${q.bf16!.meanCosine.toFixed(6)} / ${q.bf16!.minCosine.toFixed(6)}`,
              ]),
          ),
        ),
      );
      lines.push("");
    }
  }

  if (r.train?.length) {
    lines.push("## Training");
    lines.push("");
    lines.push(
      table(
        ["Model", "Loss", "batch", "rounds × steps", "padded/real tokens", "sbert-node pairs/s", "PyTorch eager pairs/s", "ratio", "cores busy (sys %, faults/pair): sbert", "torch"],
        r.train.map((x) => {
          const cores = (t: { cpuUserS: number; cpuSysS: number; seconds: number; minorFaults: number }) =>
            `${fmt((t.cpuUserS + t.cpuSysS) / t.seconds, 2)} (${fmt((100 * t.cpuSysS) / (t.cpuUserS + t.cpuSysS), 0)}%, ${fmt(t.minorFaults / (x.steps * x.batchSize), 0)})`;
          return [
            label(x.model),
            x.loss,
            String(x.batchSize),
            `${x.rounds} × ${x.steps}`,
            fmt(x.paddedPerReal, 2),
            fmt(x.sbert.pairsPerSecond, 2),
            fmt(x.torch.pairsPerSecond, 2),
            fmtRatio(ratio(x.sbert.pairsPerSecond, x.torch.pairsPerSecond)),
            cores(x.sbert),
            cores(x.torch),
          ];
        }),
      ),
    );
    lines.push("");
  }

  if (r.ddp?.length) {
    lines.push("## Distributed training (DDP, Gloo on 127.0.0.1)");
    lines.push("");
    lines.push(
      table(
        ["Model", "steps", "1 process: batch, threads, pairs/s", "2 processes: batch, threads each, pairs/s", "scaling", "communication share of a step (not overlapped)"],
        r.ddp.map((x) => [
          label(x.model),
          String(x.steps),
          `${x.single.batchPerProcess}, ${x.single.threadsPerProcess}, ${fmt(x.single.pairsPerSecond, 1)}`,
          `${x.ddp.batchPerProcess}, ${x.ddp.threadsPerProcess}, ${fmt(x.ddp.pairsPerSecond, 1)}`,
          fmtRatio(ratio(x.ddp.pairsPerSecond, x.single.pairsPerSecond)),
          pct(x.ddp.communicationShare, 1),
        ]),
      ),
    );
    lines.push("");
  }

  if (r.tokenize?.length) {
    lines.push("## Tokenization");
    lines.push("");
    lines.push(
      table(
        ["Model", "Workload", "cold texts/s", "warm texts/s", "warm k tokens/s", "share of sbert encode time (cold / warm)"],
        r.tokenize.map((x) => [
          label(x.model),
          x.workload === "b32" ? "sentences, batch 32" : "documents, batch 8",
          fmt(x.items / x.coldSecondsPerPass),
          fmt(x.itemsPerSecond),
          fmt(x.tokensPerSecond / 1e3),
          `${pct(tokenizeShare(r, x, "cold"), 2)} / ${pct(tokenizeShare(r, x, "warm"), 2)}`,
        ]),
      ),
    );
    lines.push("");
  }

  if (r.eventloop?.length) {
    lines.push("## Event-loop lag during encode (1 ms interval)");
    lines.push("");
    lines.push(
      table(
        ["Model", "Encode call", "seconds", "ticks", "p50 ms", "p99 ms", "max ms"],
        r.eventloop.map((x) => [label(x.model), x.workload, fmt(x.encodeSeconds, 1), String(x.ticks), fmt(x.p50Ms, 2), fmt(x.p99Ms, 2), fmt(x.maxMs, 1)]),
      ),
    );
    lines.push("");
  }

  if (r.memory?.length) {
    lines.push("## Peak RSS (fresh process, 8 longest documents at batch 8)");
    lines.push("");
    lines.push(
      table(
        [
          "Model",
          "baseline MiB",
          "after load MiB",
          "load peak +MiB",
          "first encode +MiB",
          "peak MiB",
          "weights MiB",
          "activations MiB (est.)",
          "(peak − baseline) / (w + a)",
          "peak / (w + a)",
        ],
        r.memory.map((x) => [
          label(x.model),
          fmt(x.baselineRssMiB),
          fmt(x.afterLoadRssMiB),
          fmt(x.loadPeakMiB),
          fmt(x.firstEncodeMiB),
          fmt(x.peakRssMiB),
          fmt(x.weightsMiB),
          `${fmt(x.activationsMiB)} (8×${x.seqLength})`,
          `${x.ratio.toFixed(2)}×`,
          `${x.ratioWholeProcess.toFixed(2)}×`,
        ]),
        1,
      ),
    );
    lines.push("");
  }

  if (r.long?.length) {
    lines.push(`## Long documents (Qwen3 shape 4×512, GQA 8/2 heads, causal; one document per encode, fresh process per length; reference: ${r.long[0]!.referenceLabel})`);
    lines.push("");
    lines.push(
      table(
        ["Tokens", "sbert-node ms", "tokens/s", "reference ms", "tokens/s", "sbert-node / reference", "peak +MiB sbert-node", "peak +MiB reference"],
        r.long.map((x) => [
          String(x.tokens),
          fmt(x.sbertMs, 0),
          fmt((x.tokens * 1000) / x.sbertMs, 0),
          fmt(x.referenceMs, 0),
          fmt((x.tokens * 1000) / x.referenceMs, 0),
          `${x.ratio.toFixed(2)}×`,
          fmt(x.sbertPeakMiB),
          fmt(x.referencePeakMiB),
        ]),
        1,
      ),
    );
    lines.push("");
  }

  if (r.startup?.length) {
    lines.push("## Time to first embedding (fresh process, median)");
    lines.push("");
    lines.push(
      table(
        ["Model", "runs", "wall ms", "node + tsx ms", "import ms", "load ms", "first encode ms"],
        r.startup.map((x) => [label(x.model), String(x.runs), fmt(x.wallMs, 0), fmt(x.nodeStartMs, 0), fmt(x.importMs, 0), fmt(x.loadMs, 0), fmt(x.firstEncodeMs, 0)]),
        1,
      ),
    );
    lines.push("");
  }

  for (const sv of r.serve ?? []) {
    lines.push(`## HTTP serving (\`sbert-node serve\`, ${label(sv.model)})`);
    lines.push("");
    lines.push(
      `The server in its own process on 127.0.0.1 (--max-batch-size ${sv.maxBatchSize}, --max-wait-ms ${sv.maxWaitMs}), ` +
        `clients in the benchmark process (node:http, keep-alive, base64 embeddings), each sending requests of ${sv.textsPerRequest[0]}–${sv.textsPerRequest[1]} ` +
        "sentences back to back. In process: `model.encode` on the same requests, as many at a time as there are clients, their texts in order " +
        `in calls of at most ${sv.maxBatchSize} (what the micro-batcher forms when that many requests are queued), one call at a time; a request's ` +
        "latency there is until the call holding its last text returns. The server's clients share the CPU with it. " +
        `Its embeddings of ${sv.agreement.requests} requests against in-process encode: max abs diff ${sv.agreement.maxAbsDiff.toExponential(1)}.`,
    );
    lines.push("");
    lines.push(
      table(
        ["Clients", "server req/s", "server texts/s", "server p50 / p99 ms", "texts per forward pass", "in-process req/s", "in-process texts/s", "in-process p50 / p99 ms", "server / in-process (texts/s)"],
        sv.levels.map((l) => [
          String(l.clients),
          fmt(l.server.requestsPerSecond),
          fmt(l.server.textsPerSecond),
          `${fmt(l.server.p50Ms, 2)} / ${fmt(l.server.p99Ms, 2)}`,
          fmt(l.serverTextsPerBatch),
          fmt(l.inProcess.requestsPerSecond),
          fmt(l.inProcess.textsPerSecond),
          `${fmt(l.inProcess.p50Ms, 2)} / ${fmt(l.inProcess.p99Ms, 2)}`,
          fmtRatio(ratio(l.server.textsPerSecond, l.inProcess.textsPerSecond)),
        ]),
        1,
      ),
    );
    lines.push("");
  }

  if (r.gemm?.length) {
    lines.push("## GEMM roofline (PyTorch in Python on the same libtorch and its BLAS, standing in for the addon)");
    lines.push("");
    const threads = [...new Set(r.gemm.flatMap((g) => g.rates.map((x) => x.threads)))];
    const names = [...new Set(r.gemm.flatMap((g) => g.rates.map((x) => x.name)))];
    lines.push(
      `GFLOP/s of each matmul shape at ${threads.map((t) => `${t}`).join(" / ")} intra-op thread(s); M = tokens per batch (B·L, padded). ` +
        "The bound is the time the matmuls of one pass need at the best of those rates.",
    );
    lines.push("");
    lines.push(
      table(
        ["Model", "Workload", "M", ...names, "bound texts/s", "bound GFLOP/s"],
        r.gemm.map((g) => [
          label(g.model),
          g.workload === "b1" ? "sentences, batch 1" : g.workload === "b32" ? "sentences, batch 32" : "documents, batch 8",
          String(g.tokensPerBatch),
          ...names.map((n) => threads.map((t) => fmt(g.rates.find((x) => x.name === n && x.threads === t)?.gflops, 0)).join(" / ")),
          fmt(g.boundPerSecond),
          fmt(g.boundGflops),
        ]),
      ),
    );
    lines.push("");
  }

  if (r.errors.length) {
    lines.push("## Errors");
    lines.push("");
    for (const e of r.errors) lines.push(`- ${e.group}: ${e.error.split("\n")[0]}`);
    lines.push("");
  }
  return lines.join("\n");
}

export async function writeReport(r: BenchResults): Promise<{ json: string; md: string; text: string }> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, "-");
  const text = markdown(r);
  const json = JSON.stringify(r, null, 2);
  const jsonPath = join(RESULTS_DIR, `bench-${stamp}.json`);
  const mdPath = join(RESULTS_DIR, `bench-${stamp}.md`);
  await writeFile(jsonPath, json);
  await writeFile(mdPath, text);
  await writeFile(join(RESULTS_DIR, "latest.json"), json);
  await writeFile(join(RESULTS_DIR, "latest.md"), text);
  return { json: jsonPath, md: mdPath, text };
}

export function machine(): { cpu: string; cores: number; memoryGiB: string } {
  const c = cpus();
  return { cpu: c[0]?.model ?? "?", cores: c.length, memoryGiB: (totalmem() / 2 ** 30).toFixed(0) };
}
