/**
 * Measures, code point by code point, how the Rust `tokenizers` package (the oracle) classifies characters in
 * BertNormalizer and BertPreTokenizer, and writes lib/tokenization/unicodeTables.ts from it.
 *
 * The Rust side uses its own (older) Unicode tables, which differ from the ones in Node's ICU for characters
 * assigned in recent Unicode versions, so the runtime carries the oracle's tables instead of using \p{...}.
 *
 *   npx tsx test/helpers/tokenizationUnicode.ts          # rewrite lib/tokenization/unicodeTables.ts
 *
 * The parity suite calls probeRustUnicodeTables() and compares it with the committed tables.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import * as rust from "tokenizers";

export interface ProbedTables {
  /** removed by clean_text: NUL, U+FFFD and Rust's `is_other()` except \t \n \r */
  control: number[];
  /** mapped to " " by clean_text */
  whitespace: number[];
  /** surrounded by spaces by handle_chinese_chars */
  chinese: number[];
  /** characters that Rust's NFD leaves unchanged and strip_accents removes (general category Mn in its tables) */
  nonspacingMark: number[];
  /** characters that Rust's NFD decomposes */
  decomposable: number[];
  /** split off as single pieces by BertPreTokenizer */
  punctuation: number[];
  /** removed as separators by BertPreTokenizer (Rust char::is_whitespace) */
  splitWhitespace: number[];
  /** Rust's char::to_lowercase for non-ASCII code points that change, as runs [start, count, stride, delta] */
  lowercaseRuns: number[];
  /** code points whose lowercase is more than one code point: [cp, ...lowercase] */
  lowercaseMulti: number[][];
}

const SEP = "|";
const BATCH = 2048;

function* codePoints(): Generator<number> {
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue; // not representable in Rust strings
    if (cp === 0x7c) continue; // the separator; ASCII punctuation, handled below
    yield cp;
  }
}

/** Runs `fn` over batches "a<c>b|a<c>b|..." and hands back, per code point, its piece of the output. */
function probeBatched(fn: (s: string) => string, wrap: (c: string) => string, visit: (cp: number, out: string) => void): void {
  let cps: number[] = [];
  const flush = () => {
    if (cps.length === 0) return;
    const out = fn(cps.map((cp) => wrap(String.fromCodePoint(cp))).join(SEP)).split(SEP);
    if (out.length !== cps.length) throw new Error(`probe lost the separators near U+${cps[0]!.toString(16)}`);
    cps.forEach((cp, i) => visit(cp, out[i]!));
    cps = [];
  };
  for (const cp of codePoints()) {
    cps.push(cp);
    if (cps.length === BATCH) flush();
  }
  flush();
}

/** Sorted code points -> flat inclusive ranges [start, end, start, end, ...]. */
export function toRanges(cps: number[]): number[] {
  const out: number[] = [];
  for (const cp of cps) {
    if (out.length > 0 && out[out.length - 1] === cp - 1) out[out.length - 1] = cp;
    else out.push(cp, cp);
  }
  return out;
}

function toRuns(pairs: [number, number][]): number[] {
  const runs: number[] = [];
  let i = 0;
  while (i < pairs.length) {
    const [start, lower] = pairs[i]!;
    const delta = lower - start;
    let count = 1;
    let stride = 1;
    if (i + 1 < pairs.length) {
      const [next, nextLower] = pairs[i + 1]!;
      if (nextLower - next === delta && next - start <= 2) {
        stride = next - start;
        count = 2;
        while (i + count < pairs.length) {
          const [c, l] = pairs[i + count]!;
          if (c !== start + count * stride || l - c !== delta) break;
          count++;
        }
      }
    }
    runs.push(start, count, stride, delta);
    i += count;
  }
  return runs;
}

