/**
 * Measurements that need a fresh process, run by memory.ts and startup.ts:
 *
 *   child.ts ttfe <modelDir> <threads> <sentence>   time to first embedding, with its parts
 *   child.ts rss <modelName> <threads>              peak RSS while encoding the longest documents at batch 8
 *   child.ts long <modelDir> <threads> <tokens> <reps> <textFile>   one long document: times and peak RSS
 *   child.ts ddp <modelDir> <batch> <steps> <pairsFile>   one rank of a training run (RANK, WORLD_SIZE, ... from the
 *                                                         environment; none: one process): its steps' times
 *
 * Prints one JSON line. Heavy imports are dynamic so what happens before them is only Node and the tsx loader.
 */
import { readFileSync, writeFileSync } from "node:fs";

import type { ModelName } from "./common.js";

const entryMs = performance.now();

function memMiB(): { rss: number; hwm: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

async function ttfe(dir: string, threads: number, sentence: string): Promise<void> {
  const t0 = performance.now();
  const lib = await import("../lib/index.js");
  lib.setNumThreads(threads);
  const t1 = performance.now();
  const model = await lib.SentenceTransformer.load(dir);
  const t2 = performance.now();
  const emb = await model.encode(sentence);
  const t3 = performance.now();
  console.log(JSON.stringify({ entryMs, importMs: t1 - t0, loadMs: t2 - t1, firstEncodeMs: t3 - t2, totalMs: t3, dim: emb.length }));
  model.dispose();
}

async function rss(name: ModelName, threads: number): Promise<void> {
  const lib = await import("../lib/index.js");
  const { buildVocab, MODEL_SPECS } = await import("./models.js");
  const { makeDocuments } = await import("./corpus.js");
  const { join } = await import("node:path");
  const { MODELS_DIR } = await import("./common.js");
  lib.setNumThreads(threads);
  const docs = makeDocuments(buildVocab(), 64);
  // The eight longest: the batch with the largest activations the benchmark runs.
  const batch = [...docs].sort((a, b) => b.length - a.length).slice(0, 8);
  const baseline = memMiB();
  const model = await lib.SentenceTransformer.load(join(MODELS_DIR, MODEL_SPECS[name].name));
  const afterLoad = memMiB();
  // A one-word encode pages in libtorch's kernels and sets up its thread pools, which is not activation memory.
  await model.encode("warm");
  const afterWarm = memMiB();
  const seqLength = model.tokenize(batch).seqLength;
  await model.encode(batch, { batchSize: 8 });
  const afterEncode = memMiB();
  console.log(JSON.stringify({ baseline, afterLoad, afterWarm, afterEncode, seqLength, batch: 8 }));
  model.dispose();
}

/** One document truncated to `tokens` tokens, encoded `reps` times after a warm-up: times and peak RSS. */
async function long(dir: string, threads: number, tokens: number, reps: number, textFile: string): Promise<void> {
  const lib = await import("../lib/index.js");
  lib.setNumThreads(threads);
  const text = readFileSync(textFile, "utf8");
  const model = await lib.SentenceTransformer.load(dir);
  model.maxSeqLength = tokens;
  await model.encode("warm");
  // The peak from here on: Linux resets VmHWM to the current RSS on "5" written to clear_refs.
  writeFileSync("/proc/self/clear_refs", "5");
  const baseline = memMiB();
  const ran = model.tokenize([text]).seqLength;
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await model.encode(text);
    ms.push(performance.now() - t0);
  }
  console.log(JSON.stringify({ ms, tokens: ran, baselineMiB: baseline.rss, peakMiB: memMiB().hwm }));
  model.dispose();
}

/**
 * SentenceTransformerTrainer for `steps` steps of `batch` pairs per rank (CosineSimilarityLoss) on the pairs in
 * `pairsFile`: the time from the end of the first step (which warms up) to the end of the last, and the seconds
 * spent averaging gradients that backward did not overlap. Rank 0 prints.
 */
async function ddp(dir: string, batch: number, steps: number, pairsFile: string): Promise<void> {
  const lib = await import("../lib/index.js");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const pairs = JSON.parse(readFileSync(pairsFile, "utf8")) as { a: string; b: string; label: number }[];
  const model = await lib.SentenceTransformer.load(dir);
  let first = 0;
  let last = 0;
  const trainer = new lib.SentenceTransformerTrainer({
    model,
    args: new lib.SentenceTransformerTrainingArguments({
      outputDir: join(tmpdir(), `sbert-bench-ddp-${process.pid}`),
      maxSteps: steps,
      perDeviceTrainBatchSize: batch,
      learningRate: 2e-5,
      saveStrategy: "no",
      disableTqdm: true,
      reportTo: "none",
    }),
    trainDataset: lib.Dataset.fromColumns({ a: pairs.map((p) => p.a), b: pairs.map((p) => p.b), score: pairs.map((p) => p.label) }),
    loss: new lib.losses.CosineSimilarityLoss(model),
    callbacks: [
      {
        onStepEnd: ({ state }) => {
          if (state.global_step === 1) first = performance.now();
          last = performance.now();
        },
      },
    ],
  });
  const out = await trainer.train();
  if (trainer.isWorldProcessZero) {
    console.log(JSON.stringify({ seconds: (last - first) / 1000, steps: steps - 1, communicationSeconds: out.communicationSeconds ?? 0 }));
  }
  model.dispose();
}

const [mode, a, b, c, d, e] = process.argv.slice(2);
if (mode === "ttfe") await ttfe(a!, Number(b), c!);
else if (mode === "rss") await rss(a as ModelName, Number(b));
else if (mode === "long") await long(a!, Number(b), Number(c), Number(d), e!);
else if (mode === "ddp") await ddp(a!, Number(b), Number(c), d!);
else throw new Error(`child.ts: unknown mode ${mode}`);
