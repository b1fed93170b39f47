/**
 * A deterministic WordPiece vocabulary and generated sentences for the tokenizer tests: nothing downloaded.
 */
import * as rust from "tokenizers";

import type { TextInput } from "../../lib/tokenization/Tokenizer.js";

export const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

const WORDS_IT =
  "il lo la i gli le di a da in con su per tra fra che e è non una uno un sono sei siamo come più anche questo questa " +
  "città perché università caffè però così già può più virtù libertà tè sé né lì là giù ciao casa cane gatto " +
  "bello bella strada mare sole luna tempo anno giorno notte amico amica scuola lavoro parola mondo vita cosa " +
  "molto poco sempre mai oggi domani ieri qui dove quando essere avere fare dire andare vedere sapere";
const WORDS_EN =
  "the of and to in is was for on that with as by at from it this be are have not or but an they which one you all " +
  "were her his there been has when who will more no if out so said what up its about into than them can only other";
const SUFFIXES = ["zione", "zioni", "mente", "are", "ere", "ire", "ato", "ata", "ito", "ità", "ing", "ed", "s", "es", "ly", "er", "est", "ino", "ina", "etto", "issimo"];
const CHARS =
  "abcdefghijklmnopqrstuvwxyzàáâäãåèéêëìíîïòóôöõùúûüñçßæøœ" +
  "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÈÉÌÒÙÜÑÇ" +
  "0123456789" +
  ".,;:!?'\"()[]{}-_/\\@#$%&*+=<>«»–—…¿¡€" +
  "中国人日本大学生东京北上海的了是" +
  "αβγδεικλμνοπρστυφχψωςΑΣΩΟΔ" +
  "абвгдежзиклмнопрст";

/** Special tokens, single characters, "##" + character, words (and capitalised ones for cased vocabularies), "##" suffixes. */
export function makeVocab(opts: { cased?: boolean } = {}): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (t: string) => {
    if (!seen.has(t)) {
      seen.add(t);
      out.push(t);
    }
  };
  SPECIALS.forEach(add);
  for (const c of CHARS) add(c);
  for (const c of CHARS) if (!/[A-ZÀÈÉÌÒÙÜÑÇ]/.test(c) || opts.cased) add(`##${c}`);
  for (const w of `${WORDS_IT} ${WORDS_EN}`.split(" ")) {
    add(w);
    // Uncased vocabularies are accent-stripped too (BERT uncased strips accents when lowercasing).
    add(w.normalize("NFD").replace(/\p{Mn}/gu, ""));
    if (opts.cased) add(w[0]!.toUpperCase() + w.slice(1));
  }
  for (const s of SUFFIXES) {
    add(`##${s}`);
    add(`##${s.normalize("NFD").replace(/\p{Mn}/gu, "")}`);
  }
  add("##̇"); // combining dot above, left over by lowercasing "İ"
  add("😀");
  return out;
}

/** Park-Miller style generator: the same inputs on every run. */
export function rng(seed: number): () => number {
  let s = seed % 2147483647;
  if (s <= 0) s += 2147483646;
  return () => {
    s = (s * 16807) % 2147483647;
    return (s - 1) / 2147483646;
  };
}

const PIECES = [
  ...`${WORDS_IT} ${WORDS_EN}`.split(" "),
  "Über", "ñandú", "perché", "Perché", "CITTÀ", "Città", "È", "e\u0300", "citta\u0300", "façade", "naïve", "Straße",
  "ΟΔΟΣ", "Σίσυφος", "İstanbul", "Ⅻ", "ﬁne", "Ｆｕｌｌ", "café", "2024", "3,14", "1.000.000", "42%", "€5", "#tag", "@user",
  "中国人", "日本の大学", "東京タワー", "한국어", "𠀀𠀁", "𪜀", "\u0890x", "a\u07fdb", "x\u1734y", "😀", "👍🏽", "🇮🇹", "👨‍👩‍👧",
  "\u0000", "\u0007", "\u001b[0m", "\u200b", "\u200d", "\ufeff", "\u00ad", "\ufffd", "\ue000", "\u00a0", "\u2003", "\u3000", "\u0085",
  "\t", "\n", "\r\n", "  ", "!", "?", "...", "«ciao»", "l'amico", "dell'università", "-", "—", "(x)", "[SEP]", "[MASK]", "[sep]", "[Mask]",
  "a[CLS]b", "xyzzy", "qwrtp", "Supercalifragilistichespiralidoso", "precipitevolissimevolmente",
];

/** Sentences mixing Italian and English words, accents, punctuation, numbers, CJK, emoji, control and format characters. */
export function makeSentences(n: number, seed = 7): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(r() * 25);
    const parts: string[] = [];
    for (let k = 0; k < len; k++) {
      let w = PIECES[Math.floor(r() * PIECES.length)]!;
      const x = r();
      if (x < 0.1) w = w.toUpperCase();
      else if (x < 0.2) w = w[0]!.toUpperCase() + w.slice(1);
      parts.push(w);
      const sep = r();
      parts.push(sep < 0.8 ? " " : sep < 0.9 ? ", " : sep < 0.95 ? "" : "\n");
    }
    out.push(parts.join("").trimEnd() + (r() < 0.5 ? "." : ""));
  }
  return out;
}

/** Inputs the tokenizers treat specially: empty, blank, control-only, words at and over 100 characters. */
export const EDGE_TEXTS = [
  "",
  " ",
  "   \t\n  ",
  "\u0000\u0001\u0002",
  "\u200b\u200b",
  "x".repeat(100),
  "x".repeat(101),
  "é".repeat(100),
  "é".repeat(101),
  "😀".repeat(100),
  "😀".repeat(101),
  "a".repeat(99) + "\u0301",
  "中".repeat(300),
  "[CLS][SEP][PAD]",
  "ab\ud800cd",
  "\udc00",
];

