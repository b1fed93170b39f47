import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

/** Activations by the torch class path sentence-transformers writes to `activation_function`. */
export const DENSE_ACTIVATIONS: Record<string, string> = {
  "torch.nn.modules.activation.Tanh": "tanh",
  "torch.nn.modules.linear.Identity": "identity",
  "torch.nn.modules.activation.ReLU": "relu",
  "torch.nn.modules.activation.GELU": "gelu",
  "torch.nn.modules.activation.Sigmoid": "sigmoid",
  "torch.nn.modules.activation.SiLU": "silu",
};
const SHORT_NAMES = Object.fromEntries(Object.entries(DENSE_ACTIVATIONS).map(([path, short]) => [short, path]));

export type DenseActivation = "tanh" | "identity" | "relu" | "gelu" | "sigmoid" | "silu";

export interface DenseOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
  /** A short name ("tanh") or the torch class path ("torch.nn.modules.activation.Tanh"). Default tanh. */
  activationFunction?: DenseActivation | string;
  device?: string;
  /** Seeds the initial weights. */
  seed?: number;
}

function activationPath(given: string, where: string): string {
  if (DENSE_ACTIVATIONS[given]) return given;
  if (SHORT_NAMES[given]) return SHORT_NAMES[given]!;
  throw new RangeError(`${where}: activation function ${JSON.stringify(given)} is not one of ${Object.keys(SHORT_NAMES).join(", ")}`);
}

/** A feed-forward layer on the sentence embedding: `models.Dense`. */
export class Dense implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Dense`;
  readonly className = "Dense";
  readonly saveInRoot = false;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
  /** The torch class path, as saved. */
  readonly activationFunction: string;
  readonly native: NativeModule;

  constructor(options: DenseOptions);
  /** @internal */
  constructor(options: DenseOptions, native: NativeModule);
  constructor(options: DenseOptions, native?: NativeModule) {
    if (typeof options !== "object" || options === null) throw new TypeError("Dense: options must be an object");
    assertPositiveInt(options.inFeatures, "Dense: inFeatures");
    assertPositiveInt(options.outFeatures, "Dense: outFeatures");
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.bias = options.bias ?? true;
    this.activationFunction = activationPath(options.activationFunction ?? "tanh", "Dense");
    this.native =
      native ??
      callNativeSync(
        "Dense",
        (n) => n.createDense(this.nativeConfig(), { device: options.device ?? "cpu", seed: options.seed ?? 0 }).module,
      );
  }

  private nativeConfig() {
    return { inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias, activation: DENSE_ACTIVATIONS[this.activationFunction]! };
  }

  getSentenceEmbeddingDimension(): number {
    return this.outFeatures;
  }

  getConfigDict(): Record<string, unknown> {
    return { in_features: this.inFeatures, out_features: this.outFeatures, bias: this.bias, activation_function: this.activationFunction };
  }

  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
  }

  /** Reads `config.json` and `model.safetensors` (or `pytorch_model.bin`) with keys `linear.weight`, `linear.bias`. */
  static async load(dir: string, options: { device?: string } = {}): Promise<Dense> {
    const file = join(dir, "config.json");
    const c = new ConfigReader(await readJsonObject(file, { op: "Dense.load" }), file, "Dense.load");
    let opts: DenseOptions;
    try {
      opts = {
        inFeatures: c.int("in_features"),
        outFeatures: c.int("out_features"),
        bias: c.bool("bias", true),
        activationFunction: activationPath(c.string("activation_function", "torch.nn.modules.activation.Tanh"), file),
      };
    } catch (e) {
      if (e instanceof SbertError) throw e;
      throw new SbertError("ERR_CONFIG", (e as Error).message, { op: "Dense.load" });
    }
    const weights = await weightsForNative(dir);
    const config = { inFeatures: opts.inFeatures, outFeatures: opts.outFeatures, bias: opts.bias!, activation: DENSE_ACTIVATIONS[opts.activationFunction!]! };
    const { module } = await callNative("Dense.load", (n) => n.loadDense(config, weights, { device: options.device ?? "cpu", seed: 0 }));
    return new Dense(opts, module);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `Dense(${JSON.stringify(this.getConfigDict())})`;
  }
}
