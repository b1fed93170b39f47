// examples/trainer-italian.ts run as the README tells users to (`npx tsx …`), offline on a tiny generated BERT and
// the bundled Italian STS set: it trains, evaluates, keeps two checkpoints and the best, and saves the best model.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { npx } from "../helpers/npx.js";
import { maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

test("npx tsx examples/trainer-italian.ts trains with SentenceTransformerTrainer and saves the best model", async () => {
  const dir = await tempDir();
  await makeTinyBert(join(dir, "bert"), { seed: 3 });
  const output = join(dir, "out");
  const { code, out } = await npx([
    "tsx",
    "examples/trainer-italian.ts",
    "--model", join(dir, "bert"),
    "--data", join("examples", "data", "stsb-it-mini"),
    "--max-steps", "9", "--eval-steps", "3", "--batch-size", "16",
    "--output", output,
  ]);
  expect(code, out).toBe(0);
  expect(out).toContain("similarity:");
  expect(out).toMatch(/trained 9 steps/);
  // Evaluations at steps 3, 6, 9; at most two checkpoints kept, the best among them.
  const checkpoints = (await readdir(output)).filter((d) => d.startsWith("checkpoint-"));
  expect(checkpoints.length).toBeLessThanOrEqual(2);
  expect(checkpoints).toContain("checkpoint-9");
  const state = JSON.parse(await readFile(join(output, "checkpoint-9", "trainer_state.json"), "utf8")) as { best_model_checkpoint: string; log_history: object[] };
  expect(state.log_history.filter((h) => "eval_sts-test_spearman_cosine" in h)).toHaveLength(3);
  // The saved final model is the best checkpoint's.
  const final = await SentenceTransformer.load(join(output, "final"));
  const best = await SentenceTransformer.load(state.best_model_checkpoint);
  const weights = (m: SentenceTransformer) => m.modules[0]!.native.stateDict().map((t) => t.data);
  expect(maxAbsDiffAll(weights(final), weights(best))).toBe(0);
  final.dispose();
  best.dispose();
}, 240_000);
