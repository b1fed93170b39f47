// SentenceTransformerTrainer through the public API on a small model over the topic task (test/helpers/topics.ts):
// columns by position and labels by name, step counts, evaluation and save strategies, checkpoints in transformers'
// layout, rotation that keeps the best, loading the best model, resuming to the same weights, NO_DUPLICATES,
// several datasets, the JSONL log. Parity with sentence-transformers' own trainer is test/parity/trainer.test.ts.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { beforeAll, describe, expect, test } from "vitest";

import {
  Dataset,
  SbertError,
  SentenceTransformer,
  SentenceTransformerTrainer,
  SentenceTransformerTrainingArguments,
  evaluation,
  losses,
  type SentenceTransformerTrainingArgumentsInit,
  type TrainerCallback,
} from "../../lib/index.js";
import { maxAbsDiffAll, tempDir } from "../helpers/tmp.js";
import { topicModel, topicPairs } from "../helpers/topics.js";

let root: string;
beforeAll(async () => {
  root = await tempDir("sbert-trainer-");
});

const pairs = topicPairs(40, 1);
const held = topicPairs(16, 2);
const sts = Dataset.fromColumns({ sentence1: pairs.s1, sentence2: pairs.s2, score: pairs.scores });
const evalSts = Dataset.fromColumns({ sentence1: held.s1, sentence2: held.s2, score: held.scores });
let run = 0;
const out = () => join(root, `run-${run++}`);

function weights(model: SentenceTransformer): Float32Array[] {
  return model.modules[0]!.native.stateDict().map((t) => t.data);
}

async function trained(init: SentenceTransformerTrainingArgumentsInit, data: Dataset = sts, makeLoss: (m: SentenceTransformer) => losses.Loss = (m) => new losses.CosineSimilarityLoss(m)) {
  const model = await topicModel({ seed: 3, dropout: 0 });
  const trainer = new SentenceTransformerTrainer({ model, args: { outputDir: out(), learningRate: 2e-3, saveStrategy: "no", disableTqdm: true, ...init }, trainDataset: data, loss: makeLoss(model) });
  const result = await trainer.train();
  return { model, trainer, result };
}

describe("datasets and losses", () => {
  test("input columns go to the loss by position, the label by its name, wherever it stands", async () => {
    const a = await trained({ maxSteps: 3 });
    const scoreFirst = Dataset.fromColumns({ score: pairs.scores, sentence1: pairs.s1, sentence2: pairs.s2 });
    const b = await trained({ maxSteps: 3 }, scoreFirst);
    const labelNamed = Dataset.fromColumns({ a: pairs.s1, label: pairs.scores, b: pairs.s2 });
    const c = await trained({ maxSteps: 3 }, labelNamed);
    expect(maxAbsDiffAll(weights(b.model), weights(a.model))).toBe(0);
    expect(maxAbsDiffAll(weights(c.model), weights(a.model))).toBe(0);
    // For MultipleNegativesRankingLoss the first column is the anchor: swapping the columns changes the training.
    const mnrl = (m: SentenceTransformer) => new losses.MultipleNegativesRankingLoss(m);
    const ap = await trained({ maxSteps: 3 }, Dataset.fromColumns({ anchor: pairs.s1, positive: pairs.s2 }), mnrl);
    const pa = await trained({ maxSteps: 3 }, Dataset.fromColumns({ positive: pairs.s2, anchor: pairs.s1 }), mnrl);
    expect(maxAbsDiffAll(weights(ap.model), weights(pa.model))).toBeGreaterThan(1e-6);
    for (const r of [a, b, c, ap, pa]) r.model.dispose();
  });

  test("a dataset whose columns do not fit the loss is refused before training, with what it has and what the loss takes", async () => {
    const model = await topicModel({ seed: 3 });
    const make = (trainDataset: Dataset, loss: losses.Loss = new losses.CosineSimilarityLoss(model)) => () =>
      new SentenceTransformerTrainer({ model, args: { outputDir: out() }, trainDataset, loss });
    const three = Dataset.fromColumns({ a: pairs.s1, b: pairs.s2, c: pairs.s1, score: pairs.scores });
    expect(make(three)).toThrow(SbertError);
    expect(make(three)).toThrow(/has 3 input column\(s\) \(a, b, c\) and the label column 'score', but CosineSimilarityLoss takes 2\. Columns are matched to the loss by position/);
    expect(make(Dataset.fromColumns({ a: pairs.s1, b: pairs.s2 }))).toThrow(/CosineSimilarityLoss needs labels, but none of its columns \(a, b\) is named label, labels, score, scores/);
    expect(make(Dataset.fromColumns({ a: pairs.s1, b: pairs.s2, score: pairs.scores.map((s) => s * 2) }))).toThrow(/row \d+, column 'score'.*\[-1, 1\]/);
    expect(make(Dataset.fromColumns({ a: pairs.s1, b: pairs.s1.map((_, i) => i), score: pairs.scores }))).toThrow(/row 0, column 'b': expected text, got number/);
    expect(make(Dataset.fromColumns({ a: pairs.s1, dataset_name: pairs.s2, score: pairs.scores }))).toThrow(/dataset_name, names sentence-transformers reserves/);
    // A loss per dataset needs a dict of datasets that it covers.
    expect(() => new SentenceTransformerTrainer({ model, args: { outputDir: out() }, trainDataset: sts, loss: { sts: new losses.CoSENTLoss(model) } })).toThrow(/must be an object of datasets by name/);
    expect(() => new SentenceTransformerTrainer({ model, args: { outputDir: out() }, trainDataset: { sts, other: sts }, loss: { sts: new losses.CoSENTLoss(model) } })).toThrow(/'other' that the loss object has no loss for/);
    expect(() => new SentenceTransformerTrainer({ model, args: { outputDir: out(), evalStrategy: "steps" }, trainDataset: sts })).toThrow(/no evalDataset or evaluator/);
    model.dispose();
  });
});

