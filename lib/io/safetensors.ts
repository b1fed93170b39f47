/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON header
 * (`{name: {dtype, shape, data_offsets}, "__metadata__"?: {string: string}}`), then the raw tensor bytes.
 * `data_offsets` are relative to the first byte after the header.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { SbertError } from "../errors.js";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** One tensor of a file; `begin`/`end` are absolute byte offsets in the file. */
export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + header length). */
  dataOffset: number;
  /** Sorted by `begin`. */
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

export interface TensorToWrite {
  name: string;
  dtype: "F32" | "F16" | "BF16" | "I64";
  shape: number[];
  /** Raw little-endian bytes of `dtype`. */
  data: ArrayBufferView;
}

const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * Position of each dtype in the reference library's `Dtype` enum, which is declared in increasing alignment;
 * its writer lays tensors out by this rank descending, then by name.
 */
const DTYPE_RANK: Record<SafetensorsDtype, number> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 3,
  F16: 4,
  BF16: 5,
  I32: 6,
  F32: 7,
  F64: 8,
  I64: 9,
};

/** The reference implementation's limit; a larger length means a corrupt or hostile file. */
const MAX_HEADER_SIZE = 100_000_000;

export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZE[dtype];
}

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === "string" && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, x);
}

function formatError(path: string, what: string, cause?: unknown): SbertError {
  return new SbertError("ERR_FORMAT", `${path}: not a valid safetensors file: ${what}`, { op: "safetensors", cause });
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function numel(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new SbertError("ERR_FILE_NOT_FOUND", `${path}: no such file`, { op: "safetensors", cause: e });
    }
    throw new SbertError("ERR_FORMAT", `${path}: cannot be opened: ${(e as Error).message}`, { op: "safetensors", cause: e });
  }
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/**
 * Reads only the 8-byte length and the JSON header of a safetensors file and validates it: header bounds,
 * JSON shape, dtypes, shapes, offsets (inside the data section, matching shape × dtype size, not overlapping)
 * and `__metadata__`. Every error is an ERR_FORMAT naming the file and, where there is one, the tensor.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(path);
  try {
    const fileSize = (await fh.stat()).size;
    if (fileSize < 8) throw formatError(path, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
    const lenBuf = await readExactly(fh, 8, 0);
    if (lenBuf.length !== 8) throw formatError(path, "could not read the 8-byte header length");
    const headerLen64 = lenBuf.readBigUInt64LE(0);
    if (headerLen64 > BigInt(MAX_HEADER_SIZE)) {
      throw formatError(path, `header length ${headerLen64} is larger than the ${MAX_HEADER_SIZE}-byte limit`);
    }
    const headerLen = Number(headerLen64);
    if (8 + headerLen > fileSize) {
      throw formatError(path, `header length ${headerLen} runs past the end of the ${fileSize}-byte file`);
    }
    const headerBytes = await readExactly(fh, headerLen, 8);
    if (headerBytes.length !== headerLen) throw formatError(path, "file was truncated while reading the header");

    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    } catch (e) {
      throw formatError(path, "header is not valid UTF-8", e);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw formatError(path, `header is not JSON (${(e as Error).message})`, e);
    }
    if (!isPlainObject(json)) throw formatError(path, "header is not a JSON object");

    const dataOffset = 8 + headerLen;
    const dataSize = fileSize - dataOffset;
    const metadata: Record<string, string> = {};
    const entries: TensorEntry[] = [];

    for (const [name, value] of Object.entries(json)) {
      if (name === "__metadata__") {
        if (value === null) continue; // the reference parser reads null as "no metadata"
        if (!isPlainObject(value)) throw formatError(path, `"__metadata__" is not an object of strings`);
        for (const [k, v] of Object.entries(value)) {
          if (typeof v !== "string") throw formatError(path, `"__metadata__" field "${k}" is not a string`);
          metadata[k] = v;
        }
        continue;
      }
      const where = `tensor "${name}"`;
      if (!isPlainObject(value)) throw formatError(path, `${where}: entry is not an object`);
      const { dtype, shape, data_offsets: offsets } = value;
      if (!isDtype(dtype)) {
        throw formatError(path, `${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(", ")})`);
      }
      if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
        throw formatError(path, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
      }
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
        throw formatError(path, `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
      }
      const [b, e] = offsets as [number, number];
      if (e > dataSize) {
        throw formatError(path, `${where}: data_offsets [${b}, ${e}] run past the ${dataSize}-byte data section`);
      }
      const expected = numel(shape) * DTYPE_SIZE[dtype];
      if (!Number.isSafeInteger(expected) || e - b !== expected) {
        throw formatError(path, `${where}: ${e - b} bytes but shape [${shape.join(", ")}] of ${dtype} needs ${expected}`);
      }
      entries.push({ name, dtype, shape: [...shape], begin: dataOffset + b, end: dataOffset + e });
    }

    entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
    let prev: TensorEntry | undefined;
    for (const t of entries) {
      if (t.begin === t.end) continue; // empty tensors occupy no bytes
      if (prev && t.begin < prev.end) {
        throw formatError(path, `tensor "${t.name}" overlaps tensor "${prev.name}"`);
      }
      prev = t;
    }
    return { path, fileSize, dataOffset, entries, metadata };
  } finally {
    await fh.close();
  }
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Writes a safetensors file laid out as the reference writer does: tensors sorted by dtype alignment
 * (descending) then by name (bytewise), `__metadata__` first when given, compact JSON padded with spaces to
 * a multiple of 8. Tensors are streamed to `${path}.tmp-<random>`, which is then renamed over `path`.
 */
