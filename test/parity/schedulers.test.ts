// The trainer's learning-rate schedules against transformers' own (py/schedulers_ref.py: get_scheduler with
// lr_scheduler_kwargs, stepped as its Trainer steps it): every lrSchedulerType, with and without warmup, with
// its options, for the steps of the run and a few past its end. |ours - transformers'| <= 1e-12 relative.
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformerTrainingArguments, type LrSchedulerType } from "../../lib/index.js";
import type { LrSchedulerKwargs } from "../../lib/SentenceTransformerTrainingArguments.js";
import { native } from "../../lib/native.js";
import type { SentenceTransformer } from "../../lib/SentenceTransformer.js";
import { runPython } from "../helpers/python.js";
import { topicModel } from "../helpers/topics.js";

const REF = fileURLToPath(new URL("py/schedulers_ref.py", import.meta.url));
const COUNT = 14;
const TOTAL = 10;

interface Case {
  type: LrSchedulerType;
  kwargs: LrSchedulerKwargs;
  warmup: number;
  lr: number;
}

const SHAPES: [LrSchedulerType, LrSchedulerKwargs][] = [
  ["linear", {}],
  ["cosine", {}],
  ["cosine", { num_cycles: 1.5 }],
  ["cosine_with_restarts", {}],
  ["cosine_with_restarts", { num_cycles: 3 }],
  ["constant", {}],
  ["constant_with_warmup", {}],
  ["polynomial", {}],
  ["polynomial", { power: 2, lr_end: 1e-4 }],
  ["inverse_sqrt", {}],
  ["inverse_sqrt", { timescale: 4 }],
  ["cosine_with_min_lr", { min_lr: 2e-4 }],
  ["cosine_with_min_lr", { min_lr_rate: 0.25, num_cycles: 0.75 }],
];
const CASES: Case[] = SHAPES.flatMap(([type, kwargs]) => [3, 0].map((warmup) => ({ type, kwargs, warmup, lr: 2e-3 })));

let model: SentenceTransformer;
let reference: number[][];

beforeAll(async () => {
  model = await topicModel({ seed: 1, dropout: 0 });
  reference = (await runPython<{ lrs: number[][] }>(REF, { cases: CASES.map((c) => ({ ...c, total: TOTAL })), count: COUNT })).lrs;
}, 120_000);

afterAll(() => model?.dispose());

describe("learning-rate schedules against transformers' get_scheduler", () => {
  test.each(CASES.map((c, i) => [`${c.type} ${JSON.stringify(c.kwargs)}, warmup ${c.warmup}`, i] as const))("%s", (_name, i) => {
    const c = CASES[i]!;
    const args = new SentenceTransformerTrainingArguments({ lrSchedulerType: c.type, lrSchedulerKwargs: c.kwargs, learningRate: c.lr });
    const trainer = native().createTrainer(
      model.modules.map((m) => m.native),
      [{ loss: "CoSENTLoss" }],
      { lr: c.lr, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1, scheduler: args.scheduler, schedule: args.scheduleOptions, warmupSteps: c.warmup, totalSteps: TOTAL, useAmp: false, seed: 0 },
    );
    try {
      const expected = reference[i]!;
      for (let k = 0; k < COUNT; k++) {
        const ours = trainer.lrAt(k);
        expect(Math.abs(ours - expected[k]!), `step ${k}: ${ours} vs ${expected[k]}`).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(expected[k]!), 1e-30));
      }
    } finally {
      trainer.dispose();
    }
  });

  test("options are checked against the schedule, naming the field", () => {
    const make = (lrSchedulerType: LrSchedulerType, lrSchedulerKwargs: LrSchedulerKwargs, learningRate = 1e-3) => () => new SentenceTransformerTrainingArguments({ lrSchedulerType, lrSchedulerKwargs, learningRate });
    expect(make("linear", { num_cycles: 2 })).toThrow(/lrSchedulerKwargs.num_cycles is not an option of the "linear" schedule/);
    expect(make("polynomial", { lr_end: 1e-2 })).toThrow(/lr_end .* must be smaller than learningRate/);
    expect(make("cosine_with_min_lr", {})).toThrow(/exactly one of lrSchedulerKwargs.min_lr and lrSchedulerKwargs.min_lr_rate/);
    expect(make("cosine_with_min_lr", { min_lr: 1e-5, min_lr_rate: 0.1 })).toThrow(/exactly one/);
    expect(make("inverse_sqrt", { timescale: 2.5 })).toThrow(/timescale must be a positive integer/);
    expect(() => new SentenceTransformerTrainingArguments({ lrSchedulerType: "warmup_stable_decay" as never })).toThrow(/does not run/);
  });
});
