// The CPU kernels (native/kernels) on each instruction set this host runs, against the portable generic path on
// odd shapes, and the generic path against float64 references computed here (or with libtorch's ops, for
// attention). Paths the host lacks are skipped, with the reason in the test's name. Promised exactly: the AVX2 and
// AVX-512 paths give the same bits; dropout and the int8 products (exact integer sums) are the same on every path;
// products and attention do not depend on how rows, columns or items are cut.
import { describe, expect, test } from "vitest";

import { native } from "../../lib/native.js";
import type { AttentionInput, KernelIsa, TestingKernels } from "../../types/testingKernels.js";

function testingKernels(): TestingKernels {
  const t = (native()._testing as unknown as { kernels?: TestingKernels }).kernels;
  if (t === undefined) throw new Error("this addon build has no _testing.kernels (native/js/addon.cc registers them)");
  return t;
}

const K = testingKernels();
const features = K.features();
const has = { avx2: features.supported.includes("avx2"), avx512: features.supported.includes("avx512") };
// Each vector path, with why it is skipped here when it is.
const VECTOR_PATHS: { isa: KernelIsa; missing?: string }[] = [
  { isa: "avx2", missing: has.avx2 ? undefined : "host lacks AVX2 + FMA" },
  { isa: "avx512", missing: has.avx512 ? undefined : "host lacks AVX-512 F/BW/VL" },
];
const title = (isa: KernelIsa, missing: string | undefined) => (missing ? `${isa} (skipped: ${missing})` : isa);

// mulberry32: a small seeded generator, so every run sees the same inputs.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Asserts the two arrays hold the same floats bit for bit (NaNs and signed zeros included). */
function expectSameBits(got: Float32Array, want: Float32Array, what = "") {
  expect(got.length, what).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const first = a.findIndex((v, i) => v !== b[i]);
  expect(first, `${what}: element ${first} is ${got[first]}, expected ${want[first]}`).toBe(-1);
}

