/**
 * Argument handling shared by the commands: option tables that drive both node:util parseArgs and the help
 * text (so help always lists every option), and value checks that raise usage errors (exit code 2).
 */
import { parseArgs } from "node:util";

/** A mistake in how the command was called (arguments, flags, config content): exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

export interface OptionDef {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder shown in the help, e.g. "FILE". */
  value?: string;
  help: string;
  multiple?: boolean;
}

export interface CommandSpec {
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** Positional part of the synopsis, e.g. "MODEL [options]". */
  usage: string;
  /** Paragraphs after the synopsis. */
  description?: string;
  options: Record<string, OptionDef>;
  /** Shown at the end of the help. */
  examples?: string[];
}

export const COMMON_OPTIONS: Record<string, OptionDef> = {
  verbose: { type: "boolean", help: "More detail: error stack traces; libtorch build (info); request logs (serve)." },
  help: { type: "boolean", short: "h", help: "Show this help and exit." },
};

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: sbert-node ${spec.name} ${spec.usage}`, "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  lines.push("", "Options:");
  const entries = Object.entries({ ...spec.options, ...COMMON_OPTIONS });
  const labels = entries.map(([name, o]) => `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`);
  const width = Math.min(34, Math.max(...labels.map((l) => l.length)) + 2);
  entries.forEach(([, o], i) => {
    const label = labels[i]!;
    const helpLines = o.help.split("\n");
    if (label.length + 2 > width) {
      lines.push(`  ${label}`);
      for (const h of helpLines) lines.push(`  ${" ".repeat(width)}${h}`);
    } else {
      lines.push(`  ${label.padEnd(width)}${helpLines[0]}`);
      for (const h of helpLines.slice(1)) lines.push(`  ${" ".repeat(width)}${h}`);
    }
  });
  if (spec.examples?.length) {
    lines.push("", "Examples:");
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  return `${lines.join("\n")}\n`;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses `argv` against the command's options; unknown or malformed flags are usage errors. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries({ ...spec.options, ...COMMON_OPTIONS })) {
    options[name] = { type: o.type, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }) };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Parsed["values"], positionals };
  } catch (e) {
    // parseArgs' messages already name the flag; its hint about "--" is noise here for most mistakes.
    const message = (e as Error).message.replace(/\s*To specify a positional argument starting with a '-'.*$/s, "");
    throw new UsageError(message, spec.name);
  }
}

/** Whether argv asks for help (checked before anything else, so `--help` works next to bad flags). */
export function wantsHelp(argv: string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "--help" || a === "-h") return true;
  }
  return false;
}

export function str(values: Parsed["values"], name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function flag(values: Parsed["values"], name: string): boolean {
  return values[name] === true;
}

/** An integer flag within [min, max]; absent → undefined. */
export function intFlag(values: Parsed["values"], name: string, command: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? "a positive integer" : `an integer >= ${min}`) : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${range}, got '${raw}'`, command);
  }
  return n;
}

export function numberFlag(values: Parsed["values"], name: string, command: string): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${raw}'`, command);
  return n;
}

export function choiceFlag<T extends string>(values: Parsed["values"], name: string, choices: readonly T[], command: string): T | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${raw}'`, command);
  return raw as T;
}

/** "4mb", "512kb", "1048576": a byte count (binary units). */
export function parseByteSize(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|kib|mb|m|mib|gb|g|gib)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = (m[2] ?? "b").toLowerCase();
  const mult = unit.startsWith("g") ? 1024 ** 3 : unit.startsWith("m") ? 1024 ** 2 : unit.startsWith("k") ? 1024 : 1;
  const n = Math.floor(Number(m[1]) * mult);
  return n > 0 ? n : undefined;
}

/** Exactly `count` positionals, named in the error. */
export function positionals(parsed: Parsed, names: string[], command: string, optional = 0): string[] {
  const min = names.length - optional;
  if (parsed.positionals.length < min) throw new UsageError(`missing ${names.slice(parsed.positionals.length).join(" and ")}`, command);
  if (parsed.positionals.length > names.length) {
    throw new UsageError(`unexpected argument '${parsed.positionals[names.length]}'`, command);
  }
  return parsed.positionals;
}
