// LabelAccuracyEvaluator against sentence-transformers' own (py/label_accuracy_ref.py): a tiny BERT is trained for a
// few steps with SoftmaxLoss by SentenceTransformerTrainer, with the evaluator as the trainer's evaluator (its
// accuracy logged as eval_<name>_accuracy at each evaluation); the model is saved, and Python's LabelAccuracyEvaluator
// runs on the saved folder with a SoftmaxLoss holding our trained classifier. Accuracy, primary metric, CSV name and
// CSV text must be equal, for the default features (u, v, |u − v|) and for (|u − v|, u * v). Every decision of
// Python's classifier is more than MIN_MARGIN from a tie (checked), so float differences between the two stacks
// cannot flip one.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, test } from "vitest";

import { seededRandom } from "../../lib/internal/random.js";
import { OPTIMIZER_FILE } from "../../lib/internal/training.js";
import { DataLoader, Dataset, InputExample, SentenceTransformer, SentenceTransformerTrainer, evaluation, losses } from "../../lib/index.js";
import { runPython } from "../helpers/python.js";
import { tempDir } from "../helpers/tmp.js";
import { WORDS, makeDropoutFreeTinyBert, safetensorsWeights, sentences } from "../helpers/trainerParity.js";

const SCRIPT = fileURLToPath(new URL("py/label_accuracy_ref.py", import.meta.url));
const MIN_MARGIN = 1e-4;
const CALLS = [
  { epoch: -1, steps: -1 },
  { epoch: 2, steps: 10 },
];

let root: string;
let folder: string;
beforeAll(async () => {
  root = await tempDir("sbert-labelacc-parity-");
  folder = join(root, "bert");
  await makeDropoutFreeTinyBert(folder, { seed: 23 });
});

/** Pairs of three kinds the classifier can learn to tell apart: 0 the same sentence, 1 one word changed, 2 unrelated. */
function pairs(n: number, seed: number): { a: string[]; b: string[]; label: number[] } {
  const rand = seededRandom(seed + 5);
  const a = sentences(n, seed);
  const other = sentences(n, seed + 1000);
  const label = Array.from({ length: n }, () => Math.floor(rand() * 3));
  const b = a.map((s, i) => {
    if (label[i] === 0) return s;
    if (label[i] === 2) return other[i]!;
    const words = s.split(" ");
    words[Math.floor(rand() * words.length)] = WORDS[Math.floor(rand() * WORDS.length)]!;
    return words.join(" ");
  });
  return { a, b, label };
}

const TRAIN = pairs(48, 1);
const DEV = pairs(30, 2);
const devExamples = () => DEV.a.map((a, i) => new InputExample({ texts: [a, DEV.b[i]!], label: DEV.label[i]! }));

interface PyResult {
  metrics: Record<string, number>[];
  primary_metric: string;
  csv_file: string;
  csv: string;
  predictions: number[];
  margins: number[];
}

const observed: string[] = [];

