import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

export interface CNNOptions {
  inWordEmbeddingDimension: number;
  /** Channels per kernel size. Default 256. */
  outChannels?: number;
  /** Odd widths, one convolution each, their outputs side by side. Default [1, 3, 5]. */
  kernelSizes?: number[];
  device?: string;
  /** Seeds the initial weights (torch.nn.Conv1d's uniform initialisation). */
  seed?: number;
}

const CONFIG_FILE = "cnn_config.json";

function checkKernelSizes(sizes: unknown, where: string): number[] {
  if (!Array.isArray(sizes) || sizes.length === 0 || sizes.some((k) => typeof k !== "number" || !Number.isInteger(k) || k <= 0 || k % 2 === 0)) {
    throw new RangeError(`${where}: kernel sizes must be a non-empty list of odd positive integers, got ${JSON.stringify(sizes)}`);
  }
  return [...(sizes as number[])];
}

/**
 * 1-d convolutions of several widths over the token embeddings, zero-padded to keep each text's length, their
 * outputs concatenated per token: `models.CNN`. As in sentence-transformers, the convolutions near a text's end
 * read what the module before left at the batch's padding: WordEmbeddings' padding row (all zero when made by
 * fromTextFile, so batches do not matter), or a Transformer's output there, which sbert-node leaves at zero on
 * CPU (each text then gets what sentence-transformers gives it encoded alone).
 */
export class CNN implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}CNN`;
  readonly className = "CNN";
  readonly saveInRoot = false;
  readonly inWordEmbeddingDimension: number;
  readonly outChannels: number;
  readonly kernelSizes: readonly number[];
  readonly native: NativeModule;

  constructor(options: CNNOptions);
  /** @internal */
  constructor(options: CNNOptions, native: NativeModule);
  constructor(options: CNNOptions, native?: NativeModule) {
    if (typeof options !== "object" || options === null) throw new TypeError("CNN: options must be an object");
    assertPositiveInt(options.inWordEmbeddingDimension, "CNN: inWordEmbeddingDimension");
    const outChannels = options.outChannels ?? 256;
    assertPositiveInt(outChannels, "CNN: outChannels");
    this.inWordEmbeddingDimension = options.inWordEmbeddingDimension;
    this.outChannels = outChannels;
    this.kernelSizes = checkKernelSizes(options.kernelSizes ?? [1, 3, 5], "CNN");
    this.native =
      native ??
      callNativeSync(
        "CNN",
        (n) => n.createModule("cnn", this.nativeConfig(), { device: options.device ?? "cpu", seed: options.seed ?? 0 }, null).module,
      );
  }

  private nativeConfig() {
    return { inDimension: this.inWordEmbeddingDimension, outChannels: this.outChannels, kernelSizes: [...this.kernelSizes] };
  }

  getWordEmbeddingDimension(): number {
    return this.outChannels * this.kernelSizes.length;
  }

  /** The legacy key in_word_embedding_dimension, which every sentence-transformers version reads. */
  getConfigDict(): Record<string, unknown> {
    return { in_word_embedding_dimension: this.inWordEmbeddingDimension, out_channels: this.outChannels, kernel_sizes: [...this.kernelSizes] };
  }

  /** Writes cnn_config.json and model.safetensors (`convs.{i}.weight`, `convs.{i}.bias`). */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, CONFIG_FILE), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
  }

  /** Reads cnn_config.json (`in_word_embedding_dimension` or `in_embedding_dimension`, `out_channels`, `kernel_sizes`) and the weights. */
  static async load(dir: string, options: { device?: string } = {}): Promise<CNN> {
    const op = "CNN.load";
    const file = join(dir, CONFIG_FILE);
    const c = new ConfigReader(await readJsonObject(file, { op }), file, op);
    let opts: CNNOptions;
    try {
      opts = {
        inWordEmbeddingDimension: c.int(c.has("in_embedding_dimension") ? "in_embedding_dimension" : "in_word_embedding_dimension"),
        outChannels: c.int("out_channels", 256),
        kernelSizes: checkKernelSizes(c.obj["kernel_sizes"] ?? [1, 3, 5], `${file}: field 'kernel_sizes'`),
      };
      assertPositiveInt(opts.inWordEmbeddingDimension, `${file}: the input dimension`);
      assertPositiveInt(opts.outChannels, `${file}: field 'out_channels'`);
    } catch (e) {
      if (e instanceof SbertError) throw e;
      throw new SbertError("ERR_CONFIG", (e as Error).message, { op });
    }
    const weights = await weightsForNative(dir);
    const config = { inDimension: opts.inWordEmbeddingDimension, outChannels: opts.outChannels!, kernelSizes: opts.kernelSizes! };
    const { module } = await callNative(op, (n) => n.loadModule("cnn", config, weights, { device: options.device ?? "cpu", seed: 0 }));
    return new CNN(opts, module);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `CNN(${JSON.stringify(this.getConfigDict())})`;
  }
}
