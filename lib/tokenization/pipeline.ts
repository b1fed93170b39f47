/**
 * Text -> ids (no special tokens) for tokenizer.json files with a Unigram, BPE or WordPiece model (BERT's own
 * combination runs in BertPipeline): added tokens, normalizer, pre-tokenizer and model in the order and with the
 * semantics of Hugging Face's Rust `tokenizers`.
 */
import { AddedTokenMatcher, type AddedTokenSpec, WordPieceModel, bertPreTokenize } from "./bertPipeline.js";
import { BpeModel } from "./bpe.js";
import { byteLevel } from "./byteLevel.js";
import { metaspace, type PrependScheme } from "./metaspace.js";
import { split, translatePattern } from "./split.js";
import { type NormalizeFn, buildNormalizer } from "./normalizers.js";
import { UnigramModel } from "./unigram.js";
import { SPLIT_WHITESPACE, charFlags } from "./unicode.js";
import { UnsupportedComponent } from "./unsupported.js";

/**
 * Splits a piece of normalized text into words; `atStart`: the piece begins the input (and so does a word
 * that begins it). Returns false when `word` asked to stop.
 */
export type PreTokenizeFn = (s: string, atStart: boolean, word: (w: string, atStart: boolean) => boolean) => boolean;

/** WhitespaceSplit: words between runs of Rust's char::is_whitespace characters, which are dropped. */
const whitespaceSplit: PreTokenizeFn = (s, atStart, word) => {
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    // No whitespace character is outside the BMP.
    const space = (charFlags(u) & SPLIT_WHITESPACE) !== 0 && !(u >= 0xd800 && u <= 0xdfff);
    if (space) {
      if (start >= 0 && !word(s.slice(start, i), atStart && start === 0)) return false;
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return start < 0 || word(s.slice(start), atStart && start === 0);
};

function sequence(fns: PreTokenizeFn[]): PreTokenizeFn {
  return (s, atStart, word) => {
    const run = (k: number, t: string, a: boolean): boolean => (k === fns.length ? word(t, a) : fns[k]!(t, a, (w, wa) => run(k + 1, w, wa)));
    return run(0, s, atStart);
  };
}

interface WordModel {
  tokenize(word: string, out: number[]): void;
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new UnsupportedComponent(field, "must be true or false");
  return v;
}

function buildPreTokenizer(p: unknown, field = "pre_tokenizer"): PreTokenizeFn {
  if (p === null || p === undefined) return (s, atStart, word) => s.length === 0 || word(s, atStart);
  if (!isRecord(p)) throw new UnsupportedComponent(field, "must be an object or null");
  switch (p["type"]) {
    case "Sequence": {
      const list = p["pretokenizers"];
      if (!Array.isArray(list)) throw new UnsupportedComponent(`${field}.pretokenizers`, "must be a list");
      return sequence(list.map((x, i) => buildPreTokenizer(x, `${field}.pretokenizers[${i}]`)));
    }
    case "WhitespaceSplit":
      return whitespaceSplit;
    case "BertPreTokenizer":
      return (s, atStart, word) => {
        let going = true;
        bertPreTokenize(s, (start, end) => (going = word(s.slice(start, end), atStart && start === 0)));
        return going;
      };
    case "Metaspace": {
      const replacement = p["replacement"];
      if (typeof replacement !== "string" || [...replacement].length !== 1) throw new UnsupportedComponent(`${field}.replacement`, "must be one character");
      let scheme = (p["prepend_scheme"] ?? "always") as PrependScheme;
      if (!["always", "first", "never"].includes(scheme)) throw new UnsupportedComponent(`${field}.prepend_scheme`, 'must be "always", "first" or "never"');
      if (p["add_prefix_space"] === false) {
        if (scheme !== "never" && p["prepend_scheme"] !== undefined) throw new UnsupportedComponent(`${field}.add_prefix_space`, "false contradicts prepend_scheme");
        scheme = "never";
      }
      return metaspace({ replacement, prependScheme: scheme, split: bool(p["split"], `${field}.split`, true) });
    }
    case "Split": {
      const pattern = p["pattern"];
      const behavior = p["behavior"];
      if (p["invert"] === true) throw new UnsupportedComponent(`${field}.invert`, "true is not supported");
      if (behavior !== "Isolated" && behavior !== "Removed") throw new UnsupportedComponent(`${field}.behavior`, `${JSON.stringify(behavior)} is not supported (Isolated, Removed)`);
      if (isRecord(pattern) && typeof pattern["Regex"] === "string") return split(translatePattern(pattern["Regex"], `${field}.pattern`), behavior);
      if (isRecord(pattern) && typeof pattern["String"] === "string") {
        return split(new RegExp(pattern["String"].replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&"), "gu"), behavior);
      }
      throw new UnsupportedComponent(`${field}.pattern`, 'must be {"Regex": ...} or {"String": ...}');
    }
    case "ByteLevel":
      return byteLevel({ addPrefixSpace: bool(p["add_prefix_space"], `${field}.add_prefix_space`, true), useRegex: bool(p["use_regex"], `${field}.use_regex`, true) });
    default:
      throw new UnsupportedComponent(`${field}.type`, `pre-tokenizer ${JSON.stringify(p["type"])} is not supported`);
  }
}

function buildModel(m: Json, vocab: Map<string, number>): WordModel {
  const str = (k: string): string | null => {
    const v = m[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") throw new UnsupportedComponent(`model.${k}`, "must be a string or null");
    return v;
  };
  switch (m["type"]) {
    case "Unigram": {
      const list = m["vocab"];
      if (!Array.isArray(list)) throw new UnsupportedComponent("model.vocab", "must be a list of [piece, score]");
      const pieces = list.map((e: unknown, i: number): [string, number] => {
        if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number") throw new UnsupportedComponent(`model.vocab[${i}]`, "must be [piece, score]");
        return [e[0], e[1]];
      });
      const unk = m["unk_id"];
      if (unk !== null && unk !== undefined && (!Number.isInteger(unk) || (unk as number) < 0 || (unk as number) >= pieces.length)) {
        throw new UnsupportedComponent("model.unk_id", `must be null or an index into model.vocab, got ${JSON.stringify(unk)}`);
      }
      return new UnigramModel({ vocab: pieces, unkId: (unk as number | null | undefined) ?? null, byteFallback: bool(m["byte_fallback"], "model.byte_fallback", false) });
    }
    case "BPE": {
      const dropout = m["dropout"];
      if (dropout !== null && dropout !== undefined && dropout !== 0) throw new UnsupportedComponent("model.dropout", "BPE dropout (random merges) is not supported");
      const raw = m["merges"];
      if (!Array.isArray(raw)) throw new UnsupportedComponent("model.merges", "must be a list");
      const merges = raw.map((x: unknown, i: number): [string, string] => {
        if (typeof x === "string") {
          const at = x.indexOf(" ");
          if (at < 0) throw new UnsupportedComponent(`model.merges[${i}]`, `${JSON.stringify(x)} is not "a b"`);
          return [x.slice(0, at), x.slice(at + 1)];
        }
        if (Array.isArray(x) && x.length === 2 && typeof x[0] === "string" && typeof x[1] === "string") return [x[0], x[1]];
        throw new UnsupportedComponent(`model.merges[${i}]`, 'must be "a b" or ["a", "b"]');
      });
      try {
        return new BpeModel({
          vocab,
          merges,
          unkToken: str("unk_token"),
          continuingSubwordPrefix: str("continuing_subword_prefix"),
          endOfWordSuffix: str("end_of_word_suffix"),
          fuseUnk: bool(m["fuse_unk"], "model.fuse_unk", false),
          byteFallback: bool(m["byte_fallback"], "model.byte_fallback", false),
          ignoreMerges: bool(m["ignore_merges"], "model.ignore_merges", false),
        });
      } catch (e) {
        throw new UnsupportedComponent("model.merges", (e as Error).message);
      }
    }
    case "WordPiece": {
      const max = m["max_input_chars_per_word"];
      const wp = new WordPieceModel({
        vocab,
        unkToken: str("unk_token") ?? "[UNK]",
        continuingSubwordPrefix: str("continuing_subword_prefix") ?? "##",
        maxInputCharsPerWord: Number.isInteger(max) ? (max as number) : 100,
      });
      return {
        tokenize(word, out) {
          const ids = wp.tokenize(word);
          for (let k = 0; k < ids.length; k++) out.push(ids[k]!);
        },
      };
    }
    default:
      throw new UnsupportedComponent("model.type", `model ${JSON.stringify(m["type"])} is not supported here`);
  }
}

/** Lone surrogates reach Rust as U+FFFD. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

export class ModelPipeline {
  private readonly raw: AddedTokenMatcher;
  private readonly normalized: AddedTokenMatcher;

  private constructor(
    private readonly normalizer: NormalizeFn | null,
    private readonly preTokenize: PreTokenizeFn,
    private readonly model: WordModel,
    added: AddedTokenSpec[],
  ) {
    this.raw = new AddedTokenMatcher(added.filter((t) => !t.normalized).map((t) => ({ pattern: t.content, token: t })));
    this.normalized = new AddedTokenMatcher(added.filter((t) => t.normalized).map((t) => ({ pattern: this.normalize(t.content), token: t })));
  }

  /**
   * The pipeline of a tokenizer.json (`json`, its `vocab` as token -> id for BPE).
   * @throws UnsupportedComponent naming the first field this module cannot run
   */
  static fromJson(json: Json, vocab: Map<string, number>, added: AddedTokenSpec[]): ModelPipeline {
    const model = json["model"];
    if (!isRecord(model)) throw new UnsupportedComponent("model", "must be an object");
    return new ModelPipeline(buildNormalizer(json["normalizer"]), buildPreTokenizer(json["pre_tokenizer"]), buildModel(model, vocab), added);
  }

  normalize(s: string): string {
    return this.normalizer === null ? s : this.normalizer(s);
  }

  /**
   * The ids of `text`. With `limit`, stops after the word that brings the count to `limit` or more (added
   * tokens do not stop it), as Rust `tokenizers` does when truncation is on; the caller truncates.
   */
  encode(text: string, limit = Infinity): number[] {
    text = wellFormed(text);
    const ids: number[] = [];
    const word = (w: string): boolean => {
      this.model.tokenize(w, ids);
      return ids.length < limit;
    };
    for (const piece of this.raw.split(text)) {
      if (piece.id !== undefined) {
        ids.push(piece.id);
        continue;
      }
      const norm = this.normalize(text.slice(piece.start, piece.end));
      for (const sub of this.normalized.split(norm)) {
        if (sub.id !== undefined) {
          ids.push(sub.id);
          continue;
        }
        const s = sub.start === 0 && sub.end === norm.length ? norm : norm.slice(sub.start, sub.end);
        if (!this.preTokenize(s, piece.start === 0 && sub.start === 0, word)) return ids;
      }
    }
    return ids;
  }
}