describe.each([
  { name: "dev", ts: {}, py: {}, loader: false, vectors: 3 },
  {
    name: "",
    ts: { concatenationSentRep: false, concatenationSentMultiplication: true },
    py: { concatenation_sent_rep: false, concatenation_sent_multiplication: true },
    loader: true,
    vectors: 2,
  },
])("SoftmaxLoss features $ts", ({ name, ts, py, loader, vectors }) => {
  test("trained with the evaluator as the trainer's evaluator, then evaluated as sentence-transformers does on the saved model", async () => {
    const model = await SentenceTransformer.load(folder);
    const loss = new losses.SoftmaxLoss(model, { numLabels: 3, seed: 7, ...ts });
    const dev = loader ? new DataLoader(devExamples(), { batchSize: 7 }) : devExamples();
    const evaluator = new evaluation.LabelAccuracyEvaluator(dev, { softmaxModel: loss, ...(name && { name }) });
    expect(evaluator.primaryMetric).toBe("accuracy");
    expect(evaluator.csvFile).toBe(name ? `accuracy_evaluation_${name}_results.csv` : "accuracy_evaluation_results.csv");
    const outputDir = join(root, `out-${name || "noname"}`);
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir, maxSteps: 12, perDeviceTrainBatchSize: 8, learningRate: 5e-3, evalStrategy: "steps", evalSteps: 6, saveStrategy: "no", disableTqdm: true, seed: 3 },
      trainDataset: Dataset.fromColumns(TRAIN),
      loss,
      evaluator,
    });
    await trainer.train();

    // Each evaluation during training logged the evaluator's accuracy and appended a CSV row under outputDir/eval.
    const key = name ? `eval_${name}_accuracy` : "eval_accuracy";
    const logged = trainer.state.log_history.filter((h) => key in h);
    expect(logged.map((h) => h["step"])).toEqual([6, 12]);
    const duringCsv = (await readFile(join(outputDir, "eval", evaluator.csvFile), "utf8")).split("\r\n");
    expect(duringCsv[0]).toBe("epoch,steps,accuracy");
    expect(duringCsv.slice(1, 3).map((l) => l.split(",").slice(1).map(Number))).toEqual(logged.map((h) => [h["step"], h[key]]));
    expect(evaluator.primaryMetric).toBe(name ? `${name}_accuracy` : "accuracy");

    // The classifier the loss holds is the trained one: the last evaluation (at the final step) scores as now.
    const classifier = loss.classifier!;
    expect(classifier.outFeatures).toBe(3);
    expect(classifier.inFeatures).toBe(vectors * 32);
    const ourDir = join(root, `ours-${name || "noname"}`);
    const ours: Record<string, number>[] = [];
    for (const c of CALLS) ours.push(await evaluator.evaluate(model, { outputPath: ourDir, ...c }));
    expect(ours[0]![name ? `${name}_accuracy` : "accuracy"]).toBe(logged[1]![key]);

    const saved = join(root, `trained-${name || "noname"}`);
    await model.save(saved);
    const weight = Array.from({ length: classifier.outFeatures }, (_, k) => Array.from(classifier.weight.subarray(k * classifier.inFeatures, (k + 1) * classifier.inFeatures)));
    const pyDir = join(root, `python-${name || "noname"}`);
    const ref = await runPython<PyResult>(SCRIPT, {
      folder: saved,
      examples: DEV.a.map((a, i) => ({ texts: [a, DEV.b[i]], label: DEV.label[i] })),
      loss: { num_labels: 3, ...py },
      weight,
      bias: Array.from(classifier.bias),
      batch_size: 7,
      name,
      output_path: pyDir,
      calls: CALLS,
    });

    const minMargin = Math.min(...ref.margins);
    const accuracy = ref.metrics[0]![name ? `${name}_accuracy` : "accuracy"]!;
    observed.push(`${name || "(no name)"} ${JSON.stringify(ts)}: accuracy ${accuracy} (Python's predictions ${ref.predictions.join("")}), smallest top-2 logit margin ${minMargin.toExponential(2)}`);
    expect(minMargin).toBeGreaterThan(MIN_MARGIN);
    // Neither all right nor all wrong, with every class predicted somewhere: the comparison sees the classifier work.
    expect(accuracy).toBeGreaterThan(0);
    expect(accuracy).toBeLessThan(1);
    expect(new Set(ref.predictions).size).toBeGreaterThan(1);

    expect(ours).toEqual(ref.metrics);
    expect(evaluator.primaryMetric).toBe(ref.primary_metric);
    expect(evaluator.csvFile).toBe(ref.csv_file);
    expect(await readFile(join(ourDir, evaluator.csvFile), "utf8")).toBe(ref.csv);
    model.dispose();
  });
});

