// The addon's `_testing.kernels` (native/js/testing_kernels.cc): the CPU kernels on an ISA of the caller's choosing,
// for tests and bench/kernels.ts. Not part of the library's API. Every call throws on an unknown ISA, one this CPU
// cannot run, or arrays of the wrong type or length.

export type KernelIsa = "generic" | "avx2" | "avx512";

export interface KernelFeatures {
  /** The path the library's own calls take on this CPU. */
  best: KernelIsa;
  supported: KernelIsa[];
  /** AVX-512 VNNI: the avx512 int8 product uses it (without it, the avx2 one). */
  vnni: boolean;
  avx512Bf16: boolean;
}

/** A column range of an n-column product: colBegin a multiple of 16 (default 0), colEnd (default n). */
export interface ColumnRange {
  colBegin?: number;
  colEnd?: number;
}

export interface MultiplyPanelsInput extends ColumnRange {
  isa: KernelIsa;
  m: number;
  k: number;
  n: number;
  /** [m, k], rows lda floats apart (lda defaults to k; a holds (m - 1) lda + k floats). */
  a: Float32Array;
  lda?: number;
  /** [n, k] for packing "rows" (default) and "pointers", [k, n] for "columns". */
  w: Float32Array;
  packing?: "rows" | "columns" | "pointers";
  bias?: Float32Array | null;
}

export interface QuantizedRows {
  /** [m, k rounded up to even] */
  p: Int16Array;
  rowScale: Float32Array;
}

export interface MultiplyPanelsInt8Input extends ColumnRange {
  isa: KernelIsa;
  m: number;
  k: number;
  n: number;
  p: Int16Array;
  rowScale: Float32Array;
  /** [n, k] in [-127, 127] */
  q: Int8Array;
  colScale: Float32Array;
  bias?: Float32Array | null;
}

/** q, k and v of a token side by side ([rows, (heads + 2 kvHeads) headDim]); padded or packed (starts and lengths). */
export interface AttentionInput {
  batch: number;
  seqLen: number;
  heads: number;
  headDim: number;
  /** Key/value heads (grouped-query attention; must divide heads). Default: heads. */
  kvHeads?: number;
  /** Query i attends key j only where i - windowLeft <= j <= i + windowRight; -1 or absent: no bound. */
  windowLeft?: number;
  windowRight?: number;
  qkv: Float32Array;
  /** [batch, seqLen], additive; padded batches only. */
  mask?: Float32Array | null;
  /** Packed: sentence b is lengths[b] rows from row starts[b]; rows in all. */
  starts?: number[];
  lengths?: number[];
  rows?: number;
  /** [heads, 2 seqLen - 1]: the bias of query i and key j at j - i + seqLen - 1. */
  relBias?: Float32Array | null;
  /** Items (sentence, head) [begin, end) of batch x heads; the others' outputs stay NaN. */
  begin?: number;
  end?: number;
}

export interface AdamWStepInput {
  decay: boolean;
  decayFactor: number;
  beta1: number;
  beta2: number;
  bias2Sqrt: number;
  eps: number;
  negStepSize: number;
}

export type KernelBenchmarkInput =
  | { kernel: "multiply_panels" | "multiply_panels_int8"; isa: KernelIsa; seconds: number; m: number; k: number; n: number; copies?: number }
  | { kernel: "attention"; isa: KernelIsa; seconds: number; batch: number; seqLen: number; heads: number; headDim: number };

export interface TestingKernels {
  features(): KernelFeatures;
  /** c [m, n] = a · wᵀ + bias; NaN outside the column range. */
  multiplyPanels(input: MultiplyPanelsInput): Float32Array;
  quantizeRows(input: { isa: KernelIsa; m: number; k: number; a: Float32Array }): QuantizedRows;
  /** c [m, n], q packed for the ISA; NaN outside the column range. */
  multiplyPanelsInt8(input: MultiplyPanelsInt8Input): Float32Array;
  gelu(input: { isa: KernelIsa; x: Float32Array }): Float32Array;
  /** float32 -> bf16 bits, rounded to nearest even (NaN -> 0x7fc0). */
  toBf16(input: { isa: KernelIsa; x: Float32Array }): Uint16Array;
  fromBf16(input: { isa: KernelIsa; x: Uint16Array }): Float32Array;
  /** libtorch's own float32 -> bf16 conversion of x, the reference toBf16 is checked against. */
  libtorchBf16(input: { x: Float32Array }): Uint16Array;
  addLayerNorm(input: {
    isa: KernelIsa;
    rows: number;
    width: number;
    x: Float32Array;
    residual: Float32Array;
    gamma: Float32Array;
    beta: Float32Array;
    eps: number;
  }): Float32Array;
  /** out [rows, heads headDim]. */
  attention(input: AttentionInput & { isa: KernelIsa }): Float32Array;
  /** The same through libtorch's matmul and softmax in float64. */
  attentionReference(input: AttentionInput): Float32Array;
  adamw(input: { isa: KernelIsa; p: Float32Array; g: Float32Array; m: Float32Array; v: Float32Array; step: AdamWStepInput }): {
    p: Float32Array;
    m: Float32Array;
    v: Float32Array;
  };
  dropoutNoise(input: { isa: KernelIsa; n: number; seed: bigint; keepThreshold: number; scale: number }): Float32Array;
  /**
   * One thread calling the kernel back to back for about `seconds`, in bursts of at least 2 ms; bestSecondsPerCall
   * is the fastest burst's time per call (other work on the machine only slows bursts down).
   */
  benchmark(input: KernelBenchmarkInput): { calls: number; seconds: number; bestSecondsPerCall: number };
}
