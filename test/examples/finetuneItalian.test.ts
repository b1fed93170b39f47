// The seed notebook's example runs end to end offline, on a tiny generated BERT and the bundled Italian STS set.
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { tempDir } from "../helpers/tmp.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "examples", "finetune-italian.ts"), ...args], { cwd: root });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("examples/finetune-italian.ts trains, keeps the best model and encodes with it", async () => {
  const dir = await tempDir();
  await makeTinyBert(join(dir, "bert"), { seed: 3 });
  const output = join(dir, "out");
  const { code, out } = await run([
    "--model", join(dir, "bert"),
    "--data", join(root, "examples", "data", "stsb-it-mini"),
    "--epochs", "1", "--steps-per-epoch", "6", "--evaluation-steps", "3",
    "--output", output,
  ]);
  expect(out).toContain("similarity:");
  expect(code).toBe(0);
  expect((await readdir(join(output, "eval")))).toEqual(["similarity_evaluation_results.csv"]);
  const model = await SentenceTransformer.load(output);
  expect(await model.encode("Una ragazza si acconcia i capelli.")).toHaveLength(32);
  model.dispose();
}, 240_000);
