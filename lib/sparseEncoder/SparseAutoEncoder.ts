import { join } from "node:path";

import type { NativeModule, NativeTensorSpec } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { writeSafetensors } from "../io/safetensors.js";
import type { SentenceModule } from "../models/Module.js";
import { callNative, callNativeSync } from "../native.js";
import { SPARSE_TYPE_PREFIX } from "./SpladePooling.js";

const OP_LOAD = "SparseAutoEncoder.load";
const ENCODER_KEY = "encoder.weight";
// The decoder is the encoder's weight transposed: sentence-transformers' state dict holds the one tensor under both
// keys, and its safetensors writer keeps this one alone.
const DECODER_KEY = "decoder.linear.weight";
const STATS_KEY = "stats_last_nonzero";

export interface SparseAutoEncoderOptions {
  /** The size of the dense embeddings it takes (the Pooling's). */
  inputDim: number;
  /** The latent's size, the sparse embeddings'. Default 512. */
  hiddenDim?: number;
  /** How many of the latent's largest values stay. Default 8. */
  k?: number;
  /** Training's auxiliary top-k (kept for the config; inference does not use it). Default 512. */
  kAux?: number;
  /** Centre each embedding and divide it by its standard deviation before encoding. Default false. */
  normalize?: boolean;
  /** Training's steps without activity after which a latent counts as dead (kept for the config). Default 30. */
  deadThreshold?: number;
  /** Where the weights live: "cpu" (default), "cuda" or "cuda:N". */
  device?: string;
  /** Seeds the encoder's initialisation. Default 0. */
  seed?: number;
}

