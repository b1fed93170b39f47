import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";

import { DataLoader, InputExample, SentenceTransformer, datasets, evaluation, losses } from "../../lib/index.js";
import { maxAbsDiffAll, tempDir } from "../helpers/tmp.js";
import { topicExamples, topicModel, topicPairs } from "../helpers/topics.js";

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

const train = topicPairs(192, 1);
const test_ = topicPairs(96, 2);

function weights(model: SentenceTransformer): Float32Array[] {
  return model.modules[0]!.native.stateDict().map((t) => t.data);
}

describe("fit", () => {
  test("learns a task it could not do before: Spearman from near 0 to above 0.8; CSV, best model and checkpoints", async () => {
    const model = await topicModel({ seed: 3 });
    const evaluator = new evaluation.EmbeddingSimilarityEvaluator(test_.s1, test_.s2, test_.scores, { name: "topics" });
    const before = await model.evaluate(evaluator);
    expect(Math.abs(before["topics_spearman_cosine"]!)).toBeLessThan(0.3);

    const loader = new DataLoader(topicExamples(train), { batchSize: 16, shuffle: true, seed: 7 });
    const outputPath = join(root, "best");
    const checkpointPath = join(root, "checkpoints");
    const scores: [number, number, number][] = [];
    const result = await model.fit({
      trainObjectives: [[loader, new losses.CosineSimilarityLoss(model)]],
      evaluator,
      epochs: 8,
      warmupSteps: 10,
      optimizerParams: { lr: 3e-3 },
      evaluationSteps: 6,
      outputPath,
      checkpointPath,
      checkpointSaveSteps: 24,
      checkpointSaveTotalLimit: 2,
      showProgressBar: false,
      seed: 11,
      callback: (score, epoch, steps) => {
        scores.push([score, epoch, steps]);
      },
    });
    expect(result.globalStep).toBe(8 * 12);
    expect(result.log).toHaveLength(96);
    expect(result.log[0]!.lr).toBe(0); // first warmup step
    const after = await evaluator.evaluate(model);
    expect(after["topics_spearman_cosine"]).toBeGreaterThan(0.8);
    // Two evaluations per epoch (steps 6 and 12), plus the epoch end; the callback gets the fractional epoch and
    // the global step, as sentence-transformers' fit passes the trainer's state.
    expect(scores).toHaveLength(8 * 3);
    expect(scores[0]!.slice(1)).toEqual([0.5, 6]);
    expect(scores[1]!.slice(1)).toEqual([1, 12]);
    expect(scores[2]!.slice(1)).toEqual([1, 12]);
    expect(scores.at(-1)!.slice(1)).toEqual([8, 96]);

    // The CSVs have sentence-transformers' header and one row per evaluation: the trainer's step evaluations under
    // its output folder (checkpointPath), the epoch-end ones under outputPath.
    const csvRows = async (dir: string) => (await readFile(join(dir, "eval", "similarity_evaluation_topics_results.csv"), "utf8")).trim().split("\n");
    const epochCsv = await csvRows(outputPath);
    expect(epochCsv[0]!.startsWith("epoch,steps,")).toBe(true);
    expect(epochCsv).toHaveLength(1 + 8);
    expect(await csvRows(checkpointPath)).toHaveLength(1 + 8 * 2);

    // The best model was saved and scores what the best evaluation scored.
    const best = Math.max(...scores.map((s) => s[0]));
    const reloaded = await SentenceTransformer.load(outputPath);
    expect((await evaluator.evaluate(reloaded))["topics_spearman_cosine"]).toBeCloseTo(best, 5);
    reloaded.dispose();

    // The best model's card reports the run: front matter the Hub reads, samples, loss, hyperparameters, logs.
    const card = await readFile(join(outputPath, "README.md"), "utf8");
    const front = parseYaml(card.split("---\n")[1]!) as Record<string, unknown>;
    expect(front).toMatchObject({ library_name: "sentence-transformers", pipeline_tag: "sentence-similarity" });
    expect(front["tags"]).toEqual(expect.arrayContaining(["dataset_size:192", "loss:CosineSimilarityLoss"]));
    const results = (front["model-index"] as { results: { metrics: { type: string; value: number }[] }[] }[])[0]!.results[0]!.metrics;
    expect(results.find((m) => m.type === "topics_spearman_cosine")!.value).toBeCloseTo(best, 6);
    expect(card).toContain("### Training Logs");
    // Samples are the dataset's first rows: the examples in the order the DataLoader's first pass gave them.
    expect(card).toContain(loader.epochBatches(0)[0]![0]!.texts[0]!);
    expect(card).toMatch(/`learningRate`: 0\.003/);

    // Checkpoints: the last two of 24, 48, 72, 96 are kept, each a loadable model.
    expect((await readdir(checkpointPath)).filter((d) => d.startsWith("checkpoint-")).sort()).toEqual(["checkpoint-72", "checkpoint-96"]);
    const last = await SentenceTransformer.load(join(checkpointPath, "checkpoint-96"));
    expect(maxAbsDiffAll(await last.encode(test_.s1.slice(0, 8)), await model.encode(test_.s1.slice(0, 8)))).toBeLessThan(1e-5);
    last.dispose();
    model.dispose();
  });

  test("a run stopped by an AbortSignal and resumed from its checkpoint ends with exactly the same weights", async () => {
    const run = async (dir: string, abortAt?: number, resume = false, dropout = 0) => {
      // The resumed run starts from other weights: only the checkpoint can make it match.
      const model = await topicModel({ seed: resume ? 99 : 5, dropout });
      const controller = new AbortController();
      const evaluator = new evaluation.EmbeddingSimilarityEvaluator(test_.s1.slice(0, 16), test_.s2.slice(0, 16), test_.scores.slice(0, 16));
      const options = {
        trainObjectives: [[new DataLoader(topicExamples(train).slice(0, 64), { batchSize: 8, shuffle: true, seed: 3 }), new losses.CosineSimilarityLoss(model)]] as [
          DataLoader,
          losses.Loss,
        ][],
        evaluator,
        epochs: 3,
        warmupSteps: 4,
        optimizerParams: { lr: 2e-3 },
        evaluationSteps: 5,
        checkpointPath: join(dir, "ckpt"),
        checkpointSaveSteps: 1000,
        showProgressBar: false,
        seed: 9,
        signal: controller.signal,
        resumeFromCheckpoint: resume,
        callback: (_s: number, _epoch: number, steps: number) => {
          if (abortAt !== undefined && steps >= abortAt) controller.abort();
        },
      };
      return { model, promise: model.fit(options) };
    };
    for (const dropout of [0, 0.1]) {
      const full = await run(join(root, `full-${dropout}`), undefined, false, dropout);
      await full.promise;
      // Aborted by the evaluation at step 10, in the second epoch (8 steps each).
      const stopped = await run(join(root, `resumed-${dropout}`), 10, false, dropout);
      await expect(stopped.promise).rejects.toMatchObject({ name: "AbortError" });
      // The checkpoint written on abort is a loadable model.
      const dirs = await readdir(join(root, `resumed-${dropout}`, "ckpt"));
      expect(dirs.filter((d) => d.startsWith("checkpoint-"))).toEqual(["checkpoint-10"]);
      stopped.model.dispose();
      const resumed = await run(join(root, `resumed-${dropout}`), undefined, true, dropout);
      const res = await resumed.promise;
      expect(res.globalStep).toBe(24);
      expect(res.log.map((l) => l.step)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
      // Bit for bit: the checkpoint holds everything the run depends on (weights, moments in the parameters'
      // layout, step counts, the trainer's generator, the data position).
      expect(maxAbsDiffAll(weights(resumed.model), weights(full.model))).toBe(0);
      full.model.dispose();
      resumed.model.dispose();
    }
  });

  test("runs with the same seed make the same weights, alone or two at once in one process (each trainer owns its generator)", async () => {
    const run = async (seed: number) => {
      const model = await topicModel({ seed: 4, dropout: 0.1 });
      await model.fit({
        trainObjectives: [[new DataLoader(topicExamples(train).slice(0, 48), { batchSize: 8, shuffle: true, seed: 1 }), new losses.CosineSimilarityLoss(model)]],
        epochs: 1,
        warmupSteps: 2,
        optimizerParams: { lr: 2e-3 },
        showProgressBar: false,
        seed,
      });
      return model;
    };
    const alone = await run(21);
    const [a, b] = await Promise.all([run(21), run(21)]);
    const other = await run(22);
    expect(maxAbsDiffAll(weights(a), weights(alone))).toBe(0);
    expect(maxAbsDiffAll(weights(b), weights(alone))).toBe(0);
    // Another seed draws other dropout noise.
    expect(maxAbsDiffAll(weights(other), weights(alone))).toBeGreaterThan(0);
    for (const m of [alone, a, b, other]) m.dispose();
  });

  test("eps 0 (valid in torch's AdamW) never leaves a NaN weight: a step that would is refused and nothing is changed", async () => {
    const model = await topicModel({ seed: 4 });
    const before = weights(model);
    // A column of constant zero gradient (the padding embedding row is never used), so eps 0 gives 0 / 0 there.
    await expect(
      model.fit({
        trainObjectives: [[new DataLoader(topicExamples(train).slice(0, 16), { batchSize: 8 }), new losses.CosineSimilarityLoss(model)]],
        epochs: 1,
        warmupSteps: 0,
        optimizerParams: { lr: 1e-3, eps: 0 },
        showProgressBar: false,
        seed: 1,
      }),
    ).rejects.toMatchObject({ code: "ERR_NATIVE", message: expect.stringMatching(/AdamW update is not finite .*; the step was not applied/) });
    const after = weights(model);
    expect(after.every((t) => t.every(Number.isFinite))).toBe(true);
    expect(maxAbsDiffAll(after, before)).toBe(0);
    model.dispose();
  });

  test("several objectives take turns, one step per batch (round robin), until the shortest runs out", async () => {
    const model = await topicModel({ seed: 2 });
    const pairs = topicExamples(train);
    const a = new DataLoader(pairs.slice(0, 40), { batchSize: 8 });
    const b = new datasets.NoDuplicatesDataLoader(
      pairs.slice(0, 64).map((e) => new InputExample({ texts: e.texts })),
      { batchSize: 8, seed: 1 },
    );
    const result = await model.fit({
      trainObjectives: [
        [a, new losses.CoSENTLoss(model)],
        [b, new losses.MultipleNegativesRankingLoss(model)],
      ],
      epochs: 2,
      warmupSteps: 0,
      showProgressBar: false,
    });
    // Per epoch: 5 batches of the first, and as many of the second.
    expect(result.globalStep).toBe(2 * 5 * 2);
    expect(result.log).toHaveLength(2 * 5 * 2);
    expect(result.log.every((l) => Number.isFinite(l.loss))).toBe(true);
    model.dispose();
  });

  test.each([
    ["AnglELoss", (m: SentenceTransformer) => new losses.AnglELoss(m), 2, (i: number) => (i % 5) / 4],
    ["MultipleNegativesSymmetricRankingLoss", (m: SentenceTransformer) => new losses.MultipleNegativesSymmetricRankingLoss(m), 2, () => 0],
    ["CachedMultipleNegativesRankingLoss", (m: SentenceTransformer) => new losses.CachedMultipleNegativesRankingLoss(m, { miniBatchSize: 3 }), 3, () => 0],
    ["SoftmaxLoss", (m: SentenceTransformer) => new losses.SoftmaxLoss(m, { numLabels: 3 }), 2, (i: number) => i % 3],
    ["ContrastiveLoss", (m: SentenceTransformer) => new losses.ContrastiveLoss(m), 2, (i: number) => i % 2],
    ["OnlineContrastiveLoss", (m: SentenceTransformer) => new losses.OnlineContrastiveLoss(m), 2, (i: number) => i % 2],
    ["TripletLoss", (m: SentenceTransformer) => new losses.TripletLoss(m), 3, () => 0],
    ["BatchHardTripletLoss", (m: SentenceTransformer) => new losses.BatchHardTripletLoss(m), 1, (i: number) => i % 4],
    [
      "MatryoshkaLoss(CoSENTLoss)",
      (m: SentenceTransformer) => new losses.MatryoshkaLoss(m, new losses.CoSENTLoss(m), { matryoshkaDims: [32, 16, 8] }),
      2,
      (i: number) => (i % 5) / 4,
    ],
  ] as const)("%s trains through fit and changes the weights", async (_name, make, columns, label) => {
    const model = await topicModel({ seed: 4 });
    const before = weights(model);
    const examples = train.s1.slice(0, 32).map((s, i) => new InputExample({ texts: [s, train.s2[i]!, train.s1[(i + 7) % 32]!].slice(0, columns), label: label(i) }));
    const loss = make(model);
    const result = await model.fit({ trainObjectives: [[new DataLoader(examples, { batchSize: 8 }), loss]], warmupSteps: 0, optimizerParams: { lr: 1e-3 }, showProgressBar: false });
    expect(result.globalStep).toBe(4);
    expect(result.log.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(maxAbsDiffAll(weights(model), before)).toBeGreaterThan(1e-4);
    model.dispose();
  });

  test("MSELoss distils toward target embeddings", async () => {
    const teacher = await topicModel({ seed: 8 });
    const student = await topicModel({ seed: 9 });
    const texts = train.s1.slice(0, 64);
    const targets = await teacher.encode(texts);
    const distance = async () => {
      const e = await student.encode(texts);
      return e.reduce((acc, v, i) => acc + v.reduce((a, x, d) => a + (x - targets[i]![d]!) ** 2, 0), 0) / e.length;
    };
    const before = await distance();
    await student.fit({
      trainObjectives: [[new DataLoader(texts.map((t, i) => new InputExample({ texts: [t], label: targets[i]! })), { batchSize: 16 }), new losses.MSELoss(student)]],
      epochs: 10,
      warmupSteps: 0,
      optimizerParams: { lr: 3e-3 },
      showProgressBar: false,
    });
    expect(await distance()).toBeLessThan(before * 0.5);
    teacher.dispose();
    student.dispose();
  });

  test("bad training data is refused before any step, naming the example", async () => {
    const model = await topicModel({ seed: 6 });
    const before = weights(model);
    const loss = new losses.CosineSimilarityLoss(model);
    const fitWith = (examples: InputExample[], l: losses.Loss = loss, batchSize = 4) =>
      model.fit({ trainObjectives: [[new DataLoader(examples, { batchSize }), l]], showProgressBar: false, outputPath: join(root, "never") });
    const ok = (label: number) => new InputExample({ texts: ["t0a0 il", "t0b1 la"], label });
    await expect(fitWith([ok(0.5), ok(Number.NaN)])).rejects.toThrow(/example 1.*not a finite number/);
    await expect(fitWith([ok(0.5), ok(1.5)])).rejects.toThrow(/example 1.*\[-1, 1\]/);
    await expect(fitWith([])).rejects.toThrow(/empty/);
    await expect(fitWith([new InputExample({ texts: ["a", "b", "c"], label: 1 })])).rejects.toThrow(/3 texts but CosineSimilarityLoss takes 2/);
    await expect(fitWith([ok(1)], new losses.ContrastiveLoss(model))).resolves.toBeDefined();
    await expect(fitWith([ok(0.5)], new losses.ContrastiveLoss(model))).rejects.toThrow(/0 or 1/);
    await expect(fitWith([ok(3)], new losses.SoftmaxLoss(model, { numLabels: 3 }))).rejects.toThrow(/3 labels/);
    await expect(fitWith([new InputExample({ texts: ["a"], label: [1, 2] })], new losses.MSELoss(model))).rejects.toThrow(/2 values.*32/);
    expect(() => new DataLoader([ok(1)], { batchSize: 0 })).toThrow(RangeError);
    expect(() => new evaluation.EmbeddingSimilarityEvaluator(["a", "b"], ["c"], [1, 2])).toThrow(/sentences2/);
    await expect(model.fit({ trainObjectives: [[new DataLoader([ok(1)]), loss]], scheduler: "linear", showProgressBar: false })).rejects.toThrow(/scheduler/);
    // As sentence-transformers' trainer: step evaluations need something to evaluate.
    await expect(model.fit({ trainObjectives: [[new DataLoader([ok(1)]), loss]], evaluationSteps: 5, showProgressBar: false })).rejects.toThrow(/evaluationSteps is 5 but there is no evaluator/);
    // Only the ContrastiveLoss run above stepped; nothing was written for the refused runs.
    const other = await topicModel({ seed: 6 });
    expect(maxAbsDiffAll(weights(other), before)).toBe(0);
    other.dispose();
    model.dispose();
  });

  test("AdamW options torch refuses are refused before any step, naming the option", async () => {
    const model = await topicModel({ seed: 6 });
    const before = weights(model);
    const loss = new losses.CosineSimilarityLoss(model);
    const fitWith = (o: { optimizerParams?: unknown; weightDecay?: number }) =>
      model.fit({ trainObjectives: [[new DataLoader([new InputExample({ texts: ["t0a0 il", "t0b1 la"], label: 1 })]), loss]], showProgressBar: false, ...(o as object) });
    const cases: [object, RegExp][] = [
      [{ optimizerParams: { lr: -1e-3 } }, /optimizerParams\.lr: Invalid learning rate: -0\.001/],
      [{ optimizerParams: { lr: Number.POSITIVE_INFINITY } }, /optimizerParams\.lr: Invalid learning rate: Infinity/],
      [{ optimizerParams: { eps: -1e-8 } }, /optimizerParams\.eps: Invalid epsilon value/],
      [{ optimizerParams: { eps: Number.NaN } }, /optimizerParams\.eps: Invalid epsilon value: NaN/],
      [{ optimizerParams: { betas: [1, 0.999] } }, /optimizerParams\.betas\[0\]: Invalid beta parameter at index 0: 1 /],
      [{ optimizerParams: { betas: [0.9, -0.1] } }, /optimizerParams\.betas\[1\]: Invalid beta parameter at index 1/],
      [{ optimizerParams: { betas: [0.9] } }, /optimizerParams\.betas: Invalid betas/],
      [{ optimizerParams: "fast" }, /optimizerParams: Invalid optimizer parameters/],
      [{ weightDecay: -0.01 }, /weightDecay: Invalid weight_decay value: -0\.01/],
    ];
    for (const [o, message] of cases) await expect(fitWith(o), JSON.stringify(o)).rejects.toMatchObject({ name: "SbertError", code: "ERR_INPUT", message });
    // Edges torch accepts: lr 0, betas 0, weight decay 0.
    await expect(fitWith({ optimizerParams: { lr: 0, betas: [0, 0] }, weightDecay: 0 })).resolves.toBeDefined();
    expect(maxAbsDiffAll(weights(model), before)).toBe(0);
    model.dispose();
  });
});
