/**
 * Search with a decoder embedder (Qwen3-Embedding): queries are embedded with the model's instruction prompt
 * ("query" in its config_sentence_transformers.json), documents without one, and each query's documents are ranked
 * by the model's similarity. Qwen3-Embedding pads on the left and pools the last token; sbert-node reads both from
 * the folder.
 *
 *   npx tsx examples/qwen3-embedding.ts                       # Qwen/Qwen3-Embedding-0.6B from the Hugging Face Hub
 *   npx tsx examples/qwen3-embedding.ts --model DIR           # offline, on a local model folder
 *   options: --query "..." (repeatable) --top-k 3 --instruction "Given a question, retrieve passages that answer it"
 */
import { parseArgs } from "node:util";

import { SentenceTransformer } from "sbert-node";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "Qwen/Qwen3-Embedding-0.6B" },
    query: { type: "string", multiple: true, default: ["Chi suona uno strumento musicale?", "Where can I swim?"] },
    "top-k": { type: "string", default: "3" },
    // A task of your own instead of the model's default instruction (Qwen3-Embedding's recommended format).
    instruction: { type: "string" },
  },
});
const topK = Number(args["top-k"]);

const documents = [
  "Un uomo suona la chitarra sul palco.",
  "La piscina comunale apre alle nove.",
  "Il treno per Milano parte dal binario tre.",
  "A woman is playing the violin in the park.",
  "The beach is crowded in August.",
  "Il gatto dorme sul divano.",
  "The library lends books for three weeks.",
];

const model = await SentenceTransformer.load(args.model!);
const prompt = args.instruction !== undefined ? `Instruct: ${args.instruction}\nQuery:` : undefined;
console.log(`model: ${args.model}; query prompt: ${JSON.stringify(prompt ?? model.prompts["query"] ?? "(none)")}`);

// Queries carry the instruction, documents are embedded as they are.
const queryEmbeddings = await model.encodeQuery(args.query!, prompt !== undefined ? { prompt } : {});
const documentEmbeddings = await model.encodeDocument(documents);
const scores = model.similarity(queryEmbeddings, documentEmbeddings);

args.query!.forEach((query, q) => {
  console.log(`\n${query}`);
  const order = scores[q]!.map((score, d) => ({ score, d })).sort((a, b) => b.score - a.score);
  order.slice(0, topK).forEach(({ score, d }, i) => console.log(`  ${i + 1}. ${score.toFixed(4)}  [${d}] ${documents[d]}`));
});

model.dispose();
