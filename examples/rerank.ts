/**
 * Retrieve and rerank: a bi-encoder (SentenceTransformer) finds candidates for a query among a corpus quickly, then a
 * cross-encoder reads the query with each candidate and re-scores them. The corpus is the bundled Italian STS
 * sentences.
 *
 *   npx tsx examples/rerank.ts                                          # models from the Hugging Face Hub
 *   npx tsx examples/rerank.ts --bi-encoder DIR --cross-encoder DIR     # offline, on local model folders
 *   options: --query "Un uomo suona la chitarra." --candidates 20 --top-k 5
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { CrossEncoder, SentenceTransformer, util } from "sbert-node";

const { values: args } = parseArgs({
  options: {
    "bi-encoder": { type: "string", default: "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2" },
    "cross-encoder": { type: "string", default: "cross-encoder/mmarco-mMiniLMv2-L12-H384-v1" },
    query: { type: "string", default: "Un uomo suona la chitarra." },
    candidates: { type: "string", default: "20" },
    "top-k": { type: "string", default: "5" },
  },
});
const candidates = Number(args.candidates);
const topK = Number(args["top-k"]);

// --- The corpus: every distinct sentence of the bundled STS test split.
const data = await readFile(fileURLToPath(new URL("data/stsb-it-mini/test.jsonl", import.meta.url)), "utf8");
const corpus = [
  ...new Set(
    data
      .split("\n")
      .filter((line) => line.trim() !== "")
      .flatMap((line) => {
        const row = JSON.parse(line) as { sentence1: string; sentence2: string };
        return [row.sentence1, row.sentence2];
      }),
  ),
];

const biEncoder = await SentenceTransformer.load(args["bi-encoder"]!);
const crossEncoder = await CrossEncoder.load(args["cross-encoder"]!);
console.log(`corpus: ${corpus.length} sentences; query: ${JSON.stringify(args.query)}`);

// --- Retrieve: the bi-encoder embeds the corpus once, then each query; cosine similarity picks the candidates.
const corpusEmbeddings = await biEncoder.encode(corpus, { normalizeEmbeddings: true });
const queryEmbedding = await biEncoder.encode(args.query!, { normalizeEmbeddings: true });
const hits = util.semanticSearch(queryEmbedding, corpusEmbeddings, { topK: candidates })[0]!;
console.log(`\nBefore reranking (bi-encoder, top ${topK} of ${hits.length} candidates):`);
hits.slice(0, topK).forEach((hit, i) => console.log(`  ${i + 1}. ${hit.score.toFixed(4)}  [${hit.corpusId}] ${corpus[hit.corpusId]}`));

// --- Rerank: the cross-encoder scores (query, candidate) pairs together.
const ranked = await crossEncoder.rank(
  args.query!,
  hits.map((hit) => corpus[hit.corpusId]!),
  { topK },
);
console.log(`\nAfter reranking (cross-encoder, top ${topK}):`);
ranked.forEach((r, i) => {
  const hit = hits[r.corpusId]!;
  console.log(`  ${i + 1}. ${r.score.toFixed(4)}  [${hit.corpusId}] ${corpus[hit.corpusId]}  (was ${r.corpusId + 1})`);
});

biEncoder.dispose();
crossEncoder.dispose();
