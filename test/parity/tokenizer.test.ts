// sbert-node's tokenizer against Hugging Face's Rust `tokenizers` (the npm package, the library Python's fast
// tokenizers run): input ids, attention masks and token types must be identical.
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import * as rust from "tokenizers";
import { beforeAll, describe, expect, test } from "vitest";

import { bertNormalize, bertPreTokenize } from "../../lib/tokenization/bertPipeline.js";
import { Tokenizer, type EncodedBatch, type TextInput } from "../../lib/tokenization/Tokenizer.js";
import { buildBertTokenizerJson, type BertTokenizerOptions } from "../../lib/tokenization/wordpiece.js";
import { tempDir } from "../helpers/tmp.js";
import {
  EDGE_TEXTS,
  SPECIALS,
  longTexts,
  makePairs,
  makeSentences,
  makeVocab,
  rustBertFromVocab,
  rustEncode,
  type RustRow,
} from "../helpers/tokenizationFixtures.js";
import { probeRustUnicodeTables, renderTables } from "../helpers/tokenizationUnicode.js";

const SENTENCES = makeSentences(300);
const PAIRS = makePairs(120);
const LONG = longTexts();
const SINGLES = [...SENTENCES, ...EDGE_TEXTS, ...LONG];

function row(b: EncodedBatch, data: Int32Array, i: number): number[] {
  return Array.from(data.subarray(i * b.seqLength, (i + 1) * b.seqLength));
}

/** Rust's row padded (right, pad id, mask 0, type 0) to the batch length. */
function padded(r: RustRow, length: number, padId: number): RustRow {
  const n = length - r.ids.length;
  return { ids: [...r.ids, ...Array(n).fill(padId)], mask: [...r.mask, ...Array(n).fill(0)], types: [...r.types, ...Array(n).fill(0)] };
}

/** Encodes `inputs` in batches of 16 with ours and one by one with Rust; returns the number of rows compared. */
async function compareBatches(ours: Tokenizer, theirs: rust.Tokenizer, inputs: TextInput[], maxLength: number): Promise<number> {
  let rows = 0;
  for (let start = 0; start < inputs.length; start += 16) {
    const chunk = inputs.slice(start, start + 16);
    const b = ours.encodeBatch(chunk, { maxLength });
    const expected = await Promise.all(chunk.map((x) => rustEncode(theirs, x, maxLength)));
    expect(b.seqLength).toBe(Math.max(0, ...expected.map((e) => e.ids.length)));
    expected.forEach((e, i) => {
      const want = padded(e, b.seqLength, ours.padTokenId);
      const what = `maxLength ${maxLength}, input ${JSON.stringify(chunk[i]).slice(0, 120)}`;
      expect(row(b, b.inputIds, i), what).toEqual(want.ids);
      expect(row(b, b.attentionMask, i), what).toEqual(want.mask);
      expect(row(b, b.tokenTypeIds, i), what).toEqual(want.types);
      rows++;
    });
  }
  theirs.disableTruncation();
  return rows;
}

async function compareIds(ours: Tokenizer, theirs: rust.Tokenizer, texts: string[]): Promise<void> {
  theirs.disableTruncation();
  for (const t of texts) {
    const e = await theirs.encode(t);
    const what = JSON.stringify(t).slice(0, 120);
    expect(ours.encode(t), what).toEqual(e.getIds());
    const plain = await theirs.encode(t, null, { addSpecialTokens: false });
    expect(ours.encode(t, { addSpecialTokens: false }), what).toEqual(plain.getIds());
  }
}

interface Case {
  name: string;
  opts: BertTokenizerOptions;
  cased: boolean;
  rust: { lowercase: boolean; stripAccents?: boolean; chinese?: boolean };
  config: Record<string, unknown>;
}

const CASES: Case[] = [
  { name: "uncased (do_lower_case true)", opts: { doLowerCase: true }, cased: false, rust: { lowercase: true }, config: { do_lower_case: true } },
  { name: "cased (do_lower_case false)", opts: { doLowerCase: false }, cased: true, rust: { lowercase: false }, config: { do_lower_case: false } },
  {
    name: "cased with strip_accents true",
    opts: { doLowerCase: false, stripAccents: true },
    cased: true,
    rust: { lowercase: false, stripAccents: true },
    config: { do_lower_case: false, strip_accents: true },
  },
  {
    name: "uncased, strip_accents false, no CJK splitting",
    opts: { doLowerCase: true, stripAccents: false, tokenizeChineseChars: false },
    cased: false,
    rust: { lowercase: true, stripAccents: false, chinese: false },
    config: { do_lower_case: true, strip_accents: false, tokenize_chinese_chars: false },
  },
];

