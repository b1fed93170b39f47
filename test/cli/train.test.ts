import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, evaluation, models } from "../../lib/index.js";
import { seededRandom } from "../../lib/internal/random.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { assertBuilt, runCli, startCli, within } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

// Seven topics from the fixture vocabulary; the two sides of a pair draw from different halves of their
// topic's words, so an untrained model (which sees mostly shared words) cannot tell the topics apart.
const TOPICS: [string[], string[]][] = [
  [["gatto", "gatti", "cane", "cani"], ["cat", "cats", "dog", "dogs"]],
  [["sole", "pioggia", "neve", "freddo"], ["sun", "rain", "snow", "cold"]],
  [["roma", "milano", "napoli", "torino"], ["firenze", "venezia", "paris", "london"]],
  [["pane", "vino", "pasta", "pizza"], ["caffè", "food", "water", "mangiare"]],
  [["padre", "madre", "figlio", "figlia"], ["fratello", "sorella", "family", "amico"]],
  [["libro", "libri", "leggere", "scrivere"], ["book", "books", "read", "reading"]],
  [["mare", "fiume", "montagna", "albero"], ["sea", "river", "mountain", "tree"]],
];
const FILLERS = ["il", "la", "un", "una", "di", "che", "e", "con", "per", "the", "of", "and"];

function sentence(random: () => number, words: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < 3; i++) out.push(words[Math.floor(random() * words.length)]!);
  out.splice(Math.floor(random() * out.length), 0, FILLERS[Math.floor(random() * FILLERS.length)]!);
  return out.join(" ");
}

/** Scored pairs on a 0–5 scale: 5 for the same topic, 0 otherwise (half of each). */
function pairs(n: number, seed: number): { s1: string; s2: string; score: number }[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(random() * TOPICS.length);
    const same = random() < 0.5;
    const b = same ? a : (a + 1 + Math.floor(random() * (TOPICS.length - 1))) % TOPICS.length;
    return { s1: sentence(random, TOPICS[a]![0]), s2: sentence(random, TOPICS[b]![1]), score: same ? 5 : 0 };
  });
}

let root: string;
let baseDir: string;
const dev = pairs(80, 2);
let devEvaluator: evaluation.EmbeddingSimilarityEvaluator;
let baseScore: number;

beforeAll(async () => {
  assertBuilt();
  root = await tempDir("sbert-cli-train-");
  baseDir = join(root, "base");
  await makeSentenceTransformerFolder(baseDir, { pooling: { modes: ["mean"] }, maxSeqLength: 64 });
  await writeFile(join(root, "train.jsonl"), pairs(160, 1).map((p) => JSON.stringify(p)).join("\n"));
  await writeFile(join(root, "dev.csv"), `s1,s2,score\n${dev.map((p) => `${p.s1},${p.s2},${p.score}`).join("\n")}\n`);
  const random = seededRandom(3);
  const anchors = Array.from({ length: 64 }, (_, i) => `${sentence(random, TOPICS[i % 7]![0])},${sentence(random, TOPICS[i % 7]![1])}`);
  await writeFile(join(root, "anchors.csv"), `anchor,positive\n${anchors.join("\n")}\n`);
  devEvaluator = new evaluation.EmbeddingSimilarityEvaluator(
    dev.map((p) => p.s1),
    dev.map((p) => p.s2),
    dev.map((p) => p.score / 5),
    { name: "dev" },
  );
  const base = await SentenceTransformer.load(baseDir);
  baseScore = (await devEvaluator.evaluate(base))["dev_spearman_cosine"]!;
  base.dispose();
});

const jsonConfig = (over: Record<string, unknown> = {}) => ({
  model: "base",
  train: { path: "train.jsonl", columns: { texts: ["s1", "s2"], label: "score" }, labelScale: 0.2 },
  loss: { name: "CosineSimilarityLoss" },
  evaluator: {
    type: "EmbeddingSimilarityEvaluator",
    dataset: { path: "dev.csv" },
    columns: { sentences1: "s1", sentences2: "s2", score: "score" },
    scoreScale: 0.2,
    name: "dev",
  },
  fit: { epochs: 6, batchSize: 16, lr: 3e-3, warmupRatio: 0.1, outputPath: "out-json", seed: 7 },
  ...over,
});

