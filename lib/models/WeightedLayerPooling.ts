import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

export interface WeightedLayerPoolingOptions {
  /** The Transformer's layer count. Default 12. */
  numHiddenLayers?: number;
  /** The first hidden state averaged (0 is the embeddings' output). Default 4. */
  layerStart?: number;
  device?: string;
}

/**
 * Token embeddings as a learned weighted mean of the Transformer's hidden states from `layerStart` on:
 * `models.WeightedLayerPooling`. The Transformer hands out its hidden states when its config.json has
 * `output_hidden_states: true`; without them the module passes the last layer's token embeddings on unchanged,
 * as in sentence-transformers.
 */
export class WeightedLayerPooling implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}WeightedLayerPooling`;
  readonly className = "WeightedLayerPooling";
  readonly saveInRoot = false;
  readonly wordEmbeddingDimension: number;
  readonly numHiddenLayers: number;
  readonly layerStart: number;
  readonly native: NativeModule;

  constructor(wordEmbeddingDimension: number, options?: WeightedLayerPoolingOptions);
  /** @internal */
  constructor(wordEmbeddingDimension: number, options: WeightedLayerPoolingOptions, native: NativeModule);
  constructor(wordEmbeddingDimension: number, options: WeightedLayerPoolingOptions = {}, native?: NativeModule) {
    assertPositiveInt(wordEmbeddingDimension, "WeightedLayerPooling: wordEmbeddingDimension");
    const numHiddenLayers = options.numHiddenLayers ?? 12;
    const layerStart = options.layerStart ?? 4;
    assertPositiveInt(numHiddenLayers, "WeightedLayerPooling: numHiddenLayers");
    if (!Number.isInteger(layerStart) || layerStart < 0 || layerStart > numHiddenLayers) {
      throw new RangeError(`WeightedLayerPooling: layerStart must be an integer from 0 to numHiddenLayers (${numHiddenLayers}), got ${String(layerStart)}`);
    }
    this.wordEmbeddingDimension = wordEmbeddingDimension;
    this.numHiddenLayers = numHiddenLayers;
    this.layerStart = layerStart;
    this.native =
      native ??
      callNativeSync(
        "WeightedLayerPooling",
        (n) => n.createModule("weighted_layer_pooling", { numHiddenLayers, layerStart }, { device: options.device ?? "cpu", seed: 0 }, null).module,
      );
  }

  getWordEmbeddingDimension(): number {
    return this.wordEmbeddingDimension;
  }

  /** The legacy key word_embedding_dimension, which every sentence-transformers version reads. */
  getConfigDict(): Record<string, unknown> {
    return { word_embedding_dimension: this.wordEmbeddingDimension, layer_start: this.layerStart, num_hidden_layers: this.numHiddenLayers };
  }

  /** Writes config.json and model.safetensors (`layer_weights`). */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
  }

  /** Reads config.json (`word_embedding_dimension` or `embedding_dimension`, `layer_start`, `num_hidden_layers`) and the weights. */
  static async load(dir: string, options: { device?: string } = {}): Promise<WeightedLayerPooling> {
    const op = "WeightedLayerPooling.load";
    const file = join(dir, "config.json");
    const c = new ConfigReader(await readJsonObject(file, { op }), file, op);
    const dimension = c.int(c.has("embedding_dimension") ? "embedding_dimension" : "word_embedding_dimension");
    const numHiddenLayers = c.int("num_hidden_layers", 12);
    const layerStart = c.int("layer_start", 4);
    if (dimension <= 0 || numHiddenLayers <= 0 || layerStart < 0 || layerStart > numHiddenLayers) {
      throw new SbertError(
        "ERR_CONFIG",
        `${file}: needs a positive embedding dimension and num_hidden_layers, and layer_start from 0 to num_hidden_layers (got ${dimension}, ${numHiddenLayers}, ${layerStart})`,
        { op },
      );
    }
    const weights = await weightsForNative(dir);
    const { module } = await callNative(op, (n) =>
      n.loadModule("weighted_layer_pooling", { numHiddenLayers, layerStart }, weights, { device: options.device ?? "cpu", seed: 0 }),
    );
    return new WeightedLayerPooling(dimension, { numHiddenLayers, layerStart }, module);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `WeightedLayerPooling(${JSON.stringify(this.getConfigDict())})`;
  }
}
