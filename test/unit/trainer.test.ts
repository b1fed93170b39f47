// SentenceTransformerTrainer's pure-TS parts: the torch-compatible generator, the batch samplers' guarantees and
// counts, and SentenceTransformerTrainingArguments' defaults and checks. Orders equal to Python's are checked
// against sentence-transformers itself in test/parity/trainer.test.ts.
import { describe, expect, it } from "vitest";

import { Dataset } from "../../lib/datasets/Dataset.js";
import { TorchGenerator } from "../../lib/internal/torchRandom.js";
import {
  BatchSchedule,
  GroupByLabelBatchSampler,
  NoDuplicatesBatchSampler,
  ProportionalBatchSampler,
  RandomBatchSampler,
  RoundRobinBatchSampler,
} from "../../lib/sampler.js";
import { SentenceTransformerTrainingArguments } from "../../lib/SentenceTransformerTrainingArguments.js";

describe("TorchGenerator", () => {
  it("is MT19937: std::mt19937's published outputs for the default seed 5489", () => {
    const g = new TorchGenerator(5489);
    expect(g.random()).toBe(3499211612);
    for (let i = 1; i < 9999; i++) g.random();
    // The C++ standard's check: the 10000th output of a default-constructed mt19937.
    expect(g.random()).toBe(4123659995);
  });

  it("seeds with the low 32 bits and restarts the stream on manualSeed", () => {
    const a = new TorchGenerator(7);
    const first = [a.random(), a.random()];
    a.manualSeed(7);
    expect([a.random(), a.random()]).toEqual(first);
    expect(new TorchGenerator(2 ** 32 + 7).random()).toBe(first[0]);
  });

  it("randperm is a permutation, fixed by the seed", () => {
    for (const n of [0, 1, 2, 17, 1000]) {
      const p = new TorchGenerator(3).randperm(n);
      expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(new TorchGenerator(3).randperm(n)).toEqual(p);
    }
    expect(new TorchGenerator(3).randperm(50)).not.toEqual(new TorchGenerator(4).randperm(50));
  });
});

const gen = () => new TorchGenerator(0);

