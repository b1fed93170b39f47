import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SbertError } from "../../lib/errors.js";
import {
  bf16ToF32,
  f16ToF32,
  f32ToBF16,
  f32ToF16,
  readSafetensorsHeader,
  writeSafetensors,
  type TensorToWrite,
} from "../../lib/io/safetensors.js";
import { findWeights } from "../../lib/io/weights.js";
import { runPython } from "../helpers/python.js";

const TOOL = fileURLToPath(new URL("../fixtures/safetensors_tool.py", import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sbert-safetensors-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
function fresh(name = "t.safetensors"): string {
  return join(dir, `${counter++}-${name}`);
}

function f32(values: number[]): Float32Array {
  return Float32Array.from(values);
}

/** A small set of tensors of every writable dtype, with names that exercise ordering and JSON escaping. */
function sampleTensors(): TensorToWrite[] {
  return [
    { name: "b.weight", dtype: "F32", shape: [2, 3], data: f32([1, 2, 3, 4, 5, 6]) },
    { name: "a.bias", dtype: "F32", shape: [3], data: f32([-1.5, 0, 2.25]) },
    { name: "10", dtype: "F32", shape: [1], data: f32([10]) },
    { name: "2", dtype: "F32", shape: [1], data: f32([2]) },
    { name: "ids", dtype: "I64", shape: [1, 4], data: BigInt64Array.from([0n, 1n, 2n, -3n]) },
    { name: "half", dtype: "F16", shape: [2, 2], data: f32ToF16(f32([0.5, -2, 1024, 1e-3])) },
    { name: "brain", dtype: "BF16", shape: [3], data: f32ToBF16(f32([3.5, -0.125, 100])) },
    { name: "scalar", dtype: "F32", shape: [], data: f32([7]) },
    { name: "empty", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    { name: 'wéird "name"\n\u0001', dtype: "F16", shape: [1], data: f32ToF16(f32([1])) },
  ];
}

function bytesOf(v: ArrayBufferView): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

async function expectFormatError(path: string, ...mustMention: string[]): Promise<void> {
  const err = await readSafetensorsHeader(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${path} to be rejected`).toBeInstanceOf(SbertError);
  expect((err as SbertError).code).toBe("ERR_FORMAT");
  expect((err as SbertError).message).toContain(path);
  for (const m of mustMention) expect((err as SbertError).message).toContain(m);
}

/** Writes a file with an arbitrary header (object → JSON, string or bytes as they are) and data section. */
async function rawFile(header: unknown, data: Buffer = Buffer.alloc(0), lengthOverride?: bigint): Promise<string> {
  const path = fresh("raw.safetensors");
  const h = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  await writeFile(path, Buffer.concat([len, h, data]));
  return path;
}

describe("writeSafetensors / readSafetensorsHeader", () => {
  it("round-trips tensors, shapes, dtypes and metadata", async () => {
    const path = fresh();
    const tensors = sampleTensors();
    await writeSafetensors(path, tensors, { format: "pt", note: "x" });
    const h = await readSafetensorsHeader(path);
    const file = await readFile(path);
    expect(h.path).toBe(path);
    expect(h.fileSize).toBe(file.length);
    expect(h.metadata).toEqual({ format: "pt", note: "x" });
    expect(h.dataOffset % 8).toBe(0);
    expect(h.entries.map((e) => e.name).sort()).toEqual(tensors.map((t) => t.name).sort());
    for (const t of tensors) {
      const e = h.entries.find((x) => x.name === t.name)!;
      expect(e.dtype).toBe(t.dtype);
      expect(e.shape).toEqual(t.shape);
      expect(file.subarray(e.begin, e.end).equals(bytesOf(t.data))).toBe(true);
    }
    // Entries are in file order, back to back, and fill the data section exactly.
    let at = h.dataOffset;
    for (const e of h.entries) {
      expect(e.begin).toBe(at);
      at = e.end;
    }
    expect(at).toBe(file.length);
    // No temporary files are left behind.
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("lays tensors out as the reference writer: dtype alignment descending, then name bytewise", async () => {
    const path = fresh();
    await writeSafetensors(path, sampleTensors());
    const h = await readSafetensorsHeader(path);
    expect(h.entries.map((e) => e.name)).toEqual([
      "ids",
      "10",
      "2",
      "a.bias",
      "b.weight",
      "empty",
      "scalar",
      "brain",
      "half",
      'wéird "name"\n\u0001',
    ]);
    // Header JSON starts with __metadata__ when given, is compact and space-padded to 8 bytes.
    const path2 = fresh();
    await writeSafetensors(path2, [{ name: "x", dtype: "F32", shape: [1], data: f32([1]) }], { format: "pt" });
    const raw = await readFile(path2);
    const n = Number(raw.readBigUInt64LE(0));
    expect(raw.subarray(8, 8 + n).toString("utf8")).toBe(
      '{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.padEnd(n, " "),
    );
    expect(n % 8).toBe(0);
    // No tensors at all is a valid file too.
    const path3 = fresh();
    await writeSafetensors(path3, []);
    expect((await readFile(path3)).toString("latin1")).toBe("\x08\0\0\0\0\0\0\0{}      ");
    expect((await readSafetensorsHeader(path3)).entries).toEqual([]);
  });

  it("is byte-identical to an independent Python writer, and Python reads back the same values", async () => {
    const tensors = sampleTensors();
    const ours = fresh();
    const theirs = fresh();
    const metadata = { format: "pt" };
    await writeSafetensors(ours, tensors, metadata);
    await runPython(TOOL, {
      op: "write",
      path: theirs,
      metadata,
      tensors: tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, hex: bytesOf(t.data).toString("hex") })),
    });
    expect((await readFile(ours)).equals(await readFile(theirs))).toBe(true);

    const back = await runPython<{ header: Record<string, unknown>; tensors: Record<string, number[]> }>(TOOL, { op: "read", path: ours });
    expect(back.header["__metadata__"]).toEqual(metadata);
    const expectValues: Record<string, number[]> = {
      "b.weight": [1, 2, 3, 4, 5, 6],
      "a.bias": [-1.5, 0, 2.25],
      ids: [0, 1, 2, -3],
      half: [0.5, -2, 1024, f16ToF32(f32ToF16(f32([1e-3])))[0]!],
      brain: [3.5, -0.125, 100],
      scalar: [7],
      empty: [],
    };
    for (const [name, values] of Object.entries(expectValues)) expect(back.tensors[name]).toEqual(values);
  });

  it("validates what it is asked to write", async () => {
    const path = fresh();
    const bad = async (t: TensorToWrite[], ...mention: string[]) => {
      const err = await writeSafetensors(path, t).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SbertError);
      expect((err as SbertError).code).toBe("ERR_FORMAT");
      for (const m of mention) expect((err as SbertError).message).toContain(m);
    };
    await bad([{ name: "w", dtype: "F32", shape: [2, 2], data: f32([1, 2, 3]) }], path, '"w"', "12 bytes", "16");
    await bad([{ name: "w", dtype: "F16", shape: [2], data: f32([1, 2]) }], '"w"', "8 bytes");
    await bad([{ name: "w", dtype: "F32", shape: [-1], data: f32([]) }], '"w"', "shape");
    await bad(
      [
        { name: "w", dtype: "F32", shape: [1], data: f32([1]) },
        { name: "w", dtype: "F32", shape: [1], data: f32([1]) },
      ],
      '"w"',
      "twice",
    );
    await bad([{ name: "__metadata__", dtype: "F32", shape: [1], data: f32([1]) }], "reserved");
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("replaces an existing file", async () => {
    const path = fresh();
    await writeSafetensors(path, [{ name: "a", dtype: "F32", shape: [4], data: f32([1, 2, 3, 4]) }]);
    await writeSafetensors(path, [{ name: "b", dtype: "F32", shape: [1], data: f32([5]) }]);
    expect((await readSafetensorsHeader(path)).entries.map((e) => e.name)).toEqual(["b"]);
  });
});

describe("readSafetensorsHeader rejects corrupt files with ERR_FORMAT naming the file and tensor", () => {
  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const eight = Buffer.alloc(8);

  it("a missing file is ERR_FILE_NOT_FOUND", async () => {
    const path = join(dir, "does-not-exist.safetensors");
    await expect(readSafetensorsHeader(path)).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining(path) });
  });

  it("file shorter than 8 bytes", async () => {
    const path = fresh();
    await writeFile(path, Buffer.from([1, 0, 0]));
    await expectFormatError(path, "shorter than");
    const empty = fresh();
    await writeFile(empty, Buffer.alloc(0));
    await expectFormatError(empty);
  });

  it("header length past the end of the file, or absurdly large", async () => {
    await expectFormatError(await rawFile({ w: ok }, eight, 1000n), "past the end");
    await expectFormatError(await rawFile({ w: ok }, eight, 2n ** 63n), "limit");
    await expectFormatError(await rawFile({ w: ok }, eight, 2n ** 64n - 1n), "limit");
    await expectFormatError(await rawFile({ w: ok }, eight, 100_000_001n), "limit");
  });

  it("header not JSON, not UTF-8, or not an object", async () => {
    await expectFormatError(await rawFile("{not json", eight), "not JSON");
    await expectFormatError(await rawFile(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), eight), "UTF-8");
    await expectFormatError(await rawFile("[1,2]", eight), "not a JSON object");
    await expectFormatError(await rawFile("null", eight), "not a JSON object");
    await expectFormatError(await rawFile("42", eight), "not a JSON object");
    await expectFormatError(await rawFile({ w: [1, 2] }, eight), '"w"', "not an object");
  });

  it("unknown dtype", async () => {
    await expectFormatError(await rawFile({ w: { ...ok, dtype: "F8_E4M3" } }, eight), '"w"', "F8_E4M3");
    await expectFormatError(await rawFile({ w: { ...ok, dtype: "f32" } }, eight), '"w"', "dtype");
    await expectFormatError(await rawFile({ w: { ...ok, dtype: 4 } }, eight), '"w"', "dtype");
    const { dtype: _d, ...noDtype } = ok;
    await expectFormatError(await rawFile({ w: noDtype }, eight), '"w"', "dtype");
  });

  it("shape not a list of non-negative integers", async () => {
    for (const shape of [[-2], [2.5], ["2"], "2", null, 2, [[2]]]) {
      await expectFormatError(await rawFile({ w: { ...ok, shape } }, eight), '"w"', "shape");
    }
  });

  it("data_offsets not [begin, end] with begin <= end", async () => {
    for (const data_offsets of [[8, 0], [0], [0, 8, 9], "0,8", [-1, 7], [0.5, 8], null]) {
      await expectFormatError(await rawFile({ w: { ...ok, data_offsets } }, eight), '"w"', "data_offsets");
    }
  });

  it("offsets outside the data section", async () => {
    await expectFormatError(await rawFile({ w: { ...ok, data_offsets: [4, 12] } }, eight), '"w"', "past");
    await expectFormatError(await rawFile({ w: ok }, Buffer.alloc(4)), '"w"', "past");
  });

  it("byte length that does not match shape × dtype size", async () => {
    await expectFormatError(await rawFile({ w: { ...ok, shape: [3] } }, Buffer.alloc(12)), '"w"', "needs 12");
    await expectFormatError(await rawFile({ w: { ...ok, dtype: "F64" } }, eight), '"w"', "needs 16");
    await expectFormatError(await rawFile({ w: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, eight), '"w"');
  });

  it("overlapping tensors", async () => {
    const header = {
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    };
    await expectFormatError(await rawFile(header, Buffer.alloc(12)), "overlaps", '"a"', '"b"');
    // Two tensors sharing the same bytes overlap too; empty tensors occupy nothing and never do.
    const same = { a: ok, b: ok, e: { dtype: "F32", shape: [0], data_offsets: [4, 4] } };
    await expectFormatError(await rawFile(same, eight), "overlaps");
    const fine = await rawFile({ a: ok, e: { dtype: "F32", shape: [0], data_offsets: [4, 4] } }, eight);
    expect((await readSafetensorsHeader(fine)).entries.map((e) => e.name)).toEqual(["a", "e"]);
  });

  it("__metadata__ that is not string → string", async () => {
    await expectFormatError(await rawFile({ __metadata__: { format: 1 }, w: ok }, eight), "__metadata__", "format");
    await expectFormatError(await rawFile({ __metadata__: ["pt"], w: ok }, eight), "__metadata__");
    await expectFormatError(await rawFile({ __metadata__: "pt", w: ok }, eight), "__metadata__");
    const fine = await rawFile({ __metadata__: { format: "pt" }, w: ok }, eight);
    expect((await readSafetensorsHeader(fine)).metadata).toEqual({ format: "pt" });
  });

  it("accepts a hand-made valid file with absolute offsets", async () => {
    const path = await rawFile({ b: { dtype: "U8", shape: [2], data_offsets: [8, 10] }, a: ok }, Buffer.alloc(10));
    const h = await readSafetensorsHeader(path);
    expect(h.entries.map((e) => [e.name, e.begin - h.dataOffset, e.end - h.dataOffset])).toEqual([
      ["a", 0, 8],
      ["b", 8, 10],
    ]);
  });
});

describe("float16 / bfloat16 conversions match torch bit for bit", () => {
  function bitsOf(values: number[]): number[] {
    return Array.from(new Uint32Array(Float32Array.from(values).buffer));
  }
  function floatsFromBits(bits: number[]): Float32Array {
    return new Float32Array(Uint32Array.from(bits).buffer);
  }

  it("float32 → f16 / bf16: specials, subnormals, overflow and rounding ties", async () => {
    const special = [
      0, -0, 1, -1, 0.1, -0.1, 1 / 3, Math.PI, 65504, -65504, 65505, 65519, 65519.99, 65520, 65536, 1e5, 3.4e38,
      Infinity, -Infinity,
      2 ** -14, 2 ** -14 * (1 - 2 ** -11), 2 ** -24, 2 ** -25, 3 * 2 ** -25, 5 * 2 ** -25, 2 ** -26, 2 ** -25 * 1.0001,
      -(2 ** -25), -(3 * 2 ** -25), 1023.5 * 2 ** -24, 1e-8, 1e-40, -1e-45,
      // f16 ties (half an ulp above a representable value): even one stays, odd one rounds up.
      1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2048 + 3, -(1 + 3 * 2 ** -11),
      // bf16 ties.
      1 + 2 ** -8, 1 + 3 * 2 ** -8, 256 + 1, 256 + 3, 255.5, 3.3895313892515355e38,
    ];
    const bits = bitsOf(special);
    bits.push(0x7fc00000, 0xffc00000); // quiet NaN, negative quiet NaN
    // Random bit patterns across the whole range; NaNs with payloads are left out because torch's scalar and
    // vectorised casts disagree on them.
    let s = 12345;
    for (let i = 0; i < 20000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const b = (s ^ (s >>> 13) ^ Math.imul(i, 0x9e3779b1)) >>> 0;
      if ((b & 0x7fffffff) > 0x7f800000) continue;
      bits.push(b);
    }
    // Values near 1 with low mantissa bits set, where rounding decides.
    for (let m = 0; m < 2048; m++) bits.push(0x3f800000 | (m * 4099) % 0x800000, 0x33000000 + m * 997);

    const torch = await runPython<{ f16: number[]; bf16: number[] }>(TOOL, { op: "casts", bits });
    const x = floatsFromBits(bits);
    const f16 = Array.from(f32ToF16(x));
    const bf16 = Array.from(f32ToBF16(x));
    const mismatches = (ours: number[], theirs: number[]) =>
      ours.flatMap((v, i) => (v === theirs[i] ? [] : [`${x[i]} (0x${bits[i]!.toString(16)}): ours 0x${v.toString(16)} torch 0x${theirs[i]!.toString(16)}`]));
    expect(mismatches(f16, torch.f16).slice(0, 10)).toEqual([]);
    // torch's own bf16 NaN differs by path (0x7fc0 from the scalar cast, 0xffff from the vectorised tensor
    // cast); ours is always the canonical 0x7fc0, so NaNs are only required to stay NaN.
    const isNaN16 = (b: number) => (b & 0x7fff) > 0x7f80;
    const torchBf16 = torch.bf16.map((b, i) => (isNaN16(b) && bf16[i] === 0x7fc0 ? 0x7fc0 : b));
    expect(mismatches(bf16, torchBf16).slice(0, 10)).toEqual([]);
    // A few hand-checked patterns, so a wrong torch would not go unnoticed.
    expect(Array.from(f32ToF16(f32([1, 65504, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, NaN])))).toEqual([
      0x3c00, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0002, 0x3c00, 0x3c02, 0x7e00,
    ]);
    expect(Array.from(f32ToBF16(f32([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -Infinity, NaN])))).toEqual([0x3f80, 0x3f80, 0x3f82, 0xff80, 0x7fc0]);
  });

  it("f16 / bf16 → float32 for all 65536 bit patterns", async () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const torch = await runPython<{ f16: number[]; bf16: number[] }>(TOOL, { op: "upcasts", f16: all, bf16: all });
    const u16 = Uint16Array.from(all);
    const f16 = new Uint32Array(f16ToF32(u16).buffer);
    const bf16 = new Uint32Array(bf16ToF32(u16).buffer);
    const isNaNBits = (b: number) => (b & 0x7fffffff) > 0x7f800000;
    const bad: string[] = [];
    for (let i = 0; i < 65536; i++) {
      const t = torch.f16[i]!;
      // NaN payloads may be quieted by a hardware cast; only NaN-ness is compared for them.
      if (isNaNBits(t) ? !isNaNBits(f16[i]!) : t !== f16[i]) bad.push(`f16 0x${i.toString(16)}`);
      if (torch.bf16[i] !== bf16[i]) bad.push(`bf16 0x${i.toString(16)}`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
    // Round trip: every non-NaN half survives f16 → f32 → f16.
    const back = f32ToF16(f16ToF32(u16));
    for (let i = 0; i < 65536; i++) if (!isNaNBits(f16[i]!)) expect(back[i]).toBe(i);
    expect(Array.from(f32ToBF16(bf16ToF32(Uint16Array.from([0x3f80, 0x0001, 0x8000, 0x7f80]))))).toEqual([0x3f80, 0x0001, 0x8000, 0x7f80]);
  });
});

describe("findWeights", () => {
  const w = (name: string, n = 2): TensorToWrite => ({ name, dtype: "F32", shape: [n], data: new Float32Array(n).fill(1) });
  async function folder(): Promise<string> {
    const d = fresh("model");
    await mkdir(d);
    return d;
  }
  async function sharded(d: string, weightMap: Record<string, string>, shards: Record<string, string[]>): Promise<void> {
    for (const [file, names] of Object.entries(shards)) await writeSafetensors(join(d, file), names.map((n) => w(n)), { format: "pt" });
    await writeFile(join(d, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  }

  it("prefers model.safetensors", async () => {
    const d = await folder();
    await writeSafetensors(join(d, "model.safetensors"), [w("a")]);
    await writeFile(join(d, "pytorch_model.bin"), Buffer.from("PK\x03\x04rest", "latin1"));
    const src = await findWeights(d);
    expect(src.format).toBe("safetensors");
    if (src.format === "safetensors") expect(src.headers.map((h) => h.path)).toEqual([join(d, "model.safetensors")]);
  });

  it("reads every shard of a sharded checkpoint", async () => {
    const d = await folder();
    const s1 = "model-00001-of-00002.safetensors";
    const s2 = "model-00002-of-00002.safetensors";
    await sharded(d, { a: s1, b: s1, c: s2 }, { [s1]: ["a", "b"], [s2]: ["c"] });
    const src = await findWeights(d);
    expect(src.format).toBe("safetensors");
    if (src.format !== "safetensors") return;
    expect(src.headers.map((h) => h.path)).toEqual([join(d, s1), join(d, s2)]);
    expect(src.headers.flatMap((h) => h.entries.map((e) => e.name))).toEqual(["a", "b", "c"]);
  });

  it("rejects inconsistent shard indexes", async () => {
    const s1 = "model-00001-of-00002.safetensors";
    const s2 = "model-00002-of-00002.safetensors";
    const index = "model.safetensors.index.json";

    let d = await folder();
    await sharded(d, { a: s1, c: s2 }, { [s1]: ["a"] });
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining(s2) });

    d = await folder();
    await sharded(d, { a: s1, c: s1, d: s2 }, { [s1]: ["a"], [s2]: ["c", "d"] });
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringMatching(/"c".*is in .*00002/) });

    d = await folder();
    await sharded(d, { a: s1, b: s2 }, { [s1]: ["a", "b"], [s2]: ["b"] });
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringMatching(/"b".*two shards/) });

    d = await folder();
    await sharded(d, { a: s1, z: s1 }, { [s1]: ["a"] });
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringMatching(/"z".*no shard/) });

    d = await folder();
    await writeFile(join(d, index), JSON.stringify({ metadata: {} }));
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("weight_map") });

    d = await folder();
    await writeFile(join(d, index), "{oops");
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining(index) });

    d = await folder();
    await writeFile(join(d, index), JSON.stringify({ weight_map: { a: "../elsewhere.safetensors" } }));
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("outside") });

    // A corrupt shard is reported with the shard's own name.
    d = await folder();
    await sharded(d, { a: s1 }, { [s1]: ["a"] });
    await writeFile(join(d, s1), Buffer.from([1, 2, 3]));
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining(join(d, s1)) });
  });

  it("finds a pytorch_model.bin in the zip or the legacy pickle format, and refuses anything else", async () => {
    let d = await folder();
    await writeFile(join(d, "pytorch_model.bin"), Buffer.from("PK\x03\x04rest", "latin1"));
    expect(await findWeights(d)).toEqual({ format: "pytorch", path: join(d, "pytorch_model.bin") });

    d = await folder();
    await writeFile(join(d, "pytorch_model.bin"), Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
    expect(await findWeights(d)).toEqual({ format: "pytorch", path: join(d, "pytorch_model.bin") });

    d = await folder();
    await writeFile(join(d, "pytorch_model.bin"), Buffer.from("not a checkpoint"));
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("pytorch_model.bin") });

    d = await folder();
    await writeFile(join(d, "pytorch_model.bin.index.json"), "{}");
    await expect(findWeights(d)).rejects.toMatchObject({ code: "ERR_FORMAT", message: expect.stringContaining("pytorch_model.bin.index.json") });
  });

  it("names the folder and every file looked for when there are no weights", async () => {
    const d = await folder();
    const err = await findWeights(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SbertError);
    expect((err as SbertError).code).toBe("ERR_FILE_NOT_FOUND");
    for (const m of [d, "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"]) {
      expect((err as SbertError).message).toContain(m);
    }
    await expect(findWeights(join(d, "nope"))).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND" });
  });
});
