/**
 * Measures, code point by code point, character classes of the Rust `tokenizers` package that its components
 * take from their own (older) Unicode tables: the ByteLevel pre-tokenizer's pattern classes (\p{L}, \p{N}, \s
 * in Oniguruma) and the marks StripAccents removes; writes lib/tokenization/rustClassTables.ts from them.
 *
 * Node's ICU is newer, so characters assigned since differ; the runtime carries the oracle's classes instead
 * of using \p{...}.
 *
 *   npx tsx test/helpers/rustClasses.ts          # rewrite lib/tokenization/rustClassTables.ts
 *
 * The parity suite calls probeRustClasses() and compares it with the committed tables.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import * as rust from "tokenizers";

import { byteLevelChars } from "../../lib/tokenization/byteLevel.js";
import { toRanges } from "./tokenizationUnicode.js";

export interface RustClasses {
  letter: number[];
  number: number[];
  space: number[];
  /** removed by StripAccents */
  combiningMark: number[];
  /** characters Rust's NFC/NFD/NFKC/NFKD treat otherwise than Node's ICU (assigned after Rust's tables) */
  normalizationNewer: number[];
}

const NORMALIZATION_CONTEXTS = [(c: string) => `a${c}`, (c: string) => `a\u0301${c}`, (c: string) => `a${c}\u0316`, (c: string) => `${c}\u0301`];

/** Code points on which some Rust normalization form disagrees with String.prototype.normalize in some context. */
function normalizationNewer(): number[] {
  const forms = [
    ["NFC", rust.nfcNormalizer()],
    ["NFD", rust.nfdNormalizer()],
    ["NFKC", rust.nfkcNormalizer()],
    ["NFKD", rust.nfkdNormalizer()],
  ] as const;
  const out = new Set<number>();
  for (const [form, n] of forms) {
    for (const wrap of NORMALIZATION_CONTEXTS) {
      let batch: number[] = [];
      const flush = () => {
        const s = batch.map((cp) => `${wrap(String.fromCodePoint(cp))}|`).join("");
        if (s.normalize(form) !== n.normalizeString(s)) {
          for (const cp of batch) {
            const t = wrap(String.fromCodePoint(cp));
            if (t.normalize(form) !== n.normalizeString(t)) out.add(cp);
          }
        }
        batch = [];
      };
      for (let cp = 0; cp <= 0x10ffff; cp++) {
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x7c) continue;
        batch.push(cp);
        if (batch.length === BATCH) flush();
      }
      flush();
    }
  }
  return [...out].sort((a, b) => a - b);
}

const BATCH = 4096;

/**
 * Whether `lead` + c forms one piece, for every code point c: each probe is "<lead><c>\n"; the newline is a
 * piece of its own, so every probe's first piece starts with the lead character.
 */
function joins(lead: string): Set<number> {
  const pre = rust.byteLevelPreTokenizer(false, true);
  const out = new Set<number>();
  let batch: number[] = [];
  const flush = () => {
    const pieces = pre.preTokenizeString(batch.map((cp) => `${lead}${String.fromCodePoint(cp)}\n`).join("")).map((p) => p[0]);
    const firsts = pieces.filter((p) => p.startsWith(lead));
    if (firsts.length !== batch.length) throw new Error(`probe "${lead}" lost its alignment near U+${batch[0]!.toString(16)}`);
    batch.forEach((cp, i) => {
      if (firsts[i] === lead + byteLevelChars(String.fromCodePoint(cp))) out.add(cp);
    });
    batch = [];
  };
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    batch.push(cp);
    if (batch.length === BATCH) flush();
  }
  flush();
  return out;
}

/** Code points that StripAccents removes from "a<c>b", in batches "a<c>b|a<c>b|...". */
function combiningMarks(): number[] {
  const strip = rust.stripAccentsNormalizer();
  const out: number[] = [];
  let batch: number[] = [];
  const flush = () => {
    const parts = strip.normalizeString(batch.map((cp) => `a${String.fromCodePoint(cp)}b`).join("|")).split("|");
    if (parts.length !== batch.length) throw new Error(`StripAccents probe lost its separators near U+${batch[0]!.toString(16)}`);
    batch.forEach((cp, i) => {
      if (parts[i] === "ab") out.push(cp);
    });
    batch = [];
  };
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x7c) continue;
    batch.push(cp);
    if (batch.length === BATCH) flush();
  }
  flush();
  return out;
}

export function probeRustClasses(): RustClasses {
  const letter = joins("x");
  const number = joins("1");
  const other = joins("!");
  const space: number[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (!letter.has(cp) && !number.has(cp) && !other.has(cp)) space.push(cp);
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { letter: sorted(letter), number: sorted(number), space, combiningMark: combiningMarks(), normalizationNewer: normalizationNewer() };
}

function fmt(name: string, doc: string, values: number[]): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += 12) lines.push("  " + values.slice(i, i + 12).map((v) => `0x${v.toString(16)}`).join(", ") + ",");
  return `/** ${doc} */\nexport const ${name}: readonly number[] = [\n${lines.join("\n")}\n];\n`;
}

export function renderRustClassTables(c: RustClasses): string {
  return [
    "// Generated by test/helpers/rustClasses.ts from the Rust `tokenizers` package; do not edit by hand.",
    "// Character classes as Rust's components see them (their Unicode tables predate Node's ICU).",
    "// Ranges are flat inclusive pairs [start, end, start, end, ...].",
    "",
    fmt("LETTER_RANGES", "\\p{L} in the ByteLevel pattern", toRanges(c.letter)),
    fmt("NUMBER_RANGES", "\\p{N} in the ByteLevel pattern", toRanges(c.number)),
    fmt("SPACE_RANGES", "\\s in the ByteLevel pattern", toRanges(c.space)),
    fmt("COMBINING_MARK_RANGES", "Removed by StripAccents (Mn, Mc, Me)", toRanges(c.combiningMark)),
    fmt("NORMALIZATION_NEWER_RANGES", "Left alone by Rust's NFC/NFD/NFKC/NFKD (newer than its tables), not by Node's ICU", toRanges(c.normalizationNewer)),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = fileURLToPath(new URL("../../lib/tokenization/rustClassTables.ts", import.meta.url));
  writeFileSync(out, renderRustClassTables(probeRustClasses()));
  console.log(`wrote ${out}`);
}
