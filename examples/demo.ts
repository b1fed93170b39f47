/**
 * The main job, offline and on a CPU: build a small Italian BERT from a config and a WordPiece vocabulary
 * made from the bundled STS training sentences, fine-tune it as a sentence encoder with CosineSimilarityLoss,
 * report the evaluator's Spearman correlation before and after, save the best model, reload it, and search.
 *
 *   npm run demo        (or: npx tsx examples/demo.ts [--epochs N] [--out DIR])
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

import {
  DataLoader,
  InputExample,
  SentenceTransformer,
  Tokenizer,
  evaluation,
  loadDataset,
  losses,
  models,
  util,
} from "sbert-node";

const here = fileURLToPath(new URL(".", import.meta.url));
const { values: args } = parseArgs({
  options: {
    epochs: { type: "string", default: "20" },
    lr: { type: "string", default: "2e-4" },
    hidden: { type: "string", default: "128" },
    layers: { type: "string", default: "4" },
    out: { type: "string", default: resolve(here, "..", "demo-output") },
    data: { type: "string", default: join(here, "data", "stsb-it-mini") },
  },
});
const epochs = Number(args.epochs);
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

// 1. Data: the columns of stsb_multi_mt (sentence1, sentence2, similarity_score 0..5).
const data = await loadDataset("json", { dataFiles: { train: join(args.data, "train.jsonl"), test: join(args.data, "test.jsonl") } });
const train = data["train"]!;
const test = data["test"]!;
console.log(`Italian STS: ${train.length} training pairs, ${test.length} test pairs`);

// 2. A WordPiece vocabulary from the training sentences: every character (alone and as ##suffix) and every word.
function words(text: string): string[] {
  return text.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}
const counts = new Map<string, number>();
for (const column of ["sentence1", "sentence2"]) {
  for (const text of train.column(column) as string[]) for (const w of words(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
}
const chars = [...new Set([...counts.keys()].flatMap((w) => [...w]))].sort();
const vocab = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  ...chars,
  ...chars.map((c) => `##${c}`),
  ...[...counts.entries()].filter(([w]) => w.length > 1).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w),
];
const tokenizer = Tokenizer.fromVocab(vocab, { doLowerCase: true, modelMaxLength: 64 });
console.log(`WordPiece vocabulary: ${vocab.length} tokens`);

// 3. models.Transformer + models.Pooling (mean) -> SentenceTransformer, as the notebook builds it.
const transformer = await models.Transformer.fromConfig(
  {
    vocab_size: vocab.length,
    hidden_size: Number(args.hidden),
    num_hidden_layers: Number(args.layers),
    num_attention_heads: 4,
    intermediate_size: 4 * Number(args.hidden),
    max_position_embeddings: 64,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  },
  tokenizer,
  { seed: 42 },
);
const pooling = new models.Pooling(transformer.getWordEmbeddingDimension(), { poolingMode: "mean" });
const model = new SentenceTransformer({ modules: [transformer, pooling] });
console.log(String(model));

// 4. Training examples with scores scaled to 0..1, a shuffled DataLoader (batch 16), CosineSimilarityLoss.
const trainExamples = train.rows().map(
  (r) => new InputExample({ texts: [r["sentence1"] as string, r["sentence2"] as string], label: (r["similarity_score"] as number) / 5 }),
);
const loader = new DataLoader(trainExamples, { batchSize: 16, shuffle: true, seed: 42 });
const trainLoss = new losses.CosineSimilarityLoss(model);

// 5. The evaluator on the held-out split: Spearman correlation of cosine similarity with the gold scores.
const evaluator = new evaluation.EmbeddingSimilarityEvaluator(
  test.column("sentence1") as string[],
  test.column("sentence2") as string[],
  (test.column("similarity_score") as number[]).map((s) => s / 5),
  { mainSimilarity: evaluation.SimilarityFunction.COSINE, name: "sts-it-test" },
);
const metric = evaluator.primaryMetric;
// The same measure on 120 training pairs shows how well the model fits what it was taught.
const seen = train.select(Array.from({ length: 120 }, (_, i) => i));
const trainEvaluator = new evaluation.EmbeddingSimilarityEvaluator(
  seen.column("sentence1") as string[],
  seen.column("sentence2") as string[],
  (seen.column("similarity_score") as number[]).map((s) => s / 5),
  { mainSimilarity: evaluation.SimilarityFunction.COSINE, name: "sts-it-train", writeCsv: false },
);
const before = (await evaluator.evaluate(model))[metric]!;
const trainBefore = (await trainEvaluator.evaluate(model))[trainEvaluator.primaryMetric]!;
console.log(`\nBefore training: Spearman (cosine) ${before.toFixed(4)} on the held-out test pairs, ${trainBefore.toFixed(4)} on 120 training pairs`);

// 6. fit: warmup over 10% of the steps, evaluation every 50 steps and at each epoch's end, best model saved.
const outputPath = join(args.out, "sbert-it-mini");
let reported = 0;
await model.fit({
  trainObjectives: [[loader, trainLoss]],
  evaluator,
  epochs,
  warmupSteps: Math.floor(loader.length * epochs * 0.1),
  optimizerParams: { lr: Number(args.lr) },
  evaluationSteps: 50,
  outputPath,
  saveBestModel: true,
  seed: 42,
  // Called after each evaluation with the epoch (fractional between epoch ends) and the global step.
  callback: (score, epoch) => {
    if (Number.isInteger(epoch) && epoch > reported) {
      reported = epoch;
      console.log(`  epoch ${epoch}/${epochs}: ${metric} = ${score.toFixed(4)}  (${seconds()} s)`);
    }
  },
});
model.dispose();

// 7. The best model, reloaded from disk as sentence-transformers (Python) would load it.
const best = await SentenceTransformer.load(outputPath);
const after = (await evaluator.evaluate(best))[metric]!;
const trainAfter = (await trainEvaluator.evaluate(best))[trainEvaluator.primaryMetric]!;
console.log(`\nAfter training (best model, reloaded from ${outputPath}):`);
console.log(`  held-out test pairs: Spearman (cosine) ${before.toFixed(4)} -> ${after.toFixed(4)}`);
console.log(`  120 training pairs:  Spearman (cosine) ${trainBefore.toFixed(4)} -> ${trainAfter.toFixed(4)}`);

// 8. Semantic search over the test sentences.
const corpus = [...new Set([...(test.column("sentence1") as string[]), ...(test.column("sentence2") as string[])])];
const corpusEmbeddings = await best.encode(corpus, { normalizeEmbeddings: true });
const queries = ["Un ragazzo suona la chitarra in spiaggia.", "Oggi piove molto in città.", "Il cuoco prepara la pasta."];
const hits = util.semanticSearch(await best.encode(queries, { normalizeEmbeddings: true }), corpusEmbeddings, { topK: 3 });
console.log("\nSemantic search:");
queries.forEach((q, i) => {
  console.log(`  ${q}`);
  for (const hit of hits[i]!) console.log(`    ${hit.score.toFixed(3)}  ${corpus[hit.corpusId]}`);
});
best.dispose();
console.log(`\nDone in ${seconds()} s.`);