describe("batch samplers", () => {
  it("BATCH_SAMPLER: every row once per epoch, the last batch short unless dropped; reseeded per epoch", () => {
    const s = new RandomBatchSampler(13, { batchSize: 4, dropLast: false, generator: gen(), seed: 42, reseed: true });
    expect(s.length).toBe(4);
    const e0 = [...s];
    expect(e0.map((b) => b.length)).toEqual([4, 4, 4, 1]);
    expect(e0.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, i) => i));
    expect([...s]).toEqual(e0);
    s.epoch = 1;
    expect([...s]).not.toEqual(e0);
    const dropped = new RandomBatchSampler(13, { batchSize: 4, dropLast: true, generator: gen(), seed: 42, reseed: true });
    expect(dropped.length).toBe(3);
    expect([...dropped]).toEqual(e0.slice(0, 3));
  });

  it("NO_DUPLICATES: no value twice in a batch, across columns; labels do not count", () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({ anchor: `q${i % 7}`, positive: `p${i % 5}`, label: i % 2 }));
    const s = new NoDuplicatesBatchSampler(new Dataset(rows), { batchSize: 4, dropLast: false, generator: gen(), seed: 0 });
    const batches = [...s];
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      const values = b.flatMap((i) => [rows[i]!.anchor, rows[i]!.positive]);
      expect(new Set(values).size).toBe(values.length);
    }
    // Every row is placed exactly once (short batches included, as dropLast is false).
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // A text equal to another column's value conflicts too.
    const cross = new Dataset([{ a: "x", b: "y" }, { a: "y", b: "z" }, { a: "w", b: "v" }]);
    for (const b of new NoDuplicatesBatchSampler(cross, { batchSize: 2, dropLast: false, generator: gen(), seed: 0 })) {
      expect(b.includes(0) && b.includes(1)).toBe(false);
    }
  });

  it("GROUP_BY_LABEL: at least 2 labels per batch, each at least twice; refuses odd batch sizes and single-label data", () => {
    const labels = Array.from({ length: 30 }, (_, i) => i % 4);
    const s = new GroupByLabelBatchSampler(labels, { batchSize: 6, dropLast: false, generator: gen(), seed: 0 });
    const batches = [...s];
    expect(batches.length).toBe(s.length);
    for (const b of batches) {
      const counts = new Map<number, number>();
      for (const i of b) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
      expect(counts.size).toBeGreaterThanOrEqual(2);
      for (const c of counts.values()) expect(c).toBeGreaterThanOrEqual(2);
    }
    expect(() => new GroupByLabelBatchSampler(labels, { batchSize: 5, dropLast: false, generator: gen(), seed: 0 })).toThrow(/even number >= 4/);
    expect(() => new GroupByLabelBatchSampler([1, 1, 1, 2], { batchSize: 4, dropLast: false, generator: gen(), seed: 0 })).toThrow(/at least 2 distinct labels/);
  });

  it("ROUND_ROBIN stops with the first dataset to run out; PROPORTIONAL uses every batch of every dataset", () => {
    const sub = (n: number, g: TorchGenerator) => ({ sampler: new RandomBatchSampler(n, { batchSize: 2, dropLast: false, generator: g, seed: 0 }), numRows: n });
    const g1 = gen();
    const rr = new RoundRobinBatchSampler([sub(7, g1), sub(12, g1), sub(5, g1)], g1, 42);
    const rrBatches = [...rr];
    expect(rr.length).toBe(9);
    // 3 batches of each in turn, then the third dataset (3 batches) runs out on its 4th turn.
    expect(rrBatches.length).toBe(3 * 3 + 2);
    expect(rrBatches.map((b) => (b[0]! < 7 ? 0 : b[0]! < 19 ? 1 : 2))).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]);
    const g2 = gen();
    const prop = new ProportionalBatchSampler([sub(7, g2), sub(12, g2), sub(5, g2)], g2, 42);
    const propBatches = [...prop];
    expect(prop.length).toBe(4 + 6 + 3);
    expect(propBatches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it("BatchSchedule: the same epoch gives the same batches, with dataset indices and rows in that dataset", () => {
    const a = new Dataset(Array.from({ length: 7 }, (_, i) => ({ t: `a${i}` })));
    const b = new Dataset(Array.from({ length: 12 }, (_, i) => ({ t: `b${i}` })));
    const s = new BatchSchedule([a, b], { batchSampler: "batch_sampler", multiDatasetBatchSampler: "proportional", batchSize: 3, dropLast: false, seed: 5 });
    expect(s.length).toBe(3 + 4);
    const e0 = s.epoch(0);
    expect(s.epoch(0)).toEqual(e0);
    expect(e0.filter((x) => x.dataset === 0).flatMap((x) => x.rows).sort((x, y) => x - y)).toEqual(Array.from({ length: 7 }, (_, i) => i));
    expect(e0.filter((x) => x.dataset === 1).flatMap((x) => x.rows).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(s.epoch(1)).not.toEqual(e0);
  });
});

