/**
 * NumPy .npy files, format version 1.0: magic, a Python-dict header padded with spaces to a multiple of 64
 * bytes and ending in a newline, then the raw C-order data.
 */
import { endianness } from "node:os";

export type NpyDescr = "<f4" | "|i1" | "|u1";

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const LITTLE_ENDIAN = endianness() === "LE";

/** The descr of a typed array's element type. */
export function npyDescrOf(a: Float32Array | Int8Array | Uint8Array): NpyDescr {
  if (a instanceof Float32Array) return "<f4";
  if (a instanceof Int8Array) return "|i1";
  return "|u1";
}

/** The preamble and header of a version 1.0 file of a 2-D array. */
export function npyHeader(descr: NpyDescr, rows: number, cols: number): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const fixed = MAGIC.length + 2 + 2;
  const total = Math.ceil((fixed + dict.length + 1) / 64) * 64;
  const headerLen = total - fixed;
  if (headerLen > 0xffff) throw new RangeError("npy header too long for format 1.0");
  const out = Buffer.alloc(total, 0x20);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLen, 8);
  out.write(dict, fixed, "latin1");
  out[total - 1] = 0x0a;
  return out;
}

/** The bytes of one row as stored in the file (float32 little-endian). */
export function npyRowBytes(row: Float32Array | Int8Array | Uint8Array): Buffer {
  if (!(row instanceof Float32Array) || LITTLE_ENDIAN) return Buffer.from(row.buffer, row.byteOffset, row.byteLength);
  const out = Buffer.alloc(row.length * 4);
  for (let i = 0; i < row.length; i++) out.writeFloatLE(row[i]!, i * 4);
  return out;
}
