import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

export interface LSTMOptions {
  wordEmbeddingDimension: number;
  hiddenDim: number;
  /** Stacked layers. Default 1. */
  numLayers?: number;
  /** Training's dropout between stacked layers. Default 0. */
  dropout?: number;
  /** Default true: the token embeddings are then 2 * hiddenDim wide. */
  bidirectional?: boolean;
  device?: string;
  /** Seeds the initial weights (torch.nn.LSTM's uniform initialisation). */
  seed?: number;
}

const CONFIG_FILE = "lstm_config.json";

type Resolved = Required<Pick<LSTMOptions, "wordEmbeddingDimension" | "hiddenDim" | "numLayers" | "dropout" | "bidirectional">>;

/** The options with their defaults, checked. */
function resolveOptions(options: LSTMOptions): Resolved {
  if (typeof options !== "object" || options === null) throw new TypeError("LSTM: options must be an object");
  assertPositiveInt(options.wordEmbeddingDimension, "LSTM: wordEmbeddingDimension");
  assertPositiveInt(options.hiddenDim, "LSTM: hiddenDim");
  const numLayers = options.numLayers ?? 1;
  assertPositiveInt(numLayers, "LSTM: numLayers");
  const dropout = options.dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout <= 1)) throw new RangeError(`LSTM: dropout must be between 0 and 1, got ${String(dropout)}`);
  const bidirectional = options.bidirectional ?? true;
  if (typeof bidirectional !== "boolean") throw new TypeError("LSTM: bidirectional must be true or false");
  return { wordEmbeddingDimension: options.wordEmbeddingDimension, hiddenDim: options.hiddenDim, numLayers, dropout, bidirectional };
}

function nativeConfig(o: Resolved) {
  return { embeddingDimension: o.wordEmbeddingDimension, hiddenDim: o.hiddenDim, numLayers: o.numLayers, dropout: o.dropout, bidirectional: o.bidirectional };
}

/**
 * An LSTM over each text's tokens (its real ones only; the rest of the output is zero): `models.LSTM`. Weights
 * as torch.nn.LSTM names them under `encoder.`.
 */
export class LSTM implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}LSTM`;
  readonly className = "LSTM";
  readonly saveInRoot = false;
  readonly wordEmbeddingDimension: number;
  readonly hiddenDim: number;
  readonly numLayers: number;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly native: NativeModule;

  constructor(options: LSTMOptions);
  /** @internal */
  constructor(options: LSTMOptions, native: NativeModule);
  constructor(options: LSTMOptions, native?: NativeModule) {
    const o = resolveOptions(options);
    this.wordEmbeddingDimension = o.wordEmbeddingDimension;
    this.hiddenDim = o.hiddenDim;
    this.numLayers = o.numLayers;
    this.dropout = o.dropout;
    this.bidirectional = o.bidirectional;
    this.native =
      native ??
      callNativeSync("LSTM", (n) => n.createModule("lstm", nativeConfig(o), { device: options.device ?? "cpu", seed: options.seed ?? 0 }, null).module);
  }

  getWordEmbeddingDimension(): number {
    return this.bidirectional ? 2 * this.hiddenDim : this.hiddenDim;
  }

  /** The legacy key word_embedding_dimension, which every sentence-transformers version reads. */
  getConfigDict(): Record<string, unknown> {
    return {
      word_embedding_dimension: this.wordEmbeddingDimension,
      hidden_dim: this.hiddenDim,
      num_layers: this.numLayers,
      dropout: this.dropout,
      bidirectional: this.bidirectional,
    };
  }

  /** Writes lstm_config.json and model.safetensors (`encoder.weight_ih_l0`, ...). */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, CONFIG_FILE), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
  }

  /** Reads lstm_config.json (`word_embedding_dimension` or `embedding_dimension`, `hidden_dim`, `num_layers`, `dropout`, `bidirectional`) and the weights. */
  static async load(dir: string, options: { device?: string } = {}): Promise<LSTM> {
    const op = "LSTM.load";
    const file = join(dir, CONFIG_FILE);
    const c = new ConfigReader(await readJsonObject(file, { op }), file, op);
    const opts: LSTMOptions = {
      wordEmbeddingDimension: c.int(c.has("embedding_dimension") ? "embedding_dimension" : "word_embedding_dimension"),
      hiddenDim: c.int("hidden_dim"),
      numLayers: c.int("num_layers", 1),
      dropout: c.number("dropout", 0),
      bidirectional: c.bool("bidirectional", true),
    };
    let resolved: Resolved;
    try {
      resolved = resolveOptions(opts);
    } catch (e) {
      throw new SbertError("ERR_CONFIG", `${file}: ${(e as Error).message}`, { op });
    }
    const weights = await weightsForNative(dir);
    const { module } = await callNative(op, (n) => n.loadModule("lstm", nativeConfig(resolved), weights, { device: options.device ?? "cpu", seed: 0 }));
    return new LSTM(opts, module);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `LSTM(${JSON.stringify(this.getConfigDict())})`;
  }
}
