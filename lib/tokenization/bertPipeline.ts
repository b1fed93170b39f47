/**
 * The BERT tokenization pipeline (BertNormalizer, BertPreTokenizer, WordPiece, added-token extraction) with the
 * semantics of Hugging Face's Rust `tokenizers`, which is what Python's BertTokenizerFast runs.
 *
 * @huggingface/tokenizers differs from the Rust implementation on these steps (code-unit CJK detection misses
 * CJK extension B-F, it lowercases whole strings so a final "Σ" becomes "ς", and it classifies characters with
 * the Unicode version of Node's ICU), so BERT-family tokenizers run through this module instead.
 */
import {
  CHINESE,
  CONTROL,
  DECOMPOSABLE,
  NONSPACING_MARK,
  PUNCTUATION,
  SPLIT_WHITESPACE,
  WHITESPACE,
  charFlags,
  decompose,
  pushLowercase,
} from "./unicode.js";

export interface BertNormalizerConfig {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** null: follow `lowercase` */
  stripAccents: boolean | null;
  lowercase: boolean;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function codePointsToString(cps: number[]): string {
  let s = "";
  for (let i = 0; i < cps.length; i += 4096) s += String.fromCodePoint(...cps.slice(i, i + 4096));
  return s;
}

/** BertNormalizer: clean_text, then spaces around CJK ideographs, then NFD + drop Mn, then lowercase. */
export function bertNormalize(text: string, cfg: BertNormalizerConfig): string {
  const strip = cfg.stripAccents ?? cfg.lowercase;
  if (PRINTABLE_ASCII.test(text)) return cfg.lowercase ? text.toLowerCase() : text;
  const out: number[] = [];
  const emit = (cp: number) => {
    if (cp < 0x80) out.push(cfg.lowercase && cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp);
    else if (cfg.lowercase) pushLowercase(cp, out);
    else out.push(cp);
  };
  const emitStripped = (cp: number, flags: number) => {
    if (!strip || cp < 0x80) emit(cp);
    else if (flags & DECOMPOSABLE) {
      for (const d of decompose(cp)) if (!(charFlags(d) & NONSPACING_MARK)) emit(d);
    } else if (!(flags & NONSPACING_MARK)) emit(cp);
  };
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    let flags = charFlags(cp);
    if (cfg.cleanText) {
      if (flags & CONTROL) continue;
      if (flags & WHITESPACE) {
        cp = 0x20;
        flags = 0;
      }
    }
    if (cfg.handleChineseChars && flags & CHINESE) {
      out.push(0x20);
      emitStripped(cp, flags);
      out.push(0x20);
    } else {
      emitStripped(cp, flags);
    }
  }
  return codePointsToString(out);
}

/**
 * BertPreTokenizer: split on whitespace (dropped) and around punctuation (kept as one-character words).
 * Calls `word(start, end)` with code-unit offsets; stops early when it returns false.
 */
export function bertPreTokenize(text: string, word: (start: number, end: number) => boolean): void {
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    let cp = unit;
    let width = 1;
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((unit - 0xd800) << 10) + (lo - 0xdc00);
        width = 2;
      }
    }
    const flags = charFlags(cp);
    if (flags & (SPLIT_WHITESPACE | PUNCTUATION)) {
      if (start >= 0) {
        if (!word(start, i)) return;
        start = -1;
      }
      if (flags & PUNCTUATION && !word(i, i + width)) return;
    } else if (start < 0) {
      start = i;
    }
    i += width - 1;
  }
  if (start >= 0) word(start, text.length);
}

export interface WordPieceConfig {
  vocab: Map<string, number>;
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
}

const CACHE_LIMIT = 100_000;

/** Greedy longest-match-first WordPiece over code points, with a per-word cache of the resulting ids. */
export class WordPieceModel {
  private readonly cache = new Map<string, readonly number[]>();
  readonly unkId: number | undefined;
  /** Longest vocabulary entry in UTF-16 units: no longer piece can match, so no longer slice is tried. */
  private readonly longest: number;

  constructor(private readonly cfg: WordPieceConfig) {
    this.unkId = cfg.vocab.get(cfg.unkToken);
    let longest = 0;
    for (const t of cfg.vocab.keys()) longest = Math.max(longest, t.length);
    this.longest = longest;
  }

  private unknown(word: string): readonly number[] {
    if (this.unkId === undefined) {
      throw new Error(`WordPiece: "${word.slice(0, 50)}" cannot be tokenized and the unk token ${JSON.stringify(this.cfg.unkToken)} is not in the vocabulary`);
    }
    return [this.unkId];
  }

  tokenize(word: string): readonly number[] {
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    const ids = this.compute(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  private compute(word: string): readonly number[] {
    const { vocab, continuingSubwordPrefix: prefix, maxInputCharsPerWord } = this.cfg;
    let chars = word.length;
    if (chars > maxInputCharsPerWord) {
      for (let i = 0; i < word.length; i++) {
        const u = word.charCodeAt(i);
        if (u >= 0xd800 && u <= 0xdbff && i + 1 < word.length) {
          const lo = word.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            chars--;
            i++;
          }
        }
      }
      if (chars > maxInputCharsPerWord) return this.unknown(word);
    }
    // Matching starts at most `longest` units ahead, so a word costs O(length * longest) whatever
    // max_input_chars_per_word a file sets, with the same pieces as trying every end.
    const ids: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = Math.min(word.length, start + this.longest);
      if (end < word.length && isHighSurrogate(word.charCodeAt(end - 1)) && isLowSurrogate(word.charCodeAt(end))) end--;
      let found: number | undefined;
      while (start < end) {
        const piece = start > 0 ? prefix + word.slice(start, end) : word.slice(start, end);
        found = vocab.get(piece);
        if (found !== undefined) break;
        // Step back one code point, never into the middle of a surrogate pair.
        const last = word.charCodeAt(end - 1);
        end -= isLowSurrogate(last) && end - 2 >= start && isHighSurrogate(word.charCodeAt(end - 2)) ? 2 : 1;
      }
      if (found === undefined) return this.unknown(word);
      ids.push(found);
      start = end;
    }
    return ids;
  }
}

