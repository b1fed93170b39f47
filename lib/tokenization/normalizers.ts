/**
 * tokenizer.json normalizers as functions on strings, with the semantics of Hugging Face's Rust `tokenizers`:
 * Sequence, Precompiled, Replace, Strip, StripAccents, Prepend, Lowercase, NFC/NFD/NFKC/NFKD and BertNormalizer.
 * Offsets are not tracked (nothing here reports them).
 */
import { type BertNormalizerConfig, bertNormalize } from "./bertPipeline.js";
import { PrecompiledCharsmap } from "./precompiled.js";
import { COMBINING_MARK_RANGES, NORMALIZATION_NEWER_RANGES } from "./rustClassTables.js";
import { SPLIT_WHITESPACE, charFlags, pushLowercase } from "./unicode.js";
import { UnsupportedComponent } from "./unsupported.js";

export type NormalizeFn = (s: string) => string;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSpace(cp: number): boolean {
  return (charFlags(cp) & SPLIT_WHITESPACE) !== 0;
}

/** Strip: removes Rust's char::is_whitespace characters from either end. */
function strip(left: boolean, right: boolean): NormalizeFn {
  return (s) => {
    let start = 0;
    let end = s.length;
    if (left) {
      while (start < end) {
        const cp = s.codePointAt(start)!;
        if (!isSpace(cp)) break;
        start += cp > 0xffff ? 2 : 1;
      }
    }
    if (right) {
      while (end > start) {
        const cp = s.codePointAt(end - 1)!;
        if (!isSpace(cp)) break;
        end -= 1;
      }
    }
    return start === 0 && end === s.length ? s : s.slice(start, end);
  };
}

const combiningBmp = new Uint8Array(0x10000);
const combiningAstral: number[] = [];
for (let i = 0; i < COMBINING_MARK_RANGES.length; i += 2) {
  const [a, b] = [COMBINING_MARK_RANGES[i]!, COMBINING_MARK_RANGES[i + 1]!];
  if (b < 0x10000) combiningBmp.fill(1, a, b + 1);
  else combiningAstral.push(a, b);
}

function isCombiningMark(cp: number): boolean {
  if (cp < 0x10000) return combiningBmp[cp] === 1;
  for (let i = 0; i < combiningAstral.length; i += 2) if (cp >= combiningAstral[i]! && cp <= combiningAstral[i + 1]!) return true;
  return false;
}

/** StripAccents: drops combining marks (Mn, Mc, Me in Rust's tables) wherever they are. */
function stripAccents(s: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (isCombiningMark(cp)) {
      out += s.slice(from, i);
      from = i + width;
    }
    i += width - 1;
  }
  return from === 0 ? s : out + s.slice(from);
}

function rangeClass(ranges: readonly number[]): string {
  let out = "";
  for (let i = 0; i < ranges.length; i += 2) out += `\\u{${ranges[i]!.toString(16)}}-\\u{${ranges[i + 1]!.toString(16)}}`;
  return out;
}

/** Characters Rust's normalization tables predate: to Rust they are starters without mappings. */
const NEWER = new RegExp(`[${rangeClass(NORMALIZATION_NEWER_RANGES)}]`, "u");
const NEWER_SPLIT = new RegExp(`([${rangeClass(NORMALIZATION_NEWER_RANGES)}])`, "u");

/**
 * NFC/NFD/NFKC/NFKD as Rust computes them: characters newer than its tables stay as they are and, being
 * starters that compose with nothing there, split the text into runs normalized on their own.
 */
function unicodeForm(form: "NFC" | "NFD" | "NFKC" | "NFKD"): NormalizeFn {
  return (s) => {
    if (!NEWER.test(s)) return s.normalize(form);
    return s
      .split(NEWER_SPLIT)
      .map((part, i) => (i % 2 === 1 ? part : part.normalize(form)))
      .join("");
  };
}

/** Lowercase: Rust's char::to_lowercase, character by character. */
function lowercase(s: string): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
  if (ascii) return s.toLowerCase();
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp);
    else pushLowercase(cp, out);
  }
  let r = "";
  for (let i = 0; i < out.length; i += 4096) r += String.fromCodePoint(...out.slice(i, i + 4096));
  return r;
}

function replace(n: Record<string, unknown>, field: string): NormalizeFn {
  const pattern = n["pattern"];
  const content = n["content"];
  if (typeof content !== "string") throw new UnsupportedComponent(`${field}.content`, "must be a string");
  if (isRecord(pattern) && typeof pattern["String"] === "string") {
    const from = pattern["String"];
    if (from === "") return (s) => s;
    return (s) => s.split(from).join(content);
  }
  if (isRecord(pattern) && typeof pattern["Regex"] === "string") {
    let re: RegExp;
    try {
      re = new RegExp(pattern["Regex"], "gu");
    } catch (e) {
      throw new UnsupportedComponent(`${field}.pattern.Regex`, `${JSON.stringify(pattern["Regex"])} is not a pattern this runtime reads: ${(e as Error).message}`);
    }
    // The replacement is literal text in Rust: no "$1" expansion.
    return (s) => s.replace(re, () => content);
  }
  throw new UnsupportedComponent(`${field}.pattern`, 'must be {"String": ...} or {"Regex": ...}');
}

function base64Bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** A normalizer function for `n` (the JSON at `field`), or null for none. */
export function buildNormalizer(n: unknown, field = "normalizer"): NormalizeFn | null {
  if (n === null || n === undefined) return null;
  if (!isRecord(n)) throw new UnsupportedComponent(field, "must be an object or null");
  switch (n["type"]) {
    case "Sequence": {
      const list = n["normalizers"];
      if (!Array.isArray(list)) throw new UnsupportedComponent(`${field}.normalizers`, "must be a list");
      const fns = list.map((x, i) => buildNormalizer(x, `${field}.normalizers[${i}]`)).filter((f): f is NormalizeFn => f !== null);
      return (s) => {
        for (const f of fns) s = f(s);
        return s;
      };
    }
    case "Precompiled": {
      const blob = n["precompiled_charsmap"];
      if (blob === null || blob === undefined || blob === "") return null;
      if (typeof blob !== "string") throw new UnsupportedComponent(`${field}.precompiled_charsmap`, "must be a base64 string");
      let map: PrecompiledCharsmap;
      try {
        map = new PrecompiledCharsmap(base64Bytes(blob));
      } catch (e) {
        throw new UnsupportedComponent(`${field}.precompiled_charsmap`, (e as Error).message);
      }
      return (s) => map.normalize(s);
    }
    case "Replace":
      return replace(n, field);
    case "Strip":
      return strip(n["strip_left"] !== false, n["strip_right"] !== false);
    case "Prepend": {
      const p = n["prepend"];
      if (typeof p !== "string") throw new UnsupportedComponent(`${field}.prepend`, "must be a string");
      return (s) => (s.length === 0 ? s : p + s);
    }
    case "Lowercase":
      return lowercase;
    case "StripAccents":
      return stripAccents;
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return unicodeForm(n["type"]);
    case "BertNormalizer": {
      const cfg: BertNormalizerConfig = {
        cleanText: n["clean_text"] !== false,
        handleChineseChars: n["handle_chinese_chars"] !== false,
        stripAccents: typeof n["strip_accents"] === "boolean" ? n["strip_accents"] : null,
        lowercase: n["lowercase"] !== false,
      };
      return (s) => bertNormalize(s, cfg);
    }
    default:
      throw new UnsupportedComponent(`${field}.type`, `normalizer ${JSON.stringify(n["type"])} is not supported`);
  }
}
