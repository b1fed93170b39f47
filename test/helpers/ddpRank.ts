// One rank (or the only process) of a SentenceTransformerTrainer run for the distributed tests, started with
// `node --import tsx test/helpers/ddpRank.ts SPEC_JSON` and torchrun's variables in its environment. The spec names
// the model folder, the JSONL pairs (s1, s2, score), the training arguments and, optionally, a checkpoint to resume
// from; rank 0 saves the trained model to spec.save and prints the trainer's output as JSON.
import { readFileSync } from "node:fs";

import { Dataset, SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses, type SentenceTransformerTrainingArgumentsInit } from "../../lib/index.js";

const spec = JSON.parse(process.argv[2]!) as { model: string; data: string; args: SentenceTransformerTrainingArgumentsInit; resume?: string; save: string };
const rows = readFileSync(spec.data, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { s1: string; s2: string; score: number });
const model = await SentenceTransformer.load(spec.model);
const trainer = new SentenceTransformerTrainer({
  model,
  args: new SentenceTransformerTrainingArguments({ disableTqdm: true, ...spec.args }),
  trainDataset: Dataset.fromColumns({ s1: rows.map((r) => r.s1), s2: rows.map((r) => r.s2), score: rows.map((r) => r.score) }),
  loss: new losses.CosineSimilarityLoss(model),
});
const out = await trainer.train(spec.resume !== undefined ? { resumeFromCheckpoint: spec.resume } : {});
if (trainer.isWorldProcessZero) {
  await model.save(spec.save);
  console.log(JSON.stringify(out));
}
model.dispose();
