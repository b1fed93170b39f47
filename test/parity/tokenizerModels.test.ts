// SentencePiece Unigram (XLM-RoBERTa), byte-level BPE (RoBERTa) and MPNet tokenizers, trained and saved by the
// Python libraries (test/fixtures/hf_model.py), against Hugging Face's Rust `tokenizers` reading the same
// tokenizer.json: ids with and without special tokens, truncated (longest_first) and padded batches of texts and
// pairs, attention masks and token types must all be identical.
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import * as rust from "tokenizers";
import { beforeAll, describe, expect, test } from "vitest";

import { byteLevel } from "../../lib/tokenization/byteLevel.js";
import { buildNormalizer } from "../../lib/tokenization/normalizers.js";
import { PrecompiledCharsmap } from "../../lib/tokenization/precompiled.js";
import { Tokenizer, type TextInput } from "../../lib/tokenization/Tokenizer.js";
import { probeRustClasses, renderRustClassTables } from "../helpers/rustClasses.js";
import { runPython } from "../helpers/python.js";
import { SENTENCES as ITALIAN, tempDir } from "../helpers/tmp.js";
import { EDGE_TEXTS, longTexts, makePairs, makeSentences, makeWorldSentences, rustEncode } from "../helpers/tokenizationFixtures.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const SPM = fileURLToPath(new URL("../fixtures/spm_tokenizer.py", import.meta.url));
const KINDS = ["xlm-roberta", "roberta", "mpnet", "qwen3", "gemma3_text", "modernbert"] as const;
type Kind = (typeof KINDS)[number];

const WORLD = makeWorldSentences(300);
const TEXTS = [...makeSentences(200, 23), ...WORLD, ...EDGE_TEXTS];
const LONG = longTexts(31);
const PAIRS: [string, string][] = [...makePairs(60, 41), ...WORLD.slice(0, 60).map((s, i): [string, string] => [s, WORLD[299 - i]!])];
// The tokenizers learn most, not all, of what they meet: unknown characters stay in the inputs.
const CORPUS = [...ITALIAN, ...makeSentences(2000, 99), ...makeWorldSentences(400, 5)];

const dirs = {} as Record<Kind, string>;
beforeAll(async () => {
  const root = await tempDir("sbert-tok-models-");
  const specs = KINDS.map((arch) => ({ dir: join(root, arch), arch, seed: 3, corpus: CORPUS, vocab_size: 1500, tokenizer_only: true }));
  await runPython(BUILD, specs);
  for (const k of KINDS) dirs[k] = join(root, k);
}, 300_000);

function show(x: TextInput): string {
  return JSON.stringify(x).slice(0, 160);
}

