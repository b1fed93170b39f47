/**
 * Config files for `train` and `evaluate` (JSON or YAML): reading, and checks that name the offending field
 * (`fit.epochs`, `train.columns.texts[1]`, …). Content errors are usage errors (exit code 2).
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";

import { SbertError } from "../errors.js";
import { UsageError } from "./args.js";

export class ConfigError extends UsageError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(field ? `config: ${field}: ${message}` : `config: ${message}`);
    this.name = "ConfigError";
  }
}

export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const ext = extname(path).toLowerCase();
  if (![".json", ".yaml", ".yml"].includes(ext)) throw new UsageError(`the config file must end in .json, .yaml or .yml, got '${path}'`);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read config ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    if (ext === ".json") {
      value = JSON.parse(text);
    } else {
      const { parse } = await import("yaml");
      value = parse(text);
    }
  } catch (e) {
    throw new ConfigError("", `${path} is not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError("", `${path} must hold an object (a mapping of fields)`);
  return value as Record<string, unknown>;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** The closest of `known` to `name`, if close enough to be a likely typo. */
export function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object") return "an object";
  return String(v);
}

/** Typed access to one object of the config; every error names `path.key`. */
export class Section {
  constructor(
    readonly obj: Record<string, unknown>,
    readonly path: string,
  ) {}

  static of(value: unknown, path: string): Section {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(path, `must be an object, got ${describe(value)}`);
    return new Section(value as Record<string, unknown>, path);
  }

  field(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    return this.obj[key] ?? undefined;
  }

  /** Rejects keys not in `known`, with a suggestion for a likely typo. */
  only(known: readonly string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (!known.includes(key)) {
        const hint = suggest(key, known);
        throw new ConfigError(this.field(key), `unknown field${hint ? ` (did you mean '${hint}'?)` : ""}; known fields: ${known.join(", ")}`);
      }
    }
  }

  fail(key: string, message: string): never {
    throw new ConfigError(this.field(key), message);
  }

  string(key: string, required: true): string;
  string(key: string, required?: false): string | undefined;
  string(key: string, required = false): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (required) this.fail(key, "is required");
      return undefined;
    }
    if (typeof v !== "string" || v === "") this.fail(key, `must be a non-empty string, got ${describe(v)}`);
    return v;
  }

  number(key: string, opts: { min?: number; max?: number; exclusiveMin?: boolean } = {}): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(key, `must be a number, got ${describe(v)}`);
    if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) this.fail(key, `must be ${opts.exclusiveMin ? ">" : ">="} ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(key, `must be <= ${opts.max}, got ${v}`);
    return v;
  }

  int(key: string, min = 0): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      this.fail(key, `must be ${min === 1 ? "a positive integer" : `an integer >= ${min}`}, got ${describe(v)}`);
    }
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") this.fail(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const v = this.string(key);
    if (v === undefined) return undefined;
    if (!(choices as readonly string[]).includes(v)) {
      const hint = suggest(v, choices);
      this.fail(key, `must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}${hint ? ` (did you mean '${hint}'?)` : ""}`);
    }
    return v as T;
  }

  strings(key: string): string[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length === 0) this.fail(key, `must be a non-empty list of strings, got ${describe(v)}`);
    v.forEach((x, i) => {
      if (typeof x !== "string" || x === "") throw new ConfigError(`${this.field(key)}[${i}]`, `must be a non-empty string, got ${describe(x)}`);
    });
    return v as string[];
  }

  numbers(key: string): number[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length === 0) this.fail(key, `must be a non-empty list of numbers, got ${describe(v)}`);
    v.forEach((x, i) => {
      if (typeof x !== "number" || !Number.isFinite(x)) throw new ConfigError(`${this.field(key)}[${i}]`, `must be a number, got ${describe(x)}`);
    });
    return v as number[];
  }

  section(key: string, required: true): Section;
  section(key: string, required?: false): Section | undefined;
  section(key: string, required = false): Section | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (required) this.fail(key, "is required");
      return undefined;
    }
    return Section.of(v, this.field(key));
  }
}
