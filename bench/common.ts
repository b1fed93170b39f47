/**
 * Shared pieces of the benchmark: options, the timing loop every engine follows, statistics, process memory,
 * and the shape of a token batch as it is passed between engines.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(BENCH_DIR, "..");
export const RESULTS_DIR = join(BENCH_DIR, "results");
export const MODELS_DIR = join(RESULTS_DIR, "models");
/**
 * The Python reference environment made by `node scripts/setup.cjs --bench` (torch, onnx; recorded in
 * build/python.json), not whatever is first on PATH.
 */
export const PYTHON = process.env.SBERT_BENCH_PYTHON ?? referencePython();

/** Runs a Python script of the reference environment with `input` as JSON on stdin; resolves to its JSON stdout. */
export function runPythonScript<T>(script: string, input: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch (e) {
        reject(new Error(`${script}: no JSON (${(e as Error).message}): ${out.slice(0, 500)} ${err.slice(-500)}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

function referencePython(): string {
  const record = join(REPO_ROOT, "build", "python.json");
  try {
    return (JSON.parse(readFileSync(record, "utf8")) as { python: string }).python;
  } catch {
    throw new Error(`${record} is missing: run \`node scripts/setup.cjs --bench\` (npm run bench does) first`);
  }
}
/** onnxruntime's intraOpNumThreads: one per core of the 2-core machine the targets are set for. */
export const ORT_THREADS = Number(process.env.SBERT_BENCH_ORT_THREADS ?? 2);
/**
 * Intra-op (OpenMP) threads of the two libtorch engines, sbert-node and PyTorch eager. Debian's libtorch runs its
 * GEMMs on OpenBLAS's own pthread pool (one thread per core) whatever this is; with 2 OpenMP threads as well, the
 * two pools spin against each other on 2 cores and libtorch gets several times slower (the encode group measures
 * the other setting each run). 1 is also what both report as their default here.
 */
export const DEFAULT_TORCH_THREADS = 1;

export const MODEL_NAMES = ["minilm", "base", "xlmr", "mpnet"] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
/**
 * Shapes a run measures unless `--models` names others: MiniLM and BERT-base keep a full run near 8 minutes on 2
 * cores; the XLM-R-base and MPNet-base shapes cost about a BERT-base each and run when asked for.
 */
export const DEFAULT_MODELS: ModelName[] = ["minilm", "base"];
export const GROUPS = ["encode", "int8", "train", "ddp", "tokenize", "eventloop", "memory", "long", "startup", "serve", "gemm"] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchOptions {
  only: Group[];
  quick: boolean;
  models: ModelName[];
  /** Intra-op threads for sbert-node (setNumThreads; `serve --threads`), PyTorch eager and sentence-transformers (torch.set_num_threads). */
  torchThreads: number;
}

export function parseArgs(argv: string[]): BenchOptions {
  let only: Group[] = [...GROUPS];
  let quick = false;
  let models: ModelName[] | undefined;
  let torchThreads = Number(process.env.SBERT_BENCH_TORCH_THREADS ?? DEFAULT_TORCH_THREADS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const eq = a.indexOf("=");
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") quick = true;
    else if (a.startsWith("--only")) {
      const names = value().split(",").map((s) => s.trim()).filter(Boolean);
      for (const n of names) if (!GROUPS.includes(n as Group)) throw new Error(`--only: unknown group '${n}' (groups: ${GROUPS.join(", ")})`);
      only = names as Group[];
    } else if (a.startsWith("--models")) {
      const given = value().split(",").map((s) => s.trim()).filter(Boolean);
      const names = given.includes("all") ? [...MODEL_NAMES] : given;
      for (const n of names) if (!MODEL_NAMES.includes(n as ModelName)) throw new Error(`--models: unknown model '${n}' (${MODEL_NAMES.join(", ")}, all)`);
      models = names as ModelName[];
    } else if (a.startsWith("--torch-threads")) {
      torchThreads = Number(value());
      if (!Number.isInteger(torchThreads) || torchThreads < 1) throw new Error("--torch-threads needs a positive integer");
    } else if (a === "--help" || a === "-h") {
      console.log(
        "usage: tsx bench/run.ts [--only encode,train,...] [--quick] [--models minilm,base,xlmr,mpnet|all] [--torch-threads N]\n" +
          `groups: ${GROUPS.join(", ")} (all by default)\n` +
          "  encode: sbert-node against PyTorch eager, onnxruntime-node and sentence-transformers' model.encode\n" +
          "  serve: sbert-node serve (MiniLM) under 1, 8 and 64 HTTP clients against in-process encode\n" +
          `--models: model shapes (default ${DEFAULT_MODELS.join(",")})\n` +
          `--quick: smaller inputs and time budgets, MiniLM only unless --models says otherwise\n` +
          `--torch-threads: intra-op threads of sbert-node (in process and its server), PyTorch eager and sentence-transformers ` +
          `(default ${DEFAULT_TORCH_THREADS}); onnxruntime gets ${ORT_THREADS}`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return { only, quick, models: models ?? (quick ? ["minilm"] : DEFAULT_MODELS), torchThreads };
}

// ---------------------------------------------------------------- token batches

/** A token batch in plain arrays (row-major B x L), the form every engine receives. */
export interface PlainBatch {
  ids: number[];
  mask: number[];
  types: number[];
  B: number;
  L: number;
}

export function batchTokens(b: PlainBatch): { real: number; padded: number } {
  let real = 0;
  for (const m of b.mask) real += m;
  return { real, padded: b.B * b.L };
}

// ---------------------------------------------------------------- timing

/**
 * The one timing rule every engine follows (the Python engine and the ORT worker implement it too): run the warmup
 * untimed, then whole passes over the input until `budgetS` has passed, at least `minPasses` and at most
 * `maxPasses` of them. A pass that times item by item (batch-1 latency) may stop between items once the budget
 * has passed and `minItems` are done; then only the items done count.
 */
export interface TimingPlan {
  budgetS: number;
  minPasses: number;
  maxPasses: number;
  minItems: number;
}

export interface Timing {
  passes: number;
  /** Texts processed in the timed part. */
  items: number;
  seconds: number;
  /** Per-item milliseconds over all timed passes, when the pass records them. */
  itemMs: number[];
  /** CPU seconds the engine's process used in the timed part (all its threads). */
  cpuUserS: number;
  cpuSysS: number;
  /** Minor page faults of the engine's process in the timed part (fresh pages the kernel had to zero-fill). */
  minorFaults: number;
  /** Seconds per text of the engine's tokenization alone, where it measures that apart (sentence-transformers). */
  tokenizeSecondsPerItem?: number;
}

/** `pass(itemMs, stop)`: a pass timing items one by one pushes each item's milliseconds and may return once `stop()`. */
export async function timePasses(
  warmup: () => Promise<void>,
  pass: (itemMs: number[], stop: () => boolean) => Promise<void>,
  plan: TimingPlan,
  itemsPerPass: number,
): Promise<Timing> {
  await warmup();
  const itemMs: number[] = [];
  const cpu0 = process.cpuUsage();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  const stop = () => (performance.now() - t0) / 1000 >= plan.budgetS && itemMs.length >= plan.minItems;
  let passes = 0;
  for (;;) {
    await pass(itemMs, stop);
    passes++;
    const elapsed = (performance.now() - t0) / 1000;
    if (passes >= plan.maxPasses || (passes >= plan.minPasses && elapsed >= plan.budgetS) || (itemMs.length > 0 && stop())) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const minorFaults = process.resourceUsage().minorPageFault - faults0;
  const items = itemMs.length > 0 ? itemMs.length : passes * itemsPerPass;
  return { passes, items, seconds, itemMs, cpuUserS: cpu.user / 1e6, cpuSysS: cpu.system / 1e6, minorFaults };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

// ---------------------------------------------------------------- machine

/** 1-minute load average: other work on the machine skews every number, so the report records it. */
export function loadAverage(): number {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** What /proc/cpuinfo says about the CPU (the first processor's entry), and its float32 FMA-relevant ISA flags. */
export interface CpuDescription {
  model: string;
  /** avx2, fma, avx512*, amx*, avx_vnni*: the flags that decide which kernels a library can run. */
  flags: string[];
  vendor: string;
  family: number;
  modelNumber: number;
  /** "cpu MHz" of every processor (the clock the kernel last saw; a VM often shows the nominal one). */
  mhz: number[];
  /** Logical CPUs per physical core ("siblings" / "cpu cores"), 1 when the file does not say. */
  threadsPerCore: number;
}

export function cpuDescription(): CpuDescription {
  let info: string;
  try {
    info = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return { model: "unknown (no /proc/cpuinfo)", flags: [], vendor: "unknown", family: NaN, modelNumber: NaN, mhz: [], threadsPerCore: 1 };
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(info)?.[1]?.trim();
  const all = (field("flags") ?? "").split(/\s+/);
  const wanted = /^(avx2|fma|avx512.*|amx.*|avx_vnni.*)$/;
  const siblings = Number(field("siblings"));
  const cores = Number(field("cpu cores"));
  return {
    model: field("model name") ?? "unknown",
    flags: all.filter((f) => wanted.test(f)).sort(),
    vendor: field("vendor_id") ?? "unknown",
    family: Number(field("cpu family")),
    modelNumber: Number(field("model")),
    mhz: [...info.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => Number(m[1])),
    threadsPerCore: siblings > 0 && cores > 0 ? Math.max(1, Math.round(siblings / cores)) : 1,
  };
}

/**
 * The float32 peak the report measures engines against: lanes × 2 FLOP per FMA × FMA issues per cycle × clock ×
 * physical cores, each factor with where it came from. `kernelIsa` is the set sbert-node's own kernels run on
 * (backendInfo().kernelIsa); the peak is the CPU's, whatever the addon picks.
 */
export interface Float32Peak {
  gflops: number;
  /** The widest float32 FMA instruction set the CPU reports, and its float32 lanes. */
  isa: string;
  lanes: number;
  kernelIsa: string;
  fmaPerCycle: number;
  fmaWhy: string;
  ghz: number;
  clockWhy: string;
  cores: number;
  coresWhy: string;
}

/**
 * Vector FMA instructions a core issues per cycle at the widest width, by microarchitecture family. A documented
 * assumption (vendors' optimization manuals, Agner Fog's and chipsandcheese's tables), not a measurement; the
 * addon has no FMA micro-benchmark to check it with.
 */
function fmaPerCycle(cpu: CpuDescription, avx512: boolean): { n: number; why: string } {
  const fam = `family ${cpu.family} (0x${cpu.family.toString(16)}), model ${cpu.modelNumber}`;
  if (cpu.vendor === "AuthenticAMD") {
    if (cpu.family === 0x1a) return { n: 2, why: `AMD Zen 5 (${fam}): two 512-bit FMA pipes (server and desktop parts; mobile ones have half)` };
    if (cpu.family === 0x19 && avx512) return { n: 1, why: `AMD Zen 4 (${fam}): two 256-bit FMA pipes, one 512-bit FMA per cycle` };
    if (cpu.family === 0x19) return { n: 2, why: `AMD Zen 3 (${fam}): two 256-bit FMA pipes` };
    if (cpu.family === 0x17 && cpu.modelNumber >= 0x30) return { n: 2, why: `AMD Zen 2 (${fam}): two 256-bit FMA pipes` };
    if (cpu.family === 0x17) return { n: 1, why: `AMD Zen / Zen+ (${fam}): two 128-bit FMA pipes, one 256-bit FMA per cycle` };
  }
  if (cpu.vendor === "GenuineIntel" && cpu.family === 6) {
    if (avx512 && /Xeon/i.test(cpu.model) && !/Bronze|Silver/i.test(cpu.model)) {
      return { n: 2, why: `Intel Xeon with AVX-512 (${fam}): two 512-bit FMA ports (Skylake-SP Bronze/Silver and some Gold 5xxx have one)` };
    }
    if (avx512) return { n: 1, why: `Intel with AVX-512 outside Xeon Gold/Platinum (${fam}): one 512-bit FMA port assumed (Skylake-X Core i9 has two)` };
    return { n: 2, why: `Intel Haswell or later core (${fam}): two 256-bit FMA ports` };
  }
  return { n: 1, why: `${cpu.vendor} ${fam}: not in the table, one FMA per cycle assumed` };
}

/** The clock: the highest frequency cpufreq allows (max boost), else the highest "cpu MHz" in /proc/cpuinfo. */
function clockGhz(cpu: CpuDescription): { ghz: number; why: string } {
  try {
    const khz = Number(readFileSync("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "utf8").trim());
    if (khz > 0) return { ghz: khz / 1e6, why: "cpuinfo_max_freq in /sys/devices/system/cpu/cpu0/cpufreq (max boost)" };
  } catch {
    // no cpufreq (typical in VMs): fall back to /proc/cpuinfo
  }
  const mhz = Math.max(...cpu.mhz);
  return Number.isFinite(mhz) && mhz > 0
    ? { ghz: mhz / 1000, why: `"cpu MHz" in /proc/cpuinfo, highest of ${cpu.mhz.length} (no cpufreq in sysfs; in a VM often the nominal clock)` }
    : { ghz: NaN, why: "no clock in sysfs or /proc/cpuinfo" };
}

export function float32Peak(cpu: CpuDescription, kernelIsa: string): Float32Peak {
  const avx512 = cpu.flags.includes("avx512f");
  const fma = cpu.flags.includes("fma");
  const isa = avx512 ? "avx512f" : fma ? "avx2/fma" : "no FMA flag, SSE width";
  const lanes = avx512 ? 16 : fma ? 8 : 4;
  const f = avx512 || fma ? fmaPerCycle(cpu, avx512) : { n: 1, why: "no FMA: a multiply and an add per cycle counted as one FMA" };
  const clock = clockGhz(cpu);
  const logical = availableParallelism();
  const cores = Math.max(1, Math.floor(logical / cpu.threadsPerCore));
  return {
    gflops: lanes * 2 * f.n * clock.ghz * cores,
    isa,
    lanes,
    kernelIsa,
    fmaPerCycle: f.n,
    fmaWhy: f.why,
    ghz: clock.ghz,
    clockWhy: clock.why,
    cores,
    coresWhy: `${logical} logical CPUs this process may use (os.availableParallelism), ${cpu.threadsPerCore} per core ("siblings" / "cpu cores")`,
  };
}

// ---------------------------------------------------------------- vectors

/** Largest |a[i][d] − b[i][d]| over rows of the same lengths. */
export function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let m = 0;
  a.forEach((row, i) => {
    const other = b[i]!;
    for (let d = 0; d < row.length; d++) m = Math.max(m, Math.abs(row[d]! - other[d]!));
  });
  return m;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
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

// ---------------------------------------------------------------- formatting

export function fmt(v: number | undefined | null, digits = 1): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  return v.toFixed(digits);
}

export function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && b > 0 ? a / b : NaN;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "–";
}

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

// ---------------------------------------------------------------- CPU accounting

/** Busy CPU seconds of the whole machine, and of this process plus its waited-for children. */
export function cpuSnapshot(): { machineBusyS: number; ownS: number; stealS: number } {
  const tick = 100; // USER_HZ on Linux
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
    // The command name may hold spaces; the fields after it start at ") ".
    const s = readFileSync("/proc/self/stat", "utf8");
    const own = s.slice(s.lastIndexOf(")") + 2).split(" ").map(Number);
    // utime, stime, cutime, cstime are fields 14–17 of the file, 12–15 after the name and state.
    const ownTicks = own[11]! + own[12]! + own[13]! + own[14]!;
    return { machineBusyS: (user + nice + system + irq + softirq) / tick, ownS: ownTicks / tick, stealS: steal / tick };
  } catch {
    return { machineBusyS: NaN, ownS: NaN, stealS: NaN };
  }
}
