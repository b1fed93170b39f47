import {
  CHINESE_RANGES,
  CONTROL_RANGES,
  DECOMPOSABLE_RANGES,
  LOWERCASE_MULTI,
  LOWERCASE_RUNS,
  NONSPACING_MARK_RANGES,
  PUNCTUATION_RANGES,
  SPLIT_WHITESPACE_RANGES,
  WHITESPACE_RANGES,
} from "./unicodeTables.js";

/** Character classes of the Rust BertNormalizer / BertPreTokenizer, one bit each. */
export const CONTROL = 1;
export const WHITESPACE = 2;
export const CHINESE = 4;
export const NONSPACING_MARK = 8;
export const DECOMPOSABLE = 16;
export const PUNCTUATION = 32;
export const SPLIT_WHITESPACE = 64;

const TABLES: [number, readonly number[]][] = [
  [CONTROL, CONTROL_RANGES],
  [WHITESPACE, WHITESPACE_RANGES],
  [CHINESE, CHINESE_RANGES],
  [NONSPACING_MARK, NONSPACING_MARK_RANGES],
  [DECOMPOSABLE, DECOMPOSABLE_RANGES],
  [PUNCTUATION, PUNCTUATION_RANGES],
  [SPLIT_WHITESPACE, SPLIT_WHITESPACE_RANGES],
];

// A flat lookup for the BMP (one byte per code unit) keeps the per-character cost to one array read;
// the rarer astral code points go through a binary search over merged ranges.
const BMP = new Uint8Array(0x10000);
const astralStarts: number[] = [];
const astralEnds: number[] = [];
const astralFlags: number[] = [];
{
  const events = new Map<number, number>();
  for (const [flag, ranges] of TABLES) {
    for (let i = 0; i < ranges.length; i += 2) {
      const start = ranges[i]!;
      const end = ranges[i + 1]!;
      for (let cp = start; cp <= Math.min(end, 0xffff); cp++) BMP[cp]! |= flag;
      if (end > 0xffff) {
        const s = Math.max(start, 0x10000);
        events.set(s, (events.get(s) ?? 0) ^ flag);
        events.set(end + 1, (events.get(end + 1) ?? 0) ^ flag);
      }
    }
  }
  // Unpaired surrogates cannot reach Rust (they become U+FFFD there), which clean_text removes.
  for (let cp = 0xd800; cp <= 0xdfff; cp++) BMP[cp]! |= CONTROL;
  let current = 0;
  const points = [...events.keys()].sort((a, b) => a - b);
  for (let i = 0; i < points.length; i++) {
    current ^= events.get(points[i]!)!;
    if (current !== 0 && i + 1 < points.length) {
      astralStarts.push(points[i]!);
      astralEnds.push(points[i + 1]! - 1);
      astralFlags.push(current);
    }
  }
}

export function charFlags(cp: number): number {
  if (cp < 0x10000) return BMP[cp]!;
  let lo = 0;
  let hi = astralStarts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < astralStarts[mid]!) hi = mid - 1;
    else if (cp > astralEnds[mid]!) lo = mid + 1;
    else return astralFlags[mid]!;
  }
  return 0;
}

const LOWER = new Map<number, number>();
for (let i = 0; i < LOWERCASE_RUNS.length; i += 4) {
  const start = LOWERCASE_RUNS[i]!;
  const count = LOWERCASE_RUNS[i + 1]!;
  const stride = LOWERCASE_RUNS[i + 2]!;
  const delta = LOWERCASE_RUNS[i + 3]!;
  for (let k = 0; k < count; k++) LOWER.set(start + k * stride, start + k * stride + delta);
}
const LOWER_MULTI = new Map<number, readonly number[]>(LOWERCASE_MULTI.map((m) => [m[0]!, m.slice(1)]));

/**
 * Rust's char::to_lowercase of a non-ASCII code point: one code point, or (for U+0130) several, pushed to `out`.
 * Applied character by character, as Rust does, so a final capital sigma becomes "σ", not "ς".
 */
export function pushLowercase(cp: number, out: number[]): void {
  const single = LOWER.get(cp);
  if (single !== undefined) {
    out.push(single);
    return;
  }
  const multi = LOWER_MULTI.get(cp);
  if (multi !== undefined) out.push(...multi);
  else out.push(cp);
}

const nfdCache = new Map<number, readonly number[]>();

/** Canonical decomposition of one code point that DECOMPOSABLE flags (stable across Unicode versions). */
export function decompose(cp: number): readonly number[] {
  let d = nfdCache.get(cp);
  if (d === undefined) {
    d = [...String.fromCodePoint(cp).normalize("NFD")].map((c) => c.codePointAt(0)!);
    nfdCache.set(cp, d);
  }
  return d;
}