export function probeRustUnicodeTables(): ProbedTables {
  const clean = rust.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
  const chinese = rust.bertNormalizer({ cleanText: false, handleChineseChars: true, stripAccents: false, lowercase: false });
  const strip = rust.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
  const lower = rust.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true });
  const nfd = rust.nfdNormalizer();
  const pre = rust.bertPreTokenizer();

  const t: ProbedTables = {
    control: [],
    whitespace: [],
    chinese: [],
    nonspacingMark: [],
    decomposable: [],
    punctuation: [],
    splitWhitespace: [],
    lowercaseRuns: [],
    lowercaseMulti: [],
  };
  const decomposable = new Set<number>();
  const wrap = (c: string) => `a${c}b`;

  probeBatched((s) => clean.normalizeString(s), wrap, (cp, out) => {
    if (out === "ab") t.control.push(cp);
    else if (out === "a b" && cp !== 0x20) t.whitespace.push(cp);
  });
  probeBatched((s) => chinese.normalizeString(s), wrap, (cp, out) => {
    if (out === `a ${String.fromCodePoint(cp)} b`) t.chinese.push(cp);
  });
  probeBatched((s) => nfd.normalizeString(s), (c) => c, (cp, out) => {
    if (out !== String.fromCodePoint(cp)) decomposable.add(cp);
  });
  probeBatched((s) => strip.normalizeString(s), wrap, (cp, out) => {
    if (!decomposable.has(cp) && out === "ab") t.nonspacingMark.push(cp);
  });
  const pairs: [number, number][] = [];
  probeBatched((s) => lower.normalizeString(s), (c) => c, (cp, out) => {
    if (cp < 0x80) return; // ASCII is handled inline
    const mapped = [...out].map((c) => c.codePointAt(0)!);
    if (mapped.length === 1 && mapped[0] === cp) return;
    if (mapped.length === 1) pairs.push([cp, mapped[0]!]);
    else t.lowercaseMulti.push([cp, ...mapped]);
  });
  // Pre-tokenizer: "a<c>b" gives [a, c, b] for punctuation, [a, b] for whitespace, [a<c>b] otherwise.
  for (const cp of codePoints()) {
    const c = String.fromCodePoint(cp);
    const pieces = pre.preTokenizeString(`a${c}b`).map((p) => p[0]);
    if (pieces.length === 3 && pieces[1] === c) t.punctuation.push(cp);
    else if (pieces.length === 2) t.splitWhitespace.push(cp);
  }
  t.punctuation.push(0x7c);
  t.punctuation.sort((a, b) => a - b);
  t.decomposable = [...decomposable].sort((a, b) => a - b);
  t.lowercaseRuns = toRuns(pairs);
  return t;
}

function fmt(name: string, doc: string, values: number[]): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += 12) lines.push("  " + values.slice(i, i + 12).map((v) => (v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`)).join(", ") + ",");
  return `/** ${doc} */\nexport const ${name}: readonly number[] = [\n${lines.join("\n")}\n];\n`;
}

export function renderTables(t: ProbedTables): string {
  return [
    "// Generated by test/helpers/tokenizationUnicode.ts from the Rust `tokenizers` package; do not edit by hand.",
    "// Character classes as Hugging Face's Rust BertNormalizer / BertPreTokenizer see them (their Unicode tables",
    "// predate Node's ICU), so that tokenization gives the same ids on every Node version.",
    "// Ranges are flat inclusive pairs [start, end, start, end, ...].",
    "",
    fmt("CONTROL_RANGES", "Removed by clean_text (NUL, U+FFFD, other/control/format/private-use except tab, LF, CR).", toRanges(t.control)),
    fmt("WHITESPACE_RANGES", "Replaced by a space by clean_text (besides U+0020 itself).", toRanges(t.whitespace)),
    fmt("CHINESE_RANGES", "CJK ideographs that handle_chinese_chars surrounds with spaces.", toRanges(t.chinese)),
    fmt("NONSPACING_MARK_RANGES", "Removed by strip_accents after NFD (Mn).", toRanges(t.nonspacingMark)),
    fmt("DECOMPOSABLE_RANGES", "Code points that have a canonical decomposition (NFD changes them).", toRanges(t.decomposable)),
    fmt("PUNCTUATION_RANGES", "Split off as single pieces by BertPreTokenizer.", toRanges(t.punctuation)),
    fmt("SPLIT_WHITESPACE_RANGES", "Word separators for BertPreTokenizer.", toRanges(t.splitWhitespace)),
    fmt("LOWERCASE_RUNS", "Non-ASCII lowercase mappings as runs [start, count, stride, delta]: start + k*stride -> itself + delta.", t.lowercaseRuns),
    `/** Code points whose lowercase is several code points: [cp, ...lowercase]. */\nexport const LOWERCASE_MULTI: readonly (readonly number[])[] = ${JSON.stringify(t.lowercaseMulti)};\n`,
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = fileURLToPath(new URL("../../lib/tokenization/unicodeTables.ts", import.meta.url));
  writeFileSync(out, renderTables(probeRustUnicodeTables()));
  console.log(`wrote ${out}`);
}
