/**
 * The Italian fine-tuning of examples/finetune-italian.ts on the trainer API, as current sentence-transformers
 * scripts are written: `dbmdz/bert-base-italian-uncased` + mean pooling, the Italian STS benchmark
 * (`stsb_multi_mt`, config `it`) as datasets whose columns go to CosineSimilarityLoss by position, and
 * SentenceTransformerTrainer with evaluation, checkpoints and the best model loaded at the end.
 *
 *   npx tsx examples/trainer-italian.ts                         # model and data from the Hugging Face Hub
 *   npx tsx examples/trainer-italian.ts --model DIR --data DIR  # offline: a model folder, and a folder with train.* / test.*
 *                                                               #   (csv, jsonl or parquet with sentence1, sentence2, similarity_score)
 *   options: --epochs 4 --max-steps N --eval-steps 500 --batch-size 16 --output DIR --resume --device cpu
 *
 * examples/train-ddp.sh runs it in several processes (distributed data parallel): each is told its rank by
 * torchrun's environment variables, which the trainer reads; rank 0 evaluates, logs and saves.
 */
import { parseArgs } from "node:util";

import {
  SentenceTransformer,
  SentenceTransformerTrainer,
  SentenceTransformerTrainingArguments,
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
    epochs: { type: "string", default: "4" },
    "max-steps": { type: "string", default: "-1" },
    "eval-steps": { type: "string", default: "500" },
    "batch-size": { type: "string", default: "16" },
    output: { type: "string", default: "bert-base-italian-sts" },
    resume: { type: "boolean", default: false },
    device: { type: "string", default: "cpu" },
  },
});

// --- The model: a pretrained Italian BERT plus mean pooling.
const transformer = await models.Transformer.load(args.model!, { device: args.device });
const model = new SentenceTransformer({ modules: [transformer, new models.Pooling(transformer.getWordEmbeddingDimension())] });

// --- The data: (sentence1, sentence2, score) columns, scores scaled from 0..5 to 0..1. The two text columns go to
// the loss in this order; the label is read from the column named "score".
async function split(name: "train" | "test"): Promise<Dataset> {
  const raw = args.data ? await loadDataset(args.data, { split: name }) : await loadDataset("stsb_multi_mt", { name: "it", split: name });
  return raw.map((r) => ({ sentence1: r["sentence1"] as string, sentence2: r["sentence2"] as string, score: Number(r["similarity_score"]) / 5 }));
}
const trainDataset = await split("train");
const evalDataset = await split("test");
console.log(String(trainDataset), String(evalDataset));

const evaluator = new evaluation.EmbeddingSimilarityEvaluator(
  evalDataset.column("sentence1") as string[],
  evalDataset.column("sentence2") as string[],
  evalDataset.column("score") as number[],
  { name: "sts-test" },
);

const trainingArgs = new SentenceTransformerTrainingArguments({
  outputDir: args.output,
  numTrainEpochs: Number(args.epochs),
  maxSteps: Number(args["max-steps"]),
  perDeviceTrainBatchSize: Number(args["batch-size"]),
  perDeviceEvalBatchSize: Number(args["batch-size"]),
  learningRate: 2e-5,
  warmupSteps: 0.1,
  evalStrategy: "steps",
  evalSteps: Number(args["eval-steps"]),
  saveStrategy: "steps",
  saveSteps: Number(args["eval-steps"]),
  saveTotalLimit: 2,
  loadBestModelAtEnd: true,
  metricForBestModel: "eval_sts-test_spearman_cosine",
  loggingSteps: 50,
});

const trainer = new SentenceTransformerTrainer({
  model,
  args: trainingArgs,
  trainDataset,
  evalDataset,
  loss: new losses.CosineSimilarityLoss(model),
  evaluator,
  callbacks: [
    {
      onLog: ({ logs, state }) => {
        if ("loss" in logs && state.is_world_process_zero) console.log(`step ${state.global_step}: loss ${logs["loss"]!.toFixed(4)}`);
      },
    },
  ],
});
const result = await trainer.train({ resumeFromCheckpoint: args.resume });
// Every rank of a distributed run ends with the same weights: rank 0 alone reports and saves.
if (!trainer.isWorldProcessZero) {
  model.dispose();
  process.exit(0);
}
console.log(`trained ${result.globalStep} steps, training loss ${result.trainingLoss.toFixed(4)}; best checkpoint ${trainer.state.best_model_checkpoint}`);

// --- The best model (loaded at the end) saved beside the checkpoints, then used.
const finalDir = `${args.output}/final`;
await model.save(finalDir);
console.log("test:", await evaluator.evaluate(model));
const sentences = ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli."];
const embeddings = await model.encode(sentences);
console.log("similarity:", model.similarity(embeddings, embeddings));
model.dispose();
