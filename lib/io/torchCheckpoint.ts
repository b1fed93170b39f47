/**
 * Reads the tensor layout of a `torch.save` checkpoint (e.g. `pytorch_model.bin`) without running Python's pickle,
 * in both of torch's formats:
 * - the zip format (torch >= 1.6): the zip's central directory locates `data.pkl` and the stored storages;
 * - the legacy format (torch < 1.6, many Hub models of 2019-2020): a stream of pickles (magic number, protocol
 *   version, system info, the state dict, the list of storage keys) followed by each storage's bytes, each
 *   preceded by its element count.
 * A small pickle interpreter that knows only the globals a state dict needs (OrderedDict, torch's tensor
 * rebuilders, storage types) turns the state dict's pickle into tensor views; any other global a pickle names is
 * refused, so no checkpoint can run code. The bytes themselves are read later, natively, from the offsets this
 * returns.
 */
import { open, type FileHandle } from "node:fs/promises";

import type { NativeTensorSpec } from "../../types/native.js";
import { SbertError } from "../errors.js";

interface ZipEntry {
  name: string;
  method: number;
  size: number;
  localHeaderOffset: number;
}

const STORAGE_DTYPES: Record<string, [dtype: string, itemSize: number]> = {
  FloatStorage: ["F32", 4],
  HalfStorage: ["F16", 2],
  BFloat16Storage: ["BF16", 2],
  DoubleStorage: ["F64", 8],
  LongStorage: ["I64", 8],
  IntStorage: ["I32", 4],
  ShortStorage: ["I16", 2],
  CharStorage: ["I8", 1],
  ByteStorage: ["U8", 1],
  BoolStorage: ["BOOL", 1],
};

function formatError(path: string, message: string): SbertError {
  return new SbertError("ERR_FORMAT", `${path}: ${message}`, { op: "readTorchCheckpoint" });
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("zip offset too large");
  return Number(v);
}

async function readCentralDirectory(fh: FileHandle, path: string, fileSize: number): Promise<ZipEntry[]> {
  const tailLength = Math.min(fileSize, 22 + 65535);
  const tail = await readAt(fh, fileSize - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw formatError(path, "neither a zip archive (torch.save's format) nor a legacy torch.save stream (no magic number)");
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tail.readUInt32LE(locator) !== 0x07064b50) throw formatError(path, "zip64 locator missing");
    const z64 = await readAt(fh, u64(tail, locator + 8), 56);
    if (z64.length < 56 || z64.readUInt32LE(0) !== 0x06064b50) throw formatError(path, "zip64 end record missing");
    count = u64(z64, 32);
    cdSize = u64(z64, 40);
    cdOffset = u64(z64, 48);
  }
  if (cdOffset + cdSize > fileSize) throw formatError(path, "the zip directory lies past the end of the file");
  const cd = await readAt(fh, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw formatError(path, "corrupt zip directory");
    const method = cd.readUInt16LE(p + 10);
    let size = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString("utf8", p + 46, p + 46 + nameLength);
    // zip64 sizes and offsets live in extra field 0x0001, in this order, for the fields set to 0xffffffff.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = u64(cd, q);
          q += 8;
        }
        if (cd.readUInt32LE(p + 20) === 0xffffffff) q += 8;
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, q);
      }
      e += 4 + len;
    }
    entries.push({ name, method, size, localHeaderOffset });
    p = extraEnd + commentLength;
  }
  return entries;
}

async function entryDataOffset(fh: FileHandle, path: string, entry: ZipEntry): Promise<number> {
  const header = await readAt(fh, entry.localHeaderOffset, 30);
  if (header.length < 30 || header.readUInt32LE(0) !== 0x04034b50) throw formatError(path, `corrupt zip entry ${entry.name}`);
  return entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}

// ---- pickle ----

class Global {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}
class Mark {}
/** The pickle goes on past the bytes read so far (the legacy reader then reads more). */
class PickleEndsEarly extends Error {}
interface StorageRef {
  kind: "storage";
  dtype: string;
  itemSize: number;
  key: string;
  numel: number;
  /** legacy format: a view of storage `key` starting at this element */
  elementOffset: number;
}
interface TensorRef {
  kind: "tensor";
  storage: StorageRef;
  storageOffset: number;
  shape: number[];
  stride: number[];
}

