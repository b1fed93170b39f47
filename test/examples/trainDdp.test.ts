// examples/train-ddp.sh as the README tells users to run it: two processes of examples/trainer-italian.ts on a tiny
// generated BERT and the bundled Italian STS set, told their ranks by torchrun's variables; rank 0 alone evaluates,
// reports and saves.
import { readdir, readFile } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";

import { expect, test } from "vitest";

import { native } from "../../lib/native.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { ROOT } from "../helpers/cli.js";
import { freePort, runProcess } from "../helpers/run.js";
import { tempDir } from "../helpers/tmp.js";


test.skipIf(!native().distributedAvailable())("sh examples/train-ddp.sh 2 trains the trainer example in two ranks", async () => {
  const dir = await tempDir();
  await makeTinyBert(join(dir, "bert"), { seed: 3 });
  const output = join(dir, "out");
  const { code, stdout, out } = await runProcess(
    "sh",
    ["examples/train-ddp.sh", "2", "--model", join(dir, "bert"), "--data", join("examples", "data", "stsb-it-mini"), "--max-steps", "6", "--eval-steps", "3", "--batch-size", "8", "--output", output],
    {
      cwd: ROOT,
      env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, npm_config_offline: "true", MASTER_PORT: String(await freePort()) },
    },
  );
  expect(code, out).toBe(0);
  // One report, from rank 0.
  expect(stdout.match(/trained 6 steps/g)).toHaveLength(1);
  expect(stdout.match(/similarity:/g)).toHaveLength(1);
  const state = JSON.parse(await readFile(join(output, "checkpoint-6", "trainer_state.json"), "utf8")) as { log_history: object[]; train_batch_size: number; is_world_process_zero: boolean };
  // The global batch: 2 ranks × 8.
  expect(state.train_batch_size).toBe(16);
  expect(state.is_world_process_zero).toBe(true);
  expect(state.log_history.filter((h) => "eval_sts-test_spearman_cosine" in h)).toHaveLength(2);
  expect(await readdir(join(output, "final"))).toContain("model.safetensors");
});
