// SentenceTransformer.namedParameters / setRequiresGrad: the names, what they change, and the refusals (training
// with frozen weights against sentence-transformers is in test/parity/trainer.test.ts).
import { join } from "node:path";

import { afterAll, beforeAll, expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { tempDir } from "../helpers/tmp.js";

let model: SentenceTransformer;
beforeAll(async () => {
  const dir = join(await tempDir("sbert-requires-grad-"), "bert");
  await makeTinyBert(dir, { seed: 4 });
  model = await SentenceTransformer.load(dir);
});
afterAll(() => model?.dispose());

test("names are the module index and the checkpoint key; all weights train until frozen", () => {
  const params = model.namedParameters();
  const keys = model.modules[0]!.native.stateDict().map((t) => `0.${t.name}`);
  // Every weight is a checkpoint key (the checkpoint also holds what is kept only for saving, such as the pooler).
  expect(params.length).toBeGreaterThan(30);
  expect(keys).toEqual(expect.arrayContaining(params.map((p) => p.name)));
  expect(params.every((p) => p.requiresGrad)).toBe(true);
  const word = params.find((p) => p.name === "0.embeddings.word_embeddings.weight")!;
  expect(word.shape).toEqual(model.modules[0]!.native.stateDict().find((t) => t.name === "embeddings.word_embeddings.weight")!.shape);
});

test("freezing by a test of the name, then unfreezing by names", () => {
  const chosen = model.setRequiresGrad((n) => n.startsWith("0.encoder.layer.1."), false);
  expect(chosen.length).toBeGreaterThan(0);
  const frozen = model.namedParameters().filter((p) => !p.requiresGrad).map((p) => p.name);
  expect(frozen).toEqual(chosen);
  expect(model.setRequiresGrad(chosen, true)).toEqual(chosen);
  expect(model.namedParameters().every((p) => p.requiresGrad)).toBe(true);
});

test("an unknown name, a test no name passes, or a bad argument throws and changes nothing", () => {
  expect(() => model.setRequiresGrad(["0.embeddings.word_embeddings.weight", "0.encoder.layer.9.output.dense.weight"], false)).toThrow(
    /setRequiresGrad: the model has no weight '0\.encoder\.layer\.9\.output\.dense\.weight'/,
  );
  expect(() => model.setRequiresGrad((n) => n.startsWith("1."), false)).toThrow(/no weight's name passes the test/);
  expect(() => model.setRequiresGrad("0.embeddings" as never, false)).toThrow(/select must be a list of weight names or a function/);
  expect(() => model.setRequiresGrad([], "no" as never)).toThrow(/requiresGrad must be true or false/);
  expect(model.namedParameters().every((p) => p.requiresGrad)).toBe(true);
});