function isHighSurrogate(u: number): boolean {
  return u >= 0xd800 && u <= 0xdbff;
}

function isLowSurrogate(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}

export interface AddedTokenSpec {
  id: number;
  content: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;

function isSpaceAt(s: string, i: number): boolean {
  return (charFlags(s.codePointAt(i)!) & SPLIT_WHITESPACE) !== 0;
}

/**
 * Finds added tokens in a string, leftmost-longest and without overlaps, with the single_word / lstrip / rstrip
 * rules of Rust's AddedVocabulary.
 */
export class AddedTokenMatcher {
  private readonly pattern: RegExp | undefined;
  private readonly byContent = new Map<string, AddedTokenSpec>();

  constructor(tokens: { pattern: string; token: AddedTokenSpec }[]) {
    const usable = tokens.filter((t) => t.pattern.length > 0);
    for (const t of usable) if (!this.byContent.has(t.pattern)) this.byContent.set(t.pattern, t.token);
    if (usable.length > 0) {
      // An alternation tried longest first gives the leftmost-longest match.
      const alternatives = [...this.byContent.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.pattern = new RegExp(alternatives.join("|"), "g");
    }
  }

  get empty(): boolean {
    return this.pattern === undefined;
  }

  /** Splits `s` into plain pieces (id undefined) and added tokens. Empty plain pieces are dropped. */
  split(s: string): { start: number; end: number; id: number | undefined }[] {
    const out: { start: number; end: number; id: number | undefined }[] = [];
    if (this.pattern === undefined || s.length === 0) {
      if (s.length > 0) out.push({ start: 0, end: s.length, id: undefined });
      return out;
    }
    const re = this.pattern;
    re.lastIndex = 0;
    let offset = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      let start = m.index;
      let stop = start + m[0].length;
      const tok = this.byContent.get(m[0])!;
      if (tok.singleWord) {
        const before = start > 0 && WORD_CHAR.test(lastChar(s, start));
        const after = stop < s.length && WORD_CHAR.test(String.fromCodePoint(s.codePointAt(stop)!));
        if (before || after) continue;
      }
      if (tok.lstrip) {
        let j = start;
        while (j > 0 && isSpaceAt(s, j - 1)) j--;
        start = Math.max(j, offset);
      }
      if (tok.rstrip) {
        while (stop < s.length && isSpaceAt(s, stop)) stop++;
      }
      if (offset < start) out.push({ start: offset, end: start, id: undefined });
      out.push({ start, end: stop, id: tok.id });
      offset = stop;
    }
    if (offset < s.length) out.push({ start: offset, end: s.length, id: undefined });
    return out;
  }
}

function lastChar(s: string, end: number): string {
  const u = s.charCodeAt(end - 1);
  if (u >= 0xdc00 && u <= 0xdfff && end >= 2 && isHighSurrogate(s.charCodeAt(end - 2))) return s.slice(end - 2, end);
  return s.slice(end - 1, end);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Normalizer + pre-tokenizer + WordPiece + added tokens: text -> ids, no special tokens. */
export class BertPipeline {
  private readonly raw: AddedTokenMatcher;
  private readonly normalized: AddedTokenMatcher;

  constructor(
    private readonly normalizer: BertNormalizerConfig | null,
    private readonly model: WordPieceModel,
    addedTokens: AddedTokenSpec[],
  ) {
    this.raw = new AddedTokenMatcher(addedTokens.filter((t) => !t.normalized).map((t) => ({ pattern: t.content, token: t })));
    this.normalized = new AddedTokenMatcher(
      addedTokens.filter((t) => t.normalized).map((t) => ({ pattern: this.normalize(t.content), token: t })),
    );
  }

  normalize(text: string): string {
    return this.normalizer === null ? text : bertNormalize(text, this.normalizer);
  }

  /**
   * The ids of `text`. With `limit`, stops after the word that brings the count to `limit` or more (added
   * tokens do not stop it), as Rust `tokenizers` >= 0.23 does when truncation is on; the caller truncates.
   */
  encode(text: string, limit = Infinity): number[] {
    const ids: number[] = [];
    let done = false;
    for (const piece of this.raw.split(text)) {
      if (done) break;
      if (piece.id !== undefined) {
        ids.push(piece.id);
        continue;
      }
      const norm = this.normalize(text.slice(piece.start, piece.end));
      for (const sub of this.normalized.split(norm)) {
        if (done) break;
        if (sub.id !== undefined) {
          ids.push(sub.id);
          continue;
        }
        const s = sub.start === 0 && sub.end === norm.length ? norm : norm.slice(sub.start, sub.end);
        bertPreTokenize(s, (start, end) => {
          const pieces = this.model.tokenize(s.slice(start, end));
          for (let k = 0; k < pieces.length; k++) ids.push(pieces[k]!);
          done = ids.length >= limit;
          return !done;
        });
      }
    }
    return ids;
  }
}