describe.each(KINDS)("%s tokenizer.json", (kind) => {
  let ours: Tokenizer;
  let theirs: rust.Tokenizer;
  beforeAll(async () => {
    ours = await Tokenizer.fromFolder(dirs[kind]);
    theirs = await rust.Tokenizer.fromFile(join(dirs[kind], "tokenizer.json"));
    theirs.disablePadding();
    theirs.disableTruncation();
  });

  test("ids with and without special tokens equal Rust's on every text", async () => {
    const bad: string[] = [];
    for (const t of [...TEXTS, ...LONG]) {
      const plain = (await theirs.encode(t, null, { addSpecialTokens: false })).getIds();
      const full = (await theirs.encode(t)).getIds();
      const mine = ours.encode(t, { addSpecialTokens: false });
      if (JSON.stringify(mine) !== JSON.stringify(plain)) bad.push(`${show(t)}\n  ours ${JSON.stringify(mine.slice(0, 40))}\n  rust ${JSON.stringify(plain.slice(0, 40))}`);
      else expect(ours.encode(t), show(t)).toEqual(full);
    }
    expect(bad.length, `${bad.length} of ${TEXTS.length + LONG.length} texts differ:\n${bad.slice(0, 5).join("\n")}`).toBe(0);
  });

  test("decode equals Rust's decode (what transformers 5 returns without clean_up_tokenization_spaces)", async () => {
    for (const t of TEXTS) {
      const ids = ours.encode(t);
      expect(ours.decode(ids), show(t)).toBe(await theirs.decode(ids, false));
      expect(ours.decode(ids, { skipSpecialTokens: true }), show(t)).toBe(await theirs.decode(ids, true));
    }
  });

  // Rust's tokenizers (the npm binding) aborts the whole process truncating some pairs to 5 tokens with Gemma's
  // layout (no pre-tokenizer: a text is one word); the truncation code here is the same for every kind.
  test.skipIf(kind === "gemma3_text")("truncated and padded batches of texts and pairs (longest_first), masks and token types", async () => {
    const inputs: TextInput[] = [];
    TEXTS.forEach((t, i) => {
      inputs.push(t);
      if (i < PAIRS.length) inputs.push(PAIRS[i]!);
    });
    inputs.push(...LONG, [LONG[0]!, LONG[1]!], [LONG[2]!, "breve"], ["", LONG[3]!]);
    let bad = 0;
    let first = "";
    for (const maxLength of [5, 8, 13, 64, 512]) {
      for (let start = 0; start < inputs.length; start += 16) {
        const chunk = inputs.slice(start, start + 16);
        const b = ours.encodeBatch(chunk, { maxLength });
        const rows = await Promise.all(chunk.map((x) => rustEncode(theirs, x, maxLength)));
        const seq = Math.max(0, ...rows.map((r) => r.ids.length));
        rows.forEach((r, i) => {
          const pad = Math.max(0, b.seqLength - r.ids.length);
          // Padding on the side tokenizer_config.json names (qwen3's: the left).
          const padded = (row: number[], value: number) =>
            ours.paddingSide === "left" ? [...Array<number>(pad).fill(value), ...row] : [...row, ...Array<number>(pad).fill(value)];
          const want = padded(r.ids, ours.padTokenId);
          const wantMask = padded(r.mask, 0);
          const wantTypes = padded(r.types, 0);
          const sl = (a: Int32Array) => Array.from(a.subarray(i * b.seqLength, (i + 1) * b.seqLength));
          const same =
            b.seqLength === seq &&
            JSON.stringify(sl(b.inputIds)) === JSON.stringify(want) &&
            JSON.stringify(sl(b.attentionMask)) === JSON.stringify(wantMask) &&
            JSON.stringify(sl(b.tokenTypeIds)) === JSON.stringify(wantTypes);
          if (!same) {
            bad++;
            first ||= `maxLength ${maxLength} ${show(chunk[i]!)}\n  ours ${JSON.stringify(sl(b.inputIds))}\n  rust ${JSON.stringify(want)}`;
          }
        });
      }
    }
    theirs.disableTruncation();
    expect(bad, `${bad} rows differ, first:\n${first}`).toBe(0);
  });
});

type Json = Record<string, any>;

/** Ours and Rust's tokenizer from the same tokenizer.json text, compared on every text. */
async function sameIds(json: Json, texts: string[], config: Json = { pad_token: "<pad>" }): Promise<void> {
  const text = JSON.stringify(json);
  const ours = Tokenizer.fromJson(JSON.parse(text) as object, config);
  const theirs = rust.Tokenizer.fromString(text);
  theirs.disablePadding();
  theirs.disableTruncation();
  for (const t of texts) {
    const want = (await theirs.encode(t, null, { addSpecialTokens: false })).getIds();
    expect(ours.encode(t, { addSpecialTokens: false }), show(t)).toEqual(want);
  }
}