describe("steps", () => {
  // 40 rows in batches of 8: 5 batches per epoch.
  test("epochs and gradient accumulation: 2 batches per step, the epoch's last step takes the one left", async () => {
    const { model, trainer, result } = await trained({ numTrainEpochs: 2, perDeviceTrainBatchSize: 8, gradientAccumulationSteps: 2, loggingSteps: 1 });
    expect(result.globalStep).toBe(6);
    const steps = trainer.state.log_history.filter((l) => "loss" in l);
    expect(steps.map((l) => l["step"])).toEqual([1, 2, 3, 4, 5, 6]);
    // transformers' epoch: epoch + batches done / batches per epoch.
    expect(steps.map((l) => l["epoch"])).toEqual([0.4, 0.8, 1, 1.4, 1.8, 2]);
    expect(trainer.state.max_steps).toBe(6);
    expect(trainer.state.log_history.at(-1)).toMatchObject({ step: 6, epoch: 2, total_flos: 0 });
    expect(result.metrics["train_loss"]).toBeCloseTo(steps.reduce((a, l) => a + l["loss"]!, 0) / 6, 12);
    model.dispose();
  });

  test("maxSteps overrides epochs; a fraction of an epoch is rounded up to whole steps", async () => {
    const a = await trained({ maxSteps: 4, numTrainEpochs: 10, perDeviceTrainBatchSize: 8 });
    expect(a.result.globalStep).toBe(4);
    const b = await trained({ numTrainEpochs: 1.5, perDeviceTrainBatchSize: 8, gradientAccumulationSteps: 2 });
    expect(b.result.globalStep).toBe(5);
    for (const r of [a, b]) r.model.dispose();
  });

  test("one accumulated step of two batches equals one step on both batches' mean loss (CosineSimilarityLoss, equal batches)", async () => {
    // The same 8 rows twice: accumulating 2 batches of 8 scaled by 1/2 is the gradient of one batch of 8.
    const eight = sts.select([0, 1, 2, 3, 4, 5, 6, 7]);
    const twice = eight.concat(eight);
    const accumulated = await trained({ maxSteps: 1, perDeviceTrainBatchSize: 8, gradientAccumulationSteps: 2, batchSampler: "batch_sampler" }, twice);
    const single = await trained({ maxSteps: 1, perDeviceTrainBatchSize: 8 }, eight);
    // Each batch holds 8 rows of `twice`; both together are all 16 = eight twice, whatever the order.
    const firstTwo = accumulated.trainer.trainBatches(0).slice(0, 2);
    expect(firstTwo.flatMap((b) => b.rows).map((r) => r % 8).sort((x, y) => x - y)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    // Summation order differs between the two (1.2e-6 measured on libtorch 1.13); a missing 1/count scale gives 3.4e-4.
    expect(maxAbsDiffAll(weights(accumulated.model), weights(single.model))).toBeLessThan(1e-5);
    for (const r of [accumulated, single]) r.model.dispose();
  });
});

/** An evaluator whose primary metric follows a script, so the best evaluation is known. */
function scripted(scores: number[]) {
  let i = 0;
  return {
    primaryMetric: "score",
    greaterIsBetter: true,
    async evaluate() {
      return { score: scores[i++]! };
    },
  };
}

const STATE_FIELDS = [
  "best_global_step",
  "best_metric",
  "best_model_checkpoint",
  "epoch",
  "eval_steps",
  "global_step",
  "is_hyper_param_search",
  "is_local_process_zero",
  "is_world_process_zero",
  "log_history",
  "logging_steps",
  "max_steps",
  "num_input_tokens_seen",
  "num_train_epochs",
  "save_steps",
  "stateful_callbacks",
  "total_flos",
  "train_batch_size",
  "trial_name",
  "trial_params",
];

describe("evaluation, checkpoints and the best model", () => {
  test("evalStrategy/saveStrategy steps: checkpoint-N folders holding the model, optimizer, scheduler, RNG and trainer_state.json", async () => {
    const model = await topicModel({ seed: 3, dropout: 0 });
    const outputDir = out();
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir, maxSteps: 6, perDeviceTrainBatchSize: 8, evalStrategy: "steps", evalSteps: 2, saveSteps: 2, loggingSteps: 2, learningRate: 2e-3 },
      trainDataset: sts,
      evalDataset: evalSts,
      loss: new losses.CosineSimilarityLoss(model),
      evaluator: new evaluation.EmbeddingSimilarityEvaluator(held.s1, held.s2, held.scores, { name: "held" }),
    });
    await trainer.train();
    expect((await readdir(outputDir)).sort()).toEqual(["checkpoint-2", "checkpoint-4", "checkpoint-6", "eval", "trainer_log.jsonl"]);
    const dir = join(outputDir, "checkpoint-4");
    const files = await readdir(dir);
    for (const f of ["modules.json", "config.json", "model.safetensors", "optimizer.safetensors", "rng_state.bin", "scheduler.json", "trainer_state.json", "training_args.json"]) {
      expect(files).toContain(f);
    }
    const state = JSON.parse(await readFile(join(dir, "trainer_state.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(state).sort()).toEqual(STATE_FIELDS);
    expect(state).toMatchObject({ global_step: 4, max_steps: 6, eval_steps: 2, save_steps: 2, logging_steps: 2, train_batch_size: 8, best_global_step: null });
    const history = state["log_history"] as Record<string, number>[];
    expect(history.map((h) => h["step"])).toEqual([2, 2, 4, 4]);
    expect(Object.keys(history[0]!).sort()).toEqual(["epoch", "grad_norm", "learning_rate", "loss", "step"]);
    expect(Object.keys(history[1]!)).toEqual(
      expect.arrayContaining(["eval_loss", "eval_held_spearman_cosine", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch", "step"]),
    );
    expect(JSON.parse(await readFile(join(dir, "training_args.json"), "utf8"))).toMatchObject({ output_dir: outputDir, max_steps: 6, eval_strategy: "steps" });
    // Each checkpoint is a model that loads and encodes as the trained one did at that step (the last: now).
    const last = await SentenceTransformer.load(join(outputDir, "checkpoint-6"));
    expect(maxAbsDiffAll(await last.encode(held.s1.slice(0, 4)), await model.encode(held.s1.slice(0, 4)))).toBeLessThan(1e-6);
    // The JSONL log holds every log_history entry, in order.
    const lines = (await readFile(join(outputDir, "trainer_log.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual(trainer.state.log_history);
    // trainer.evaluate() outside training: the loss and the evaluator's metrics, prefixed.
    const metrics = await trainer.evaluate();
    expect(metrics["eval_loss"]).toBeGreaterThan(0);
    expect(metrics["eval_held_spearman_cosine"]).toBe((await trainer.evaluator!.evaluate(model))["held_spearman_cosine"]);
    last.dispose();
    model.dispose();
  });

  test("epoch strategies: an evaluation and a checkpoint at the end of each epoch", async () => {
    const model = await topicModel({ seed: 3, dropout: 0 });
    const outputDir = out();
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir, numTrainEpochs: 2, perDeviceTrainBatchSize: 8, evalStrategy: "epoch", saveStrategy: "epoch" },
      trainDataset: sts,
      evalDataset: evalSts,
      loss: new losses.CosineSimilarityLoss(model),
    });
    await trainer.train();
    expect((await readdir(outputDir)).filter((d) => d.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-10", "checkpoint-5"]);
    expect(trainer.state.log_history.filter((h) => "eval_loss" in h).map((h) => [h["step"], h["epoch"]])).toEqual([
      [5, 1],
      [10, 2],
    ]);
    model.dispose();
  });

  test("saveTotalLimit drops the oldest checkpoints but keeps the best; loadBestModelAtEnd loads the best one's weights", async () => {
    const model = await topicModel({ seed: 3, dropout: 0 });
    const outputDir = out();
    const trainer = new SentenceTransformerTrainer({
      model,
      args: {
        outputDir,
        maxSteps: 8,
        perDeviceTrainBatchSize: 8,
        learningRate: 2e-3,
        evalStrategy: "steps",
        evalSteps: 2,
        saveSteps: 2,
        saveTotalLimit: 2,
        loadBestModelAtEnd: true,
        metricForBestModel: "score",
      },
      trainDataset: sts,
      loss: new losses.CosineSimilarityLoss(model),
      // The best evaluation is the second (step 4).
      evaluator: scripted([0.2, 0.9, 0.5, 0.3]),
    });
    await trainer.train();
    expect((await readdir(outputDir)).filter((d) => d.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-4", "checkpoint-8"]);
    expect(trainer.state).toMatchObject({ best_metric: 0.9, best_global_step: 4, best_model_checkpoint: join(outputDir, "checkpoint-4") });
    const best = await SentenceTransformer.load(join(outputDir, "checkpoint-4"));
    const last = await SentenceTransformer.load(join(outputDir, "checkpoint-8"));
    expect(maxAbsDiffAll(weights(model), weights(best))).toBe(0);
    expect(maxAbsDiffAll(weights(model), weights(last))).toBeGreaterThan(1e-5);
    for (const m of [best, last, model]) m.dispose();
  });

  test("a dict of evaluation datasets: a loss for each, the evaluator once (with the first) under eval_", async () => {
    const model = await topicModel({ seed: 3, dropout: 0 });
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir: out(), maxSteps: 2, perDeviceTrainBatchSize: 8, evalStrategy: "steps", evalSteps: 2, saveStrategy: "no", disableTqdm: true },
      trainDataset: sts,
      evalDataset: { first: evalSts, second: evalSts.select([0, 1, 2, 3]) },
      loss: new losses.CosineSimilarityLoss(model),
      evaluator: scripted([0.5, 0.6, 0.7]),
    });
    await trainer.train();
    const logged = trainer.state.log_history.filter((h) => Object.keys(h).some((k) => k.startsWith("eval_")));
    expect(logged.map((h) => Object.keys(h).filter((k) => k.endsWith("loss") || k.endsWith("score")).sort())).toEqual([["eval_first_loss", "eval_score"], ["eval_second_loss"]]);
    // Outside training, the evaluator runs for each, under that dataset's prefix.
    const metrics = await trainer.evaluate();
    expect(Object.keys(metrics).filter((k) => k.endsWith("loss") || k.endsWith("score")).sort()).toEqual(["eval_first_loss", "eval_first_score", "eval_second_loss", "eval_second_score"]);
    model.dispose();
  });

  test('saveStrategy "best" saves only when the metric improves', async () => {
    const model = await topicModel({ seed: 3, dropout: 0 });
    const outputDir = out();
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir, maxSteps: 8, perDeviceTrainBatchSize: 8, evalStrategy: "steps", evalSteps: 2, saveStrategy: "best", metricForBestModel: "score" },
      trainDataset: sts,
      loss: new losses.CosineSimilarityLoss(model),
      evaluator: scripted([0.2, 0.9, 0.5, 0.95]),
    });
    await trainer.train();
    expect((await readdir(outputDir)).filter((d) => d.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-2", "checkpoint-4", "checkpoint-8"]);
    model.dispose();
  });
});

describe("resuming", () => {
  test("a run stopped at a checkpoint and resumed in a new trainer ends with exactly the weights of an uninterrupted run", async () => {
    const args = (outputDir: string): SentenceTransformerTrainingArgumentsInit => ({
      outputDir,
      numTrainEpochs: 3,
      perDeviceTrainBatchSize: 8,
      gradientAccumulationSteps: 2,
      learningRate: 2e-3,
      warmupSteps: 0.2,
      saveSteps: 4,
      loggingSteps: 1,
      seed: 11,
    });
    for (const dropout of [0, 0.1]) {
      const full = await topicModel({ seed: 5, dropout });
      const fullTrainer = new SentenceTransformerTrainer({ model: full, args: args(out()), trainDataset: sts, loss: new losses.CosineSimilarityLoss(full) });
      await fullTrainer.train();

      const dir = out();
      const first = await topicModel({ seed: 5, dropout });
      // Stops after step 4 (in the second epoch: 3 steps per epoch), once its checkpoint is written.
      const stop: TrainerCallback = {
        onStepEnd: ({ state, control }) => {
          if (state.global_step === 4) control.shouldTrainingStop = true;
        },
      };
      const stopped = new SentenceTransformerTrainer({ model: first, args: args(dir), trainDataset: sts, loss: new losses.CosineSimilarityLoss(first), callbacks: [stop] });
      expect((await stopped.train()).globalStep).toBe(4);
      expect((await readdir(dir)).filter((d) => d.startsWith("checkpoint-"))).toEqual(["checkpoint-4"]);

      // Other initial weights: only the checkpoint can make it match.
      const second = await topicModel({ seed: 99, dropout });
      const resumed = new SentenceTransformerTrainer({ model: second, args: args(dir), trainDataset: sts, loss: new losses.CosineSimilarityLoss(second) });
      const result = await resumed.train({ resumeFromCheckpoint: true });
      expect(result.globalStep).toBe(9);
      const stepsLogged = (t: SentenceTransformerTrainer) => t.state.log_history.filter((h) => "loss" in h);
      expect(stepsLogged(resumed).map((h) => h["step"])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(stepsLogged(resumed)).toEqual(stepsLogged(fullTrainer));
      expect(maxAbsDiffAll(weights(second), weights(full))).toBe(0);
      for (const m of [full, first, second]) m.dispose();
    }
  });

  test("resumeFromCheckpoint: true without a checkpoint is an error naming the folder", async () => {
    const model = await topicModel({ seed: 3 });
    const outputDir = out();
    const trainer = new SentenceTransformerTrainer({ model, args: { outputDir }, trainDataset: sts, loss: new losses.CosineSimilarityLoss(model) });
    await expect(trainer.train({ resumeFromCheckpoint: true })).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining(outputDir) });
    model.dispose();
  });
});

describe("batch samplers and several datasets", () => {
  test("NO_DUPLICATES: no text twice in any training batch, on data full of repeats", async () => {
    const texts = Array.from({ length: 48 }, (_, i) => pairs.s1[i % 12]!);
    const data = Dataset.fromColumns({ anchor: texts, positive: Array.from({ length: 48 }, (_, i) => pairs.s2[i % 16]!) });
    const model = await topicModel({ seed: 3 });
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir: out(), numTrainEpochs: 2, perDeviceTrainBatchSize: 6, batchSampler: "no_duplicates", saveStrategy: "no" },
      trainDataset: data,
      loss: new losses.MultipleNegativesRankingLoss(model),
    });
    for (const epoch of [0, 1]) {
      const batches = trainer.trainBatches(epoch);
      expect(batches.length).toBeGreaterThan(0);
      for (const b of batches) {
        const values = b.rows.flatMap((r) => [texts[r]!, data.row(r)["positive"] as string]);
        expect(new Set(values).size).toBe(values.length);
      }
    }
    // The plain sampler does repeat texts in this data (so the check above is not empty).
    const plain = new SentenceTransformerTrainer({ model, args: { outputDir: out(), perDeviceTrainBatchSize: 6 }, trainDataset: data, loss: new losses.MultipleNegativesRankingLoss(model) });
    expect(plain.trainBatches(0).some((b) => new Set(b.rows.map((r) => texts[r])).size < b.rows.length)).toBe(true);
    expect((await trainer.train()).globalStep).toBeGreaterThan(0);
    model.dispose();
  });

  test("a dict of datasets with a dict of losses: ROUND_ROBIN and PROPORTIONAL batch counts, each batch from one dataset", async () => {
    const model = await topicModel({ seed: 3 });
    const nli = Dataset.fromColumns({ anchor: pairs.s1.slice(0, 20), positive: pairs.s2.slice(0, 20) });
    const loss = { sts: new losses.CoSENTLoss(model), nli: new losses.MultipleNegativesRankingLoss(model) };
    const make = (multiDatasetBatchSampler: "round_robin" | "proportional") =>
      new SentenceTransformerTrainer({
        model,
        args: { outputDir: out(), numTrainEpochs: 1, perDeviceTrainBatchSize: 4, multiDatasetBatchSampler, saveStrategy: "no", loggingSteps: 1 },
        trainDataset: { sts, nli },
        loss,
      });
    // sts: 10 batches of 4, nli: 5.
    const rr = make("round_robin");
    expect(rr.trainBatches(0).map((b) => b.dataset)).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    const prop = make("proportional");
    const order = prop.trainBatches(0).map((b) => b.dataset);
    expect(order.filter((d) => d === 0)).toHaveLength(10);
    expect(order.filter((d) => d === 1)).toHaveLength(5);
    expect((await rr.train()).globalStep).toBe(10);
    expect((await prop.train()).globalStep).toBe(15);
    expect(prop.state.log_history.filter((h) => "loss" in h).every((h) => Number.isFinite(h["loss"]))).toBe(true);
    model.dispose();
  });

  test("prompts go before each column's texts: a prompt changes the training", async () => {
    const a = await trained({ maxSteps: 2 });
    const b = await trained({ maxSteps: 2, prompts: { sentence1: "il " } });
    const c = await trained({ maxSteps: 2, prompts: "il " });
    expect(maxAbsDiffAll(weights(a.model), weights(b.model))).toBeGreaterThan(1e-6);
    expect(maxAbsDiffAll(weights(b.model), weights(c.model))).toBeGreaterThan(1e-6);
    for (const r of [a, b, c]) r.model.dispose();
  });
});

