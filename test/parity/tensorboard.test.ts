// TensorBoard event files written by the trainer (args.reportTo "tensorboard"), read back by tensorboard's own
// event loader (py/tensorboard_read.py, which checks every record's CRC): the file version record, each logged
// number under transformers' rewritten tag (train/…, eval/…) at its global step, and the arguments as a text
// summary under the "text" plugin, as transformers' TensorBoardCallback and torch's SummaryWriter write them.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, test } from "vitest";

import { Dataset, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses } from "../../lib/index.js";
import { crc32c, defaultLogDir, tensorBoardTag } from "../../lib/internal/tensorboard.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";
import { topicModel, topicPairs } from "../helpers/topics.js";

const READ = fileURLToPath(new URL("py/tensorboard_read.py", import.meta.url));

interface Read {
  file_version: string | null;
  scalars: Record<string, [number, number][]>;
  texts: Record<string, [number, string][]>;
  plugins: Record<string, string>;
}

describe("TensorBoard event files", () => {
  test("CRC-32C of the standard check value", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(tensorBoardTag("eval_loss")).toBe("eval/loss");
    expect(tensorBoardTag("test_acc")).toBe("test/acc");
    expect(tensorBoardTag("grad_norm")).toBe("train/grad_norm");
    expect(defaultLogDir("out", new Date(2026, 11, 7, 3, 4, 5))).toMatch(/^out[/\\]runs[/\\]Dec07_03-04-05_/);
  });

  test("the trainer's logs, read back by tensorboard's loader, equal its log history", async () => {
    const model = await topicModel({ seed: 5, dropout: 0 });
    const pairs = topicPairs(24, 1);
    const held = topicPairs(8, 2);
    const outputDir = await tempDir("sbert-tb-");
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir, maxSteps: 4, perDeviceTrainBatchSize: 8, loggingSteps: 1, evalStrategy: "steps", evalSteps: 2, saveStrategy: "no", reportTo: "tensorboard", disableTqdm: true },
      trainDataset: Dataset.fromColumns({ sentence1: pairs.s1, sentence2: pairs.s2, score: pairs.scores }),
      evalDataset: Dataset.fromColumns({ sentence1: held.s1, sentence2: held.s2, score: held.scores }),
      loss: new losses.CosineSimilarityLoss(model),
    });
    await trainer.train();
    const runs = await readdir(join(outputDir, "runs"));
    expect(runs).toHaveLength(1);
    const got = await runPython<Read>(READ, { dir: join(outputDir, "runs", runs[0]!) });
    expect(got.file_version).toBe("brain.Event:2");

    const expected: Record<string, [number, number][]> = {};
    for (const entry of trainer.state.log_history) {
      for (const [k, v] of Object.entries(entry)) {
        if (k === "step" || typeof v !== "number") continue;
        (expected[tensorBoardTag(k)] ??= []).push([entry["step"] as number, v]);
      }
    }
    expect(Object.keys(got.scalars).sort()).toEqual(Object.keys(expected).sort());
    for (const tag of ["train/loss", "train/learning_rate", "eval/loss", "train/epoch"]) expect(got.scalars[tag], tag).toBeDefined();
    for (const [tag, points] of Object.entries(expected)) {
      const read = got.scalars[tag]!;
      expect(read.map((p) => p[0]), tag).toEqual(points.map((p) => p[0]));
      // simple_value is a float32
      read.forEach(([, v], i) => expect(v, tag).toBe(Math.fround(points[i]![1])));
    }
    expect(got.texts["args/text_summary"]?.[0]?.[0]).toBe(0);
    expect(JSON.parse(got.texts["args/text_summary"]![0]![1])).toEqual(trainer.args.toDict());
    expect(got.plugins["args/text_summary"]).toBe("text");
    model.dispose();
  }, 120_000);

  test("reportTo refuses an integration it does not have, naming the ones it has", () => {
    expect(() => new SentenceTransformerTrainingArguments({ reportTo: "wandb" })).toThrow(/"wandb".*none, all, jsonl, tensorboard/);
    expect(new SentenceTransformerTrainingArguments({ reportTo: "all" }).reportTo).toEqual(["jsonl", "tensorboard"]);
  });
});
