/**
 * TensorBoard event files, as torch.utils.tensorboard's SummaryWriter writes them: TFRecord framing (length and
 * data, each followed by its masked CRC-32C) around `Event` protocol buffers — a file_version record first, then
 * one event per scalar (`simple_value`) or text (a string tensor under the "text" plugin). Only the fields those
 * records use are encoded.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

// ---------------------------------------------------------------- CRC-32C (Castagnoli), as TFRecord frames use it

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function maskedCrc(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function record(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc(data), 12 + data.length);
  return out;
}

// ---------------------------------------------------------------- protocol buffer fields

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const key = (field: number, wire: number) => varint((field << 3) | wire);
const bytesField = (field: number, data: Uint8Array): Uint8Array => Uint8Array.from([...key(field, 2), ...varint(data.length), ...data]);
const stringField = (field: number, s: string) => bytesField(field, Buffer.from(s, "utf8"));
const varintField = (field: number, n: number | bigint) => Uint8Array.from([...key(field, 0), ...varint(n)]);

function doubleField(field: number, x: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return Uint8Array.from([...key(field, 1), ...b]);
}

function floatField(field: number, x: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return Uint8Array.from([...key(field, 5), ...b]);
}

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5 (Summary).
// Summary: value = 1 (repeated Value). Value: tag = 1, simple_value = 2 (float), tensor = 8 (TensorProto),
// metadata = 9 (SummaryMetadata: plugin_data = 1 {plugin_name = 1, content = 2}).
// TensorProto: dtype = 1 (DT_STRING is 7), tensor_shape = 2 {dim = 2 {size = 1}}, string_val = 8.
function event(step: number, body: Uint8Array): Uint8Array {
  return concat(doubleField(1, Date.now() / 1000), varintField(2, step), body);
}

/** Writes one run's event file; appends are synchronous so that a crash loses nothing already logged. */
export class TensorBoardWriter {
  readonly file: string;

  /** Opens `events.out.tfevents.<time>.<host>.<pid>.0` in `logDir` (created if missing). */
  constructor(readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
    this.file = join(logDir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}.0`);
    writeFileSync(this.file, record(concat(doubleField(1, Date.now() / 1000), stringField(3, "brain.Event:2"))));
  }

  addScalar(tag: string, value: number, step: number): void {
    const v = concat(stringField(1, tag), floatField(2, value));
    appendFileSync(this.file, record(event(step, bytesField(5, bytesField(1, v)))));
  }

  /** As SummaryWriter.add_text: the tag gets "/text_summary", the text is a one-element string tensor. */
  addText(tag: string, text: string, step: number): void {
    const metadata = bytesField(1, concat(stringField(1, "text"), bytesField(2, new Uint8Array())));
    const tensor = concat(varintField(1, 7), bytesField(2, bytesField(2, varintField(1, 1))), stringField(8, text));
    const v = concat(stringField(1, `${tag}/text_summary`), bytesField(8, tensor), bytesField(9, metadata));
    appendFileSync(this.file, record(event(step, bytesField(5, bytesField(1, v)))));
  }
}

/** transformers' default logging folder under outputDir: runs/<Mon>DD_HH-MM-SS_<host> (local time). */
export function defaultLogDir(outputDir: string, now = new Date()): string {
  const month = now.toLocaleString("en-US", { month: "short" });
  const p = (n: number) => String(n).padStart(2, "0");
  return join(outputDir, "runs", `${month}${p(now.getDate())}_${p(now.getHours())}-${p(now.getMinutes())}-${p(now.getSeconds())}_${hostname()}`);
}

/** transformers' rewrite_logs: eval_x → eval/x, test_x → test/x, anything else → train/x. */
export function tensorBoardTag(key: string): string {
  if (key.startsWith("eval_")) return `eval/${key.slice(5)}`;
  if (key.startsWith("test_")) return `test/${key.slice(5)}`;
  return `train/${key}`;
}