describe("losses with state of their own", () => {
  test("CachedMultipleNegativesRankingLoss with gradient accumulation gives the weights of the plain loss", async () => {
    const data = Dataset.fromColumns({ anchor: pairs.s1, positive: pairs.s2 });
    const args = { maxSteps: 3, perDeviceTrainBatchSize: 8, gradientAccumulationSteps: 2, adamEpsilon: 1e-5 };
    const plain = await trained(args, data, (m) => new losses.MultipleNegativesRankingLoss(m));
    const cached = await trained(args, data, (m) => new losses.CachedMultipleNegativesRankingLoss(m, { miniBatchSize: 3 }));
    expect(maxAbsDiffAll(weights(cached.model), weights(plain.model))).toBeLessThan(1e-5);
    const moved = await topicModel({ seed: 3, dropout: 0 });
    expect(maxAbsDiffAll(weights(moved), weights(plain.model))).toBeGreaterThan(1e-4);
    for (const m of [plain.model, cached.model, moved]) m.dispose();
  });

  test("SoftmaxLoss: the trained classifier stays with the trainer, so evaluate() after training scores as the last evaluation did", async () => {
    const model = await topicModel({ seed: 3, dropout: 0 });
    const classes = (s: number[]) => s.map((x) => Math.round(x * 3) % 3);
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir: out(), maxSteps: 4, perDeviceTrainBatchSize: 8, learningRate: 5e-3, evalStrategy: "steps", evalSteps: 4, saveStrategy: "no", disableTqdm: true },
      trainDataset: Dataset.fromColumns({ a: pairs.s1, b: pairs.s2, label: classes(pairs.scores) }),
      evalDataset: Dataset.fromColumns({ a: held.s1, b: held.s2, label: classes(held.scores) }),
      loss: new losses.SoftmaxLoss(model, { numLabels: 3 }),
    });
    await trainer.train();
    const during = trainer.state.log_history.find((h) => "eval_loss" in h)!["eval_loss"];
    expect((await trainer.evaluate())["eval_loss"]).toBe(during);
    model.dispose();
  });
});

test("arguments given as an object are checked as SentenceTransformerTrainingArguments", async () => {
  const model = await topicModel({ seed: 3 });
  expect(() => new SentenceTransformerTrainer({ model, args: { learning_rate: 1 } as never, trainDataset: sts })).toThrow(/unknown argument 'learning_rate'/);
  expect(() => new SentenceTransformerTrainer({ model, args: { fp16: true }, trainDataset: sts })).toThrow(/fp16 needs a CUDA device \(the model is on cpu\)/);
  const args = new SentenceTransformerTrainingArguments({ outputDir: out() });
  expect(new SentenceTransformerTrainer({ model, args, trainDataset: sts }).args).toBe(args);
  model.dispose();
});
