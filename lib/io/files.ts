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
 * Builds a folder completely in a temporary sibling, then swaps it into place, so that a crash or an error
 * never leaves a half-written `dir`. Entries of an existing `dir` that the new content does not have are carried
 * over (e.g. an eval/ folder beside a saved model), as saving into a folder would keep them.
 */
export async function writeFolderAtomically(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tag = randomBytes(6).toString("hex");
  const tmp = join(parent, `.${basename(dir)}.tmp-${tag}`);
  await mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = join(parent, `.${basename(dir)}.old-${tag}`);
  const hadOld = await exists(dir);
  if (hadOld) {
    const fresh = new Set(await readdir(tmp));
    for (const entry of await readdir(dir)) {
      if (!fresh.has(entry)) await cp(join(dir, entry), join(tmp, entry), { recursive: true });
    }
  }
  if (hadOld) await rename(dir, old);
  try {
    await rename(tmp, dir);
  } catch (e) {
    if (hadOld) await rename(old, dir);
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (hadOld) await rm(old, { recursive: true, force: true });
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