describe("SentenceTransformerTrainingArguments", () => {
  it("has transformers' and sentence-transformers' defaults", () => {
    const a = new SentenceTransformerTrainingArguments();
    expect(a).toMatchObject({
      outputDir: "trainer_output",
      numTrainEpochs: 3,
      maxSteps: -1,
      perDeviceTrainBatchSize: 8,
      perDeviceEvalBatchSize: 8,
      gradientAccumulationSteps: 1,
      learningRate: 5e-5,
      weightDecay: 0,
      adamBeta1: 0.9,
      adamBeta2: 0.999,
      adamEpsilon: 1e-8,
      maxGradNorm: 1,
      warmupSteps: 0,
      lrSchedulerType: "linear",
      evalStrategy: "no",
      saveStrategy: "steps",
      saveSteps: 500,
      loggingStrategy: "steps",
      loggingSteps: 500,
      loadBestModelAtEnd: false,
      seed: 42,
      batchSampler: "batch_sampler",
      multiDatasetBatchSampler: "proportional",
      reportTo: [],
    });
    expect(a.evalSteps).toBeUndefined();
    expect(a.saveTotalLimit).toBeUndefined();
    expect(a.scheduler).toBe("warmuplinear");
    expect(a.toDict()).toMatchObject({ output_dir: "trainer_output", per_device_train_batch_size: 8, learning_rate: 5e-5, save_total_limit: null });
    expect(Object.isFrozen(a)).toBe(true);
  });

  it("resolves what depends on other options, as TrainingArguments.__post_init__", () => {
    expect(new SentenceTransformerTrainingArguments({ evalStrategy: "steps", loggingSteps: 7 }).evalSteps).toBe(7);
    const best = new SentenceTransformerTrainingArguments({ loadBestModelAtEnd: true, evalStrategy: "steps", evalSteps: 5, saveSteps: 10 });
    expect(best.metricForBestModel).toBe("loss");
    expect(best.greaterIsBetter).toBe(false);
    expect(new SentenceTransformerTrainingArguments({ metricForBestModel: "eval_spearman_cosine" }).greaterIsBetter).toBe(true);
    // warmupRatio fills warmupSteps when that is 0; a fraction is rounded up.
    const w = new SentenceTransformerTrainingArguments({ warmupRatio: 0.1 });
    expect(w.warmupSteps).toBe(0.1);
    expect(w.warmupStepsFor(25)).toBe(3);
    expect(new SentenceTransformerTrainingArguments({ warmupSteps: 4, warmupRatio: 0.5 }).warmupStepsFor(100)).toBe(4);
    expect(new SentenceTransformerTrainingArguments({ lrSchedulerType: "cosine_with_restarts" }).scheduler).toBe("warmupcosinewithhardrestarts");
    expect(new SentenceTransformerTrainingArguments({ reportTo: "all" }).reportTo).toEqual(["jsonl", "tensorboard"]);
  });

  it("refuses bad options, naming the argument", () => {
    const cases: [object, RegExp, ErrorConstructor][] = [
      [{ learning_rate: 1e-3 }, /unknown argument 'learning_rate' \(sbert-node spells it 'learningRate'\)/, TypeError],
      [{ fooBar: 1 }, /unknown argument 'fooBar'/, TypeError],
      [{ learningRate: -1 }, /learningRate must be a finite number >= 0, got -1/, RangeError],
      [{ perDeviceTrainBatchSize: 0 }, /perDeviceTrainBatchSize must be a positive integer, got 0/, RangeError],
      [{ gradientAccumulationSteps: 1.5 }, /gradientAccumulationSteps must be a positive integer/, RangeError],
      [{ maxSteps: 0 }, /maxSteps must be a positive integer, got 0/, RangeError],
      [{ numTrainEpochs: 0 }, /numTrainEpochs must be a number > 0/, RangeError],
      [{ adamBeta1: 1 }, /adamBeta1 must be in \[0, 1\)/, RangeError],
      [{ warmupSteps: 2.5 }, /warmupSteps must be an integer number of steps or a fraction/, RangeError],
      [{ lrSchedulerType: "warmup_stable_decay" }, /lrSchedulerType "warmup_stable_decay" is a transformers scheduler sbert-node does not run/, RangeError],
      [{ lrSchedulerType: "linearr" }, /lrSchedulerType must be one of "linear", "cosine"/, RangeError],
      [{ evalStrategy: "sometimes" }, /evalStrategy must be one of "no", "steps", "epoch"/, RangeError],
      [{ saveSteps: 2.5 }, /saveSteps must be an integer >= 1 or a fraction in \(0, 1\)/, RangeError],
      [{ batchSampler: "NO_DUPLICATES" }, /batchSampler must be one of "batch_sampler", "no_duplicates", "group_by_label"/, RangeError],
      [{ reportTo: "wandb" }, /reportTo "wandb" is not an integration sbert-node has/, RangeError],
      [{ bf16: true, fp16: true }, /at most one of bf16 and fp16/, RangeError],
      [{ saveStrategy: "best" }, /saveStrategy "best" needs metricForBestModel/, RangeError],
      [{ loadBestModelAtEnd: true, evalStrategy: "epoch" }, /evalStrategy and saveStrategy to match/, RangeError],
      [{ loadBestModelAtEnd: true, evalStrategy: "steps", evalSteps: 3, saveSteps: 10 }, /saveSteps to be a multiple of evalSteps/, RangeError],
      [{ prompts: { a: "x", b: { c: "y" } } }, /prompts\.b must be a string, as the other entries/, TypeError],
      [{ bf16: "yes" }, /bf16 must be a boolean/, TypeError],
    ];
    for (const [init, message, type] of cases) {
      expect(() => new SentenceTransformerTrainingArguments(init as never), JSON.stringify(init)).toThrow(type);
      expect(() => new SentenceTransformerTrainingArguments(init as never), JSON.stringify(init)).toThrow(message);
    }
  });
});
