// The seed notebook's example, run exactly as the README tells users to (`npx ts-node …`, `npx tsx …`),
// end to end offline on a tiny generated BERT and the bundled Italian STS set.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect, test } from "vitest";

import { SentenceTransformer, models } from "../../lib/index.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { npx } from "../helpers/npx.js";
import { maxAbsDiff, tempDir } from "../helpers/tmp.js";

test.each(["ts-node", "tsx"])("npx %s examples/finetune-italian.ts trains, keeps the best model and encodes with it", async (runner) => {
  const dir = await tempDir();
  await makeTinyBert(join(dir, "bert"), { seed: 3 });
  const output = join(dir, "out");
  const checkpoints = join(dir, "ckpt");
  const { code, out } = await npx([
    runner,
    "examples/finetune-italian.ts",
    "--model", join(dir, "bert"),
    "--data", join("examples", "data", "stsb-it-mini"),
    "--epochs", "1", "--steps-per-epoch", "6", "--evaluation-steps", "3",
    "--output", output,
    "--checkpoint-path", checkpoints,
  ]);
  expect(out).not.toContain("ERR_UNKNOWN_FILE_EXTENSION");
  expect(code, out).toBe(0);
  expect(out).toContain("similarity:");

  // Evaluated at steps 3 and 6 by the trainer (its CSV in its folder), and when the epoch ends, cut short at
  // step 6 (in the output's); the epoch column is the trainer's, a fraction of the epoch's 31 batches.
  const rows = async (folder: string) => {
    const csv = (await readFile(join(folder, "eval", "similarity_evaluation_results.csv"), "utf8")).trim().split(/\r?\n/);
    expect(csv[0]).toBe("epoch,steps,cosine_pearson,cosine_spearman");
    return csv.slice(1).map((row) => row.split(",").slice(0, 2).map(Number));
  };
  expect(await rows(checkpoints)).toEqual([[3 / 31, 3], [6 / 31, 6]]);
  expect(await rows(output)).toEqual([[6 / 31, 6]]);

  // The saved model is the trained one: it loads, and its embeddings moved away from the untrained BERT's.
  const sentence = "Una ragazza si acconcia i capelli.";
  const trained = await SentenceTransformer.load(output);
  const transformer = await models.Transformer.load(join(dir, "bert"));
  const untrained = new SentenceTransformer({ modules: [transformer, new models.Pooling(transformer.getWordEmbeddingDimension())] });
  const [after, before] = [await trained.encode(sentence), await untrained.encode(sentence)];
  expect(after).toHaveLength(32);
  expect(maxAbsDiff(after, before)).toBeGreaterThan(1e-6);
  trained.dispose();
  untrained.dispose();
}, 240_000);