let root: string;
beforeAll(async () => {
  root = await tempDir("sbert-tok-parity-");
});

describe.each(CASES)("BERT WordPiece, $name", (c) => {
  const vocab = makeVocab({ cased: c.cased });
  let ours: Tokenizer;
  let fromFolder: Tokenizer;
  let rustIndependent: rust.Tokenizer;
  let rustFromJson: rust.Tokenizer;

  beforeAll(async () => {
    ours = Tokenizer.fromVocab(vocab, c.opts);
    rustIndependent = rustBertFromVocab(vocab, c.rust);
    rustFromJson = rust.Tokenizer.fromString(JSON.stringify(buildBertTokenizerJson(vocab, c.opts)));
    // The vocab.txt-only layout (as dbmdz/bert-base-italian-uncased ships).
    const dir = join(root, c.name.replace(/\W+/g, "-"));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "vocab.txt"), vocab.map((t) => `${t}\n`).join(""));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ ...c.config, model_max_length: 512 }));
    fromFolder = await Tokenizer.fromFolder(dir);
  });

  test("buildBertTokenizerJson describes the tokenizer Rust assembles from the same vocab", async () => {
    const file = join(root, `${c.name.replace(/\W+/g, "-")}-rust.json`);
    rustIndependent.save(file);
    const theirs = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    const mine = JSON.parse(JSON.stringify(buildBertTokenizerJson(vocab, c.opts))) as Record<string, unknown>;
    for (const key of ["added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"]) {
      expect(mine[key], key).toEqual(theirs[key]);
    }
  });

  test("ids with and without special tokens, no truncation (vocab, folder, both Rust builds)", async () => {
    expect(SINGLES.length).toBeGreaterThan(300);
    await compareIds(ours, rustIndependent, SINGLES);
    await compareIds(fromFolder, rustIndependent, SINGLES);
    await compareIds(ours, rustFromJson, SENTENCES.slice(0, 100));
  });

  test("truncated and padded batches of texts and pairs, longest_first", async () => {
    const inputs: TextInput[] = [];
    SENTENCES.forEach((s, i) => {
      inputs.push(s);
      if (i < PAIRS.length) inputs.push(PAIRS[i]!);
    });
    inputs.push(...EDGE_TEXTS, ...LONG, ...PAIRS.slice(SENTENCES.length));
    let rows = 0;
    // Odd and even budgets, tiny to model-sized.
    for (const maxLength of [3, 4, 8, 13, 32, 128, 512]) rows += await compareBatches(ours, rustIndependent, inputs, maxLength);
    rows += await compareBatches(fromFolder, rustFromJson, inputs, 64);
    expect(rows).toBe(inputs.length * 8);
  });

  test("decode gives Rust's text with Python's clean-up of tokenization spaces", async () => {
    const cleanUp = (s: string) =>
      s
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
    for (const t of SENTENCES.slice(0, 60)) {
      const ids = ours.encode(t);
      expect(ours.decode(ids)).toBe(cleanUp(await rustIndependent.decode(ids, false)));
      expect(ours.decode(ids, { skipSpecialTokens: true })).toBe(cleanUp(await rustIndependent.decode(ids, true)));
    }
  });
});

