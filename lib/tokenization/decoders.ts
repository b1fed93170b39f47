/**
 * tokenizer.json decoders (tokens -> text) with the semantics of Hugging Face's Rust `tokenizers`: Metaspace,
 * ByteLevel, WordPiece, Fuse, Replace, ByteFallback, Strip and Sequence of these. Others are UnsupportedComponent.
 */
import { BYTE_TO_CHAR } from "./byteLevel.js";
import { translatePattern } from "./split.js";
import { UnsupportedComponent } from "./unsupported.js";

/** One step of a decoder chain: tokens in, tokens out; the result is their concatenation. */
export type DecodeChainFn = (tokens: string[]) => string[];

const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));
const utf8 = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text here, not a byte order mark to drop.
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** WordPiece's clean-up of spaces before punctuation and contractions: transformers' one, and "do not". */
function cleanup(s: string): string {
  return cleanUpTokenization(s).replaceAll(" do not", " don't");
}

function chain(d: unknown, field: string): DecodeChainFn {
  if (!isRecord(d)) throw new UnsupportedComponent(field, "must be an object or null");
  switch (d["type"]) {
    case "Metaspace": {
      const rep = d["replacement"];
      if (typeof rep !== "string" || [...rep].length !== 1) throw new UnsupportedComponent(`${field}.replacement`, "must be one character");
      const never = d["prepend_scheme"] === "never" || (d["prepend_scheme"] === undefined && d["add_prefix_space"] === false);
      // Every replacement character of the first token is dropped unless the scheme is "never".
      return (tokens) => tokens.map((t, i) => t.split(rep).join(i === 0 && !never ? "" : " "));
    }
    case "ByteLevel":
      return (tokens) => {
        const bytes: number[] = [];
        for (const t of tokens) {
          const mine: number[] = [];
          let ok = true;
          for (const c of t) {
            const b = CHAR_TO_BYTE.get(c);
            if (b === undefined) {
              ok = false;
              break;
            }
            mine.push(b);
          }
          // A token with characters outside the byte alphabet (an added token) stands for its own UTF-8.
          for (const b of ok ? mine : utf8.encode(t)) bytes.push(b);
        }
        return [lossy.decode(new Uint8Array(bytes))];
      };
    case "WordPiece": {
      const prefix = typeof d["prefix"] === "string" ? d["prefix"] : "##";
      const clean = d["cleanup"] !== false;
      return (tokens) =>
        tokens.map((t, i) => {
          if (i !== 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : ` ${t}`;
          return clean ? cleanup(t) : t;
        });
    }
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Replace": {
      const pattern = d["pattern"];
      const content = d["content"];
      if (typeof content !== "string") throw new UnsupportedComponent(`${field}.content`, "must be a string");
      if (isRecord(pattern) && typeof pattern["String"] === "string") {
        const from = pattern["String"];
        return (tokens) => tokens.map((t) => (from === "" ? t : t.split(from).join(content)));
      }
      if (isRecord(pattern) && typeof pattern["Regex"] === "string") {
        const re = translatePattern(pattern["Regex"], `${field}.pattern`);
        return (tokens) => tokens.map((t) => t.replace(re, () => content));
      }
      throw new UnsupportedComponent(`${field}.pattern`, 'must be {"String": ...} or {"Regex": ...}');
    }
    case "ByteFallback":
      // Runs of <0xXX> tokens become the text their bytes spell; bytes that are not valid UTF-8 become one U+FFFD each.
      return (tokens) => {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = () => {
          if (bytes.length === 0) return;
          try {
            out.push(strict.decode(new Uint8Array(bytes)));
          } catch {
            for (let i = 0; i < bytes.length; i++) out.push("\uFFFD");
          }
          bytes = [];
        };
        for (const t of tokens) {
          const m = /^<0x([0-9A-F]{2})>$/.exec(t);
          if (m) bytes.push(parseInt(m[1]!, 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case "Strip": {
      const content = d["content"];
      const start = d["start"] ?? 0;
      const stop = d["stop"] ?? 0;
      if (typeof content !== "string" || [...content].length !== 1) throw new UnsupportedComponent(`${field}.content`, "must be one character");
      if (!Number.isInteger(start) || !Number.isInteger(stop) || (start as number) < 0 || (stop as number) < 0) {
        throw new UnsupportedComponent(`${field}.start`, "start and stop must be non-negative integers");
      }
      // Up to `start` leading and `stop` trailing copies of the character, from every token.
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let a = 0, b = chars.length;
          while (a < b && a < (start as number) && chars[a] === content) a++;
          while (b > a && chars.length - b < (stop as number) && chars[b - 1] === content) b--;
          return chars.slice(a, b).join("");
        });
    }
    case "Sequence": {
      const list = d["decoders"];
      if (!Array.isArray(list)) throw new UnsupportedComponent(`${field}.decoders`, "must be a list");
      const fns = list.map((x, i) => chain(x, `${field}.decoders[${i}]`));
      return (tokens) => fns.reduce((t, f) => f(t), tokens);
    }
    default:
      throw new UnsupportedComponent(`${field}.type`, `decoder ${JSON.stringify(d["type"])} is not supported`);
  }
}

/** The decoder of a tokenizer.json: tokens -> text. Without one, Rust joins the tokens with spaces. */
export function buildDecoder(d: unknown, field = "decoder"): (tokens: string[]) => string {
  if (d === null || d === undefined) return (tokens) => tokens.join(" ");
  const f = chain(d, field);
  return (tokens) => f(tokens).join("");
}

/** transformers' clean_up_tokenization (applied when tokenizer_config.json's clean_up_tokenization_spaces is true). */
export function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
