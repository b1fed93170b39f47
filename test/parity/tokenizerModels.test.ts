// SentencePiece Unigram (XLM-RoBERTa), byte-level BPE (RoBERTa) and MPNet tokenizers, trained and saved by the
// Python libraries (test/fixtures/hf_model.py), against Hugging Face's Rust `tokenizers` reading the same
// tokenizer.json: ids with and without special tokens, truncated (longest_first) and padded batches of texts and
// pairs, attention masks and token types must all be identical.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import * as rust from "tokenizers";
import { beforeAll, describe, expect, test } from "vitest";

import { Tokenizer, type TextInput } from "../../lib/tokenization/Tokenizer.js";
import { runPython } from "../helpers/python.js";
import { SENTENCES as ITALIAN, tempDir } from "../helpers/tmp.js";
import { EDGE_TEXTS, longTexts, makePairs, makeSentences, makeWorldSentences, rustEncode } from "../helpers/tokenizationFixtures.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const KINDS = ["xlm-roberta", "roberta", "mpnet"] as const;
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

  test("truncated and padded batches of texts and pairs (longest_first), masks and token types", async () => {
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
          const pad = b.seqLength - r.ids.length;
          const want = [...r.ids, ...Array<number>(Math.max(0, pad)).fill(ours.padTokenId)];
          const wantMask = [...r.mask, ...Array<number>(Math.max(0, pad)).fill(0)];
          const wantTypes = [...r.types, ...Array<number>(Math.max(0, pad)).fill(0)];
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