function checkInt(value: unknown, name: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new RangeError(`SparseAutoEncoder: ${name} must be an integer of at least ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * sentence-transformers' `SparseAutoEncoder`, the last module of a CSR (Contrastive Sparse Representation) model:
 * the dense sentence embedding, less a learnt `pre_bias`, goes through a linear encoder (plus `latent_bias`) into a
 * latent of `hiddenDim` values, of which each text keeps its `k` largest (relu'd): the sparse embedding. A call's
 * maxActiveDims takes k's place. Runs natively; saves config.json and model.safetensors as sentence-transformers
 * does.
 */
export class SparseAutoEncoder implements SentenceModule {
  readonly moduleType = `${SPARSE_TYPE_PREFIX}SparseAutoEncoder`;
  readonly className = "SparseAutoEncoder";
  readonly saveInRoot = false;
  readonly inputDim: number;
  readonly hiddenDim: number;
  readonly k: number;
  readonly kAux: number;
  readonly normalize: boolean;
  readonly deadThreshold: number;
  readonly native: NativeModule;

  /** A new module, its encoder initialised as torch.nn.Linear's from `seed` and its biases zero, as sentence-transformers starts one. */
  constructor(options: SparseAutoEncoderOptions);
  /** @internal */
  constructor(options: SparseAutoEncoderOptions, native: NativeModule);
  constructor(options: SparseAutoEncoderOptions, native?: NativeModule) {
    if (typeof options !== "object" || options === null) throw new TypeError("SparseAutoEncoder: options must be an object with inputDim");
    this.inputDim = checkInt(options.inputDim, "inputDim", 1);
    this.hiddenDim = checkInt(options.hiddenDim ?? 512, "hiddenDim", 1);
    this.k = checkInt(options.k ?? 8, "k", 1);
    if (this.k > this.hiddenDim) throw new RangeError(`SparseAutoEncoder: k (${this.k}) must not be more than hiddenDim (${this.hiddenDim})`);
    this.kAux = checkInt(options.kAux ?? 512, "kAux", 0);
    this.deadThreshold = checkInt(options.deadThreshold ?? 30, "deadThreshold", 0);
    if (typeof (options.normalize ?? false) !== "boolean") throw new TypeError("SparseAutoEncoder: normalize must be true or false");
    this.normalize = options.normalize ?? false;
    const seed = options.seed ?? 0;
    this.native =
      native ??
      callNativeSync("SparseAutoEncoder", (n) => n.createModule("sparse_auto_encoder", this.nativeConfig(), { device: options.device ?? "cpu", seed }, null).module);
  }

  private nativeConfig(): { inputDim: number; hiddenDim: number; k: number; normalize: boolean } {
    return { inputDim: this.inputDim, hiddenDim: this.hiddenDim, k: this.k, normalize: this.normalize };
  }

  /** The sparse embeddings' size (hiddenDim); at most k (or a call's maxActiveDims) of its values are not zero. */
  getSentenceEmbeddingDimension(): number {
    return this.hiddenDim;
  }

  /** config.json, with sentence-transformers' keys. */
  getConfigDict(): Record<string, unknown> {
    return { input_dim: this.inputDim, hidden_dim: this.hiddenDim, k: this.k, k_aux: this.kAux, normalize: this.normalize, dead_threshold: this.deadThreshold };
  }

  /**
   * Reads config.json (`input_dim`, and `hidden_dim`, `k`, `k_aux`, `normalize`, `dead_threshold` or their
   * defaults) and the weights: `pre_bias`, `latent_bias`, `stats_last_nonzero` and the encoder's matrix as
   * `encoder.weight`, `decoder.linear.weight` (its tied copy, the one sentence-transformers' safetensors keep) or both.
   */
  static async load(dir: string, options: { device?: string } = {}): Promise<SparseAutoEncoder> {
    const file = join(dir, "config.json");
    const c = new ConfigReader(await readJsonObject(file, { op: OP_LOAD }), file, OP_LOAD);
    const field = (name: string, fallback: number | undefined, min: number): number => {
      if (fallback === undefined && !c.has(name)) throw new SbertError("ERR_CONFIG", `${file}: field '${name}' is missing`, { op: OP_LOAD });
      const v = c.int(name, fallback);
      if (v < min) throw new SbertError("ERR_CONFIG", `${file}: field '${name}' must be at least ${min}, got ${v}`, { op: OP_LOAD });
      return v;
    };
    const inputDim = field("input_dim", undefined, 1);
    const hiddenDim = field("hidden_dim", 512, 1);
    const k = field("k", 8, 1);
    if (k > hiddenDim) throw new SbertError("ERR_CONFIG", `${file}: field 'k' (${k}) must not be more than field 'hidden_dim' (${hiddenDim})`, { op: OP_LOAD });
    const kAux = field("k_aux", 512, 0);
    const deadThreshold = field("dead_threshold", 30, 0);
    const normalize = c.bool("normalize", false);

    const weights = await weightsForNative(dir);
    const files = weights.files.map((f) => f.path).join(", ");
    const all = weights.files.flatMap((f) => f.tensors.map((tensor) => ({ path: f.path, tensor })));
    const encoder = all.find((t) => t.tensor.name === ENCODER_KEY);
    const decoder = all.find((t) => t.tensor.name === DECODER_KEY);
    for (const t of [encoder, decoder]) {
      if (t !== undefined && (t.tensor.shape.length !== 2 || t.tensor.shape[0] !== hiddenDim || t.tensor.shape[1] !== inputDim)) {
        throw new SbertError(
          "ERR_WEIGHTS",
          `key '${t.tensor.name}' has shape [${t.tensor.shape.join(", ")}] in ${t.path} but ${file} (hidden_dim ${hiddenDim}, input_dim ${inputDim}) needs [${hiddenDim}, ${inputDim}]`,
          { op: OP_LOAD },
        );
      }
    }
    if (encoder === undefined && decoder === undefined) {
      throw new SbertError("ERR_WEIGHTS", `missing key '${DECODER_KEY}' (or '${ENCODER_KEY}') in ${files}: SparseAutoEncoder needs its encoder's weights`, { op: OP_LOAD });
    }
    // The natively checked set: one copy of the matrix, under the module's own key; the rest as found.
    const spec = {
      files: weights.files.map((f) => ({
        path: f.path,
        tensors: f.tensors.flatMap((t): NativeTensorSpec[] => {
          if (t.name === DECODER_KEY) return encoder === undefined ? [{ ...t, name: ENCODER_KEY }] : [];
          return [t];
        }),
      })),
    };
    const device = options.device ?? "cpu";
    const config = { inputDim, hiddenDim, k, normalize };
    const { module } = await callNative(OP_LOAD, (n) => n.loadModule("sparse_auto_encoder", config, spec, { device, seed: 0 }));
    try {
      return new SparseAutoEncoder({ inputDim, hiddenDim, k, kAux, normalize, deadThreshold }, module);
    } catch (e) {
      module.dispose();
      throw e;
    }
  }

  /** Writes config.json and model.safetensors (`decoder.linear.weight`, `latent_bias`, `pre_bias` in float32, `stats_last_nonzero` in int64), as sentence-transformers does. */
  async save(dir: string): Promise<void> {
    const tensors = this.native.stateDict().map((t) => {
      // The counts come through float32, exact below 2^24 steps.
      if (t.name === STATS_KEY) return { name: t.name, dtype: "I64" as const, shape: t.shape, data: BigInt64Array.from(t.data, (v) => BigInt(Math.round(v))) };
      return { name: t.name === ENCODER_KEY ? DECODER_KEY : t.name, dtype: "F32" as const, shape: t.shape, data: t.data };
    });
    await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
    await writeJson(join(dir, "config.json"), this.getConfigDict());
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `SparseAutoEncoder(${JSON.stringify(this.getConfigDict())})`;
  }
}
