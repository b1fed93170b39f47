/**
 * The CPU kernels' paths side by side on this host: one thread, the library's shapes, each instruction set's path
 * measured in turn (A/B, several rounds; the median of the rounds). Prints the CPU, its ISA flags and, per shape,
 * each path's rate and the ratio of the best path to AVX2.
 *
 *   npx tsx bench/kernels.ts [--rounds 3] [--seconds 0.15] [--quick]
 *
 * Products (multiply_panels): rows 1, 8, 25, 64, 128 over MiniLM's 384→1536 and 1536→384 and BERT-base's 768→768,
 * 768→3072 and 3072→768, GFLOP/s (2·m·k·n per product); "cold" cycles through enough weight copies (≥ 64 MiB) that
 * each product reads its weights from memory, as a model's forward pass does; "hot" reuses one, in cache.
 * int8 (quantize_rows + multiply_panels_int8): the same shapes, cold, GOP/s. Attention: padded batches of
 * L = 32, 128, 512 at MiniLM's (12 heads of 32) and BERT-base's (12 of 64) head shapes, GFLOP/s (4·L²·d per
 * sentence and head). Each measurement is the fastest 2 ms burst of calls within its time (other work on a shared
 * machine only slows bursts down); the load average is printed before and after.
 */
import { loadavg } from "node:os";

import { native } from "../lib/native.js";
import type { KernelBenchmarkInput, KernelIsa, TestingKernels } from "../types/testingKernels.js";
import { cpuDescription } from "./common.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = args.includes("--quick");
const rounds = option("rounds", quick ? 1 : 3);
const seconds = option("seconds", quick ? 0.05 : 0.15);

const K = (native()._testing as unknown as { kernels?: TestingKernels }).kernels;
if (!K) throw new Error("this addon build has no _testing.kernels (native/js/addon.cc registers them)");
const features = K.features();
const paths = features.supported.filter((isa) => isa !== "generic");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Rate (ops per second / 1e9) of each path, the median over the rounds, the paths taking turns within each round. */
function measure(ops: number, isas: KernelIsa[], spec: (isa: KernelIsa) => KernelBenchmarkInput): Map<KernelIsa, number> {
  const rates = new Map<KernelIsa, number[]>(isas.map((isa) => [isa, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? isas : [...isas].reverse();
    for (const isa of order) {
      // The fastest burst's rate: on a shared machine other work only slows bursts down.
      const { bestSecondsPerCall } = K!.benchmark(spec(isa));
      rates.get(isa)!.push(ops / bestSecondsPerCall / 1e9);
    }
  }
  return new Map([...rates].map(([isa, xs]) => [isa, median(xs)]));
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function row(label: string, rates: Map<KernelIsa, number>): string {
  const cells = paths.map((isa) => fmt(rates.get(isa) ?? NaN));
  const avx2 = rates.get("avx2");
  const best = paths.at(-1)!;
  const ratio = avx2 && best !== "avx2" ? `${(rates.get(best)! / avx2).toFixed(2)}x` : "";
  return `| ${label} | ${cells.join(" | ")} | ${ratio} |`;
}

const header = (first: string) =>
  [`| ${first} | ${paths.join(" | ")} | ${paths.at(-1)} / avx2 |`, `| --- | ${paths.map(() => "---:").join(" | ")} | ---: |`].join("\n");

const SHAPES: { name: string; k: number; n: number }[] = [
  { name: "MiniLM 384→1536", k: 384, n: 1536 },
  { name: "MiniLM 1536→384", k: 1536, n: 384 },
  { name: "BERT-base 768→768", k: 768, n: 768 },
  { name: "BERT-base 768→3072", k: 768, n: 3072 },
  { name: "BERT-base 3072→768", k: 3072, n: 768 },
];
const ROWS = quick ? [1, 25, 128] : [1, 8, 25, 64, 128];
const coldCopies = (k: number, n: number, bytesPer: number) => Math.min(256, Math.ceil((64 << 20) / (k * n * bytesPer)));

const cpu = cpuDescription();
console.log(`# sbert-node kernels on ${cpu.model}`);
console.log(`ISA flags: ${cpu.flags.join(" ") || "none of interest"}`);
console.log(`kernel paths: ${features.supported.join(", ")} (best ${features.best}; VNNI ${features.vnni}; AVX512_BF16 ${features.avx512Bf16})`);
console.log(`one thread; ${rounds} round(s) of ${seconds} s per path and shape, paths in turn; load average before: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

for (const cache of ["cold", "hot"] as const) {
  console.log(`\n## float32 products (multiply_panels), GFLOP/s, weights ${cache}\n`);
  console.log(header("shape, rows"));
  for (const { name, k, n } of SHAPES) {
    for (const m of ROWS) {
      const copies = cache === "cold" ? coldCopies(k, n, 4) : 1;
      const rates = measure(2 * m * k * n, paths, (isa) => ({ kernel: "multiply_panels", isa, seconds, m, k, n, copies }));
      console.log(row(`${name}, ${m}`, rates));
    }
  }
}

console.log(`\n## int8 products (quantize_rows + multiply_panels_int8), GOP/s, weights cold\n`);
console.log(header("shape, rows"));
for (const { name, k, n } of SHAPES) {
  for (const m of ROWS) {
    const copies = coldCopies(k, n, 1);
    const rates = measure(2 * m * k * n, paths, (isa) => ({ kernel: "multiply_panels_int8", isa, seconds, m, k, n, copies }));
    console.log(row(`${name}, ${m}`, rates));
  }
}

console.log(`\n## attention, GFLOP/s\n`);
console.log(header("heads x d, L, batch"));
for (const headDim of [32, 64]) {
  for (const [seqLen, batch] of [
    [32, 16],
    [128, 4],
    [512, 1],
  ] as const) {
    const heads = 12;
    const rates = measure(4 * seqLen * seqLen * headDim * heads * batch, paths, (isa) => ({
      kernel: "attention",
      isa,
      seconds,
      batch,
      seqLen,
      heads,
      headDim,
    }));
    console.log(row(`${heads} x ${headDim}, ${seqLen}, ${batch}`, rates));
  }
}
console.log(`\nload average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