describe("character classes against the Rust implementation, every code point", () => {
  // All code points except surrogates, in strings of "a<c>b " so that no character interacts with another.
  const chunks: string[] = [];
  beforeAll(() => {
    let cur = "";
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      cur += `a${String.fromCodePoint(cp)}b `;
      if (cur.length > 40_000) {
        chunks.push(cur);
        cur = "";
      }
    }
    chunks.push(cur);
  });

  test("the committed Unicode tables are what the Rust tokenizer does", () => {
    const committed = readFileSync(new URL("../../lib/tokenization/unicodeTables.ts", import.meta.url), "utf8");
    expect(renderTables(probeRustUnicodeTables())).toBe(committed);
  });

  test.each([
    { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true },
    { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: false },
    { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: false },
    { cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: true },
    { cleanText: false, handleChineseChars: true, stripAccents: true, lowercase: true },
  ])("BertNormalizer %o", (cfg) => {
    const opts: rust.BertNormalizerOptions = { cleanText: cfg.cleanText, handleChineseChars: cfg.handleChineseChars, lowercase: cfg.lowercase };
    if (cfg.stripAccents !== null) opts.stripAccents = cfg.stripAccents;
    const theirs = rust.bertNormalizer(opts);
    for (const s of chunks) {
      const a = bertNormalize(s, cfg);
      const b = theirs.normalizeString(s);
      if (a !== b) {
        const i = [...a].findIndex((ch, k) => ch !== [...b][k]);
        expect(a.slice(Math.max(0, i - 20), i + 20)).toBe(b.slice(Math.max(0, i - 20), i + 20));
      }
    }
  });

  test("BertPreTokenizer splits", () => {
    const theirs = rust.bertPreTokenizer();
    for (const s of chunks) {
      const mine: string[] = [];
      bertPreTokenize(s, (start, end) => {
        mine.push(s.slice(start, end));
        return true;
      });
      expect(mine).toEqual(theirs.preTokenizeString(s).map((p) => p[0]));
    }
  });
});

describe("other post-processors", () => {
  test("MPNet-style: WordPiece with RobertaProcessing and an lstrip <mask>", async () => {
    const vocab = ["<s>", "<pad>", "</s>", "<unk>", ...makeVocab({ cased: false }).filter((t) => !SPECIALS.includes(t)), "<mask>"];
    const map: Record<string, number> = Object.create(null) as Record<string, number>;
    vocab.forEach((t, i) => {
      map[t] = i;
    });
    const r = new rust.Tokenizer(rust.WordPiece.init(map, { unkToken: "<unk>" }));
    r.setNormalizer(rust.bertNormalizer({ lowercase: true }));
    r.setPreTokenizer(rust.bertPreTokenizer());
    r.setPostProcessor(rust.robertaProcessing(["</s>", 2], ["<s>", 0]));
    r.addSpecialTokens(["<s>", "<pad>", "</s>", "<unk>"]);
    r.addAddedTokens([new rust.AddedToken("<mask>", true, { leftStrip: true, normalized: false })]);
    const file = join(root, "mpnet.json");
    r.save(file);
    const ours = Tokenizer.fromJson(JSON.parse(await readFile(file, "utf8")) as object, { pad_token: "<pad>" });
    expect(ours.padTokenId).toBe(1);
    const inputs: TextInput[] = [
      ...SENTENCES.slice(0, 80),
      ...PAIRS.slice(0, 80),
      "il gatto <mask> dorme",
      "il gatto    <mask>dorme",
      ["<mask> a", "b <mask>"],
      LONG[0]!,
    ];
    await compareBatches(ours, r, inputs, 512);
    await compareBatches(ours, r, inputs, 9);
    // RoBERTa puts "</s></s>" between the texts and gives every token type 0.
    const b = ours.encodeBatch([["ciao", "mare"]], { maxLength: 16 });
    expect(Array.from(b.inputIds)).toEqual([0, map["ciao"], 2, 2, map["mare"], 2]);
    expect(Array.from(b.tokenTypeIds)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test("byte-level BPE with RobertaProcessing has the right special tokens", async () => {
    const alphabet = rust.byteLevelAlphabet();
    const vocab: Record<string, number> = { "<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3 };
    for (const ch of alphabet) vocab[ch] = Object.keys(vocab).length;
    const merges: [string, string][] = [
      ["Ġ", "t"],
      ["h", "e"],
      ["Ġt", "he"],
      ["c", "i"],
      ["ci", "a"],
      ["cia", "o"],
    ];
    for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
    const r = new rust.Tokenizer(rust.BPE.init(vocab, merges));
    r.setPreTokenizer(rust.byteLevelPreTokenizer(false, true));
    r.setPostProcessor(rust.robertaProcessing(["</s>", 2], ["<s>", 0]));
    r.addSpecialTokens(["<s>", "<pad>", "</s>", "<unk>"]);
    const file = join(root, "roberta.json");
    r.save(file);
    const ours = Tokenizer.fromJson(JSON.parse(await readFile(file, "utf8")) as object, { pad_token: "<pad>" });
    const inputs: TextInput[] = ["ciao the world", "the theme, ciao!", ["ciao", "the end"], "perché città", "", ["", "x"]];
    await compareBatches(ours, r, inputs, 64);
    await compareBatches(ours, r, inputs, 7);
  });
});
