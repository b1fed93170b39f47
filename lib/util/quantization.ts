/**
 * `quantize_embeddings` of sentence-transformers (v3.0 to v5.6 semantics): float32 passthrough, scalar int8/uint8
 * quantization over per-dimension [min, max] ranges in 255 steps, and bit packing for binary/ubinary.
 *
 * The int8/uint8 values are numpy's: the arithmetic runs in float32 when the ranges are float32 (computed from
 * embeddings, from calibration embeddings, or given as Float32Array) and in float64 otherwise (numpy promotes
 * float32 - float64 to float64), and `astype` truncates toward zero, wrapping out-of-range values the way numpy
 * does on x86-64 (through int32, keeping the low byte; values beyond int32 become 0).
 */

export type QuantizationPrecision = "float32" | "int8" | "uint8" | "binary" | "ubinary";

export interface QuantizeOptions {
  /** `[min, max]`: per-dimension lower and upper ends, like sbert's (2, dim) `ranges` array. */
  ranges?: readonly [ArrayLike<number>, ArrayLike<number>];
  /** Embeddings whose per-dimension min/max give the ranges (used when `ranges` is absent). */
  calibrationEmbeddings?: readonly Float32Array[];
}

const fround = Math.fround;

/** numpy float -> integer `astype` on x86-64: truncate, convert through int32, keep the low byte. */
function castLowByte(v: number): number {
  const t = Math.trunc(v);
  if (!(t >= -2147483648 && t <= 2147483647)) return 0;
  return t & 0xff;
}

function columnRanges(rows: readonly Float32Array[], dim: number, fn: string, arg: string): [Float32Array, Float32Array] {
  if (rows.length === 0) throw new RangeError(`${fn}: ${arg} is empty, so no quantization ranges can be computed`);
  const lo = new Float32Array(dim).fill(Infinity);
  const hi = new Float32Array(dim).fill(-Infinity);
  rows.forEach((row, i) => {
    if (row.length !== dim) throw new RangeError(`${fn}: ${arg}[${i}] has dimension ${row.length} but expected ${dim}`);
    for (let k = 0; k < dim; k++) {
      const v = row[k]!;
      // np.min/np.max propagate NaN: once NaN, a column stays NaN since every comparison with it is false.
      if (v < lo[k]! || Number.isNaN(v)) lo[k] = v;
      if (v > hi[k]! || Number.isNaN(v)) hi[k] = v;
    }
  });
  return [lo, hi];
}

export function quantizeEmbeddings(
  embeddings: readonly Float32Array[],
  precision: "float32",
  options?: QuantizeOptions,
): Float32Array[];
export function quantizeEmbeddings(
  embeddings: readonly Float32Array[],
  precision: "int8" | "binary",
  options?: QuantizeOptions,
): Int8Array[];
export function quantizeEmbeddings(
  embeddings: readonly Float32Array[],
  precision: "uint8" | "ubinary",
  options?: QuantizeOptions,
): Uint8Array[];
export function quantizeEmbeddings(
  embeddings: readonly Float32Array[],
  precision: QuantizationPrecision,
  options?: QuantizeOptions,
): Float32Array[] | Int8Array[] | Uint8Array[];
export function quantizeEmbeddings(
  embeddings: readonly Float32Array[],
  precision: QuantizationPrecision,
  options: QuantizeOptions = {},
): Float32Array[] | Int8Array[] | Uint8Array[] {
  const fn = "quantizeEmbeddings";
  if (!Array.isArray(embeddings)) throw new TypeError(`${fn}: embeddings must be an array of Float32Array`);
  embeddings.forEach((e, i) => {
    if (!(e instanceof Float32Array)) {
      // sbert refuses already-quantized input the same way.
      throw new TypeError(`${fn}: embeddings[${i}] must be a Float32Array (float embeddings), not ${Object.prototype.toString.call(e).slice(8, -1)}`);
    }
  });
  const n = embeddings.length;
  const dim = n > 0 ? embeddings[0]!.length : 0;
  embeddings.forEach((e, i) => {
    if (e.length !== dim) throw new RangeError(`${fn}: embeddings[${i}] has dimension ${e.length} but expected ${dim}`);
  });

  switch (precision) {
    case "float32":
      return embeddings.map((e) => new Float32Array(e));
    case "int8":
    case "uint8":
      return scalarQuantize(embeddings, precision, options, dim, fn);
    case "binary":
    case "ubinary": {
      const bytes = Math.ceil(dim / 8);
      const packed = embeddings.map((e) => {
        // np.packbits: big-endian bit order, last byte zero-padded.
        const out = new Uint8Array(bytes);
        for (let k = 0; k < dim; k++) if (e[k]! > 0) out[k >> 3]! |= 0x80 >> (k & 7);
        return out;
      });
      if (precision === "ubinary") return packed;
      // (packed - 128) as int8: the uint8 wraparound then reinterpretation gives exactly packed - 128.
      return packed.map((p) => {
        const out = new Int8Array(p.length);
        for (let k = 0; k < p.length; k++) out[k] = p[k]! - 128;
        return out;
      });
    }
    default:
      throw new RangeError(`${fn}: precision ${JSON.stringify(precision)} is not supported; use float32, int8, uint8, binary or ubinary`);
  }
}

function scalarQuantize(
  embeddings: readonly Float32Array[],
  precision: "int8" | "uint8",
  options: QuantizeOptions,
  dim: number,
  fn: string,
): Int8Array[] | Uint8Array[] {
  if (embeddings.length === 0 && (options.ranges !== undefined || options.calibrationEmbeddings !== undefined)) return [];
  let lo: ArrayLike<number>;
  let hi: ArrayLike<number>;
  if (options.ranges !== undefined) {
    const r = options.ranges;
    if (!Array.isArray(r) || r.length !== 2) throw new TypeError(`${fn}: ranges must be [min, max], two arrays of length ${dim}`);
    [lo, hi] = r as readonly [ArrayLike<number>, ArrayLike<number>];
    if (lo.length !== dim || hi.length !== dim) {
      throw new RangeError(`${fn}: ranges rows have lengths ${lo.length} and ${hi.length} but the embeddings have dimension ${dim}`);
    }
  } else if (options.calibrationEmbeddings !== undefined) {
    [lo, hi] = columnRanges(options.calibrationEmbeddings, dim, fn, "calibrationEmbeddings");
  } else {
    [lo, hi] = columnRanges(embeddings, dim, fn, "embeddings");
  }
  const f32 = lo instanceof Float32Array && hi instanceof Float32Array;
  const r = f32 ? fround : (x: number) => x;

  const starts = new Float64Array(dim);
  const steps = new Float64Array(dim);
  for (let k = 0; k < dim; k++) {
    starts[k] = lo[k]!;
    const step = r(r(hi[k]! - lo[k]!) / 255);
    // sbert (>= v5.4) replaces zero steps by 1, so constant dimensions do not divide by zero.
    steps[k] = step === 0 ? 1 : step;
  }
  if (precision === "uint8") {
    return embeddings.map((e) => {
      const out = new Uint8Array(dim);
      for (let k = 0; k < dim; k++) out[k] = castLowByte(r(r(e[k]! - starts[k]!) / steps[k]!));
      return out;
    });
  }
  return embeddings.map((e) => {
    const out = new Int8Array(dim);
    // Int8Array stores the low byte as a signed value, as numpy's int8 cast.
    for (let k = 0; k < dim; k++) out[k] = castLowByte(r(r(r(e[k]! - starts[k]!) / steps[k]!) - 128));
    return out;
  });
}