/** Asserts got[i] within tol[i] of want[i] for every i (NaN only where want is NaN). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number, what: string) {
  expect(got.length, what).toBe(want.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) throw new Error(`${what}: element ${i} is ${g}, expected ${w}`);
      continue;
    }
    const excess = Math.abs(g - w) / tol(i);
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  expect(worstExcess, `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} ± ${worst >= 0 ? tol(worst) : 0}`).toBeLessThanOrEqual(1);
}

// ---- multiply_panels -------------------------------------------------------------------------------------------

interface Product {
  m: number;
  k: number;
  n: number;
  a: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
}

function product(m: number, k: number, n: number, seed: number, withBias = true): Product {
  return { m, k, n, a: uniform(m * k, seed), w: uniform(n * k, seed + 1), bias: withBias ? uniform(n, seed + 2) : null };
}

// c in float64, and each element's scale Σ|a w| + |bias| (float32 sums of k terms err relative to it).
function productReference({ m, k, n, a, w, bias }: Product): { c: Float64Array; scale: Float64Array } {
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      let t = Math.abs(s);
      for (let q = 0; q < k; q++) {
        s += a[i * k + q]! * w[j * k + q]!;
        t += Math.abs(a[i * k + q]! * w[j * k + q]!);
      }
      c[i * n + j] = s;
      scale[i * n + j] = t;
    }
  }
  return { c, scale };
}

const multiply = (isa: KernelIsa, p: Product, extra: { colBegin?: number; colEnd?: number } = {}) =>
  K.multiplyPanels({ isa, m: p.m, k: p.k, n: p.n, a: p.a, w: p.w, bias: p.bias, ...extra });

// m, k, n: one row, n under 16, k across the 256-wide blocks and long, rows across the 96-row blocks.
const PRODUCT_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 5],
  [3, 255, 15],
  [7, 257, 17],
  [13, 300, 33],
  [25, 1000, 50],
  [12, 3072, 20],
  [97, 64, 40],
  [130, 31, 100],
  [1, 384, 1536],
];

describe("multiply_panels", () => {
  test("generic: against float64 sums, with and without bias, on every packing of the weights", () => {
    PRODUCT_SHAPES.forEach(([m, k, n], s) => {
      const p = product(m, k, n, 100 + s, s % 2 === 0);
      const { c, scale } = productReference(p);
      expectClose(multiply("generic", p), c, (i) => 1e-5 * scale[i]!, `generic ${m}x${k}x${n}`);
    });
    const p = product(5, 40, 37, 7);
    const want = multiply("generic", p);
    const columns = new Float32Array(p.k * p.n); // w as [k, n]
    for (let j = 0; j < p.n; j++) for (let q = 0; q < p.k; q++) columns[q * p.n + j] = p.w[j * p.k + q]!;
    expectSameBits(K.multiplyPanels({ isa: "generic", m: 5, k: 40, n: 37, a: p.a, w: columns, bias: p.bias, packing: "columns" }), want);
    expectSameBits(K.multiplyPanels({ isa: "generic", m: 5, k: 40, n: 37, a: p.a, w: p.w, bias: p.bias, packing: "pointers" }), want);
  });

  for (const { isa, missing } of [{ isa: "generic" as KernelIsa }, ...VECTOR_PATHS]) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: the same bits whatever the rows and columns computed together`, () => {
      const p = product(29, 600, 70, 11);
      const full = multiply(isa, p);
      // Columns in three calls (starts multiples of 16), as threads split a product.
      const parts = [multiply(isa, p, { colEnd: 16 }), multiply(isa, p, { colBegin: 16, colEnd: 48 }), multiply(isa, p, { colBegin: 48 })];
      const stitched = full.map((_, i) => parts[(i % 70) < 16 ? 0 : (i % 70) < 48 ? 1 : 2]![i]!);
      expectSameBits(stitched, full);
      // Each row alone.
      for (const row of [0, 13, 28]) {
        const one = multiply(isa, { ...p, m: 1, a: p.a.subarray(row * 600, (row + 1) * 600) });
        expectSameBits(one, full.subarray(row * 70, (row + 1) * 70), `row ${row}`);
      }
      // Rows lda apart.
      const lda = 611;
      const strided = new Float32Array(28 * lda + 600);
      for (let i = 0; i < 29; i++) strided.set(p.a.subarray(i * 600, (i + 1) * 600), i * lda);
      expectSameBits(K.multiplyPanels({ isa, m: 29, k: 600, n: 70, a: strided, lda, w: p.w, bias: p.bias }), full);
    });
  }

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: agrees with generic on odd shapes`, () => {
      PRODUCT_SHAPES.forEach(([m, k, n], s) => {
        const p = product(m, k, n, 200 + s, s % 2 === 1);
        const { scale } = productReference(p);
        expectClose(multiply(isa, p), multiply("generic", p), (i) => 1e-5 * scale[i]!, `${isa} ${m}x${k}x${n}`);
      });
    });
  }

  test.skipIf(!has.avx512)(`avx512 gives avx2's bits${has.avx512 ? "" : " (skipped: host lacks AVX-512)"}`, () => {
    PRODUCT_SHAPES.forEach(([m, k, n], s) => {
      const p = product(m, k, n, 300 + s, s % 2 === 0);
      expectSameBits(multiply("avx512", p), multiply("avx2", p), `${m}x${k}x${n}`);
    });
  });
});

// ---- int8 ------------------------------------------------------------------------------------------------------

// p = round half to even (a · (127 / max |a|)), in float32 as the kernels compute it.
function quantizeReference(a: Float32Array, m: number, k: number): { p: Int16Array; rowScale: Float32Array } {
  const ldp = Math.ceil(k / 2) * 2;
  const p = new Int16Array(m * ldp);
  const rowScale = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const row = a.subarray(i * k, (i + 1) * k);
    let top = 0;
    let finite = true;
    for (const x of row) {
      finite &&= Number.isFinite(x);
      top = Math.max(top, Math.abs(x));
    }
    rowScale[i] = finite ? Math.fround(top / 127) : NaN;
    const inv = finite && top > 0 ? Math.fround(127 / top) : 0;
    for (let q = 0; q < k; q++) {
      const y = finite ? Math.fround(row[q]! * inv) : 0;
      let r = Math.round(y);
      if (Math.abs(y - Math.trunc(y)) === 0.5) r = 2 * Math.round(y / 2);
      p[i * ldp + q] = r;
    }
  }
  return { p, rowScale };
}

interface Int8Product {
  m: number;
  k: number;
  n: number;
  p: Int16Array;
  rowScale: Float32Array;
  q: Int8Array;
  colScale: Float32Array;
  bias: Float32Array | null;
}

function int8Product(m: number, k: number, n: number, seed: number, withBias = true): Int8Product {
  const r = rng(seed);
  const ldp = Math.ceil(k / 2) * 2;
  const p = new Int16Array(m * ldp);
  for (let i = 0; i < m; i++) for (let q = 0; q < k; q++) p[i * ldp + q] = Math.round(254 * r()) - 127;
  const q = Int8Array.from({ length: n * k }, () => Math.round(254 * r()) - 127);
  return { m, k, n, p, rowScale: uniform(m, seed + 1, 1e-3, 1e-2), q, colScale: uniform(n, seed + 2, 1e-3, 1e-2), bias: withBias ? uniform(n, seed + 3) : null };
}

const multiplyInt8 = (isa: KernelIsa, x: Int8Product, extra: { colBegin?: number; colEnd?: number } = {}) =>
  K.multiplyPanelsInt8({ isa, ...x, ...extra });

// m, k, n: k odd, even, not a multiple of 4; n under and past 16; rows across the micro-kernels' tiles.
const INT8_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 17],
  [2, 5, 16],
  [7, 64, 15],
  [13, 383, 33],
  [25, 768, 64],
  [100, 1001, 40],
  [6, 3072, 100],
];

describe("int8", () => {
  test("generic quantize_rows: round half to even of a · 127 / max|a|; a row with NaN or infinity gives p = 0 and a NaN scale", () => {
    for (const [m, k] of [
      [1, 1],
      [3, 7],
      [5, 384],
      [2, 1001],
    ] as const) {
      const a = uniform(m * k, m * k, -3, 3);
      const got = K.quantizeRows({ isa: "generic", m, k, a });
      const want = quantizeReference(a, m, k);
      expect(Array.from(got.p)).toEqual(Array.from(want.p));
      expectSameBits(got.rowScale, want.rowScale);
    }
    // Halves (0.5 · 127 / 127 ...): 127 / 2 = 63.5 rounds to 64, 2.5 to 2, -0.5 to -0.
    const halves = Float32Array.from([127, 63.5, 2.5, -0.5, 1.5, 0, -127, 5]);
    expect(Array.from(K.quantizeRows({ isa: "generic", m: 1, k: 8, a: halves }).p)).toEqual([127, 64, 2, 0, 2, 0, -127, 5]);
    const special = Float32Array.from([1, 2, 3, 0, 0, 0, 1, NaN, 2, 4, Infinity, 1]);
    const q = K.quantizeRows({ isa: "generic", m: 4, k: 3, a: special });
    // Rows [1, 2, 3], [0, 0, 0], [1, NaN, 2], [4, inf, 1], each padded to 4.
    expect(Array.from(q.p)).toEqual([42, 85, 127, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(q.rowScale[1]).toBe(0);
    expect(Number.isNaN(q.rowScale[2]!) && Number.isNaN(q.rowScale[3]!)).toBe(true);
  });

  test("generic multiply_panels_int8: float(Σ p q) · (rowScale · colScale) + bias, the sum exact", () => {
    INT8_SHAPES.forEach(([m, k, n], s) => {
      const x = int8Product(m, k, n, 400 + s, s % 2 === 0);
      const got = multiplyInt8("generic", x);
      const ldp = Math.ceil(k / 2) * 2;
      const want = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let q = 0; q < k; q++) sum += x.p[i * ldp + q]! * x.q[j * k + q]!;
          want[i * n + j] = Math.fround(sum) * Math.fround(x.rowScale[i]! * x.colScale[j]!) + (x.bias ? x.bias[j]! : 0);
        }
      }
      // One rounding (the fused multiply-add's) from the float64 value: half an ulp, at most 2^-24 of it.
      expectClose(got, want, (i) => 2 ** -24 * Math.abs(want[i]!) + 1e-30, `generic int8 ${m}x${k}x${n}`);
    });
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    const vnni = isa === "avx512" && features.vnni ? " (VNNI)" : "";
    test.skipIf(missing !== undefined)(`${title(isa, missing)}${vnni}: quantize_rows and multiply_panels_int8 give generic's bits`, () => {
      for (const [m, k] of [
        [1, 1],
        [3, 7],
        [5, 384],
        [2, 1001],
        [1, 33],
      ] as const) {
        const a = uniform(m * k, 7 * m + k, -2, 2);
        const got = K.quantizeRows({ isa, m, k, a });
        const want = K.quantizeRows({ isa: "generic", m, k, a });
        expect(Array.from(got.p), `${m}x${k}`).toEqual(Array.from(want.p));
        expectSameBits(got.rowScale, want.rowScale);
      }
      const special = Float32Array.from([1, 2, 3, 0, 0, 0, 1, NaN, 2, 4, Infinity, 1]);
      const q = K.quantizeRows({ isa, m: 4, k: 3, a: special });
      const qg = K.quantizeRows({ isa: "generic", m: 4, k: 3, a: special });
      expect(Array.from(q.p)).toEqual(Array.from(qg.p));
      expectSameBits(q.rowScale, qg.rowScale);

      INT8_SHAPES.forEach(([m, k, n], s) => {
        const x = int8Product(m, k, n, 500 + s, s % 2 === 1);
        expectSameBits(multiplyInt8(isa, x), multiplyInt8("generic", x), `${m}x${k}x${n}`);
        // Column blocks as threads split them.
        if (n > 16) {
          const left = multiplyInt8(isa, x, { colEnd: 16 });
          const right = multiplyInt8(isa, x, { colBegin: 16 });
          const stitched = left.map((v, i) => ((i % n) < 16 ? v : right[i]!));
          expectSameBits(stitched, multiplyInt8(isa, x));
        }
      });
      // Extreme values over a long k: Σ p q = 127² k fits int32, the VNNI path's Σ (p + 128) q does not.
      const k = 70001;
      const ext: Int8Product = {
        m: 2,
        k,
        n: 18,
        p: new Int16Array(2 * (k + 1)).map((_, i) => (i % (k + 1) < k ? (i < k + 1 ? 127 : -127) : 0)),
        rowScale: Float32Array.from([1, 1]),
        q: new Int8Array(18 * k).fill(127),
        colScale: new Float32Array(18).fill(1),
        bias: null,
      };
      const out = multiplyInt8(isa, ext);
      expect(out[0]).toBe(Math.fround(127 * 127 * k));
      expect(out[18]).toBe(Math.fround(-127 * 127 * k));
      expectSameBits(out, multiplyInt8("generic", ext));
      // A row that was not finite stays NaN.
      const nanRow = { ...int8Product(2, 9, 20, 9), rowScale: Float32Array.from([NaN, 1]) };
      const withNan = multiplyInt8(isa, nanRow);
      expect(withNan.subarray(0, 20).every(Number.isNaN)).toBe(true);
      expect(withNan.subarray(20).some(Number.isNaN)).toBe(false);
    });
  }
});

// ---- GELU, LayerNorm -------------------------------------------------------------------------------------------

// erf by its Taylor series (|z| <= 3: terms fall below 1e-17 of the sum well before the loop ends).
function erf(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const geluInputs = (n: number, seed: number) => uniform(n, seed, -4, 4);

describe("gelu", () => {
  test("generic: 0.5 x (1 + erf(x / √2)) within the erf formula's 1.5e-7", () => {
    const x = Float32Array.from([...geluInputs(1003, 1), 0, -0, 1e-30, -1e-30, 4, -4]);
    const y = K.gelu({ isa: "generic", x });
    const want = Array.from(x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    // The formula's error, and float32 rounding of erf (~1e-7) scaled by x / 2 where 1 - erf cancels.
    expectClose(y, want, (i) => 0.5 * Math.abs(x[i]!) * (1.5e-7 + 1.5e-7) + 2e-7 * Math.abs(want[i]!) + 1e-37, "gelu");
    // Far out, erf is ±1 in float32: x and 0.
    expect(Array.from(K.gelu({ isa: "generic", x: Float32Array.from([10, 50, -10, -50]) })).map((v) => v + 0)).toEqual([10, 50, 0, 0]);
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: agrees with generic; an element's bits do not depend on its place`, () => {
      for (const n of [1, 7, 8, 15, 16, 17, 1003]) {
        const x = geluInputs(n, n);
        const y = K.gelu({ isa, x });
        expectClose(y, K.gelu({ isa: "generic", x }), (i) => 1e-6 * Math.abs(x[i]!) + 1e-30, `gelu ${isa} n=${n}`);
        for (const i of [0, Math.floor(n / 2), n - 1]) {
          expectSameBits(K.gelu({ isa, x: x.subarray(i, i + 1) }), y.subarray(i, i + 1), `element ${i} of ${n}`);
        }
      }
    });
  }

  test.skipIf(!has.avx512)(`avx512 gives avx2's bits${has.avx512 ? "" : " (skipped: host lacks AVX-512)"}`, () => {
    const x = Float32Array.from([...uniform(1001, 3, -12, 12), 0, -0, 88, -88, 1e-30]);
    expectSameBits(K.gelu({ isa: "avx512", x }), K.gelu({ isa: "avx2", x }));
  });
});

describe("bf16 conversions", () => {
  // Random bit patterns over every exponent, then the cases rounding turns on: exact ties (kept even, or up to
  // even), denormals, signed zeros, infinities, the largest float (rounds to infinity) and NaNs.
  const bits = (n: number, seed: number) => {
    const r = rng(seed);
    const out = Uint32Array.from({ length: n }, () => Math.floor(r() * 4294967296) >>> 0);
    const special = [
      0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0xbf808000, 0xbf818000, 0x00008000, 0x00018000, 0x00000001, 0x80000000, 0x00000000,
      0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fffffff,
    ];
    return Uint32Array.from([...special, ...out]);
  };
  const floats = (u: Uint32Array) => new Float32Array(u.buffer, u.byteOffset, u.length);
  const isNanBits = (u: number) => (u & 0x7fffffff) > 0x7f800000;
  // Round to nearest, ties to even, computed here on the integers.
  const rounded = (u: number) => (isNanBits(u) ? 0x7fc0 : Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff);

  test("generic: round to nearest even (worked cases), libtorch's bits for every number, NaN -> 0x7fc0", () => {
    const cases: [number, number][] = [
      [0x3f808000, 0x3f80], // tie, even below: kept
      [0x3f818000, 0x3f82], // tie, odd below: up
      [0x3f808001, 0x3f81], // past the tie: up
      [0x7f7fffff, 0x7f80], // the largest float: infinity
      [0x00008000, 0x0000], // a denormal tie: kept (not flushed)
      [0x00018000, 0x0002],
      [0x7f800001, 0x7fc0], // a signalling NaN: the quiet NaN
    ];
    const got = K.toBf16({ isa: "generic", x: floats(Uint32Array.from(cases.map((c) => c[0]))) });
    expect(Array.from(got)).toEqual(cases.map((c) => c[1]));
    const u = bits(4000, 5);
    const y = K.toBf16({ isa: "generic", x: floats(u) });
    expect(Array.from(y)).toEqual(Array.from(u, rounded));
    const ref = K.libtorchBf16({ x: floats(u) });
    const differs = Array.from(u).findIndex((v, i) => !isNanBits(v) && ref[i] !== y[i]);
    expect(differs, `element ${differs}: 0x${u[differs]?.toString(16)}`).toBe(-1);
  });

  test("from_bf16 is exact on every path: the bits moved up 16", () => {
    const u = Uint16Array.from(bits(3000, 6), (v) => v >>> 16);
    for (const isa of ["generic", ...VECTOR_PATHS.filter((p) => p.missing === undefined).map((p) => p.isa)] as KernelIsa[]) {
      const y = K.fromBf16({ isa, x: u });
      const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
      const first = Array.from(u).findIndex((v, i) => yb[i] !== (v << 16) >>> 0);
      expect(first, `${isa}: element ${first}`).toBe(-1);
    }
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: generic's bits, whatever the length (tails)`, () => {
      for (const n of [1, 7, 8, 15, 16, 17, 33, 1003, 4019]) {
        const x = floats(bits(n, 100 + n).subarray(0, n));
        expect(Array.from(K.toBf16({ isa, x })), `toBf16 ${isa} n=${n}`).toEqual(Array.from(K.toBf16({ isa: "generic", x })));
        const b = K.toBf16({ isa: "generic", x });
        expectSameBits(K.fromBf16({ isa, x: b }), K.fromBf16({ isa: "generic", x: b }), `fromBf16 ${isa} n=${n}`);
      }
    });
  }
});

describe("add_layer_norm", () => {
  const WIDTHS = [1, 7, 8, 15, 16, 17, 24, 384, 385, 1000];
  const input = (rows: number, width: number, seed: number) => ({
    rows,
    width,
    x: uniform(rows * width, seed, -3, 5),
    residual: uniform(rows * width, seed + 1),
    gamma: uniform(width, seed + 2, 0.5, 1.5),
    beta: uniform(width, seed + 3),
    eps: 1e-12,
  });

  test("generic: (x + r - mean) / sqrt(biased variance + eps) · gamma + beta, against float64", () => {
    for (const width of WIDTHS) {
      const inp = input(3, width, width);
      const y = K.addLayerNorm({ isa: "generic", ...inp, eps: 1e-5 });
      const want = new Float64Array(3 * width);
      for (let i = 0; i < 3; i++) {
        const row = Array.from({ length: width }, (_, j) => Math.fround(inp.x[i * width + j]! + inp.residual[i * width + j]!));
        const mean = row.reduce((s, v) => s + v, 0) / width;
        const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / width;
        row.forEach((v, j) => (want[i * width + j] = ((v - mean) / Math.sqrt(variance + 1e-5)) * inp.gamma[j]! + inp.beta[j]!));
      }
      expectClose(y, want, (i) => 1e-5 * (Math.abs(inp.gamma[i % width]!) * 4 + Math.abs(inp.beta[i % width]!)), `width ${width}`);
    }
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: agrees with generic`, () => {
      for (const width of WIDTHS) {
        const inp = input(2, width, 50 + width);
        const tol = (i: number) => 1e-5 * (Math.abs(inp.gamma[i % width]!) * 4 + Math.abs(inp.beta[i % width]!));
        expectClose(K.addLayerNorm({ isa, ...inp }), K.addLayerNorm({ isa: "generic", ...inp }), tol, `${isa} width ${width}`);
      }
    });
  }

  test.skipIf(!has.avx512)(`avx512 gives avx2's bits${has.avx512 ? "" : " (skipped: host lacks AVX-512)"}`, () => {
    for (const width of WIDTHS) {
      const inp = input(3, width, 90 + width);
      expectSameBits(K.addLayerNorm({ isa: "avx512", ...inp }), K.addLayerNorm({ isa: "avx2", ...inp }), `width ${width}`);
    }
  });
});

// ---- attention -------------------------------------------------------------------------------------------------

interface AttentionCase {
  name: string;
  input: AttentionInput;
}

function attentionCases(): AttentionCase[] {
  const cases: AttentionCase[] = [];
  let seed = 600;
  for (const L of [1, 17, 200]) {
    for (const [heads, headDim] of [
      [2, 8],
      [3, 12],
      [2, 64],
    ] as const) {
      const batch = 2;
      const width = heads * headDim;
      const qkv = uniform(batch * L * 3 * width, seed++, -1.5, 1.5);
      // Padded: the second sentence's last third masked as BERT masks padding.
      const mask = new Float32Array(batch * L).map((_, i) => (i >= L && i - L >= L - Math.floor(L / 3) && i - L > 0 ? -10000 : 0));
      const relBias = uniform(heads * (2 * L - 1), seed++, -2, 2);
      const shape = { batch, seqLen: L, heads, headDim, qkv };
      cases.push({ name: `padded L=${L} heads=${heads} d=${headDim}`, input: { ...shape, mask } });
      cases.push({ name: `padded L=${L} heads=${heads} d=${headDim} + rel_bias`, input: { ...shape, mask, relBias } });
      // Packed: sentences of L, L/2 + 1 and 1 rows, not in row order, one of length 0.
      const lengths = [Math.floor(L / 2) + 1, L, 0, 1];
      const starts = [L + 1, 0, 0, L];
      const rows = L + 1 + lengths[0]!;
      const packed = { batch: 4, seqLen: L, heads, headDim, qkv: uniform(rows * 3 * width, seed++, -1.5, 1.5), starts, lengths, rows };
      cases.push({ name: `packed L=${L} heads=${heads} d=${headDim}`, input: packed });
      cases.push({ name: `packed L=${L} heads=${heads} d=${headDim} + rel_bias`, input: { ...packed, relBias: uniform(heads * (2 * L - 1), seed++, -2, 2) } });
    }
    // Grouped-query heads and bands (causal, causal sliding window, two-sided local window), padded and packed.
    for (const [kvHeads, windowLeft, windowRight] of [
      [2, -1, 0],
      [1, 5, 0],
      [4, 8, 8],
      [2, -1, -1],
    ] as const) {
      const heads = 4, headDim = 16, batch = 2;
      const band = { kvHeads, windowLeft, windowRight };
      const stride = (heads + 2 * kvHeads) * headDim;
      // The second sentence left-padded, masked as Hugging Face masks: with the lowest float, so a padded query that
      // a causal band leaves only padded keys averages them in float32 as in float64.
      const mask = new Float32Array(batch * L).map((_, i) => (i >= L && i - L < Math.floor(L / 3) ? -3.4028234663852886e38 : 0));
      const name = `L=${L} heads=${heads}/${kvHeads} window ${windowLeft},${windowRight}`;
      cases.push({ name: `padded ${name}`, input: { batch, seqLen: L, heads, headDim, qkv: uniform(batch * L * stride, seed++, -1.5, 1.5), mask, ...band } });
      const lengths = [Math.floor(L / 2) + 1, L, 1];
      const starts = [L + 1, 0, L];
      const rows = L + 1 + lengths[0]!;
      cases.push({ name: `packed ${name}`, input: { batch: 3, seqLen: L, heads, headDim, qkv: uniform(rows * stride, seed++, -1.5, 1.5), starts, lengths, rows, ...band } });
    }
  }
  return cases;
}

const ATTENTION = attentionCases();
// Outputs are convex combinations of values in [-1.5, 1.5]; float32 rounding moves them by a few 1e-7.
const ATTENTION_TOL = 2e-6;

describe("attention", () => {
  test("generic: against libtorch's matmul and softmax in float64 (mask, packed sentences, relative position bias)", () => {
    for (const { name, input } of ATTENTION) {
      expectClose(K.attention({ isa: "generic", ...input }), K.attentionReference(input), () => ATTENTION_TOL, name);
    }
  });

  test("a band hides exactly the keys outside it: a causal query's output ignores later keys; shared key heads are read by their query group", () => {
    const { input } = ATTENTION.find((c) => c.name === "packed L=17 heads=4/2 window -1,0")!;
    const full = K.attentionReference({ ...input, windowLeft: -1, windowRight: -1 });
    const causal = K.attention({ isa: "generic", ...input });
    expect(Math.max(...causal.map((v, i) => Math.abs(v - full[i]!)))).toBeGreaterThan(0.05);
    // Changing a later token's key and value leaves an earlier query's output as it was.
    const qkv = Float32Array.from(input.qkv);
    const stride = (input.heads + 2 * input.kvHeads!) * input.headDim;
    const last = input.starts![1]! + input.lengths![1]! - 1;  // sentence 1's last row
    for (let c = input.heads * input.headDim; c < stride; c++) qkv[last * stride + c] = 7;
    const changed = K.attention({ isa: "generic", ...input, qkv });
    const width = input.heads * input.headDim;
    for (let c = 0; c < width; c++) expect(changed[(last - 1) * width + c]).toBe(causal[(last - 1) * width + c]);
    expect(changed[last * width]).not.toBe(causal[last * width]);
    // Key heads shared: with kvHeads 2 of 4, giving the queries of heads 0 and 1 the same values gives the same output.
    const shared = Float32Array.from(input.qkv);
    for (let r = 0; r < input.rows!; r++) for (let c = 0; c < input.headDim; c++) shared[r * stride + input.headDim + c] = shared[r * stride + c]!;
    const out = K.attention({ isa: "generic", ...input, qkv: shared });
    for (let r = 0; r < input.rows!; r++) {
      for (let c = 0; c < input.headDim; c++) expect(out[r * width + input.headDim + c]).toBe(out[r * width + c]);
    }
  });

  test("the relative position bias is the one at j - i: a bias that differs with the distance changes the output", () => {
    const { input } = ATTENTION.find((c) => c.name === "padded L=17 heads=3 d=12 + rel_bias")!;
    const without = K.attentionReference({ ...input, relBias: null });
    const withBias = K.attentionReference(input);
    expect(Math.max(...withBias.map((v, i) => Math.abs(v - without[i]!)))).toBeGreaterThan(0.05);
    // A bias constant over distances shifts every score of a row alike: softmax is unchanged.
    const constant = new Float32Array(input.relBias!.length).fill(3);
    expectClose(K.attention({ isa: "generic", ...input, relBias: constant }), without, () => ATTENTION_TOL, "constant bias");
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: agrees with generic and with libtorch; items computed apart give the same bits`, () => {
      for (const { name, input } of ATTENTION) {
        const got = K.attention({ isa, ...input });
        expectClose(got, K.attention({ isa: "generic", ...input }), () => ATTENTION_TOL, `${isa} ${name} vs generic`);
        expectClose(got, K.attentionReference(input), () => ATTENTION_TOL, `${isa} ${name} vs libtorch`);
        // Items split as threads split them.
        const items = input.batch * input.heads;
        const half = Math.floor(items / 2);
        const first = K.attention({ isa, ...input, end: half });
        const second = K.attention({ isa, ...input, begin: half });
        const stitched = first.map((v, i) => (Number.isNaN(v) ? second[i]! : v));
        expectSameBits(stitched, got, name);
      }
      // A zero bias adds nothing: the bits of attention without one.
      const { input } = ATTENTION.find((c) => c.name === "padded L=200 heads=2 d=64 + rel_bias")!;
      const zero = new Float32Array(input.relBias!.length);
      expectSameBits(K.attention({ isa, ...input, relBias: zero }), K.attention({ isa, ...input, relBias: null }));
    });
  }

  test.skipIf(!has.avx512)(`avx512 gives avx2's bits${has.avx512 ? "" : " (skipped: host lacks AVX-512)"}`, () => {
    for (const { name, input } of ATTENTION) {
      expectSameBits(K.attention({ isa: "avx512", ...input }), K.attention({ isa: "avx2", ...input }), name);
    }
  });
});

// ---- AdamW, dropout --------------------------------------------------------------------------------------------

describe("adamw", () => {
  const state = (n: number, seed: number) => ({
    p: uniform(n, seed),
    g: uniform(n, seed + 1, -0.1, 0.1),
    m: uniform(n, seed + 2, -0.01, 0.01),
    v: uniform(n, seed + 3, 0, 1e-4),
  });
  const STEPS = [
    { decay: true, decayFactor: 1 - 2e-5 * 0.01, beta1: 0.9, beta2: 0.999, bias2Sqrt: Math.sqrt(1 - 0.999 ** 3), eps: 1e-6, negStepSize: -2e-5 / (1 - 0.9 ** 3) },
    { decay: false, decayFactor: 1, beta1: 0.8, beta2: 0.99, bias2Sqrt: 0.3, eps: 1e-8, negStepSize: -1e-3 },
  ];

  // Tolerances relative to the magnitude of each update's terms (m and v sum two terms that may cancel; p adds the
  // step to the decayed parameter).
  type State = ReturnType<typeof state>;
  const tolerances = (s: State, step: (typeof STEPS)[number], next: { p: ArrayLike<number> }, rel: number) => ({
    m: (i: number) => rel * (Math.abs(step.beta1 * s.m[i]!) + Math.abs((1 - step.beta1) * s.g[i]!)) + 1e-30,
    v: (i: number) => rel * (Math.abs(step.beta2 * s.v[i]!) + Math.abs((1 - step.beta2) * s.g[i]! ** 2)) + 1e-30,
    p: (i: number) => rel * (Math.abs(s.p[i]!) + Math.abs(next.p[i]! - s.p[i]!)) + 1e-30,
  });

  test("generic: torch.optim.AdamW's update, against float64", () => {
    const s = state(1001, 1);
    for (const step of STEPS) {
      const got = K.adamw({ isa: "generic", ...s, step });
      const b1 = Math.fround(step.beta1);
      const b2 = Math.fround(step.beta2);
      const want = { p: new Float64Array(1001), m: new Float64Array(1001), v: new Float64Array(1001) };
      for (let i = 0; i < 1001; i++) {
        want.m[i] = b1 * s.m[i]! + (1 - b1) * s.g[i]!;
        want.v[i] = b2 * s.v[i]! + (1 - b2) * s.g[i]! ** 2;
        const decayed = step.decay ? s.p[i]! * step.decayFactor : s.p[i]!;
        want.p[i] = decayed + (step.negStepSize * want.m[i]!) / (Math.sqrt(want.v[i]!) / step.bias2Sqrt + step.eps);
      }
      const tol = tolerances(s, step, want, 1e-6);
      expectClose(got.m, want.m, tol.m, "m");
      expectClose(got.v, want.v, tol.v, "v");
      expectClose(got.p, want.p, tol.p, "p");
    }
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: agrees with generic; an element's bits do not depend on where the array is cut`, () => {
      for (const n of [1, 7, 8, 17, 1001]) {
        const s = state(n, n);
        for (const step of STEPS) {
          const got = K.adamw({ isa, ...s, step });
          const want = K.adamw({ isa: "generic", ...s, step });
          const tol = tolerances(s, step, want, 1e-6);
          expectClose(got.p, want.p, tol.p, `${isa} p n=${n}`);
          expectClose(got.m, want.m, tol.m, `${isa} m n=${n}`);
          expectClose(got.v, want.v, tol.v, `${isa} v n=${n}`);
          const cut = Math.floor(n / 3);
          const a = K.adamw({ isa, p: s.p.subarray(0, cut), g: s.g.subarray(0, cut), m: s.m.subarray(0, cut), v: s.v.subarray(0, cut), step });
          const b = K.adamw({ isa, p: s.p.subarray(cut), g: s.g.subarray(cut), m: s.m.subarray(cut), v: s.v.subarray(cut), step });
          expectSameBits(Float32Array.from([...a.p, ...b.p]), got.p, `cut at ${cut} of ${n}`);
        }
      }
    });
  }

  test.skipIf(!has.avx512)(`avx512 gives avx2's bits${has.avx512 ? "" : " (skipped: host lacks AVX-512)"}`, () => {
    for (const n of [1, 15, 16, 17, 1001]) {
      const s = state(n, 3 * n);
      for (const step of STEPS) {
        const x = K.adamw({ isa: "avx512", ...s, step });
        const y = K.adamw({ isa: "avx2", ...s, step });
        expectSameBits(x.p, y.p, `p n=${n}`);
        expectSameBits(x.m, y.m, `m n=${n}`);
        expectSameBits(x.v, y.v, `v n=${n}`);
      }
    }
  });
});

describe("dropout_noise", () => {
  const DRAWS = [
    { seed: 0n, keepThreshold: Math.round(0.9 * 2 ** 24), scale: Math.fround(1 / 0.9) },
    { seed: 0xdeadbeefcafef00dn, keepThreshold: 2 ** 23, scale: 2 },
    { seed: 2n ** 64n - 1n, keepThreshold: 1, scale: 5 },
  ];

  test("generic: scale or 0, keeping about the asked share", () => {
    const noise = K.dropoutNoise({ isa: "generic", n: 100_000, ...DRAWS[1]! });
    const kept = noise.filter((v) => v === 2).length;
    expect(noise.every((v) => v === 0 || v === 2)).toBe(true);
    // p = 0.5: 5 standard deviations of the binomial count.
    expect(Math.abs(kept - 50_000)).toBeLessThan(5 * Math.sqrt(100_000 * 0.25));
    expect(K.dropoutNoise({ isa: "generic", n: 10, ...DRAWS[1]!, seed: 1n })).not.toEqual(K.dropoutNoise({ isa: "generic", n: 10, ...DRAWS[1]! }));
  });

  for (const { isa, missing } of VECTOR_PATHS) {
    test.skipIf(missing !== undefined)(`${title(isa, missing)}: the same noise as generic, bit for bit`, () => {
      for (const draw of DRAWS) {
        for (const n of [0, 1, 7, 15, 16, 17, 100_003]) {
          expectSameBits(K.dropoutNoise({ isa, n, ...draw }), K.dropoutNoise({ isa: "generic", n, ...draw }), `n=${n} seed=${draw.seed}`);
        }
      }
    });
  }
});

describe("ISA choice", () => {
  test(`the host's best path is one it supports, and generic runs everywhere (best here: ${features.best})`, () => {
    expect(features.supported).toContain("generic");
    expect(features.supported).toContain(features.best);
    expect(features.supported.at(-1)).toBe(features.best);
    if (features.vnni) expect(has.avx512).toBe(true);
  });

  test("an unknown ISA name is an error naming the argument and the choices", () => {
    expect(() => K.gelu({ isa: "avx9" as KernelIsa, x: new Float32Array(4) })).toThrow(/isa: unknown kernel ISA 'avx9' \(expected generic, avx2 or avx512\)/);
  });

  test.skipIf(has.avx512)(`a path the CPU lacks is refused, not run${has.avx512 ? " (skipped: host has every path)" : ""}`, () => {
    expect(() => K.gelu({ isa: "avx512", x: new Float32Array(4) })).toThrow(/this CPU cannot run the 'avx512' kernels/);
  });

  test("wrong array lengths are errors naming the field", () => {
    expect(() => K.multiplyPanels({ isa: "generic", m: 2, k: 3, n: 4, a: new Float32Array(5), w: new Float32Array(12) })).toThrow(/a: expected 6 elements, got 5/);
    expect(() => K.multiplyPanels({ isa: "generic", m: 2, k: 3, n: 4, a: new Float32Array(6), w: new Float32Array(12), colBegin: 3 })).toThrow(/colBegin/);
  });
});
