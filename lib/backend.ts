import type { NativeInfo } from "../types/native.js";
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
 * How float32 linear layers run in encode, process-wide: "blas" (libtorch's BLAS, the default) or "onednn".
 * Which is faster depends on the CPU and thread settings; the benchmark (`npm run bench`) measures both.
 */
export function setLinearBackend(backend: "blas" | "onednn"): void {
  if (backend !== "blas" && backend !== "onednn") throw new RangeError(`setLinearBackend: expected "blas" or "onednn", got ${JSON.stringify(backend)}`);
  callNativeSync("setLinearBackend", (a) => a.setLinearBackend(backend));
}

export function getLinearBackend(): "blas" | "onednn" {
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

/** Frees the memory blocks sbert-node's CPU allocator keeps for reuse (they are reused by the next batch otherwise). */
export function emptyCache(): void {
  callNativeSync("emptyCache", (a) => a.emptyCache());
}
