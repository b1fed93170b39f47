import { join } from "node:path";

import { SbertError } from "../../errors.js";
import { readJsonObject, writeJson } from "../../io/files.js";
import { ENGLISH_STOP_WORDS, PUNCTUATION } from "./stopWords.js";

/** Its config file in a WordEmbeddings folder. */
export const WHITESPACE_TOKENIZER_CONFIG = "whitespacetokenizer_config.json";

// What Python's str.split() splits on: the characters str.isspace() accepts.
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const PUNCT = new Set(PUNCTUATION);

function stripPunctuation(token: string): string {
  let start = 0;
  let end = token.length;
  while (start < end && PUNCT.has(token[start]!)) start++;
  while (end > start && PUNCT.has(token[end - 1]!)) end--;
  return token.slice(start, end);
}

export interface WhitespaceTokenizerOptions {
  /** Words left out of every text. Default: sentence-transformers' ENGLISH_STOP_WORDS. */
  stopWords?: Iterable<string>;
  /** Lower-case texts before splitting. Default false. */
  doLowerCase?: boolean;
}

/**
 * Splits texts on whitespace and maps each word to its vocabulary index, as sentence-transformers'
 * `WhitespaceTokenizer`: stop words are dropped; a word not in the vocabulary is tried again without surrounding
 * punctuation, then lower-cased; words still unknown are dropped (there is no unknown token).
 */
export class WhitespaceTokenizer {
  readonly stopWords: ReadonlySet<string>;
  readonly doLowerCase: boolean;
  private word2idx = new Map<string, number>();
  private rows = 0;

  constructor(vocab: Iterable<string> = [], options: WhitespaceTokenizerOptions = {}) {
    const stopWords = [...(options.stopWords ?? ENGLISH_STOP_WORDS)];
    if (stopWords.some((w) => typeof w !== "string")) throw new TypeError("WhitespaceTokenizer: stopWords must be strings");
    this.stopWords = new Set(stopWords);
    this.doLowerCase = options.doLowerCase ?? false;
    this.setVocab(vocab);
  }

  /** The vocabulary: word i has id i (a word listed twice keeps its first place and its last id, as a Python dict). */
  getVocab(): string[] {
    return [...this.word2idx.keys()];
  }

  setVocab(vocab: Iterable<string>): void {
    const words = [...vocab];
    if (words.some((w) => typeof w !== "string")) throw new TypeError("WhitespaceTokenizer: the vocabulary must be strings");
    this.word2idx = new Map(words.map((w, i) => [w, i]));
    this.rows = words.length;
  }

  /** The number of ids the vocabulary uses (one more than the largest). */
  get vocabSize(): number {
    return this.rows;
  }

  /** The ids of a text's words. */
  tokenize(text: string): number[] {
    if (this.doLowerCase) text = text.toLowerCase();
    const ids: number[] = [];
    const known = (token: string): boolean => {
      const id = this.word2idx.get(token);
      if (id === undefined) return false;
      ids.push(id);
      return true;
    };
    for (const word of text.split(PY_WHITESPACE)) {
      if (word === "") continue;
      let token = word;
      if (this.stopWords.has(token) || known(token)) continue;
      token = stripPunctuation(token);
      if (this.stopWords.has(token) || (token.length > 0 && known(token))) continue;
      token = token.toLowerCase();
      if (this.stopWords.has(token)) continue;
      known(token);
    }
    return ids;
  }

  getConfigDict(): Record<string, unknown> {
    return { vocab: this.getVocab(), stop_words: [...this.stopWords], do_lower_case: this.doLowerCase };
  }

  /** Writes whitespacetokenizer_config.json into `dir`. */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, WHITESPACE_TOKENIZER_CONFIG), this.getConfigDict());
  }

  /** Reads whitespacetokenizer_config.json (`vocab`, `stop_words`, `do_lower_case`) from `dir`. */
  static async load(dir: string): Promise<WhitespaceTokenizer> {
    const file = join(dir, WHITESPACE_TOKENIZER_CONFIG);
    const config = await readJsonObject(file, { op: "WhitespaceTokenizer.load" });
    const strings = (field: string, fallback?: readonly string[]): string[] => {
      const v = config[field] ?? fallback;
      if (!Array.isArray(v) || v.some((w) => typeof w !== "string")) {
        throw new SbertError("ERR_CONFIG", `${file}: field '${field}' must be a list of strings`, { op: "WhitespaceTokenizer.load" });
      }
      return v as string[];
    };
    const doLowerCase = config["do_lower_case"] ?? false;
    if (typeof doLowerCase !== "boolean") {
      throw new SbertError("ERR_CONFIG", `${file}: field 'do_lower_case' must be true or false, got ${JSON.stringify(doLowerCase)}`, { op: "WhitespaceTokenizer.load" });
    }
    return new WhitespaceTokenizer(strings("vocab", []), { stopWords: strings("stop_words", ENGLISH_STOP_WORDS), doLowerCase });
  }
}