describe("tokenizer.json variants", () => {
  const texts = [...WORLD.slice(0, 150), ...EDGE_TEXTS, " <mask> x", "a<mask>b", "x  <mask>  y", "<s>città</s>", "la città  è bella", "CITTÀ", "Città! e Ｃｉｔｔà!  x", "Citta\u0300!", "qzx bene, qzx", "to qzx.", "aqzx qzxqzx qzx"];
  let xlmr: Json;
  let roberta: Json;
  beforeAll(async () => {
    xlmr = JSON.parse(await readFile(join(dirs["xlm-roberta"], "tokenizer.json"), "utf8")) as Json;
    roberta = JSON.parse(await readFile(join(dirs.roberta, "tokenizer.json"), "utf8")) as Json;
  });

  test("XLM-R's own added tokens: <mask> with lstrip, a normalized added word, rstrip", async () => {
    const j = structuredClone(xlmr);
    const mask = j.added_tokens.find((t: Json) => t.content === "<mask>");
    mask.lstrip = true;
    const next = Math.max(...j.added_tokens.map((t: Json) => t.id as number)) + 1;
    // Rust gives an added token that the model's vocabulary has the model's id, whatever the file says: these are new.
    j.added_tokens.push({ id: next, content: "Ｃｉｔｔà!", single_word: false, lstrip: false, rstrip: true, normalized: true, special: false });
    j.added_tokens.push({ id: next + 1, content: "qzx", single_word: true, lstrip: false, rstrip: false, normalized: false, special: false });
    await sameIds(j, texts);
    // A file whose ids disagree (a token the model has under another id, a gap): Rust's ids, not the file's.
    j.added_tokens.push({ id: 7, content: "città", single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
    j.added_tokens.push({ id: next + 40, content: "zzw", single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
    await sameIds(j, [...texts, "zzw città zzw"]);
  });

  test.each([
    ["first", true],
    ["never", true],
    ["always", false],
    ["first", false],
  ])("Metaspace prepend_scheme %s, split %s", async (scheme, split) => {
    const j = structuredClone(xlmr);
    j.pre_tokenizer.prepend_scheme = scheme;
    j.pre_tokenizer.split = split;
    await sameIds(j, texts);
  });

  test("Unigram with byte fallback, and without an unk token on text it covers", async () => {
    const j = structuredClone(xlmr);
    j.model.byte_fallback = true;
    for (let b = 0; b < 256; b++) j.model.vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, -20]);
    await sameIds(j, texts);
    const k = structuredClone(xlmr);
    k.model.unk_id = null;
    await sameIds(k, ["la città", "ciao mare", ""]);
    expect(() => Tokenizer.fromJson(k, { pad_token: "<pad>" }).encode("\u{10ffff}")).toThrow(/unk_id/);
  });

  test("Llama/Gemma decoders: Replace, ByteFallback (valid and invalid UTF-8 runs), Fuse, Strip — equal to Rust's decode", async () => {
    const j = JSON.parse(await readFile(join(dirs["gemma3_text"], "tokenizer.json"), "utf8")) as Json;
    const vocab = j.model.vocab as Record<string, number>;
    let next = Math.max(...Object.values(vocab), ...j.added_tokens.map((t: Json) => t.id as number)) + 1;
    const byte = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
    for (let b = 0; b < 256; b++) vocab[byte(b)] = next++;
    j.decoder = {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "\u2581" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    };
    const text = JSON.stringify(j);
    const ours = Tokenizer.fromJson(JSON.parse(text) as object, { pad_token: "<pad>" });
    const theirs = rust.Tokenizer.fromString(text);
    const words = ours.encode(" la città è bella", { addSpecialTokens: false });
    const euro = [0xe2, 0x82, 0xac].map((b) => vocab[byte(b)]!);
    for (const ids of [words, [...euro, ...words], [...words, euro[0]!, ...words], [euro[1]!, euro[0]!], [...words, ...euro, ...euro, ...words], ours.encode("ciao")]) {
      expect(ours.decode(ids), JSON.stringify(ids)).toBe(await theirs.decode(ids, false));
      expect(ours.decode(ids, { skipSpecialTokens: true })).toBe(await theirs.decode(ids, true));
    }
  });

  test("Split: a literal String pattern, Removed and Isolated, before ByteLevel", async () => {
    for (const behavior of ["Removed", "Isolated"]) {
      const j = structuredClone(roberta);
      j.pre_tokenizer = {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { String: "è" }, behavior, invert: false },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
        ],
      };
      await sameIds(j, texts);
    }
  });

  test("ByteLevel with add_prefix_space, a normalizer sequence in front", async () => {
    const j = structuredClone(roberta);
    j.pre_tokenizer.add_prefix_space = true;
    j.normalizer = { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Replace", pattern: { String: "``" }, content: '"' }, { type: "Strip", strip_left: true, strip_right: true }] };
    await sameIds(j, texts);
  });

  test("BPE options: unk token (fused or not), continuing-subword prefix, end-of-word suffix, byte fallback", async () => {
    const words = makeSentences(400, 3).join(" ").split(/\s+/);
    const chars = [...new Set([...words.join("")])].filter((c) => !"zqkwxy".includes(c.toLowerCase()));
    for (const opts of [
      { unkToken: "<unk>", fuseUnk: false },
      { unkToken: "<unk>", fuseUnk: true },
      { unkToken: "<unk>", fuseUnk: true, continuingSubwordPrefix: "##", endOfWordSuffix: "</w>" },
      { byteFallback: true, unkToken: "<unk>" },
    ]) {
      const vocab: Record<string, number> = { "<unk>": 0 };
      const add = (t: string) => {
        if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
      };
      const pre = opts.continuingSubwordPrefix ?? "";
      const suf = opts.endOfWordSuffix ?? "";
      for (const c of chars) {
        add(c);
        add(pre + c);
        add(c + suf);
        add(pre + c + suf);
      }
      if (opts.byteFallback) for (let b = 0; b < 256; b += 3) add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
      const merges: [string, string][] = [];
      for (const w of ["ci", "ao", "the", "gatto", "città", "mente"]) {
        let cur = w[0]!;
        for (let i = 1; i < w.length; i++) {
          const right = pre + w[i]! + (i === w.length - 1 ? suf : "");
          if (!(cur in vocab) || !(right in vocab)) break;
          merges.push([cur, right]);
          cur = cur + w[i]! + (i === w.length - 1 ? suf : "");
          add(cur);
        }
      }
      const r = new rust.Tokenizer(rust.BPE.init(vocab, merges, opts));
      r.setPreTokenizer(rust.whitespaceSplitPreTokenizer());
      const file = join(await tempDir("sbert-bpe-"), "tokenizer.json");
      r.save(file);
      const j = JSON.parse(await readFile(file, "utf8")) as Json;
      // One word per input: the model alone.
      j.pre_tokenizer = null;
      await sameIds(j, [...new Set(texts.join(" ").split(/\s+/))].filter((w) => w !== "").slice(0, 600), { pad_token: "<unk>" });
    }
  });

  test("WordPiece behind other normalizers: NFD + Lowercase + StripAccents, NFKC; BertPreTokenizer", async () => {
    const mpnet = JSON.parse(await readFile(join(dirs.mpnet, "tokenizer.json"), "utf8")) as Json;
    const j = structuredClone(mpnet);
    j.normalizer = { type: "Sequence", normalizers: [{ type: "NFD" }, { type: "Lowercase" }, { type: "StripAccents" }] };
    await sameIds(j, texts);
    j.normalizer = { type: "NFKC" };
    await sameIds(j, texts);
  });

  test("a component neither pipeline knows is an SbertError naming the file and the field", () => {
    const j = structuredClone(xlmr);
    j.normalizer = { type: "Frobnicate" };
    expect(() => Tokenizer.fromJson(j, { pad_token: "<pad>" })).toThrow(/tokenizer\.json: .*normalizer\.type/);
  });
});

describe("components against Rust, every code point", () => {
  const chunks: string[][] = [];
  beforeAll(() => {
    let cur: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      cur.push(String.fromCodePoint(cp));
      if (cur.length === 2000) {
        chunks.push(cur);
        cur = [];
      }
    }
    chunks.push(cur);
  });

  test("Precompiled (the trained model's nmt_nfkc charsmap), each character alone and after a letter", async () => {
    const j = JSON.parse(await readFile(join(dirs["xlm-roberta"], "tokenizer.json"), "utf8")) as Json;
    const blob = Buffer.from(j.normalizer.normalizers[0].precompiled_charsmap as string, "base64");
    const ours = new PrecompiledCharsmap(new Uint8Array(blob));
    const theirs = rust.precompiled([...blob]);
    for (const c of chunks) {
      for (const s of [c.map((x) => ` ${x} `).join(""), c.map((x) => `a${x}`).join("")]) {
        const a = ours.normalize(s);
        const b = theirs.normalizeString(s);
        if (a !== b) {
          const i = [...a].findIndex((ch, k) => ch !== [...b][k]);
          expect([...a].slice(Math.max(0, i - 5), i + 5).join("")).toBe([...b].slice(Math.max(0, i - 5), i + 5).join(""));
        }
      }
    }
  });

  test("Precompiled on grapheme clusters: every code point after characters the charsmap maps or that join clusters", async () => {
    // Rust looks up clusters of under 6 bytes whole, so a cluster boundary that ICU drew elsewhere would show here.
    const j = JSON.parse(await readFile(join(dirs["xlm-roberta"], "tokenizer.json"), "utf8")) as Json;
    const blob = Buffer.from(j.normalizer.normalizers[0].precompiled_charsmap as string, "base64");
    const ours = new PrecompiledCharsmap(new Uint8Array(blob));
    const theirs = rust.precompiled([...blob]);
    for (const base of ["Ａ", "ｶ", "\u1100", "\u{1f1ee}", "e", "\r", "\u200d", "\u0958\u094d"]) {
      for (const c of chunks) {
        const s = c.map((x) => ` ${base}${x} `).join("");
        const a = ours.normalize(s);
        const b = theirs.normalizeString(s);
        if (a !== b) {
          const i = [...a].findIndex((ch, k) => ch !== [...b][k]);
          expect([...a].slice(Math.max(0, i - 5), i + 5).join(""), JSON.stringify(base)).toBe([...b].slice(Math.max(0, i - 5), i + 5).join(""));
        }
      }
    }
  });

  test("the committed character classes (ByteLevel pattern, StripAccents, normalization forms) are what Rust's components use", () => {
    const committed = readFileSync(new URL("../../lib/tokenization/rustClassTables.ts", import.meta.url), "utf8");
    expect(renderRustClassTables(probeRustClasses())).toBe(committed);
  });

  test("StripAccents", () => {
    const ours = buildNormalizer({ type: "StripAccents" })!;
    const theirs = rust.stripAccentsNormalizer();
    for (const c of chunks) {
      const s = c.map((x) => `a${x}`).join("");
      expect(ours(s) === theirs.normalizeString(s)).toBe(true);
    }
  });

  test.each(["NFC", "NFD", "NFKC", "NFKD"])("%s", (form) => {
    const ours = buildNormalizer({ type: form })!;
    const theirs = { NFC: rust.nfcNormalizer, NFD: rust.nfdNormalizer, NFKC: rust.nfkcNormalizer, NFKD: rust.nfkdNormalizer }[form as "NFC"]();
    for (const c of chunks) {
      for (const s of [c.map((x) => `a${x}`).join(""), c.map((x) => `a\u0301${x}\u0316`).join("")]) {
        const a = ours(s);
        const b = theirs.normalizeString(s);
        if (a !== b) {
          const i = [...a].findIndex((ch, k) => ch !== [...b][k]);
          expect([...a].slice(Math.max(0, i - 5), i + 5).join("")).toBe([...b].slice(Math.max(0, i - 5), i + 5).join(""));
        }
      }
    }
  });

  test("ByteLevel pieces", () => {
    const ours = byteLevel({ addPrefixSpace: false, useRegex: true });
    const theirs = rust.byteLevelPreTokenizer(false, true);
    for (const c of chunks) {
      // (The classes themselves are checked above; this is the pattern around them.)
      for (const wrap of [(x: string) => ` ${x}${x}y1`, (x: string) => `'${x}'s  !`]) {
        const s = c.map(wrap).join("");
        const mine: string[] = [];
        ours(s, true, (w) => {
          mine.push(w);
          return true;
        });
        expect(mine).toEqual(theirs.preTokenizeString(s).map((p) => p[0]));
      }
    }
  });
});

