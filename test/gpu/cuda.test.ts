// Runs only where sbert-node was built against a CUDA libtorch and a GPU is visible: the same model on the GPU
// gives the CPU's embeddings, and a training step runs there.
import { join } from "node:path";

import { describe, expect, test } from "vitest";

import { DataLoader, InputExample, SentenceTransformer, backendInfo, losses } from "../../lib/index.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

const info = backendInfo();

describe.skipIf(!info.cuda || info.cudaDeviceCount === 0)("CUDA", () => {
  test("encode on cuda equals encode on cpu; fit steps on cuda", async () => {
    const dir = join(await tempDir(), "model");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean", "cls"] }, normalize: true });
    const cpu = await SentenceTransformer.load(dir);
    const gpu = await SentenceTransformer.load(dir, { device: "cuda" });
    expect(gpu.device).toMatch(/^cuda/);
    expect(maxAbsDiffAll(await gpu.encode(SENTENCES), await cpu.encode(SENTENCES))).toBeLessThan(1e-4);
    const examples = SENTENCES.map((s, i) => new InputExample({ texts: [s, SENTENCES[(i + 1) % SENTENCES.length]!], label: (i % 3) / 2 }));
    const result = await gpu.fit({
      trainObjectives: [[new DataLoader(examples, { batchSize: 4 }), new losses.CoSENTLoss(gpu)]],
      warmupSteps: 0,
      showProgressBar: false,
      useAmp: true,
    });
    expect(result.log.every((l) => Number.isFinite(l.loss))).toBe(true);
    cpu.dispose();
    gpu.dispose();
  });
});
