/**
 * SentencePiece's precompiled normalization (the `Precompiled` normalizer of tokenizer.json, the
 * `precompiled_charsmap` of a SentencePiece model), with the semantics of Hugging Face's Rust `tokenizers`.
 *
 * The charsmap is [u32 LE trie size in bytes][Darts double-array trie over UTF-8 bytes][NUL-separated UTF-8
 * replacement strings]; a trie value is the byte offset of a replacement. Rust looks up each grapheme cluster
 * shorter than 6 UTF-8 bytes as a whole and takes the *shortest* key that is a prefix of it (so a matched
 * grapheme is replaced whole); otherwise, or when nothing matches, it looks up each character on its own.
 */
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class PrecompiledCharsmap {
  private readonly trie: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly strings = new Map<number, string>();
  private readonly cache = new Map<string, string | null>();
  private readonly ascii: (string | null)[] = [];
  private readonly segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

  /** @throws Error when the blob is not a charsmap */
  constructor(blob: Uint8Array) {
    if (blob.length < 4) throw new Error("precompiled_charsmap is shorter than its 4-byte header");
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > blob.length) throw new Error(`precompiled_charsmap declares a trie of ${trieBytes} bytes in ${blob.length}`);
    this.trie = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.trie.length; i++) this.trie[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = blob.slice(4 + trieBytes);
    for (let c = 0; c < 128; c++) this.ascii.push(this.lookup(String.fromCharCode(c)));
  }

  /** Darts common-prefix search: the value of the shortest key that is a prefix of `bytes`, or -1. */
  private firstPrefix(bytes: Uint8Array): number {
    const a = this.trie;
    if (a.length === 0) return -1;
    let unit = a[0]!;
    let pos = offset(unit);
    for (const c of bytes) {
      if (c === 0) break;
      pos ^= c;
      if (pos >= a.length) return -1;
      unit = a[pos]!;
      // label(): the low byte, with bit 31 set on leaf units so that they never match a byte
      if ((unit & 0x800000ff) >>> 0 !== c) return -1;
      pos ^= offset(unit);
      if ((unit >>> 8) & 1) return pos < a.length ? a[pos]! & 0x7fffffff : -1;
    }
    return -1;
  }

  private replacement(index: number): string | null {
    let s = this.strings.get(index);
    if (s === undefined) {
      if (index > this.normalized.length) return null;
      let end = index;
      while (end < this.normalized.length && this.normalized[end] !== 0) end++;
      s = utf8Decoder.decode(this.normalized.subarray(index, end));
      this.strings.set(index, s);
    }
    return s;
  }

  /** The replacement of a chunk (the shortest matching key's), or null when nothing matches. */
  private lookup(chunk: string): string | null {
    const index = this.firstPrefix(utf8.encode(chunk));
    return index < 0 ? null : this.replacement(index);
  }

  private transform(chunk: string): string | null {
    if (chunk.length === 1 && chunk.charCodeAt(0) < 128) return this.ascii[chunk.charCodeAt(0)]!;
    let r = this.cache.get(chunk);
    if (r === undefined) {
      r = this.lookup(chunk);
      if (this.cache.size >= 50_000) this.cache.clear();
      this.cache.set(chunk, r);
    }
    return r;
  }

  private grapheme(g: string): string {
    if (utf8Length(g) < 6) {
      const whole = this.transform(g);
      if (whole !== null) return whole;
    }
    if (g.length === 1) return g;
    let out = "";
    for (const c of g) out += this.transform(c) ?? c;
    return out;
  }

  normalize(s: string): string {
    let out = "";
    let asciiOnly = true;
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) >= 128) {
        asciiOnly = false;
        break;
      }
    }
    if (asciiOnly) {
      // In ASCII only "\r\n" is a multi-character grapheme.
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === 13 && s.charCodeAt(i + 1) === 10) {
          out += this.grapheme("\r\n");
          i++;
        } else {
          out += this.ascii[c] ?? s[i];
        }
      }
      return out;
    }
    for (const g of this.graphemes(s)) out += this.grapheme(g);
    return out;
  }

  /**
   * Grapheme clusters of `s`. Intl.Segmenter slows down more than linearly on long strings, so it runs on
   * windows; a window's last cluster may be cut, so the next window starts there. Starting at a cluster
   * boundary gives the same clusters as segmenting the whole string (the rules look back, never ahead).
   */
  private *graphemes(s: string): Generator<string> {
    let start = 0;
    let width = 256;
    while (start < s.length) {
      const end = Math.min(s.length, start + width);
      const segments = [...this.segmenter.segment(s.slice(start, end))];
      if (end === s.length) {
        for (const x of segments) yield x.segment;
        return;
      }
      if (segments.length < 2) {
        width *= 2;
        continue;
      }
      for (let k = 0; k < segments.length - 1; k++) yield segments[k]!.segment;
      start += segments[segments.length - 1]!.index;
      width = 256;
    }
  }
}

function offset(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u < 0x80) n += 1;
    else if (u < 0x800) n += 2;
    else if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
