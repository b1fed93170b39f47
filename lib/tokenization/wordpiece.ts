export interface BertTokenizerOptions {
  /** default true */
  doLowerCase?: boolean;
  /** default null: strip accents exactly when lowercasing (as Hugging Face does) */
  stripAccents?: boolean | null;
  /** default true */
  tokenizeChineseChars?: boolean;
  unkToken?: string;
  sepToken?: string;
  padToken?: string;
  clsToken?: string;
  maskToken?: string;
}

export interface ResolvedBertOptions {
  doLowerCase: boolean;
  stripAccents: boolean | null;
  tokenizeChineseChars: boolean;
  unkToken: string;
  sepToken: string;
  padToken: string;
  clsToken: string;
  maskToken: string;
}

function checkBool(v: unknown, name: string, nullable = false): void {
  if (v === undefined || (nullable && v === null)) return;
  if (typeof v !== "boolean") throw new TypeError(`${name} must be ${nullable ? "true, false or null" : "true or false"}, got ${String(v)}`);
}

function checkToken(v: unknown, name: string): void {
  if (v === undefined) return;
  if (typeof v !== "string" || v === "") throw new TypeError(`${name} must be a non-empty string`);
}

export function resolveBertOptions(opts: BertTokenizerOptions = {}, fn = "buildBertTokenizerJson"): ResolvedBertOptions {
  if (typeof opts !== "object" || opts === null) throw new TypeError(`${fn}: opts must be an object`);
  checkBool(opts.doLowerCase, `${fn}: opts.doLowerCase`);
  checkBool(opts.stripAccents, `${fn}: opts.stripAccents`, true);
  checkBool(opts.tokenizeChineseChars, `${fn}: opts.tokenizeChineseChars`);
  for (const k of ["unkToken", "sepToken", "padToken", "clsToken", "maskToken"] as const) checkToken(opts[k], `${fn}: opts.${k}`);
  return {
    doLowerCase: opts.doLowerCase ?? true,
    stripAccents: opts.stripAccents ?? null,
    tokenizeChineseChars: opts.tokenizeChineseChars ?? true,
    unkToken: opts.unkToken ?? "[UNK]",
    sepToken: opts.sepToken ?? "[SEP]",
    padToken: opts.padToken ?? "[PAD]",
    clsToken: opts.clsToken ?? "[CLS]",
    maskToken: opts.maskToken ?? "[MASK]",
  };
}

/**
 * Tokens of a vocab.txt, one per line, as Hugging Face's BertTokenizer reads it (Python text mode: "\n", "\r\n"
 * and "\r" all end a line; a final line ending does not start another token; empty lines are tokens).
 */
export function readVocabTxt(text: string): string[] {
  if (typeof text !== "string") throw new TypeError("readVocabTxt: text must be a string");
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * The tokenizer.json that Hugging Face's BertTokenizerFast conversion produces for this vocab + options
 * (BertNormalizer, BertPreTokenizer, WordPiece with "##" and max_input_chars_per_word 100, TemplateProcessing
 * "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", WordPiece decoder, added_tokens for the special tokens).
 * A token listed twice keeps its last line number, as a Python dict built line by line does; special tokens
 * missing from the vocab are appended after it as added tokens.
 */
export function buildBertTokenizerJson(vocab: string[], opts: BertTokenizerOptions = {}): object {
  if (!Array.isArray(vocab)) throw new TypeError("buildBertTokenizerJson: vocab must be an array of strings");
  vocab.forEach((t, i) => {
    if (typeof t !== "string") throw new TypeError(`buildBertTokenizerJson: vocab[${i}] must be a string`);
  });
  const o = resolveBertOptions(opts);
  // A null prototype lets a token named "__proto__" be an ordinary key.
  const model: Record<string, number> = Object.create(null) as Record<string, number>;
  const ids = new Map<string, number>();
  vocab.forEach((t, i) => ids.set(t, i));
  for (const [t, i] of ids) model[t] = i;

  // HF registers the special tokens in this order (unk, sep, pad, cls, mask); new ones get the next ids.
  let next = vocab.length;
  const specials = new Map<string, number>();
  for (const tok of [o.unkToken, o.sepToken, o.padToken, o.clsToken, o.maskToken]) {
    if (specials.has(tok)) continue;
    specials.set(tok, ids.get(tok) ?? next++);
  }
  const addedTokens = [...specials]
    .sort((a, b) => a[1] - b[1])
    .map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const cls = specials.get(o.clsToken)!;
  const sep = specials.get(o.sepToken)!;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: o.tokenizeChineseChars,
      strip_accents: o.stripAccents,
      lowercase: o.doLowerCase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: o.clsToken, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: o.sepToken, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: o.clsToken, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: o.sepToken, type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: o.sepToken, type_id: 1 } },
      ],
      special_tokens: {
        [o.clsToken]: { id: o.clsToken, ids: [cls], tokens: [o.clsToken] },
        [o.sepToken]: { id: o.sepToken, ids: [sep], tokens: [o.sepToken] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: o.unkToken,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: model,
    },
  };
}