function callGlobal(path: string, what: string, fn: unknown, args: unknown[]): unknown {
  if (!(fn instanceof Global)) throw formatError(path, `${what} calls something that is not a known function`);
  switch (fn.qualified) {
    case "collections.OrderedDict":
      return new Map<unknown, unknown>();
    case "torch._utils._rebuild_tensor_v2":
    case "torch._utils._rebuild_tensor": {
      const [storage, storageOffset, shape, stride] = args as [StorageRef, number, number[], number[]];
      if (storage?.kind !== "storage") throw formatError(path, "a tensor without a storage");
      return { kind: "tensor", storage, storageOffset, shape: [...shape], stride: [...stride] } satisfies TensorRef;
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      return args[0];
    default:
      throw formatError(path, `${what} needs ${fn.qualified}, which a state dict of tensors does not use: refused (a checkpoint never runs code here)`);
  }
}

/**
 * Runs the pickle program in `data` from `start` far enough to build a state dict; returns its value and where
 * it stopped. `what` names the pickle in messages.
 */
function unpickle(path: string, data: Buffer, start = 0, what = "data.pkl"): { value: unknown; end: number } {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = start;
  const popMark = (): unknown[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] instanceof Mark) {
        const items = stack.splice(i);
        items.shift();
        return items;
      }
    }
    throw formatError(path, `corrupt pickle in ${what} (no mark)`);
  };
  const need = (n: number): void => {
    if (p + n > data.length) throw new PickleEndsEarly(`${what} ends early`);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) throw formatError(path, `${what} sets items on something that is not a dict`);
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw new PickleEndsEarly(`${what} ends early`);
    const s = data.toString("utf8", p, end);
    p = end + 1;
    return s;
  };
  for (;;) {
    need(1);
    const op = data[p++]!;
    switch (op) {
      case 0x80: // PROTO
        need(1);
        p += 1;
        break;
      case 0x95: // FRAME
        need(8);
        p += 8;
        break;
      case 0x2e: // STOP
        return { value: stack.pop(), end: p };
      case 0x28: // MARK
        stack.push(new Mark());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(data.readUInt8(p));
        p += 1;
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(data.readUInt16LE(p));
        p += 2;
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(data.readInt32LE(p));
        p += 4;
        break;
      case 0x8a: {
        // LONG1
        need(1);
        const n = data[p++]!;
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]!);
        if (n > 0 && data[p + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        p += n;
        break;
      }
      case 0x47: // BINFLOAT
        need(8);
        stack.push(data.readDoubleBE(p));
        p += 8;
        break;
      case 0x58: {
        // BINUNICODE
        need(4);
        const n = data.readUInt32LE(p);
        p += 4;
        need(n);
        stack.push(data.toString("utf8", p, p + n));
        p += n;
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        need(1);
        const n = data[p++]!;
        need(n);
        stack.push(data.toString("utf8", p, p + n));
        p += n;
        break;
      }
      case 0x54: {
        // BINSTRING
        need(4);
        const n = data.readUInt32LE(p);
        p += 4;
        need(n);
        stack.push(data.toString("latin1", p, p + n));
        p += n;
        break;
      }
      case 0x55: {
        // SHORT_BINSTRING
        need(1);
        const n = data[p++]!;
        need(n);
        stack.push(data.toString("latin1", p, p + n));
        p += n;
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = readLine();
        const name = readLine();
        stack.push(new Global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = stack.pop() as string;
        const module = stack.pop() as string;
        stack.push(new Global(module, name));
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(data[p++]!, stack[stack.length - 1]);
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(data.readUInt32LE(p), stack[stack.length - 1]);
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
        need(1);
        stack.push(memo.get(data[p++]!));
        break;
      case 0x6a: // LONG_BINGET
        need(4);
        stack.push(memo.get(data.readUInt32LE(p)));
        p += 4;
        break;
      case 0x85: // TUPLE1
        stack.push(stack.splice(-1));
        break;
      case 0x86: // TUPLE2
        stack.push(stack.splice(-2));
        break;
      case 0x87: // TUPLE3
        stack.push(stack.splice(-3));
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = stack.pop();
        (stack[stack.length - 1] as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        (stack[stack.length - 1] as unknown[]).push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = stack.pop();
        const k = stack.pop();
        setItems(stack[stack.length - 1], [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(stack[stack.length - 1], items);
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', storage_type, key, location, numel), and in the legacy format a sixth field,
        // null or (view_key, offset, size) for a view into storage `key`.
        const pid = stack.pop() as unknown[];
        const type = pid?.[1];
        if (!Array.isArray(pid) || pid[0] !== "storage" || !(type instanceof Global)) {
          throw formatError(path, `${what} refers to something that is not a tensor storage`);
        }
        const dtype = STORAGE_DTYPES[type.name];
        if (!dtype) throw formatError(path, `unsupported storage type torch.${type.name}`);
        const view = pid[5];
        const elementOffset = Array.isArray(view) && typeof view[1] === "number" ? view[1] : 0;
        stack.push({
          kind: "storage",
          dtype: dtype[0],
          itemSize: dtype[1],
          key: String(pid[2]),
          numel: Number(pid[4]),
          elementOffset,
        } satisfies StorageRef);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = stack.pop() as unknown[];
        const fn = stack.pop();
        stack.push(callGlobal(path, what, fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = stack.pop() as unknown[];
        const cls = stack.pop();
        stack.push(callGlobal(path, what, cls, args));
        break;
      }
      case 0x62: // BUILD: the state (e.g. a state dict's _metadata) carries no tensors
        stack.pop();
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x32: // DUP
        stack.push(stack[stack.length - 1]);
        break;
      default:
        throw formatError(path, `${what} uses pickle opcode 0x${op.toString(16)}, which a torch.save state dict does not`);
    }
  }
}

/**
 * The tensors of a torch.save zip checkpoint as native tensor specs: each names the byte range of its storage
 * in the file and the view (shape, stride, offset) into it.
 */
export async function readTorchCheckpoint(path: string): Promise<NativeTensorSpec[]> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `cannot open ${path}: ${(e as Error).message}`, { op: "readTorchCheckpoint", cause: e });
  }
  try {
    const { size: fileSize } = await fh.stat();
    if (isLegacy(await readAt(fh, 0, LEGACY_MAGIC.length))) return await readLegacy(fh, path, fileSize);
    let entries: ZipEntry[];
    try {
      entries = await readCentralDirectory(fh, path, fileSize);
    } catch (e) {
      if (e instanceof SbertError) throw e;
      throw formatError(path, `corrupt zip archive (${(e as Error).message})`);
    }
    const pkl = entries.find((e) => e.name === "data.pkl" || e.name.endsWith("/data.pkl"));
    if (!pkl) throw formatError(path, "no data.pkl inside: not a torch.save checkpoint");
    const prefix = pkl.name.slice(0, pkl.name.length - "data.pkl".length);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const byteorder = byName.get(`${prefix}byteorder`);
    if (byteorder) {
      const order = (await readAt(fh, await entryDataOffset(fh, path, byteorder), byteorder.size)).toString();
      if (order !== "little") throw formatError(path, `tensors stored ${order}-endian are not supported`);
    }
    if (pkl.method !== 0) throw formatError(path, "data.pkl is compressed; torch.save stores it uncompressed");
    const program = await readAt(fh, await entryDataOffset(fh, path, pkl), pkl.size);
    let root: unknown;
    try {
      root = unpickle(path, program).value;
    } catch (e) {
      if (e instanceof PickleEndsEarly) throw formatError(path, e.message);
      throw e;
    }
    return await stateDictSpecs(path, root, async (name, storage) => {
      const entry = byName.get(`${prefix}data/${storage.key}`);
      if (!entry) throw formatError(path, `storage ${storage.key} of tensor '${name}' is missing from the archive`);
      if (entry.method !== 0) throw formatError(path, `storage of tensor '${name}' is compressed`);
      const bytes = storage.numel * storage.itemSize;
      if (bytes > entry.size) throw formatError(path, `storage of tensor '${name}' is shorter than it says`);
      const begin = await entryDataOffset(fh, path, entry);
      if (begin + bytes > fileSize) throw formatError(path, `tensor '${name}' lies past the end of the file`);
      return { begin, end: begin + bytes };
    });
  } finally {
    await fh.close();
  }
}

/** The state dict's tensors as specs, each storage's byte range found by `locate`. */
async function stateDictSpecs(
  path: string,
  root: unknown,
  locate: (name: string, storage: StorageRef) => Promise<{ begin: number; end: number }>,
): Promise<NativeTensorSpec[]> {
  if (!(root instanceof Map)) throw formatError(path, "the checkpoint holds no state dict (a mapping of names to tensors)");
  const specs: NativeTensorSpec[] = [];
  for (const [name, value] of root) {
    const t = value as TensorRef;
    if (typeof name !== "string" || t?.kind !== "tensor") {
      throw formatError(path, `entry ${String(name)} of the state dict is not a tensor`);
    }
    const { begin, end } = await locate(name, t.storage);
    specs.push({
      name,
      dtype: t.storage.dtype,
      shape: t.shape,
      stride: t.stride,
      storageOffset: t.storageOffset + t.storage.elementOffset,
      begin,
      end,
    });
  }
  return specs;
}

// The legacy format's first pickle: protocol 2, then the magic number 0x1950a86a20f9469cfc6c as a 10-byte LONG1.
const LEGACY_MAGIC = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
const LEGACY_PROTOCOL = 1001;
// The pickles before the storages of a state dict take kilobytes; past this a file is not one.
const LEGACY_MAX_PICKLE_BYTES = 256 << 20;

function isLegacy(head: Buffer): boolean {
  return head.length >= LEGACY_MAGIC.length && head.subarray(0, LEGACY_MAGIC.length).equals(LEGACY_MAGIC);
}

/** A legacy (torch < 1.6) checkpoint: its pickles, read as far as needed, then each storage's place in the file. */
async function readLegacy(fh: FileHandle, path: string, fileSize: number): Promise<NativeTensorSpec[]> {
  let length = Math.min(fileSize, 1 << 20);
  for (;;) {
    const buf = await readAt(fh, 0, length);
    try {
      let at = LEGACY_MAGIC.length;
      const protocol = unpickle(path, buf, at, "the protocol version");
      if (protocol.value !== LEGACY_PROTOCOL) throw formatError(path, `legacy torch.save protocol ${String(protocol.value)} is not ${LEGACY_PROTOCOL}`);
      const info = unpickle(path, buf, protocol.end, "the system info");
      if (info.value instanceof Map && info.value.get("little_endian") === false) throw formatError(path, "tensors stored big-endian are not supported");
      const data = unpickle(path, buf, info.end, "the state dict's pickle");
      const keys = unpickle(path, buf, data.end, "the storage key list");
      if (!Array.isArray(keys.value)) throw formatError(path, "the legacy storage key list is not a list");
      at = keys.end;
      // Each storage: its element count (int64), then its bytes, in the key list's order.
      const storages = new Map<string, { begin: number; end: number; numel: number }>();
      for (const key of keys.value) {
        const header = await readAt(fh, at, 8);
        if (header.length < 8) throw formatError(path, `storage ${String(key)} lies past the end of the file`);
        const numel = u64(header, 0);
        storages.set(String(key), { begin: at + 8, end: at + 8, numel });
        at += 8;
        // Its byte size is known only from a tensor that uses it: found below, then the next header follows it.
        const itemSize = storageItemSize(data.value, String(key));
        if (itemSize === 0) throw formatError(path, `storage ${String(key)} is listed but no tensor of the state dict uses it`);
        const bytes = numel * itemSize;
        if (at + bytes > fileSize) throw formatError(path, `storage ${String(key)} lies past the end of the file`);
        storages.get(String(key))!.end = at + bytes;
        at += bytes;
      }
      return await stateDictSpecs(path, data.value, async (name, storage) => {
        const s = storages.get(storage.key);
        if (!s) throw formatError(path, `storage ${storage.key} of tensor '${name}' is not in the file's storage list`);
        // Shape, stride and offset are checked against [begin, end) natively, before anything is read.
        if (s.numel !== storage.numel) throw formatError(path, `storage ${storage.key} holds ${s.numel} elements but tensor '${name}' says ${storage.numel}`);
        return { begin: s.begin, end: s.end };
      });
    } catch (e) {
      if (!(e instanceof PickleEndsEarly)) throw e;
      if (length >= fileSize || length >= LEGACY_MAX_PICKLE_BYTES) throw formatError(path, e.message);
      length = Math.min(fileSize, length * 4, LEGACY_MAX_PICKLE_BYTES);
    }
  }
}

/** The element size of storage `key`, from the storage type a tensor of the state dict names it with. */
function storageItemSize(root: unknown, key: string): number {
  if (root instanceof Map) {
    for (const value of root.values()) {
      const t = value as TensorRef;
      if (t?.kind === "tensor" && t.storage.key === key) return t.storage.itemSize;
    }
  }
  return 0;
}
