import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import * as rust from "tokenizers";
import { beforeAll, describe, expect, test } from "vitest";

import { SbertError } from "../../lib/errors.js";
import { WordPieceModel } from "../../lib/tokenization/bertPipeline.js";
import { Tokenizer, longestFirst, type EncodedBatch } from "../../lib/tokenization/Tokenizer.js";
import { buildBertTokenizerJson, readVocabTxt } from "../../lib/tokenization/wordpiece.js";
import { tempDir } from "../helpers/tmp.js";

// Small vocabulary with known ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then words and pieces.
const VOCAB = [
  "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
  "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
  "ciao", "mondo", "citta", "città", "perche", "perché", "Perché", "Città", "!", "?", ".", ",",
  "##a", "##b", "##c", "##e", "##o", "##s", "##zione", "##à", "##é",
];
const id = (t: string) => {
  const i = VOCAB.indexOf(t);
  if (i < 0) throw new Error(`no ${t}`);
  return i;
};
const [CLS, SEP, PAD] = [2, 3, 0];

function rows(b: EncodedBatch, data: Int32Array): number[][] {
  return Array.from({ length: b.batchSize }, (_, i) => Array.from(data.subarray(i * b.seqLength, (i + 1) * b.seqLength)));
}
const words = (n: number, w = "a") => Array.from({ length: n }, () => w).join(" ");

let root: string;
let n = 0;
beforeAll(async () => {
  root = await tempDir("sbert-tok-unit-");
});
async function folder(files: Record<string, string>): Promise<string> {
  const dir = join(root, `f${n++}`);
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}
const vocabTxt = (v: string[], eol = "\n") => v.map((t) => t + eol).join("");

describe("encode and special tokens", () => {
  const tok = Tokenizer.fromVocab(VOCAB);

  test("[CLS] text [SEP], lowercased and accent-stripped by default", () => {
    expect(tok.encode("Ciao MONDO!")).toEqual([CLS, id("ciao"), id("mondo"), id("!"), SEP]);
    expect(tok.encode("Perché città?", { addSpecialTokens: false })).toEqual([id("perche"), id("citta"), id("?")]);
    expect(tok.doLowerCase).toBe(true);
    expect(tok.vocabSize).toBe(VOCAB.length);
    expect(tok.padTokenId).toBe(PAD);
    expect(tok.modelMaxLength).toBeUndefined();
  });

  test("WordPiece pieces, unknown words, words over 100 characters", () => {
    expect(tok.encode("cose", { addSpecialTokens: false })).toEqual([id("c"), id("##o"), id("##s"), id("##e")]);
    expect(tok.encode("ciaozione", { addSpecialTokens: false })).toEqual([id("ciao"), id("##zione")]);
    expect(tok.encode("cd", { addSpecialTokens: false })).toEqual([1]); // "##d" is not in the vocab: the whole word is [UNK]
    expect(tok.encode("a".repeat(100), { addSpecialTokens: false })).toEqual(Array(100).fill(id("##a")).fill(id("a"), 0, 1));
    expect(tok.encode("a".repeat(101), { addSpecialTokens: false })).toEqual([1]);
  });

  test("empty, blank and control-only texts give [CLS] [SEP]", () => {
    for (const t of ["", "   ", "\t\n\r", "\u0000\u200b\u0007"]) expect(tok.encode(t), JSON.stringify(t)).toEqual([CLS, SEP]);
  });

  test("special tokens in the text are kept as such; lowercase ones are not special", () => {
    expect(tok.encode("a [SEP] b[MASK]", { addSpecialTokens: false })).toEqual([id("a"), SEP, id("b"), 4]);
    // "[", "sep" ("##p" missing) and "]" are all unknown
    expect(tok.encode("[sep]", { addSpecialTokens: false })).toEqual([1, 1, 1]);
  });

  test("cased vocabulary keeps case and accents", () => {
    const cased = Tokenizer.fromVocab(VOCAB, { doLowerCase: false });
    expect(cased.doLowerCase).toBe(false);
    expect(cased.encode("Perché Città", { addSpecialTokens: false })).toEqual([id("Perché"), id("Città")]);
    const stripped = Tokenizer.fromVocab(VOCAB, { doLowerCase: false, stripAccents: true });
    expect(stripped.encode("perché città", { addSpecialTokens: false })).toEqual([id("perche"), id("citta")]);
    const keep = Tokenizer.fromVocab(VOCAB, { doLowerCase: true, stripAccents: false });
    expect(keep.encode("PERCHÉ CITTÀ", { addSpecialTokens: false })).toEqual([id("perché"), id("città")]);
  });

  test("decode joins pieces and can drop special tokens", () => {
    const ids = tok.encode("ciao mondo, cose!");
    expect(tok.decode(ids)).toBe("[CLS] ciao mondo, cose! [SEP]");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("ciao mondo, cose!");
    expect(tok.decode([])).toBe("");
    expect(() => tok.decode([1.5])).toThrow(TypeError);
  });

  test("encode rejects a non-string", () => {
    expect(() => tok.encode(3 as unknown as string)).toThrow(TypeError);
  });
});

