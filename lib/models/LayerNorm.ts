import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

// torch.nn.LayerNorm(dimension)'s, which sentence-transformers' LayerNorm module is.
const TORCH_LAYER_NORM = { eps: 1e-5, bias: true };

export interface LayerNormOptions {
  device?: string;
}

/** Layer normalization of the sentence embedding (weight and bias learned, eps 1e-5): `models.LayerNorm`. */
export class LayerNorm implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}LayerNorm`;
  readonly className = "LayerNorm";
  readonly saveInRoot = false;
  readonly dimension: number;
  readonly native: NativeModule;

  constructor(dimension: number, options?: LayerNormOptions);
  /** @internal */
  constructor(dimension: number, options: LayerNormOptions, native: NativeModule);
  constructor(dimension: number, options: LayerNormOptions = {}, native?: NativeModule) {
    assertPositiveInt(dimension, "LayerNorm: dimension");
    this.dimension = dimension;
    this.native =
      native ?? callNativeSync("LayerNorm", (n) => n.createModule("layer_norm", { dimension, ...TORCH_LAYER_NORM }, { device: options.device ?? "cpu", seed: 0 }, null).module);
  }

  getSentenceEmbeddingDimension(): number {
    return this.dimension;
  }

  getConfigDict(): Record<string, unknown> {
    return { dimension: this.dimension };
  }

  /** Writes config.json and model.safetensors (`norm.weight`, `norm.bias`). */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
  }

  static async load(dir: string, options: LayerNormOptions = {}): Promise<LayerNorm> {
    const file = join(dir, "config.json");
    const dimension = new ConfigReader(await readJsonObject(file, { op: "LayerNorm.load" }), file, "LayerNorm.load").int("dimension");
    const weights = await weightsForNative(dir);
    const { module } = await callNative("LayerNorm.load", (n) => n.loadModule("layer_norm", { dimension, ...TORCH_LAYER_NORM }, weights, { device: options.device ?? "cpu", seed: 0 }));
    return new LayerNorm(dimension, options, module);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `LayerNorm(${JSON.stringify(this.getConfigDict())})`;
  }
}