export async function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const seen = new Set<string>();
  for (const t of tensors) {
    const where = `${path}: tensor "${t.name}"`;
    if (t.name === "__metadata__") throw new SbertError("ERR_FORMAT", `${where}: the name is reserved`, { op: "writeSafetensors" });
    if (seen.has(t.name)) throw new SbertError("ERR_FORMAT", `${where}: given twice`, { op: "writeSafetensors" });
    seen.add(t.name);
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16" && t.dtype !== "I64") {
      throw new SbertError("ERR_FORMAT", `${where}: dtype ${JSON.stringify(t.dtype)} cannot be written`, { op: "writeSafetensors" });
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) {
      throw new SbertError("ERR_FORMAT", `${where}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`, { op: "writeSafetensors" });
    }
    const expected = numel(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new SbertError(
        "ERR_FORMAT",
        `${where}: data has ${t.data.byteLength} bytes but shape [${t.shape.join(", ")}] of ${t.dtype} needs ${expected}`,
        { op: "writeSafetensors" },
      );
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new SbertError("ERR_FORMAT", `${path}: metadata field "${k}" is not a string`, { op: "writeSafetensors" });
      }
    }
  }

  const ordered = [...tensors].sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareUtf8(a.name, b.name));
  // Assembled by hand: a JS object would move integer-like tensor names ahead of the others.
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const t of ordered) {
    const n = t.data.byteLength;
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] })}`);
    offset += n;
  }
  let json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(json.length));

  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, "wx");
    await writeAll(fh, lenBuf);
    await writeAll(fh, json);
    for (const t of ordered) {
      await writeAll(fh, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    if (e instanceof SbertError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new SbertError(code === "ENOENT" ? "ERR_FILE_NOT_FOUND" : "ERR_FORMAT", `${path}: could not write: ${(e as Error).message}`, {
      op: "writeSafetensors",
      cause: e,
    });
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

// ---- float conversions (bit-exact with torch's CPU casts) ----

/** float32 → IEEE half, round to nearest even; NaN keeps its sign and becomes 0x7e00 (quiet). */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const abs = x & 0x7fffffff;
    let h: number;
    if (abs > 0x7f800000) h = 0x7e00;
    else if (abs >= 0x47800000) h = 0x7c00; // ≥ 65536 (and ∞): past the largest finite half even before rounding
    else if (abs >= 0x38800000) {
      // Normal half: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped ones; a carry out of
      // the mantissa correctly bumps the exponent (up to ∞ from 65520).
      h = (((abs >>> 23) - 112) << 10) | ((abs >>> 13) & 0x3ff);
      const rest = abs & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
    } else {
      // Subnormal half (or zero): the value in units of 2^-24, rounded half to even. Exact in float64.
      const v = Math.abs(src[i]!) * 16777216;
      h = Math.floor(v);
      const frac = v - h;
      if (frac > 0.5 || (frac === 0.5 && (h & 1) === 1)) h++;
    }
    out[i] = sign | h;
  }
  return out;
}

/** float32 → bfloat16, round to nearest even as torch does; every NaN becomes the canonical 0x7fc0 (torch gives 0x7fc0 or 0xffff depending on the code path). */
export function f32ToBF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = 0x7fc0;
      continue;
    }
    out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** IEEE half → float32, exact (NaN payloads are kept). */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) bits[i] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    else if (exp !== 0) bits[i] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    else if (mant === 0) bits[i] = sign >>> 0;
    else {
      // Subnormal half: shift the leading 1 into the implicit position of a normal float32.
      let e = 113;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      bits[i] = (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
    }
  }
  return out;
}

/** bfloat16 → float32, exact. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = (src[i]! << 16) >>> 0;
  return out;
}