describe("encodeBatch: truncation, padding, masks, token types", () => {
  const tok = Tokenizer.fromVocab(VOCAB);

  test("pads to the longest row with the pad id; mask 1 on tokens, 0 on padding; types 0 for A, 1 for B", () => {
    const b = tok.encodeBatch(["a", ["b c", "d"], "ciao mondo"], { maxLength: 32 });
    expect(b.batchSize).toBe(3);
    expect(b.seqLength).toBe(6);
    expect(rows(b, b.inputIds)).toEqual([
      [CLS, id("a"), SEP, PAD, PAD, PAD],
      [CLS, id("b"), id("c"), SEP, id("d"), SEP],
      [CLS, id("ciao"), id("mondo"), SEP, PAD, PAD],
    ]);
    expect(rows(b, b.attentionMask)).toEqual([
      [1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0],
    ]);
    expect(rows(b, b.tokenTypeIds)).toEqual([
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0, 0],
    ]);
  });

  test("the pad token's id is used for padding", () => {
    const v = ["x", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "a"];
    const t = Tokenizer.fromVocab(v);
    expect(t.padTokenId).toBe(5);
    const b = t.encodeBatch(["a a", ""], { maxLength: 8 });
    expect(rows(b, b.inputIds)).toEqual([
      [2, 6, 6, 3],
      [2, 3, 5, 5],
    ]);
  });

  test("a single text keeps its first maxLength - 2 tokens", () => {
    const b = tok.encodeBatch([words(10, "a b"), "ciao"], { maxLength: 5 });
    expect(rows(b, b.inputIds)).toEqual([
      [CLS, id("a"), id("b"), id("a"), SEP],
      [CLS, id("ciao"), SEP, PAD, PAD],
    ]);
    expect(rows(b, b.attentionMask)[0]).toEqual([1, 1, 1, 1, 1]);
  });

  test("pairs: longest_first keeps the shorter text whole when the longer one can take the rest", () => {
    // budget 8 - 3 = 5: the 2-token text stays, the other keeps 3.
    const b = tok.encodeBatch([[words(10, "a"), "b c"], ["b c", words(10, "a")]], { maxLength: 8 });
    expect(rows(b, b.inputIds)).toEqual([
      [CLS, id("a"), id("a"), id("a"), SEP, id("b"), id("c"), SEP],
      [CLS, id("b"), id("c"), SEP, id("a"), id("a"), id("a"), SEP],
    ]);
    expect(rows(b, b.tokenTypeIds)).toEqual([
      [0, 0, 0, 0, 0, 1, 1, 1],
      [0, 0, 0, 0, 1, 1, 1, 1],
    ]);
  });

  test("pairs: both long -> halves; an odd token goes to the longer text, to the second on a tie", () => {
    const count = (b: EncodedBatch) => rows(b, b.tokenTypeIds).map((r, i) => {
      const m = rows(b, b.attentionMask)[i]!;
      return [r.filter((x, k) => x === 0 && m[k] === 1).length - 2, r.filter((x) => x === 1).length - 1];
    });
    // budget 9 - 3 = 6 -> 3 + 3
    expect(count(tok.encodeBatch([[words(8), words(8)]], { maxLength: 9 }))).toEqual([[3, 3]]);
    // budget 8 - 3 = 5, equal lengths -> 2 + 3
    expect(count(tok.encodeBatch([[words(8), words(8)]], { maxLength: 8 }))).toEqual([[2, 3]]);
    // budget 5, first longer -> 3 + 2
    expect(count(tok.encodeBatch([[words(7), words(6)]], { maxLength: 8 }))).toEqual([[3, 2]]);
    // Rust tokenizers >= 0.23 stops tokenizing each text at maxLength tokens first: 9 and 8 both become 8 -> tie.
    expect(count(tok.encodeBatch([[words(9), words(8)]], { maxLength: 8 }))).toEqual([[2, 3]]);
    // ... counting whole words: "cose" is 4 tokens, so the first text stops at 10 > 8 tokens, the second at 8.
    expect(count(tok.encodeBatch([[`${words(6)} cose`, words(9)]], { maxLength: 8 }))).toEqual([[3, 2]]);
  });

  test("longestFirst lengths", () => {
    expect(longestFirst(3, 4, 10)).toEqual([3, 4]);
    expect(longestFirst(2, 10, 7)).toEqual([2, 5]);
    expect(longestFirst(10, 2, 7)).toEqual([5, 2]);
    expect(longestFirst(10, 10, 7)).toEqual([3, 4]);
    expect(longestFirst(11, 10, 7)).toEqual([4, 3]);
    expect(longestFirst(4, 4, 7)).toEqual([3, 4]);
    expect(longestFirst(5, 5, 0)).toEqual([0, 0]);
    expect(longestFirst(0, 9, 3)).toEqual([0, 3]);
  });

  test("maxLength equal to the special tokens leaves [CLS] [SEP]; smaller is a RangeError", () => {
    const b = tok.encodeBatch(["ciao mondo"], { maxLength: 2 });
    expect(rows(b, b.inputIds)).toEqual([[CLS, SEP]]);
    const p = tok.encodeBatch([["ciao", "mondo"]], { maxLength: 3 });
    expect(rows(p, p.inputIds)).toEqual([[CLS, SEP, SEP]]);
    expect(rows(p, p.tokenTypeIds)).toEqual([[0, 0, 1]]);
    expect(() => tok.encodeBatch(["ciao"], { maxLength: 1 })).toThrow(RangeError);
    expect(() => tok.encodeBatch(["ciao", ["a", "b"]], { maxLength: 2 })).toThrow(/maxLength 2/);
    expect(() => tok.encodeBatch(["ciao"], { maxLength: -1 })).toThrow(RangeError);
  });

  test("bad inputs name the argument", () => {
    expect(() => tok.encodeBatch(["a", 5 as unknown as string], { maxLength: 8 })).toThrow(/inputs\[1\]/);
    expect(() => tok.encodeBatch([["a"] as unknown as [string, string]], { maxLength: 8 })).toThrow(/inputs\[0\]/);
    expect(() => tok.encodeBatch(["a", "b", ["a", null] as unknown as [string, string]], { maxLength: 8 })).toThrow(TypeError);
    expect(() => tok.encodeBatch("a" as unknown as string[], { maxLength: 8 })).toThrow(/inputs must be an array/);
    expect(() => tok.encodeBatch(["a"], { maxLength: 2.5 })).toThrow(/maxLength/);
    expect(() => tok.encodeBatch(["a"], undefined as unknown as { maxLength: number })).toThrow(TypeError);
  });

  test("an empty batch", () => {
    const b = tok.encodeBatch([], { maxLength: 8 });
    expect([b.batchSize, b.seqLength, b.inputIds.length]).toEqual([0, 0, 0]);
  });

  test("a 100,000-character input is tokenized quickly and truncated", () => {
    const long = "ciao mondo, perché la città! ".repeat(3500);
    expect(long.length).toBeGreaterThan(100_000);
    const t0 = performance.now();
    const b = tok.encodeBatch([long, [long, long]], { maxLength: 512 });
    const ms = performance.now() - t0;
    expect(b.seqLength).toBe(512);
    expect(rows(b, b.inputIds)[0]!.slice(0, 4)).toEqual([CLS, id("ciao"), id("mondo"), id(",")]);
    expect(rows(b, b.inputIds)[0]![511]).toBe(SEP);
    // budget 509 split 254 + 255; B and its [SEP] have type 1
    expect(rows(b, b.tokenTypeIds)[1]!.filter((x) => x === 1).length).toBe(256);
    expect(ms).toBeLessThan(2000);
    // ciao mondo , perche l ##a citta !
    expect(tok.encode(long).length).toBe(3500 * 8 + 2);
  });
});

