/**
 * The Split pre-tokenizer of Hugging Face's Rust `tokenizers` (the first step of Qwen's, Llama 3's and GPT-4-style
 * tokenizers): text cut at the matches of a pattern. Rust runs Regex patterns in Oniguruma; they are translated
 * here to JavaScript's syntax, with \p{L}, \p{N} and \s spelled out from the tables measured on Rust (see
 * byteLevel.ts), and Oniguruma's scoped case-insensitive groups `(?i:...)` expanded letter by letter.
 */
import { charClass } from "./byteLevel.js";
import { LETTER_RANGES, NUMBER_RANGES, SPACE_RANGES } from "./rustClassTables.js";
import { UnsupportedComponent } from "./unsupported.js";

const CLASSES: Record<string, string> = { "p{L}": charClass(LETTER_RANGES), "p{N}": charClass(NUMBER_RANGES), s: charClass(SPACE_RANGES) };

/** An Oniguruma pattern as a JavaScript regular expression (flags "gu"); UnsupportedComponent for what is not translated. */
export function translatePattern(pattern: string, field: string): RegExp {
  let out = "";
  let inClass = false;
  // Depth of each open group, and the depth at which a (?i: group opened (-1: none open).
  let depth = 0;
  let caseless = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      const rest = pattern.slice(i + 1);
      const named = ["p{L}", "p{N}"].find((k) => rest.startsWith(k));
      if (named !== undefined) {
        out += inClass ? CLASSES[named] : `[${CLASSES[named]}]`;
        i += named.length;
        continue;
      }
      const e = pattern[i + 1];
      if (e === undefined) throw new UnsupportedComponent(field, "ends with a lone backslash");
      i++;
      if (e === "s") out += inClass ? CLASSES["s"] : `[${CLASSES["s"]}]`;
      else if (e === "S" && !inClass) out += `[^${CLASSES["s"]}]`;
      else if ("rntfv".includes(e) || "\\^$.|?*+()[]{}/-".includes(e)) out += `\\${e}`;
      else throw new UnsupportedComponent(field, `the escape \\${e} is not supported`);
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      else if (caseless >= 0 && /[a-zA-Z]/.test(c)) throw new UnsupportedComponent(field, "letters in a class inside (?i:...) are not supported");
      else if (c === "[") throw new UnsupportedComponent(field, "nested classes are not supported");
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      continue;
    }
    if (c === "(") {
      depth++;
      if (pattern.startsWith("(?i:", i)) {
        if (caseless >= 0) throw new UnsupportedComponent(field, "nested (?i:...) groups are not supported");
        caseless = depth;
        out += "(?:";
        i += 3;
        continue;
      }
      if (pattern.startsWith("(?", i) && !/^\(\?[:=!]/.test(pattern.slice(i, i + 3)) && !pattern.startsWith("(?<=", i) && !pattern.startsWith("(?<!", i)) {
        throw new UnsupportedComponent(field, `the group ${pattern.slice(i, i + 4)}... is not supported`);
      }
      out += c;
      continue;
    }
    if (c === ")") {
      if (depth === caseless) caseless = -1;
      depth--;
      out += c;
      continue;
    }
    if (caseless >= 0 && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  try {
    return new RegExp(out, "gu");
  } catch (e) {
    throw new UnsupportedComponent(field, `the pattern does not translate: ${(e as Error).message}`);
  }
}

export type SplitBehavior = "Isolated" | "Removed";

/** Split as a pre-tokenizer step: with "Isolated" every match and every stretch between matches is a word; with "Removed" only the stretches between. */
export function split(re: RegExp, behavior: SplitBehavior): (s: string, atStart: boolean, word: (w: string, atStart: boolean) => boolean) => boolean {
  return (s, atStart, word) => {
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > last && !word(s.slice(last, m.index), atStart && last === 0)) return false;
      if (behavior === "Isolated" && !word(m[0], atStart && m.index === 0)) return false;
      last = m.index + m[0].length;
    }
    return last < s.length ? word(s.slice(last), atStart && last === 0) : true;
  };
}
