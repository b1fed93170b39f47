// The seed notebook's example, run exactly as the README tells users to (`npx ts-node …`, `npx tsx …`),
// end to end offline on a tiny generated BERT and the bundled Italian STS set.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect, test } from "vitest";

import { SentenceTransformer, models } from "../../lib/index.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { npx } from "../helpers/cli.js";
import { maxAbsDiff, tempDir } from "../helpers/tmp.js";

test.each(["ts-node", "tsx"])("npx %s examples/finetune-italian.ts trains, keeps the best model and encodes with it", async (runner) => {
  const dir = await tempDir();
  await makeTinyBert(join(dir, "bert"), { seed: 3 });
  const output = join(dir, "out");
  const { code, out } = await npx([
    runner,
    "examples/finetune-italian.ts",
    "--model", join(dir, "bert"),
    "--data", join("examples", "data", "stsb-it-mini"),
    "--epochs", "1", "--steps-per-epoch", "6", "--evaluation-steps", "3",
    "--output", output,
  ]);
  expect(out).not.toContain("ERR_UNKNOWN_FILE_EXTENSION");
  expect(code, out).toBe(0);
  expect(out).toContain("similarity:");

  // Evaluated at steps 3 and 6 and at the end of the epoch.
  const csv = (await readFile(join(output, "eval", "similarity_evaluation_results.csv"), "utf8")).trim().split(/\r?\n/);
  expect(csv[0]).toBe("epoch,steps,cosine_pearson,cosine_spearman");
  expect(csv.slice(1).map((row) => row.split(",").slice(0, 2).join(","))).toEqual(["0,3", "0,6", "0,-1"]);

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