describe("save and fromFolder", () => {
  const texts = ["Ciao mondo!", "perché la città?", "", ["a b", "c d"] as [string, string]];

  test("save writes BertTokenizerFast's files and reloads to identical ids", async () => {
    const tok = Tokenizer.fromVocab(VOCAB, { doLowerCase: false });
    const dir = join(root, "saved");
    await tok.save(dir, { modelMaxLength: 128 });
    expect((await readdir(dir)).sort()).toEqual(["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]);
    const config = JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    expect(config).toMatchObject({
      tokenizer_class: "BertTokenizer",
      do_lower_case: false,
      strip_accents: null,
      tokenize_chinese_chars: true,
      model_max_length: 128,
      clean_up_tokenization_spaces: true,
      unk_token: "[UNK]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      cls_token: "[CLS]",
      mask_token: "[MASK]",
    });
    expect(config["added_tokens_decoder"]).toMatchObject({ "0": { content: "[PAD]", special: true, normalized: false, lstrip: false } });
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    expect(JSON.parse(await readFile(join(dir, "special_tokens_map.json"), "utf8"))).toEqual({
      cls_token: "[CLS]",
      mask_token: "[MASK]",
      pad_token: "[PAD]",
      sep_token: "[SEP]",
      unk_token: "[UNK]",
    });
    expect(readVocabTxt(await readFile(join(dir, "vocab.txt"), "utf8"))).toEqual(VOCAB);
    const json = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as Record<string, unknown>;
    expect(json["normalizer"]).toMatchObject({ type: "BertNormalizer", lowercase: false });

    const back = await Tokenizer.fromFolder(dir);
    expect(back.modelMaxLength).toBe(128);
    expect(back.doLowerCase).toBe(false);
    expect(back.encodeBatch(texts, { maxLength: 6 })).toEqual(tok.encodeBatch(texts, { maxLength: 6 }));
    for (const t of ["Perché Città", "ciao"]) expect(back.encode(t)).toEqual(tok.encode(t));

    // Without tokenizer.json the vocab.txt + tokenizer_config.json written beside it give the same ids too.
    const slow = await folder({
      "vocab.txt": await readFile(join(dir, "vocab.txt"), "utf8"),
      "tokenizer_config.json": await readFile(join(dir, "tokenizer_config.json"), "utf8"),
    });
    expect((await Tokenizer.fromFolder(slow)).encodeBatch(texts, { maxLength: 6 })).toEqual(tok.encodeBatch(texts, { maxLength: 6 }));
  });

  test("no model_max_length is written as Hugging Face's 1e30 integer and reads back as undefined", async () => {
    const dir = join(root, "nolimit");
    await Tokenizer.fromVocab(VOCAB).save(dir);
    const text = await readFile(join(dir, "tokenizer_config.json"), "utf8");
    expect(text).toContain('"model_max_length": 1000000000000000019884624838656');
    expect((await Tokenizer.fromFolder(dir)).modelMaxLength).toBeUndefined();
    const withMax = join(root, "withmax");
    await Tokenizer.fromVocab(VOCAB, { modelMaxLength: 64 }).save(withMax);
    expect((await Tokenizer.fromFolder(withMax)).modelMaxLength).toBe(64);
  });

  test("vocab.txt-only folders follow tokenizer_config.json", async () => {
    const cases: [Record<string, unknown> | undefined, number[], boolean][] = [
      [{ do_lower_case: true }, [id("perche"), id("citta")], true],
      [{ do_lower_case: false }, [id("Perché"), id("Città")], false],
      [{ do_lower_case: false, strip_accents: true }, [1, 1], false], // "Perche", "Citta" are not in the vocab
      [{ do_lower_case: true, strip_accents: false }, [id("perché"), id("città")], true],
      [undefined, [id("perche"), id("citta")], true], // BertTokenizer's defaults
    ];
    for (const [config, expected, lower] of cases) {
      const files: Record<string, string> = { "vocab.txt": vocabTxt(VOCAB) };
      if (config) files["tokenizer_config.json"] = JSON.stringify({ ...config, model_max_length: 512 });
      const tok = await Tokenizer.fromFolder(await folder(files));
      expect(tok.encode("Perché Città", { addSpecialTokens: false }), JSON.stringify(config)).toEqual(expected);
      expect(tok.doLowerCase).toBe(lower);
      expect(tok.modelMaxLength).toBe(config ? 512 : undefined);
    }
  });

  test("vocab.txt with CRLF line endings, the old max_len key and custom special tokens", async () => {
    const v = ["<pad>", "<unk>", "<cls>", "<sep>", "<mask>", "ciao"];
    const dir = await folder({
      "vocab.txt": vocabTxt(v, "\r\n"),
      "tokenizer_config.json": JSON.stringify({
        max_len: 256,
        unk_token: "<unk>",
        sep_token: { content: "<sep>", lstrip: false, __type: "AddedToken" },
        cls_token: "<cls>",
        mask_token: "<mask>",
      }),
      "special_tokens_map.json": JSON.stringify({ pad_token: "<pad>" }),
    });
    const tok = await Tokenizer.fromFolder(dir);
    expect(tok.modelMaxLength).toBe(256);
    expect(tok.padTokenId).toBe(0);
    expect(tok.encode("ciao xyz")).toEqual([2, 5, 1, 3]);
  });

  test("tokenizer.json with tokenizer_config.json: the config's do_lower_case wins, as in BertTokenizerFast", async () => {
    const dir = await folder({
      "tokenizer.json": JSON.stringify(buildBertTokenizerJson(VOCAB, { doLowerCase: true })),
      "tokenizer_config.json": JSON.stringify({ do_lower_case: false, model_max_length: 1e30 }),
    });
    const tok = await Tokenizer.fromFolder(dir);
    expect(tok.doLowerCase).toBe(false);
    expect(tok.modelMaxLength).toBeUndefined();
    expect(tok.encode("Perché", { addSpecialTokens: false })).toEqual([id("Perché")]);
    const plain = await Tokenizer.fromFolder(await folder({ "tokenizer.json": JSON.stringify(buildBertTokenizerJson(VOCAB)) }));
    expect(plain.encode("Perché", { addSpecialTokens: false })).toEqual([id("perche")]);
    expect(plain.padTokenId).toBe(PAD);
  });
});

describe("WordPiece on long words", () => {
  // A file that lifts the per-word limit: every word is split into pieces, however long.
  const json = buildBertTokenizerJson(VOCAB) as { model: { max_input_chars_per_word: number } };
  json.model.max_input_chars_per_word = 1e9;
  const expected = (n: number) => [CLS, id("a"), ...Array.from({ length: 3 * n - 1 }, (_, i) => id(["##b", "##c", "##a"][i % 3]!)), SEP];

  test("max_input_chars_per_word 1e9: a 1,200-char word gives Rust's ids; a 16,002-char word is split the same way", async () => {
    const ours = Tokenizer.fromJson(json);
    const theirs = rust.Tokenizer.fromString(JSON.stringify(json));
    const e = await theirs.encode("abc".repeat(400));
    expect(e.getIds()).toEqual(expected(400));
    expect(ours.encode("abc".repeat(400))).toEqual(expected(400));
    expect(ours.encode("abc".repeat(5334))).toEqual(expected(5334));
    // The limit still applies where the file sets one.
    expect(Tokenizer.fromVocab(VOCAB).encode("abc".repeat(34))).toEqual([CLS, id("[UNK]"), SEP]);
  });

  test("vocabulary lookups per word grow linearly with its length (at most length x longest entry)", () => {
    for (const n of [1000, 16000]) {
      const vocab = new Map(VOCAB.map((t, i) => [t, i]));
      let lookups = 0;
      const get = vocab.get.bind(vocab);
      vocab.get = (k: string) => (lookups++, get(k));
      const wp = new WordPieceModel({ vocab, unkToken: "[UNK]", continuingSubwordPrefix: "##", maxInputCharsPerWord: 1e9 });
      lookups = 0;
      expect(wp.tokenize("ab".repeat(n / 2)).length).toBe(n);
      expect(lookups).toBeLessThanOrEqual(n * Math.max(...VOCAB.map((t) => t.length)));
    }
  });
});

describe("errors", () => {
  async function sbertError(p: Promise<unknown>): Promise<SbertError> {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SbertError);
    return e as SbertError;
  }

  test("a folder without tokenizer files names the folder and the files looked for", async () => {
    const empty = await folder({});
    const e = await sbertError(Tokenizer.fromFolder(empty));
    expect(e.code).toBe("ERR_FILE_NOT_FOUND");
    expect(e.message).toContain(empty);
    expect(e.message).toContain("tokenizer.json");
    expect(e.message).toContain("vocab.txt");
    expect((await sbertError(Tokenizer.fromFolder(join(root, "does-not-exist")))).code).toBe("ERR_FILE_NOT_FOUND");
    await expect(Tokenizer.fromFolder("")).rejects.toThrow(TypeError);
  });

  test("malformed JSON is ERR_FORMAT naming the file", async () => {
    const a = await sbertError(Tokenizer.fromFolder(await folder({ "tokenizer.json": "{ nope" })));
    expect(a.code).toBe("ERR_FORMAT");
    expect(a.message).toContain("tokenizer.json");
    const b = await sbertError(Tokenizer.fromFolder(await folder({ "vocab.txt": vocabTxt(VOCAB), "tokenizer_config.json": "[1," })));
    expect(b.code).toBe("ERR_FORMAT");
    expect(b.message).toContain("tokenizer_config.json");
    const c = await sbertError(Tokenizer.fromFolder(await folder({ "tokenizer.json": "[]" })));
    expect(c.code).toBe("ERR_FORMAT");
    const d = await sbertError(Tokenizer.fromFolder(await folder({ "tokenizer.json": JSON.stringify({ version: "1.0" }) })));
    expect(d.message).toMatch(/tokenizer\.json.*model/);
  });

  test("a wrongly typed config field is ERR_CONFIG naming it", async () => {
    const e = await sbertError(Tokenizer.fromFolder(await folder({ "vocab.txt": vocabTxt(VOCAB), "tokenizer_config.json": '{"do_lower_case": "yes"}' })));
    expect(e.code).toBe("ERR_CONFIG");
    expect(e.message).toContain("do_lower_case");
    expect(e.message).toContain("tokenizer_config.json");
  });

  test("a pad token missing from the vocabulary is ERR_CONFIG", async () => {
    const dir = await folder({
      "tokenizer.json": JSON.stringify(buildBertTokenizerJson(VOCAB)),
      "tokenizer_config.json": JSON.stringify({ pad_token: "<nope>" }),
    });
    const e = await sbertError(Tokenizer.fromFolder(dir));
    expect(e.code).toBe("ERR_CONFIG");
    expect(e.message).toContain("<nope>");
  });

  test("an unsupported post_processor is an error, not wrong special tokens", () => {
    const json = buildBertTokenizerJson(VOCAB) as Record<string, unknown>;
    expect(() => Tokenizer.fromJson({ ...json, post_processor: { type: "Whatever" } })).toThrow(/post_processor type "Whatever"/);
    const seq = { type: "Sequence", processors: [json["post_processor"], json["post_processor"]] };
    expect(() => Tokenizer.fromJson({ ...json, post_processor: seq })).toThrow(SbertError);
    const missing = { ...(json["post_processor"] as object), special_tokens: {} };
    expect(() => Tokenizer.fromJson({ ...json, post_processor: missing })).toThrow(/special_tokens/);
  });

  test("argument validation", async () => {
    expect(() => Tokenizer.fromVocab(VOCAB, { doLowerCase: "no" as unknown as boolean })).toThrow(/doLowerCase/);
    expect(() => Tokenizer.fromVocab(VOCAB, { modelMaxLength: 0 })).toThrow(RangeError);
    expect(() => buildBertTokenizerJson([1] as unknown as string[])).toThrow(/vocab\[0\]/);
    await expect(Tokenizer.fromVocab(VOCAB).save(join(root, "x"), { modelMaxLength: -3 })).rejects.toThrow(RangeError);
  });
});

describe("readVocabTxt and buildBertTokenizerJson", () => {
  test("lines as Python's text mode reads them", () => {
    expect(readVocabTxt("a\nb\n")).toEqual(["a", "b"]);
    expect(readVocabTxt("a\r\nb\r\n")).toEqual(["a", "b"]);
    expect(readVocabTxt("a\rb")).toEqual(["a", "b"]);
    expect(readVocabTxt("a\n\nb\n")).toEqual(["a", "", "b"]);
    expect(readVocabTxt("a\n\n")).toEqual(["a", ""]);
    expect(readVocabTxt("")).toEqual([]);
    expect(readVocabTxt("\ufeffa\n")).toEqual(["\ufeffa"]);
  });

  test("a repeated token keeps its last line; missing special tokens are appended", () => {
    const json = buildBertTokenizerJson(["[UNK]", "x", "x", "[CLS]", "[SEP]", "__proto__"]) as {
      model: { vocab: Record<string, number> };
      added_tokens: { id: number; content: string }[];
      post_processor: { special_tokens: Record<string, { ids: number[] }> };
    };
    expect(json.model.vocab["x"]).toBe(2);
    expect(Object.keys(json.model.vocab)).toContain("__proto__");
    expect(JSON.parse(JSON.stringify(json)).model.vocab["__proto__"]).toBe(5);
    expect(json.added_tokens.map((t) => [t.id, t.content])).toEqual([
      [0, "[UNK]"],
      [3, "[CLS]"],
      [4, "[SEP]"],
      [6, "[PAD]"],
      [7, "[MASK]"],
    ]);
    expect(json.post_processor.special_tokens["[CLS]"]!.ids).toEqual([3]);
    const tok = Tokenizer.fromVocab(["[UNK]", "x", "x", "[CLS]", "[SEP]"]);
    // Rust numbers new added tokens from the model's vocabulary size (4 distinct tokens here), whatever the
    // file says: [PAD] gets 4, as [SEP] has, and [MASK] 5 (what BertTokenizerFast gives too).
    expect(tok.padTokenId).toBe(4);
    expect(tok.vocabSize).toBe(6);
    expect(tok.encode("x")).toEqual([3, 2, 4]);
  });
});