/** Very long inputs (tokenized once, then truncated). */
export function longTexts(seed = 11): string[] {
  const words = makeSentences(4000, seed).join(" ");
  return [words.slice(0, 100_000), "perché ".repeat(15_000), "a".repeat(100_000), makeSentences(50, seed + 1).join(" ")];
}

/** Pairs of generated sentences, some with one side empty or very long. */
export function makePairs(n: number, seed = 13): [string, string][] {
  const a = makeSentences(n, seed);
  const b = makeSentences(n, seed + 1);
  const longs = longTexts(seed + 2);
  const pairs = a.map((x, i): [string, string] => [x, b[i]!]);
  pairs.push(["", "solo la seconda"], ["solo la prima", ""], ["", ""], [longs[0]!, longs[1]!], [longs[1]!, "breve"], ["breve", longs[0]!]);
  return pairs;
}

/**
 * A Rust tokenizer built from the vocabulary with the Rust library's own components (not from any
 * tokenizer.json), the way BertTokenizerFast's conversion assembles one.
 */
export function rustBertFromVocab(vocab: string[], o: { lowercase: boolean; stripAccents?: boolean; chinese?: boolean }): rust.Tokenizer {
  const map: Record<string, number> = Object.create(null) as Record<string, number>;
  vocab.forEach((t, i) => {
    map[t] = i;
  });
  const tok = new rust.Tokenizer(rust.WordPiece.init(map, { unkToken: "[UNK]", continuingSubwordPrefix: "##", maxInputCharsPerWord: 100 }));
  const norm: rust.BertNormalizerOptions = { cleanText: true, handleChineseChars: o.chinese ?? true, lowercase: o.lowercase };
  // Leaving stripAccents out means "follow lowercase", like strip_accents=None in Python.
  if (o.stripAccents !== undefined) norm.stripAccents = o.stripAccents;
  tok.setNormalizer(rust.bertNormalizer(norm));
  tok.setPreTokenizer(rust.bertPreTokenizer());
  const cls = vocab.indexOf("[CLS]");
  const sep = vocab.indexOf("[SEP]");
  tok.setPostProcessor(rust.templateProcessing("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1", [["[CLS]", cls], ["[SEP]", sep]]));
  tok.setDecoder(rust.wordPieceDecoder("##", true));
  tok.addSpecialTokens(SPECIALS);
  return tok;
}

export interface RustRow {
  ids: number[];
  mask: number[];
  types: number[];
}

/** Rust's encoding of one input, truncated (longest_first) to maxLength when given. */
export async function rustEncode(tok: rust.Tokenizer, input: TextInput, maxLength?: number): Promise<RustRow> {
  if (maxLength === undefined) tok.disableTruncation();
  else tok.setTruncation(maxLength, { strategy: "LongestFirst" as rust.TruncationStrategy });
  const e = typeof input === "string" ? await tok.encode(input) : await tok.encode(input[0], input[1]);
  return { ids: e.getIds(), mask: e.getAttentionMask(), types: e.getTypeIds() };
}

/** Scripts, spacing and marks that SentencePiece and byte-level tokenizers treat in their own ways. */
const PIECES_WORLD = [
  "Perché", "università", "è", "È", "però", "ﬁ", "Ｆｕｌｌ", "ｶﾀｶﾅ", "①②", "½", "™", "…", "``quoted''", "„Anführung“", "‹›",
  "नमस्ते", "हिन्दी", "क्षत्रिय", "مرحبا", "العربية", "שלום", "ภาษาไทย", "ສະບາຍ", "ᄀᄁ각", "한국어", "日本語の文章", "中文字符",
  "𠀀𠀁", "㐀", "👩🏽‍💻", "🏳️‍🌈", "1️⃣", "🇮🇹🇫🇷", "😀😀", "❤️", "e\u0301\u0302", "a\u0308\u0308", "Ａ\u0301", "\u0301x", "o\u20dd",
  "\u00a0", "\u2002", "\u2009", "\u3000", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u0085", "\u2028", "\u000b", "\f",
  "   ", "\t\t", "\r\n", "\n\n", " \u00a0 ", "x\u0000y", "\u001f", "\ufffd", "\ue000", "Ǆ", "ǅ", "ǈ", "ß", "ẞ", "İ", "ı", "Ω", "Å", "Å",
  "l'acqua", "dell'anno", "it's", "we'll", "I'M", "DON'T", "'s", "3.14", "١٢٣", "๑๒๓", "Ⅻ", "²³", "x²", "$100", "#hashtag", "@nome",
  "<s>", "</s>", "<mask>", "<unk>", "<pad>", "▁", "▁▁x", "Ġ", "ĠĠ",
];

/** Sentences mixing the generated Italian/English words with many scripts, emoji sequences, odd whitespace and combining marks. */
export function makeWorldSentences(n: number, seed = 17): string[] {
  const r = rng(seed);
  const base = makeSentences(n, seed + 1);
  return base.map((s) => {
    const words = s.split(" ");
    const extra = 1 + Math.floor(r() * 6);
    for (let k = 0; k < extra; k++) {
      const at = Math.floor(r() * (words.length + 1));
      const sep = r();
      const piece = PIECES_WORLD[Math.floor(r() * PIECES_WORLD.length)]!;
      words.splice(at, 0, sep < 0.7 ? piece : sep < 0.85 ? ` ${piece}` : `${piece}  `);
    }
    return words.join(r() < 0.9 ? " " : "  ");
  });
}
