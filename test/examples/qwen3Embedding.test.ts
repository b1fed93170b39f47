// examples/qwen3-embedding.ts run as the README tells users to (`npx tsx …`), offline on a tiny random-init Qwen3
// embedder built by transformers and sentence-transformers: its rankings are encodeQuery (with the folder's query
// prompt, or the --instruction given) against encodeDocument, in process.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { npx } from "../helpers/npx.js";
import { runPython } from "../helpers/python.js";
import { makeSentences } from "../helpers/tokenizationFixtures.js";
import { SENTENCES, tempDir } from "../helpers/tmp.js";

const BUILD = fileURLToPath(new URL("../fixtures/hf_model.py", import.meta.url));
const DOCUMENTS = [
  "Un uomo suona la chitarra sul palco.",
  "La piscina comunale apre alle nove.",
  "Il treno per Milano parte dal binario tre.",
  "A woman is playing the violin in the park.",
  "The beach is crowded in August.",
  "Il gatto dorme sul divano.",
  "The library lends books for three weeks.",
];

/** Each query's printed ranking: [document index, ...]. */
function rankings(out: string): number[][] {
  return out
    .split(/\n(?=\S)/)
    .slice(1)
    .map((block) => [...block.matchAll(/^\s+\d+\. -?[\d.]+ {2}\[(\d+)\]/gm)].map((m) => Number(m[1])))
    .filter((r) => r.length > 0);
}

test("npx tsx examples/qwen3-embedding.ts ranks documents for prompted queries as encodeQuery / encodeDocument do", async () => {
  const dir = join(await tempDir(), "qwen3");
  const prompts = { query: "Instruct: trova il documento\nQuery: ", document: "" };
  await runPython(BUILD, { dir, arch: "qwen3", seed: 21, corpus: [...SENTENCES, ...DOCUMENTS, ...makeSentences(800, 3)], vocab_size: 600, pooling: ["lasttoken"], normalize: true, prompts });
  const queries = ["Chi suona uno strumento musicale?", "Where can I swim?"];
  const model = await SentenceTransformer.load(dir);
  const expected = async (options: { prompt?: string }) => {
    const scores = model.similarity(await model.encodeQuery(queries, options), await model.encodeDocument(DOCUMENTS));
    return scores.map((row) => row.map((s, d) => ({ s, d })).sort((a, b) => b.s - a.s).slice(0, 4).map((x) => x.d));
  };

  const run = await npx(["tsx", "examples/qwen3-embedding.ts", "--model", dir, "--query", queries[0]!, "--query", queries[1]!, "--top-k", "4"]);
  expect(run.code, run.out).toBe(0);
  expect(run.out).toContain(JSON.stringify(prompts.query));
  expect(rankings(run.out)).toEqual(await expected({}));

  const instruction = "Given a question, retrieve passages that answer it";
  const custom = await npx(["tsx", "examples/qwen3-embedding.ts", "--model", dir, "--query", queries[0]!, "--query", queries[1]!, "--top-k", "4", "--instruction", instruction]);
  expect(custom.code, custom.out).toBe(0);
  const withInstruction = await expected({ prompt: `Instruct: ${instruction}\nQuery:` });
  expect(rankings(custom.out)).toEqual(withInstruction);
  // The prompt is part of the query: the default one and the instruction rank differently somewhere, or score differently.
  const scoresOf = (out: string) => [...out.matchAll(/^\s+\d+\. (-?[\d.]+)/gm)].map((m) => m[1]);
  expect(scoresOf(custom.out)).not.toEqual(scoresOf(run.out));
  model.dispose();
}, 300_000);
