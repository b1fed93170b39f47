/**
 * Fine-tuning an Italian sentence encoder, step by step: `dbmdz/bert-base-italian-uncased` + mean pooling,
 * trained on the Italian STS benchmark (`stsb_multi_mt`, config `it`) with CosineSimilarityLoss.
 *
 *   npx tsx examples/finetune-italian.ts                         # model and data from the Hugging Face Hub
 *   npx tsx examples/finetune-italian.ts --model DIR --data DIR  # offline: a model folder, and a folder with train.* / test.*
 *                                                                #   (csv, jsonl or parquet with sentence1, sentence2, similarity_score)
 *   options: --epochs 10 --steps-per-epoch 1500 --evaluation-steps 500 --batch-size 16 --output DIR --push ORG/NAME --device cpu
 *            --checkpoint-path DIR (the trainer's folder: checkpoints, and the step evaluations' CSV; default
 *            checkpoints/model under the working directory, without checkpoints)
 *   As in sentence-transformers 3+, --steps-per-epoch applies only with --epochs 1.
 */
import { parseArgs } from "node:util";

import {
  DataLoader,
  InputExample,
  SentenceTransformer,
  evaluation,
  loadDataset,
  losses,
  models,
  type Dataset,
} from "sbert-node";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "dbmdz/bert-base-italian-uncased" },
    data: { type: "string" },
    epochs: { type: "string", default: "10" },
    "steps-per-epoch": { type: "string", default: "1500" },
    "evaluation-steps": { type: "string", default: "500" },
    "batch-size": { type: "string", default: "16" },
    output: { type: "string", default: "my-awesome-sentence-transformer" },
    "checkpoint-path": { type: "string" },
    push: { type: "string" },
    device: { type: "string", default: "cpu" },
  },
});

// --- The model: a pretrained Italian BERT (fill-mask checkpoint) plus a mean-pooling layer.
const modelCheckpoint = args.model!;
const wordEmbeddingModel = await models.Transformer.load(modelCheckpoint, { device: args.device });
const poolingModel = new models.Pooling(wordEmbeddingModel.getWordEmbeddingDimension());
// const normalizeModel = new models.Normalize();
const model = new SentenceTransformer({ modules: [wordEmbeddingModel, poolingModel] });
console.log(String(model));

// --- The dataset: Italian STS-benchmark pairs with similarity scores 0..5.
async function split(name: "train" | "test"): Promise<Dataset> {
  return args.data ? loadDataset(args.data, { split: name }) : loadDataset("stsb_multi_mt", { name: "it", split: name });
}
const datasetTrain = await split("train");
const datasetTest = await split("test");
console.log("train size: ", [datasetTrain.length, datasetTrain.columnNames.length], "\n", "test size: ", [datasetTest.length, datasetTest.columnNames.length]);
console.log(datasetTrain.rows(0, 3));

// Scores go from 0 to 5; CosineSimilarityLoss wants them between 0 and 1.
const trainExamples: InputExample[] = [];
for (let i = 0; i < datasetTrain.length; i++) {
  const example = datasetTrain.row(i);
  trainExamples.push(
    new InputExample({ texts: [example["sentence1"] as string, example["sentence2"] as string], label: Number(example["similarity_score"]) / 5.0 }),
  );
}
const trainDataloader = new DataLoader(trainExamples, { shuffle: true, batchSize: Number(args["batch-size"]) });

// --- The evaluator: Spearman and Pearson correlation of the embeddings' cosine similarity with the gold scores.
const evaluator = new evaluation.EmbeddingSimilarityEvaluator(
  datasetTest.column("sentence1") as string[],
  datasetTest.column("sentence2") as string[],
  (datasetTest.column("similarity_score") as number[]).map((x) => x / 5.0),
  { mainSimilarity: evaluation.SimilarityFunction.COSINE, showProgressBar: true, writeCsv: true },
);

// --- The loss.
const trainLoss = new losses.CosineSimilarityLoss(model);

// --- Fit: warmup over 10% of the training steps, evaluation every 500 steps, the best model kept.
const numEpochs = Number(args.epochs);
const evaluationSteps = Number(args["evaluation-steps"]);
const warmupSteps = Math.floor(trainDataloader.length * numEpochs * 0.1);

const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
await model.fit({
  trainObjectives: [[trainDataloader, trainLoss]],
  evaluator,
  evaluationSteps,
  epochs: numEpochs,
  stepsPerEpoch: Number(args["steps-per-epoch"]),
  warmupSteps,
  saveBestModel: true,
  outputPath: args.output,
  ...(args["checkpoint-path"] !== undefined && { checkpointPath: args["checkpoint-path"] }),
  signal: controller.signal,
});

// --- Share it on the Hub (needs a token: HF_TOKEN or --push with a logged-in cache).
if (args.push) {
  const best = await SentenceTransformer.load(args.output!);
  const { commitUrl } = await best.pushToHub(args.push, { trainDatasets: ["stsb_multi_mt"] });
  console.log(`pushed: ${commitUrl}`);
  best.dispose();
}
model.dispose();

// --- Using it with sbert-node (or with sentence-transformers in Python: SentenceTransformer(path)).
const sentences = ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli."];
const trained = await SentenceTransformer.load(args.output!);
const embeddings = await trained.encode(sentences);
console.log("similarity:", trained.similarity(embeddings, embeddings));

// --- The same embeddings the way plain transformers code computes them: token embeddings, then a mean over
// the attention mask.
const tokens = await trained.encode(sentences, { outputValue: "token_embeddings" });
const meanPooled = tokens.map((vectors) => {
  const out = new Float32Array(vectors[0]!.length);
  for (const v of vectors) v.forEach((x, d) => (out[d] += x / vectors.length));
  return out;
});
console.log("Sentence embeddings:", meanPooled.map((e) => Array.from(e.subarray(0, 5), (x) => x.toFixed(4))));
trained.dispose();