describe("sbert-node train", () => {
  let trained: SentenceTransformer | undefined;
  afterAll(() => trained?.dispose());

  test("a JSON config trains (paths relative to the config), saves the best model, which loads and scores as reported", async () => {
    const config = join(root, "train.json");
    await writeFile(config, JSON.stringify(jsonConfig(), null, 2));
    const r = await runCli(["train", config, "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/train: .*160 examples, CosineSimilarityLoss; 6 epoch\(s\) × 10 steps of 16, warmup 6; evaluator EmbeddingSimilarityEvaluator on 80 rows/);
    // At each epoch's end (fit's trainer: the epoch and the global step).
    expect(r.stderr.match(/^eval: epoch \d, step \d+: dev_pearson_cosine=/gm)).toHaveLength(6);
    const summary = JSON.parse(r.out.trim().split("\n").pop()!) as Record<string, unknown>;
    expect(summary["globalStep"]).toBe(60);
    expect(summary["outputPath"]).toBe(join(root, "out-json"));
    expect(summary["primaryMetric"]).toBe("dev_spearman_cosine");
    const best = summary["bestScore"] as number;
    // It learned the topics: far above the untrained model on held-out pairs.
    expect(Math.abs(baseScore)).toBeLessThan(0.4);
    expect(best).toBeGreaterThan(baseScore + 0.3);

    trained = await SentenceTransformer.load(join(root, "out-json"));
    const again = await devEvaluator.evaluate(trained);
    expect(again["dev_spearman_cosine"]).toBeCloseTo(best, 5);
    expect(existsSync(join(root, "out-json", "eval", "similarity_evaluation_dev_results.csv"))).toBe(true);
  });

  test("evaluate with flags: the metrics JSON equals the library's evaluator on the trained model", async () => {
    expect(trained).toBeDefined();
    const r = await runCli(
      ["evaluate", join(root, "out-json"), "--dataset", join(root, "dev.csv"), "--sentences1-column", "s1", "--sentences2-column", "s2", "--score-column", "score", "--score-scale", "0.2", "--name", "dev"],
      { timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.out) as { evaluator: string; rows: number; primaryMetric: string; metrics: Record<string, number> };
    expect(out.evaluator).toBe("EmbeddingSimilarityEvaluator");
    expect(out.rows).toBe(80);
    expect(out.primaryMetric).toBe("dev_spearman_cosine");
    const expected = await devEvaluator.evaluate(trained!);
    expect(Object.keys(out.metrics).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expect(out.metrics[k], k).toBeCloseTo(v, 6);
  });

  test("evaluate with a YAML config (BinaryClassificationEvaluator, relative paths, labelMap)", async () => {
    await writeFile(join(root, "dup.csv"), `a,b,same\n${dev.map((p) => `${p.s1},${p.s2},${p.score === 5 ? "yes" : "no"}`).join("\n")}\n`);
    const yaml = [
      "type: BinaryClassificationEvaluator",
      "path: dup.csv",
      "columns:",
      "  sentences1: a",
      "  sentences2: b",
      "  label: same",
      "labelMap: {yes: 1, no: 0}",
      "similarityFnNames: [cosine, dot]",
    ].join("\n");
    await writeFile(join(root, "eval.yaml"), yaml);
    const r = await runCli(["evaluate", join(root, "out-json"), join(root, "eval.yaml")], { cwd: "/" });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.out) as { primaryMetric: string; metrics: Record<string, number> };
    const lib = new evaluation.BinaryClassificationEvaluator(
      dev.map((p) => p.s1),
      dev.map((p) => p.s2),
      dev.map((p) => (p.score === 5 ? 1 : 0)),
      { similarityFnNames: ["cosine", "dot"] },
    );
    const expected = await lib.evaluate(trained!);
    expect(out.primaryMetric).toBe("max_ap");
    for (const [k, v] of Object.entries(expected)) expect(out.metrics[k], k).toBeCloseTo(v, 6);
    expect(out.metrics["cosine_accuracy"]).toBeGreaterThan(0.7);
  });

  test("a YAML config: MultipleNegativesRankingLoss on CSV pairs, no-duplicates batches, cls pooling, maxSeqLength, checkpoints", async () => {
    const yaml = `
# model options at the top level
model: ./base
pooling: cls
maxSeqLength: 32
train:
  path: anchors.csv
loss:
  name: MultipleNegativesRankingLoss
  scale: 20
fit:
  epochs: 2
  batchSize: 8
  batchSampler: no_duplicates
  lr: 0.001
  warmupSteps: 2
  outputPath: out-yaml
  checkpointPath: ckpt-yaml
  checkpointSaveSteps: 4
  seed: 3
`;
    await writeFile(join(root, "mnrl.yaml"), yaml);
    const r = await runCli(["train", join(root, "mnrl.yaml"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.out.trim()) as Record<string, unknown>;
    expect(summary["globalStep"]).toBe(16);
    expect(summary["bestScore"]).toBeNull();
    // The trainer's output folder: its checkpoints and its log.
    expect((await readdir(join(root, "ckpt-yaml"))).sort()).toEqual(["checkpoint-12", "checkpoint-16", "checkpoint-4", "checkpoint-8", "trainer_log.jsonl"]);

    const model = await SentenceTransformer.load(join(root, "out-yaml"));
    try {
      expect(model.maxSeqLength).toBe(32);
      const pooling = model.modules[1] as models.Pooling;
      expect(pooling.poolingModes).toEqual(["cls"]);
      // Trained: the weights moved away from the base model's.
      const base = await SentenceTransformer.load(baseDir);
      const [a] = await model.encode(["il gatto e il cane"]);
      base.maxSeqLength = 32;
      const baseCls = new SentenceTransformer({ modules: [base.modules[0]!, new models.Pooling(32, { poolingMode: "cls" })] });
      const [b] = await baseCls.encode(["il gatto e il cane"]);
      let diff = 0;
      for (let i = 0; i < a!.length; i++) diff = Math.max(diff, Math.abs(a![i]! - b![i]!));
      expect(diff).toBeGreaterThan(1e-3);
      baseCls.dispose();
    } finally {
      model.dispose();
    }
  });

  test("a DistillKLDivLoss config on (query, positive, negative) rows with a list of teacher scores per row trains", async () => {
    const random = seededRandom(5);
    const rows = Array.from({ length: 16 }, (_, i) => {
      const t = TOPICS[i % 7]!;
      const other = TOPICS[(i + 3) % 7]!;
      return { query: sentence(random, t[0]), positive: sentence(random, t[1]), negative: sentence(random, other[1]), scores: [8 + random(), random()] };
    });
    await writeFile(join(root, "distill.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
    const config = {
      model: "base",
      train: { path: "distill.jsonl", columns: { texts: ["query", "positive", "negative"], label: "scores" } },
      loss: { name: "DistillKLDivLoss", temperature: 2 },
      fit: { epochs: 1, batchSize: 8, lr: 1e-3, warmupSteps: 0, outputPath: "out-distill", seed: 1 },
    };
    await writeFile(join(root, "distill.json"), JSON.stringify(config));
    const r = await runCli(["train", join(root, "distill.json"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.out.trim()) as Record<string, unknown>;
    expect(summary["globalStep"]).toBe(2);
    expect(existsSync(join(root, "out-distill", "modules.json"))).toBe(true);

    // A row whose scores do not fit the columns is refused, naming the loss and the shapes.
    await writeFile(join(root, "distill-bad.jsonl"), rows.map((r, i) => JSON.stringify(i === 5 ? { ...r, scores: [1] } : r)).join("\n"));
    await writeFile(join(root, "distill-bad.json"), JSON.stringify({ ...config, train: { ...config.train, path: "distill-bad.jsonl" }, fit: { ...config.fit, outputPath: "out-distill-bad" } }));
    const bad = await runCli(["train", join(root, "distill-bad.json"), "--quiet"], { timeoutMs: 240_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/DistillKLDivLoss needs the teacher's scores of the candidates .* got a list of 1 values/);
  });

  test("a GISTEmbedLoss config: the guide model loads from its folder (relative to the config) and guides training", async () => {
    const config = {
      model: "base",
      train: { path: "anchors.csv", columns: { texts: ["anchor", "positive"] } },
      loss: { name: "GISTEmbedLoss", guide: "base", temperature: 0.05, marginStrategy: "relative", margin: 0.05 },
      fit: { epochs: 1, batchSize: 16, lr: 1e-3, batchSampler: "no_duplicates", outputPath: "out-gist", seed: 1 },
    };
    await writeFile(join(root, "gist.json"), JSON.stringify(config));
    const r = await runCli(["train", join(root, "gist.json"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.out.trim()) as Record<string, unknown>;
    expect(summary["globalStep"]).toBe(4);
    expect(existsSync(join(root, "out-gist", "modules.json"))).toBe(true);
  });

  test("a Matryoshka2dLoss config over MultipleNegativesRankingLoss (every layer) trains", async () => {
    const config = {
      model: "base",
      train: { path: "anchors.csv", columns: { texts: ["anchor", "positive"] } },
      loss: { name: "Matryoshka2dLoss", loss: { name: "MultipleNegativesRankingLoss" }, matryoshkaDims: [16, 8], nLayersPerStep: -1, layerWeighting: "log" },
      fit: { epochs: 1, batchSize: 16, lr: 1e-3, outputPath: "out-m2d", seed: 1 },
    };
    await writeFile(join(root, "m2d.json"), JSON.stringify(config));
    const r = await runCli(["train", join(root, "m2d.json"), "--quiet"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.out.trim()) as Record<string, unknown>)["globalStep"]).toBe(4);
  });

  test.each([
    ["an AdaptiveLayerLoss with a bad layer weighting", { loss: { name: "AdaptiveLayerLoss", loss: "CoSENTLoss", layerWeighting: "square" } }, /config: loss\.layerWeighting: must be one of uniform, log, linear/],
    ["an AdaptiveLayerLoss given Matryoshka sizes", { loss: { name: "AdaptiveLayerLoss", loss: "CoSENTLoss", matryoshkaDims: [8] } }, /config: loss\.matryoshkaDims: unknown field/],
    ["a Matryoshka2dLoss without sizes", { loss: { name: "Matryoshka2dLoss", loss: "CoSENTLoss" } }, /config: loss\.matryoshkaDims: is required/],
    ["a GISTEmbedLoss without a guide", { loss: { name: "GISTEmbedLoss" } }, /config: loss\.guide: is required for GISTEmbedLoss: the guide model's folder or Hub id/],
    [
      "a guide that is not a model",
      { loss: { name: "CachedGISTEmbedLoss", guide: "train.jsonl" }, train: { path: "anchors.csv", columns: { texts: ["anchor", "positive"] } } },
      /config: loss\.guide: train\.jsonl does not load as a SentenceTransformer/,
    ],
    ["an unknown fit field, with a suggestion", { fit: { epoch: 3, outputPath: "x" } }, /config: fit\.epoch: unknown field \(did you mean 'epochs'\?\)/],
    ["an unknown loss", { loss: { name: "CosineLoss" } }, /config: loss\.name: must be one of .*CosineSimilarityLoss.*got "CosineLoss"/],
    ["a bad loss option type", { loss: { name: "CoSENTLoss", scale: "big" } }, /config: loss\.scale: must be a number, got "big"/],
    ["a bad loss option value", { loss: { name: "CoSENTLoss", scale: -1 } }, /config: loss: CoSENTLoss: scale must be a positive number, got -1/],
    ["a bad DistillKLDivLoss temperature", { loss: { name: "DistillKLDivLoss", teacherTemperature: 0 } }, /config: loss: DistillKLDivLoss: teacherTemperature must be a positive number, got 0/],
    ["a negative batch size", { fit: { batchSize: -1, outputPath: "x" } }, /config: fit\.batchSize: must be a positive integer, got -1/],
    ["both warmup fields", { fit: { warmupSteps: 1, warmupRatio: 0.1, outputPath: "x" } }, /config: fit\.warmupRatio: give warmupSteps or warmupRatio, not both/],
    ["no outputPath", { fit: { epochs: 1 } }, /config: fit\.outputPath: is required/],
    ["a missing label column", { train: { path: "train.jsonl", columns: { texts: ["s1", "s2"], label: "scor" } } }, /config: train\.columns\.label: no column 'scor'; the dataset's columns are: s1, s2, score/],
    ["a loss that needs a label, without one", { train: { path: "train.jsonl", columns: { texts: ["s1", "s2"] } } }, /config: train\.columns\.label: CosineSimilarityLoss needs a label column/],
    ["a missing data file", { train: { path: "nope.jsonl" } }, /config: train\.path: .*nope\.jsonl/],
    ["a bad evaluator type", { evaluator: { type: "SimilarityEvaluator", path: "dev.csv" } }, /config: evaluator\.type: must be one of EmbeddingSimilarityEvaluator/],
    ["a bad pooling mode", { pooling: "avg" }, /config: pooling: must be one of cls, max, mean/],
  ])("a config with %s exits 2 naming the field", async (_what, over, message) => {
    const config = join(root, `bad-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(config, JSON.stringify(jsonConfig(over as Record<string, unknown>)));
    const r = await runCli(["train", config, "--dry-run"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test("--dry-run checks everything and trains nothing; invalid YAML and a missing config file are reported", async () => {
    const config = join(root, "dry.json");
    await writeFile(config, JSON.stringify(jsonConfig({ fit: { outputPath: "never-written", epochs: 2, batchSize: 16 } })));
    const r = await runCli(["train", config, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, examples: 160, loss: "CosineSimilarityLoss", stepsPerEpoch: 10, epochs: 2, warmupSteps: 2 });
    expect(existsSync(join(root, "never-written"))).toBe(false);

    await writeFile(join(root, "broken.yaml"), "model: [unclosed\n");
    const y = await runCli(["train", join(root, "broken.yaml")]);
    expect(y.code).toBe(2);
    expect(y.stderr).toMatch(/broken\.yaml is not valid YAML/);

    const m = await runCli(["train", join(root, "missing.yaml")]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/cannot read config .*missing\.yaml/);
  });

  test("SIGINT stops training after the current step, writes a checkpoint and exits 130", async () => {
    const config = join(root, "long.json");
    await writeFile(
      config,
      JSON.stringify(jsonConfig({ evaluator: undefined, fit: { epochs: 500, batchSize: 4, lr: 1e-3, outputPath: "out-long", checkpointPath: "ckpt-long", checkpointSaveSteps: 0 } })),
    );
    const p = startCli(["train", config, "--quiet"]);
    await p.waitForStderr(/train: starting/, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    p.kill("SIGINT");
    const { code } = await within(p.exited, 30_000, "stopping after SIGINT");
    expect(code, p.stderr()).toBe(130);
    expect(p.stderr()).toMatch(/SIGINT: stopping after the current step and writing a checkpoint/);
    const cps = (await readdir(join(root, "ckpt-long"))).filter((d) => d.startsWith("checkpoint-"));
    expect(cps).toHaveLength(1);
    expect(p.stderr()).toContain(`checkpoint at ${join(root, "ckpt-long", cps[0]!)}`);
    const state = JSON.parse(await readFile(join(root, "ckpt-long", cps[0]!, "trainer_state.json"), "utf8")) as { global_step: number };
    expect(cps[0]).toBe(`checkpoint-${state.global_step}`);
    expect(state.global_step).toBeLessThan(500 * 40);
    // Not finished, so the final model was not written.
    expect(existsSync(join(root, "out-long"))).toBe(false);
  });
});
