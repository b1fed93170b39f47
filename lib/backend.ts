import type { LinearBackend, NativeInfo } from "../types/native.js";
import { callNativeSync } from "./native.js";

/** Sets libtorch's intra-op thread count (process-wide). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, got ${String(n)}`);
  callNativeSync("setNumThreads", (a) => a.setNumThreads(n));
}

export function getNumThreads(): number {
  return callNativeSync("getNumThreads", (a) => a.getNumThreads());
}

/** The libtorch build sbert-node runs on: version, CUDA, oneDNN, threads and build configuration. */
export function backendInfo(): NativeInfo {
  return callNativeSync("backendInfo", (a) => a.info());
}

/**
 * How float32 encode runs its products, process-wide:
 * - "auto" (the default): on CPUs with AVX2 and FMA, linear layers over few rows (under 64 tokens in a batch),
 *   attention, GELU and the residual LayerNorm run on sbert-node's own kernels, with weights packed once per
 *   layer (one more copy of those layers' weights, made the first time they run over few rows); larger linear
 *   layers on libtorch's BLAS.
 * - "blas": libtorch's ops only.
 * - "onednn": linear layers through oneDNN, the rest as "blas".
 * Embeddings agree to ~1e-6 between them; the benchmark (`npm run bench`) measures the speed.
 */
export function setLinearBackend(backend: LinearBackend): void {
  if (backend !== "auto" && backend !== "blas" && backend !== "onednn") {
    throw new RangeError(`setLinearBackend: expected "auto", "blas" or "onednn", got ${JSON.stringify(backend)}`);
  }
  callNativeSync("setLinearBackend", (a) => a.setLinearBackend(backend));
}

export function getLinearBackend(): LinearBackend {
  return callNativeSync("getLinearBackend", (a) => a.getLinearBackend());
}

let encodeConcurrency: number | undefined;

/**
 * How many encode batches run side by side (each on one thread). Default: the number of hardware threads,
 * which measured fastest (see native/threading.h); SBERT_NODE_ENCODE_CONCURRENCY overrides it.
 */
export function setEncodeConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setEncodeConcurrency: n must be a positive integer, got ${String(n)}`);
  encodeConcurrency = n;
}

export function getEncodeConcurrency(): number {
  if (encodeConcurrency === undefined) {
    const fromEnv = Number(process.env["SBERT_NODE_ENCODE_CONCURRENCY"]);
    encodeConcurrency = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(1, backendInfo().concurrency);
  }
  return encodeConcurrency;
}

/**
 * Frees the memory blocks sbert-node's CPU allocator keeps for reuse (they are reused by the next batch otherwise),
 * and the memory a training run keeps for the next `fit`: both go back to the system at once.
 */
export function emptyCache(): void {
  callNativeSync("emptyCache", (a) => a.emptyCache());
}
