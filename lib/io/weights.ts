/**
 * Locating a model folder's weights the way Hugging Face `from_pretrained` does for a local folder:
 * single safetensors file, then a sharded safetensors index, then a `torch.save` zip checkpoint.
 */
import { readFile, stat, open } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { SbertError } from "../errors.js";
import { readSafetensorsHeader, type SafetensorsHeader } from "./safetensors.js";

export type WeightSource = { format: "safetensors"; headers: SafetensorsHeader[] } | { format: "pytorch"; path: string };

export const SAFETENSORS_FILE = "model.safetensors";
export const SAFETENSORS_INDEX_FILE = "model.safetensors.index.json";
export const PYTORCH_FILE = "pytorch_model.bin";
export const PYTORCH_INDEX_FILE = "pytorch_model.bin.index.json";

const OP = "findWeights";

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds a folder's weights. Sharded safetensors checkpoints are checked against their index: every shard
 * exists and parses, every tensor is in the shard the index names, no tensor is in two shards.
 * Sharded `.bin` checkpoints (`pytorch_model.bin.index.json`) are refused with ERR_FORMAT: a pytorch source is
 * one file.
 */
export async function findWeights(dir: string): Promise<WeightSource> {
  const single = join(dir, SAFETENSORS_FILE);
  if (await isFile(single)) return { format: "safetensors", headers: [await readSafetensorsHeader(single)] };

  const index = join(dir, SAFETENSORS_INDEX_FILE);
  if (await isFile(index)) return { format: "safetensors", headers: await readShardedSafetensors(dir, index) };

  const bin = join(dir, PYTORCH_FILE);
  if (await isFile(bin)) {
    await checkTorchZip(bin);
    return { format: "pytorch", path: bin };
  }

  if (await isFile(join(dir, PYTORCH_INDEX_FILE))) {
    throw new SbertError(
      "ERR_FORMAT",
      `${join(dir, PYTORCH_INDEX_FILE)}: sharded pytorch_model.bin checkpoints are not supported; convert the folder to safetensors`,
      { op: OP },
    );
  }
  throw new SbertError(
    "ERR_FILE_NOT_FOUND",
    `no weights in ${dir}: looked for ${SAFETENSORS_FILE}, ${SAFETENSORS_INDEX_FILE}, ${PYTORCH_FILE} and ${PYTORCH_INDEX_FILE}`,
    { op: OP },
  );
}

function indexError(index: string, what: string): SbertError {
  return new SbertError("ERR_FORMAT", `${index}: ${what}`, { op: OP });
}

async function readShardedSafetensors(dir: string, index: string): Promise<SafetensorsHeader[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(index, "utf8"));
  } catch (e) {
    throw new SbertError("ERR_FORMAT", `${index}: not valid JSON (${(e as Error).message})`, { op: OP, cause: e });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw indexError(index, "not a JSON object");
  const weightMap = (json as Record<string, unknown>)["weight_map"];
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw indexError(index, `"weight_map" is missing or not an object`);
  }

  const shardOf = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== "string" || shard === "") {
      throw indexError(index, `"weight_map" entry for tensor "${tensor}" is not a file name`);
    }
    // Shards must stay inside the model folder.
    const norm = normalize(shard);
    if (isAbsolute(shard) || norm === ".." || norm.startsWith(`..${sep}`)) {
      throw indexError(index, `"weight_map" entry for tensor "${tensor}" points outside the folder: ${shard}`);
    }
    shardOf.set(tensor, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (shards.length === 0) throw indexError(index, `"weight_map" lists no tensors`);
  shards.sort();

  const headers: SafetensorsHeader[] = [];
  for (const shard of shards) {
    const path = join(dir, shard);
    if (!(await isFile(path))) {
      throw new SbertError("ERR_FILE_NOT_FOUND", `${index} names shard ${shard}, but ${path} does not exist`, { op: OP });
    }
    headers.push(await readSafetensorsHeader(path));
  }

  const foundIn = new Map<string, string>();
  for (const [i, h] of headers.entries()) {
    for (const e of h.entries) {
      const other = foundIn.get(e.name);
      if (other !== undefined) {
        throw new SbertError("ERR_FORMAT", `tensor "${e.name}" is in two shards: ${other} and ${shards[i]} (index ${index})`, { op: OP });
      }
      foundIn.set(e.name, shards[i]!);
    }
  }
  for (const [tensor, shard] of shardOf) {
    const actual = foundIn.get(tensor);
    if (actual !== shard) {
      throw indexError(
        index,
        actual === undefined
          ? `tensor "${tensor}" is listed in shard ${shard} but no shard has it`
          : `tensor "${tensor}" is listed in shard ${shard} but is in ${actual}`,
      );
    }
  }
  return headers;
}

/** `torch.save` (since torch 1.6) writes a zip archive; the older pickle-only format cannot be read by libtorch. */
async function checkTorchZip(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await fh.read(magic, 0, 4, 0);
    // A zip archive (torch >= 1.6), or a pickle stream of protocol 2 (torch < 1.6's format, which starts with its
    // magic number; readTorchCheckpoint checks the rest).
    const zip = bytesRead >= 4 && magic.readUInt32LE(0) === 0x04034b50;
    const legacy = bytesRead >= 4 && magic[0] === 0x80 && magic[1] === 0x02 && magic[2] === 0x8a;
    if (!zip && !legacy) {
      throw new SbertError("ERR_FORMAT", `${path}: not a torch.save checkpoint (neither its zip format nor the legacy one of torch < 1.6)`, { op: OP });
    }
  } finally {
    await fh.close();
  }
}
