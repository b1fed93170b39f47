/**
 * The ByteLevel pre-tokenizer (GPT-2 / RoBERTa) with the semantics of Hugging Face's Rust `tokenizers`: the
 * GPT-2 split pattern, then each piece's UTF-8 bytes mapped to printable characters (bytes_to_unicode).
 *
 * Rust runs the pattern in Oniguruma, whose Unicode tables are older than Node's ICU (and whose \s leaves out
 * U+FEFF, which JavaScript's matches), so its classes are spelled out from tables measured on the Rust package.
 */
import { LETTER_RANGES, NUMBER_RANGES, SPACE_RANGES } from "./rustClassTables.js";

/** A regular-expression class body (no brackets) of the code point ranges [lo, hi, lo, hi, ...]. */
export function charClass(ranges: readonly number[]): string {
  const hex = (cp: number) => `\\u{${cp.toString(16)}}`;
  let out = "";
  for (let i = 0; i < ranges.length; i += 2) out += ranges[i] === ranges[i + 1] ? hex(ranges[i]!) : `${hex(ranges[i]!)}-${hex(ranges[i + 1]!)}`;
  return out;
}

const L = charClass(LETTER_RANGES);
const N = charClass(NUMBER_RANGES);
const S = charClass(SPACE_RANGES);
const PATTERN = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?[${L}]+| ?[${N}]+| ?[^${S}${L}${N}]+|[${S}]+(?![^${S}])|[${S}]+`, "gu");

/** GPT-2's byte -> character table: printable Latin-1 bytes stand for themselves, the others from U+0100 on. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return out;
})();

const encoder = new TextEncoder();

/** The byte-level form of a piece of text: one character per UTF-8 byte. */
export function byteLevelChars(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u < 0x80) {
      out += BYTE_TO_CHAR[u]!;
      continue;
    }
    let j = i + 1;
    while (j < s.length && s.charCodeAt(j) >= 0x80) j++;
    for (const b of encoder.encode(s.slice(i, j))) out += BYTE_TO_CHAR[b]!;
    i = j - 1;
  }
  return out;
}

export interface ByteLevelConfig {
  addPrefixSpace: boolean;
  useRegex: boolean;
}

export function byteLevel(cfg: ByteLevelConfig): (s: string, atStart: boolean, word: (w: string, atStart: boolean) => boolean) => boolean {
  return (s, atStart, word) => {
    if (s.length === 0) return true;
    if (cfg.addPrefixSpace && !s.startsWith(" ")) s = " " + s;
    if (!cfg.useRegex) return word(byteLevelChars(s), atStart);
    // The pattern covers every character; text between matches would still be a piece of its own (Isolated).
    const re = PATTERN;
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      if (m.index > last && !word(byteLevelChars(s.slice(last, m.index)), atStart && last === 0)) return false;
      if (!word(byteLevelChars(m[0]), atStart && m.index === 0)) return false;
      last = m.index + m[0].length;
    }
    return last < s.length ? word(byteLevelChars(s.slice(last)), atStart && last === 0) : true;
  };
}
