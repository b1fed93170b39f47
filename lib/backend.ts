import type { LinearBackend, NativeInfo, NativeSetting } from "../types/native.js";
import { callNativeSync } from "./native.js";

/** Sets libtorch's intra-op thread count (process-wide). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, got ${String(n)}`);
  callNativeSync("setNumThreads", (a) => a.setNumThreads(n));
}

export function getNumThreads(): number {
  return callNativeSync("getNumThreads", (a) => a.getNumThreads());
}

/**
 * The libtorch build sbert-node runs on (version, CUDA, oneDNN, threads, build configuration), the caching
 * allocator's counters, and every process-wide setting with its value and source.
 */
export function backendInfo(): NativeInfo & { settings: Record<string, { value: boolean | number | string; source: string; env: string }> } {
  const info = callNativeSync("backendInfo", (a) => a.info());
  const all: Record<string, { value: boolean | number | string; source: string; env: string }> = {};
  for (const s of settings()) all[s.name] = { value: s.value, source: s.source, env: s.env };
  return { ...info, settings: all };
}

/** The linear backends setLinearBackend takes (checked against the native setting's choices in the tests). */
export const LINEAR_BACKENDS: readonly LinearBackend[] = ["auto", "blas", "onednn"];

/** The instruction sets setKernelIsa takes (checked against the native setting's choices in the tests). */
export const KERNEL_ISAS = ["auto", "generic", "avx2", "avx512"] as const;
export type KernelIsa = (typeof KERNEL_ISAS)[number];

/** A process-wide setting as the native side describes it: what it takes, its value and where that came from. */
export type Setting = NativeSetting;

/**
 * Every process-wide setting: name, the environment variable that gives its default, kind and allowed values,
 * current value and its source ("default", "environment" or "api"). Environment variables are read once, as
 * defaults; the setters below override them.
 */
export function settings(): Setting[] {
  return callNativeSync("settings", (a) => a.settings());
}

function set(op: string, name: string, value: boolean | number | string): void {
  callNativeSync(op, (a) => a.setSetting(name, value));
}

function get<T>(op: string, name: string): T {
  return callNativeSync(op, (a) => a.getSetting(name)) as T;
}

function checkInt(op: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${op}: expected an integer from ${min} to ${max}, got ${String(value)}`);
}

/**
 * How float32 encode runs its products, process-wide (default from SBERT_NODE_LINEAR_BACKEND, else "auto"):
 * - "auto": on CPUs with sbert-node's kernels, linear layers over few rows (under 64 tokens in a batch),
 *   attention, GELU and the residual LayerNorm run on those kernels, with weights packed once per layer (one more
 *   copy of those layers' weights, made the first time they run over few rows); larger linear layers on
 *   libtorch's BLAS, or on oneDNN where the kernels run AVX-512 (its JIT products use AVX-512 there, the BLAS
 *   libtorch ships with did not).
 * - "blas": libtorch's ops only.
 * - "onednn": linear layers through oneDNN, the rest as "blas".
 * Embeddings agree to ~1e-6 between them; the benchmark (`npm run bench`) measures the speed.
 */
export function setLinearBackend(backend: LinearBackend): void {
  if (!LINEAR_BACKENDS.includes(backend)) {
    throw new RangeError(`setLinearBackend: expected ${LINEAR_BACKENDS.map((b) => JSON.stringify(b)).join(", ")}, got ${JSON.stringify(backend)}`);
  }
  set("setLinearBackend", "linearBackend", backend);
}

export function getLinearBackend(): LinearBackend {
  return get("getLinearBackend", "linearBackend");
}

/**
 * The instruction set sbert-node's CPU kernels run on (default from SBERT_NODE_KERNEL_ISA, else "auto": the best
 * this CPU has, AVX-512 where present, then AVX2 + FMA). "generic" runs their portable C++ path (slower; checks and
 * CPUs without AVX2 use it); naming a set this CPU lacks is a clear error. Every path gives results within float32
 * rounding of the others; "avx2" and "avx512" give the same bits.
 */
export function setKernelIsa(isa: KernelIsa): void {
  if (!KERNEL_ISAS.includes(isa)) throw new RangeError(`setKernelIsa: expected ${KERNEL_ISAS.map((i) => JSON.stringify(i)).join(", ")}, got ${JSON.stringify(isa)}`);
  set("setKernelIsa", "kernelIsa", isa);
}

/** The setting ("auto" or a set's name); backendInfo().kernelIsa names the one in use. */
export function getKernelIsa(): KernelIsa {
  return get("getKernelIsa", "kernelIsa");
}

/**
 * Whether an encode batch borrows idle cores for its products over few rows and its attention (default from
 * SBERT_NODE_SPLIT_BATCHES, else true). Embeddings are the same bits either way.
 */
export function setSplitBatches(on: boolean): void {
  if (typeof on !== "boolean") throw new TypeError(`setSplitBatches: expected true or false, got ${String(on)}`);
  set("setSplitBatches", "splitBatches", on);
}

export function getSplitBatches(): boolean {
  return get("getSplitBatches", "splitBatches");
}

/**
 * MiB of freed CPU memory blocks kept for reuse by the next batch (default from SBERT_NODE_CPU_CACHE_MB, else
 * 2048); 0 keeps none, and training then takes no arena either. Lowering it hands the excess back at once.
 */
export function setCpuCacheLimit(mb: number): void {
  checkInt("setCpuCacheLimit", mb, 0, 1 << 22);
  set("setCpuCacheLimit", "cpuCacheMb", mb);
}

export function getCpuCacheLimit(): number {
  return get("getCpuCacheLimit", "cpuCacheMb");
}

/**
 * Whether glibc's malloc keeps freed memory for reuse instead of handing each large block back to the system
 * (default from SBERT_NODE_MALLOC_TUNING, else true): long-document encodes otherwise spend much of their time
 * faulting in fresh pages.
 */
export function setMallocTuning(on: boolean): void {
  if (typeof on !== "boolean") throw new TypeError(`setMallocTuning: expected true or false, got ${String(on)}`);
  set("setMallocTuning", "mallocTuning", on);
}

export function getMallocTuning(): boolean {
  return get("getMallocTuning", "mallocTuning");
}

/**
 * OpenBLAS's thread count (default from SBERT_NODE_BLAS_THREADS, else 0): 0 lets sbert-node choose (one per encode
 * lane, every core during a training step, and nothing at all when OPENBLAS_NUM_THREADS is set).
 */
export function setBlasThreads(n: number): void {
  checkInt("setBlasThreads", n, 0, 1024);
  set("setBlasThreads", "blasThreads", n);
}

export function getBlasThreads(): number {
  return get("getBlasThreads", "blasThreads");
}

/**
 * How many encode batches run side by side, each on one thread (default from SBERT_NODE_ENCODE_CONCURRENCY, else
 * one per core the libuv pool can use, which measured fastest: see native/runtime/threading.h).
 */
export function setEncodeConcurrency(n: number): void {
  checkInt("setEncodeConcurrency", n, 1, 1024);
  set("setEncodeConcurrency", "encodeConcurrency", n);
}

export function getEncodeConcurrency(): number {
  return backendInfo().concurrency;
}

/**
 * Frees the memory blocks sbert-node's CPU allocator keeps for reuse (they are reused by the next batch otherwise),
 * and the memory a training run keeps for the next `fit`: both go back to the system at once.
 */
export function emptyCache(): void {
  callNativeSync("emptyCache", (a) => a.emptyCache());
}
