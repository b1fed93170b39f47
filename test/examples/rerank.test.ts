// examples/rerank.ts run as the README tells users to (`npx tsx …`), offline on a tiny generated bi-encoder and
// cross-encoder: its "after" list is CrossEncoder.rank's order of the bi-encoder's candidates.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect, test } from "vitest";

import { CrossEncoder, SentenceTransformer, util } from "../../lib/index.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { ROOT } from "../helpers/cli.js";
import { npx } from "../helpers/npx.js";
import { tempDir } from "../helpers/tmp.js";

test("npx tsx examples/rerank.ts retrieves with the bi-encoder and prints the cross-encoder's order", async () => {
  const dir = await tempDir();
  await makeSentenceTransformerFolder(join(dir, "bi"), { pooling: { modes: ["mean"] } });
  await makeCrossEncoderFolder(join(dir, "ce"), { bert: { seed: 5 } });
  const query = "una donna attraversa la strada";
  const { code, out } = await npx(["tsx", "examples/rerank.ts", "--bi-encoder", join(dir, "bi"), "--cross-encoder", join(dir, "ce"), "--query", query, "--candidates", "8", "--top-k", "3"]);
  expect(code, out).toBe(0);

  // The same steps in process.
  const data = await readFile(join(ROOT, "examples", "data", "stsb-it-mini", "test.jsonl"), "utf8");
  const corpus = [...new Set(data.split("\n").filter((l) => l.trim()).flatMap((l) => Object.values(JSON.parse(l) as Record<string, unknown>).filter((v): v is string => typeof v === "string")))];
  const bi = await SentenceTransformer.load(join(dir, "bi"));
  const ce = await CrossEncoder.load(join(dir, "ce"));
  const hits = util.semanticSearch(await bi.encode(query, { normalizeEmbeddings: true }), await bi.encode(corpus, { normalizeEmbeddings: true }), { topK: 8 })[0]!;
  const ranked = await ce.rank(query, hits.map((h) => corpus[h.corpusId]!), { topK: 3 });
  const [before, after] = out.split("After reranking");
  const ids = (text: string) => [...text.matchAll(/^\s+\d+\. -?[\d.]+ {2}\[(\d+)\]/gm)].map((m) => Number(m[1]));
  expect(before).toContain("Before reranking (bi-encoder, top 3 of 8 candidates)");
  expect(ids(before!)).toEqual(hits.slice(0, 3).map((h) => h.corpusId));
  expect(ids(after!)).toEqual(ranked.map((r) => hits[r.corpusId]!.corpusId));
  // Reranking changed something (the two models disagree on this query), so the test shows the rerank happened.
  expect(ids(after!)).not.toEqual(ids(before!));
  bi.dispose();
  ce.dispose();
}, 240_000);
