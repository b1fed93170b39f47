import { join } from "node:path";

import { readJsonObject } from "../io/files.js";
import { CNN } from "./CNN.js";
import { Dense } from "./Dense.js";
import { Dropout } from "./Dropout.js";
import { LayerNorm } from "./LayerNorm.js";
import { LSTM } from "./LSTM.js";
import type { SentenceModule } from "./Module.js";
import { Normalize } from "./Normalize.js";
import { Pooling } from "./Pooling.js";
import { Router } from "./Router.js";
import { StaticEmbedding } from "./StaticEmbedding.js";
import { Transformer } from "./Transformer.js";
import { WeightedLayerPooling } from "./WeightedLayerPooling.js";
import { WordEmbeddings } from "./WordEmbeddings.js";
import { WordWeights } from "./WordWeights.js";
import { MLMTransformer } from "../sparseEncoder/MLMTransformer.js";
import { SparseAutoEncoder } from "../sparseEncoder/SparseAutoEncoder.js";
import { SparseStaticEmbedding } from "../sparseEncoder/SparseStaticEmbedding.js";
import { SpladePooling } from "../sparseEncoder/SpladePooling.js";

/** How each module class a modules.json (or router_config.json) `type` can name is loaded from its folder. */
export const MODULE_LOADERS: Record<string, (dir: string, device: string) => Promise<SentenceModule>> = {
  // sentence-transformers 6 writes a SparseEncoder's masked-LM model as a Transformer whose task is "fill-mask".
  Transformer: async (dir, device) => ((await transformerTask(dir)) === "fill-mask" ? MLMTransformer.load(dir, { device }) : Transformer.load(dir, { device })),
  Pooling: (dir) => Pooling.load(dir),
  Dense: (dir, device) => Dense.load(dir, { device }),
  Normalize: async () => new Normalize(),
  LayerNorm: (dir, device) => LayerNorm.load(dir, { device }),
  Dropout: (dir) => Dropout.load(dir),
  WeightedLayerPooling: (dir, device) => WeightedLayerPooling.load(dir, { device }),
  WordEmbeddings: (dir, device) => WordEmbeddings.load(dir, { device }),
  WordWeights: (dir, device) => WordWeights.load(dir, { device }),
  CNN: (dir, device) => CNN.load(dir, { device }),
  LSTM: (dir, device) => LSTM.load(dir, { device }),
  StaticEmbedding: (dir, device) => StaticEmbedding.load(dir, { device }),
  Router: (dir, device) => Router.load(dir, { device }),
  // sentence-transformers' older name for Router (it reads router_config.json or, before v5, config.json).
  Asym: (dir, device) => Router.load(dir, { device }),
  // SparseEncoder's modules (sparse_encoder.modules), which its Routers hold.
  MLMTransformer: (dir, device) => MLMTransformer.load(dir, { device }),
  SpladePooling: (dir) => SpladePooling.load(dir),
  SparseStaticEmbedding: (dir, device) => SparseStaticEmbedding.load(dir, { device }),
  SparseAutoEncoder: (dir, device) => SparseAutoEncoder.load(dir, { device }),
};

/** sentence_bert_config.json's `transformer_task` (sentence-transformers 5.4+), if the folder has one. */
export async function transformerTask(dir: string): Promise<unknown> {
  const config = await readJsonObject(join(dir, "sentence_bert_config.json"), { optional: true, op: "Transformer.load" });
  return config?.["transformer_task"];
}

/**
 * The module class a `type` names, in either layout (legacy `sentence_transformers.models.X`, v5.4+
 * `sentence_transformers.<package>.modules.<file>.X`); undefined when sbert-node has no such module.
 */
export function moduleClassName(type: unknown): string | undefined {
  if (typeof type !== "string" || !type.startsWith("sentence_transformers.")) return undefined;
  const cls = type.slice(type.lastIndexOf(".") + 1);
  return Object.hasOwn(MODULE_LOADERS, cls) ? cls : undefined;
}