describe("a folder with only sentencepiece.bpe.model (XLM-RoBERTa as transformers converts it)", () => {
  let spmDir: string;
  let convertedDir: string;
  let ours: Tokenizer;
  let theirs: rust.Tokenizer;
  beforeAll(async () => {
    const root = await tempDir("sbert-tok-spm-");
    // Two user-defined pieces: transformers makes them added tokens.
    const r = await runPython<{ spm: string; converted: string }>(SPM, { dir: root, corpus: CORPUS, vocab_size: 1000, user_defined: ["<ud1>", "città"] });
    spmDir = r.spm;
    convertedDir = r.converted;
    ours = await Tokenizer.fromFolder(spmDir);
    theirs = await rust.Tokenizer.fromFile(join(convertedDir, "tokenizer.json"));
    theirs.disablePadding();
    theirs.disableTruncation();
  }, 300_000);

  test("the tokenizer built from the model file is the one transformers writes", async () => {
    const converted = JSON.parse(await readFile(join(convertedDir, "tokenizer.json"), "utf8")) as Json;
    const dir = await tempDir("sbert-tok-spm-saved-");
    await ours.save(dir);
    const mine = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as Json;
    for (const key of ["added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"]) expect(mine[key], key).toEqual(converted[key]);
    expect(ours.padTokenId).toBe(1);
  });

  test("ids, decoded texts, truncated and padded batches equal Rust's on the converted tokenizer.json", async () => {
    const texts = [...TEXTS, ...LONG, "la città <ud1> e<ud1>x città", " <s> a </s> <mask>"];
    for (const t of texts) {
      const ids = (await theirs.encode(t)).getIds();
      expect(ours.encode(t), show(t)).toEqual(ids);
      expect(ours.decode(ids), show(t)).toBe(await theirs.decode(ids, false));
    }
    const inputs: TextInput[] = [...TEXTS.slice(0, 200), ...PAIRS, [LONG[0]!, LONG[1]!]];
    for (const maxLength of [7, 64]) {
      const b = ours.encodeBatch(inputs, { maxLength });
      const rows = await Promise.all(inputs.map((x) => rustEncode(theirs, x, maxLength)));
      rows.forEach((r, i) => {
        const sl = (a: Int32Array) => Array.from(a.subarray(i * b.seqLength, i * b.seqLength + r.ids.length));
        expect(sl(b.inputIds), show(inputs[i]!)).toEqual(r.ids);
        expect(sl(b.attentionMask)).toEqual(r.mask);
        expect(sl(b.tokenTypeIds)).toEqual(r.types);
      });
      theirs.disableTruncation();
    }
  });

  test("a file that is not a SentencePiece model, or another tokenizer_class, is an SbertError naming the file", async () => {
    const dir = await tempDir("sbert-tok-spm-bad-");
    await mkdir(join(dir, "a"));
    await writeFile(join(dir, "a", "sentencepiece.bpe.model"), Buffer.from([0x0a, 0xff, 0xff, 0x03]));
    await expect(Tokenizer.fromFolder(join(dir, "a"))).rejects.toThrow(/sentencepiece\.bpe\.model: /);
    await mkdir(join(dir, "b"));
    await writeFile(join(dir, "b", "sentencepiece.bpe.model"), await readFile(join(spmDir, "sentencepiece.bpe.model")));
    await writeFile(join(dir, "b", "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "CamembertTokenizer" }));
    await expect(Tokenizer.fromFolder(join(dir, "b"))).rejects.toThrow(/tokenizer_config\.json: field 'tokenizer_class'/);
  });
});
