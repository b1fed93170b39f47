import { randomBytes } from "node:crypto";
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

import { SbertError } from "../errors.js";

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Parses a JSON file; a missing file is ERR_FILE_NOT_FOUND (or `undefined` when `optional`), bad JSON is ERR_FORMAT. */
export async function readJson(path: string, options: { optional: true; op: string }): Promise<unknown | undefined>;
export async function readJson(path: string, options: { optional?: false; op: string }): Promise<unknown>;
export async function readJson(path: string, options: { optional?: boolean; op: string }): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (options.optional && (e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${path}: ${(e as Error).message}`, { op: options.op, cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SbertError("ERR_FORMAT", `${path} is not valid JSON: ${(e as Error).message}`, { op: options.op, cause: e });
  }
}

/** Reads a JSON file that must hold an object. */
export async function readJsonObject(path: string, options: { optional: true; op: string }): Promise<Record<string, unknown> | undefined>;
export async function readJsonObject(path: string, options: { optional?: false; op: string }): Promise<Record<string, unknown>>;
export async function readJsonObject(path: string, options: { optional?: boolean; op: string }): Promise<Record<string, unknown> | undefined> {
  const value = await readJson(path, options as { optional: true; op: string });
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SbertError("ERR_FORMAT", `${path} must hold a JSON object`, { op: options.op });
  }
  return value as Record<string, unknown>;
}

/** Writes `value` as indented JSON, as Python's json.dump(indent=2) lays it out. */
export async function writeJson(path: string, value: unknown, indent = 2): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, indent));
}

/**
 * The top-level keys of JSON object text whose values are numbers written as floats (`2.0`, `1e-05`). Python's json
 * keeps a float a float and transformers 5's configs refuse an int where they declare a float
 * (ModernBertConfig's initializer_cutoff_factor); JSON.parse keeps no such difference, so a saver asks the text.
 */
export function floatKeys(text: string): string[] {
  const keys: string[] = [];
  const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      let j = end + 1;
      while (/\s/.test(text[j] ?? "")) j++;
      if (depth === 1 && text[j] === ":") {
        j++;
        while (/\s/.test(text[j] ?? "")) j++;
        number.lastIndex = j;
        const m = number.exec(text);
        if (m && (m[1] !== undefined || m[2] !== undefined)) keys.push(JSON.parse(text.slice(i, end + 1)) as string);
      }
      i = end;
    }
  }
  return keys;
}

/** writeJson, with the top-level `floats` that hold whole numbers written as Python writes floats (`2.0`). */
export async function writeJsonWithFloats(path: string, value: Record<string, unknown>, floats: Iterable<string>): Promise<void> {
  let text = JSON.stringify(value, null, 2);
  for (const key of floats) {
    const v = value[key];
    if (typeof v !== "number" || !Number.isInteger(v)) continue;
    const line = new RegExp(`^(  ${JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: -?\\d+)(,?)$`, "m");
    text = text.replace(line, "$1.0$2");
  }
  await writeFile(path, text);
}

/** False only when no process has this id (a process of another user counts as alive). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes what a save of `name` killed mid-way left in `parent`: `.NAME.tmp-PID-*` and `.NAME.old-PID-*` of
 * processes that no longer run. An `.old-` copy is the previous folder, moved aside just before the new one
 * took its place: when `name` itself is missing it is moved back.
 */
async function removeStale(parent: string, name: string): Promise<void> {
  const prefix = `.${name}.`;
  const stale = (await readdir(parent)).filter((e) => {
    const m = /^(tmp|old)-(\d+)-[0-9a-f]+$/.exec(e.startsWith(prefix) ? e.slice(prefix.length) : "");
    return m !== null && !processAlive(Number(m[2]));
  });
  for (const entry of stale.filter((e) => e.startsWith(`${prefix}old-`))) {
    if (!(await exists(join(parent, name)))) await rename(join(parent, entry), join(parent, name));
    else await rm(join(parent, entry), { recursive: true, force: true });
  }
  for (const entry of stale.filter((e) => e.startsWith(`${prefix}tmp-`))) await rm(join(parent, entry), { recursive: true, force: true });
}

/**
 * Builds a folder completely in a temporary sibling, then swaps it into place, so that a crash or an error
 * never leaves a half-written `dir`. Entries of an existing `dir` that the new content does not have are carried
 * over (e.g. an eval/ folder beside a saved model), as saving into a folder would keep them. Any failure removes
 * the temporary folder; one left by a killed process is removed by the next save to the same place.
 */
export async function writeFolderAtomically(dir: string, fill: (tmpDir: string) => Promise<void>, op = "save"): Promise<void> {
  const parent = dirname(dir);
  const name = basename(dir);
  const fail = (what: string, e: unknown) =>
    new SbertError("ERR_INPUT", `cannot save to ${dir}: ${what}`, { op, cause: e });
  try {
    await mkdir(parent, { recursive: true });
  } catch (e) {
    throw fail(`cannot create its parent folder ${parent} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
  }
  await removeStale(parent, name);
  const current = await stat(dir).catch(() => undefined);
  if (current !== undefined && !current.isDirectory()) throw fail("it exists and is not a folder", undefined);
  const tag = `${process.pid}-${randomBytes(6).toString("hex")}`;
  const tmp = join(parent, `.${name}.tmp-${tag}`);
  const old = join(parent, `.${name}.old-${tag}`);
  await mkdir(tmp);
  let moved = false;
  try {
    await fill(tmp);
    if (current !== undefined) {
      const fresh = new Set(await readdir(tmp));
      for (const entry of await readdir(dir)) {
        if (!fresh.has(entry)) await cp(join(dir, entry), join(tmp, entry), { recursive: true });
      }
      await rename(dir, old);
      moved = true;
    }
    await rename(tmp, dir);
  } catch (e) {
    if (moved) await rename(old, dir);
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (moved) await rm(old, { recursive: true, force: true });
}

/** Field readers for config files: a wrong type is ERR_CONFIG naming the file and field. */
export class ConfigReader {
  constructor(
    readonly obj: Record<string, unknown>,
    readonly file: string,
    readonly op: string,
  ) {}

  private error(field: string, expected: string): SbertError {
    return new SbertError("ERR_CONFIG", `${this.file}: field '${field}' must be ${expected}, got ${JSON.stringify(this.obj[field])}`, {
      op: this.op,
    });
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  int(field: string, fallback?: number): number {
    const v = this.obj[field];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v)) throw this.error(field, "an integer");
    return v;
  }

  number(field: string, fallback?: number): number {
    const v = this.obj[field];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) throw this.error(field, "a number");
    return v;
  }

  bool(field: string, fallback?: boolean): boolean {
    const v = this.obj[field];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== "boolean") throw this.error(field, "true or false");
    return v;
  }

  string(field: string, fallback?: string): string {
    const v = this.obj[field];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== "string") throw this.error(field, "a string");
    return v;
  }
}