test("a run resumed from a checkpoint hands the loss the checkpoint's classifier before its first step", async () => {
  const outputDir = join(root, "out-resume");
  const args = { outputDir, maxSteps: 4, perDeviceTrainBatchSize: 8, learningRate: 5e-3, saveStrategy: "steps" as const, saveSteps: 2, disableTqdm: true, seed: 3 };
  const first = await SentenceTransformer.load(folder);
  const firstLoss = new losses.SoftmaxLoss(first, { numLabels: 3, seed: 7 });
  await new SentenceTransformerTrainer({ model: first, args, trainDataset: Dataset.fromColumns(TRAIN), loss: firstLoss }).train();
  first.dispose();
  const atStep2 = (await safetensorsWeights(join(outputDir, "checkpoint-2", OPTIMIZER_FILE))).get("head0.weight");
  expect(atStep2?.length).toBe(3 * 3 * 32);
  expect(atStep2).not.toEqual(firstLoss.classifier!.weight);

  const model = await SentenceTransformer.load(folder);
  const loss = new losses.SoftmaxLoss(model, { numLabels: 3, seed: 11 });
  let atBegin: Float32Array | undefined;
  const trainer = new SentenceTransformerTrainer({
    model,
    args,
    trainDataset: Dataset.fromColumns(TRAIN),
    loss,
    callbacks: [{ onTrainBegin: () => void (atBegin = loss.classifier?.weight.slice()) }],
  });
  await trainer.train({ resumeFromCheckpoint: join(outputDir, "checkpoint-2") });
  expect(atBegin).toEqual(atStep2);
  expect(loss.classifier!.weight).toEqual(firstLoss.classifier!.weight);
  model.dispose();
});

describe("errors", () => {
  test("before any training the SoftmaxLoss has no classifier: evaluate says so", async () => {
    const model = await SentenceTransformer.load(folder);
    const loss = new losses.SoftmaxLoss(model, { numLabels: 3 });
    expect(loss.classifier).toBeUndefined();
    const evaluator = new evaluation.LabelAccuracyEvaluator(devExamples(), { softmaxModel: loss });
    await expect(evaluator.evaluate(model)).rejects.toThrow(/LabelAccuracyEvaluator: the SoftmaxLoss has no classifier yet: it is created by a trainer/);

    // A trainer holding the loss creates it (its seeded initial weights), so evaluating before training works, as in Python.
    const trainer = new SentenceTransformerTrainer({
      model,
      args: { outputDir: join(root, "out-before"), saveStrategy: "no", disableTqdm: true },
      trainDataset: Dataset.fromColumns(TRAIN),
      loss,
      evaluator,
    });
    const metrics = await trainer.evaluate();
    expect(metrics["eval_accuracy"]).toBeGreaterThanOrEqual(0);
    expect(loss.classifier?.weight.length).toBe(3 * 3 * 32);
    model.dispose();
  });

  test("bad input names the argument", async () => {
    const model = await SentenceTransformer.load(folder);
    const loss = new losses.SoftmaxLoss(model, { numLabels: 3 });
    const make = (examples: InputExample[] | DataLoader, options: object = { softmaxModel: loss }) =>
      () => new evaluation.LabelAccuracyEvaluator(examples, options as evaluation.LabelAccuracyEvaluatorOptions);
    const ex = (texts: string[], label: number | number[]) => new InputExample({ texts, label });
    expect(make([])).toThrow(/LabelAccuracyEvaluator: there are no examples to evaluate/);
    expect(make(new DataLoader([]))).toThrow(/there are no examples to evaluate/);
    expect(make([ex(["a", "b"], 0), ex(["a", "b"], 3)])).toThrow(/examples\[1\]\.label must be a class of the SoftmaxLoss \(an integer in 0\.\.2\), got 3/);
    expect(make([ex(["a", "b"], 0.5)])).toThrow(/examples\[0\]\.label must be a class .* got 0\.5/);
    expect(make([ex(["a", "b"], [1, 2])])).toThrow(/examples\[0\]\.label must be a class .* got a list of 2 values/);
    expect(make([ex(["a", "b", "c"], 1)])).toThrow(/examples\[0\] has 3 texts; SoftmaxLoss classifies pairs/);
    expect(make([{ texts: ["a", "b"], label: 0 } as unknown as InputExample])).toThrow(/examples\[0\] is not an InputExample/);
    expect(make([ex(["a", "b"], 0)], {})).toThrow(/softmaxModel must be a SoftmaxLoss/);
    expect(make([ex(["a", "b"], 0)], { softmaxModel: new losses.CoSENTLoss(model) })).toThrow(/softmaxModel must be a SoftmaxLoss/);
    expect(make("nope" as never)).toThrow(/dataloader must be a DataLoader or an array of InputExamples/);
    expect(make([ex(["a", "b"], 0)], { softmaxModel: loss, batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    model.dispose();
  });
});

test("observed", () => {
  console.log(observed.join("\n"));
  expect(observed.length).toBe(2);
});
