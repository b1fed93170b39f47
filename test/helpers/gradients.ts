// One training step through the native trainer, read back as gradients: what the parity tests compare with
// PyTorch's gradients on the same weights.
import type { SentenceTransformer } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import type { NativeTokenBatch } from "../../types/native.js";

export function tokenBatch(model: SentenceTransformer, texts: string[]): NativeTokenBatch {
  const b = model.tokenize(texts);
  return { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds, batchSize: b.batchSize, seqLength: b.seqLength };
}

/**
 * One CosineSimilarityLoss step on pairs (s1[i], s2[i]) with `labels`, at a negligible learning rate: the loss, and
 * the gradient of every parameter that has one (after one step AdamW's first moment is (1 - beta1) times it), keyed
 * by the parameter's path within its module (the optimizer state's "exp_avg.0.<module>." taken off).
 */
export async function oneStepGradients(
  model: SentenceTransformer,
  s1: string[],
  s2: string[],
  labels: number[],
): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const beta1 = 0.9;
  const trainer = native().createTrainer(
    model.modules.map((m) => m.native),
    [{ loss: "CosineSimilarityLoss" }],
    { lr: 1e-12, weightDecay: 0, beta1, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, scheduler: "constantlr", warmupSteps: 0, totalSteps: 1, useAmp: false, seed: 0 },
  );
  try {
    const r = await trainer.step(0, [tokenBatch(model, s1), tokenBatch(model, s2)], { data: Float32Array.from(labels), shape: [labels.length] });
    const moments = trainer.state().filter((t) => t.name.startsWith("exp_avg.0."));
    return { loss: r.loss, grads: new Map(moments.map((t) => [t.name.split(".").slice(3).join("."), t.data.map((x) => x / (1 - beta1))])) };
  } finally {
    trainer.dispose();
  }
}
