import { join } from "node:path";

import type { NativeBertConfig, NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { modelIdFor, resolveModelFolder, type HubOptions } from "../hub/index.js";
import { callNative } from "../native.js";
import { Tokenizer, type EncodedBatch, type TextInput } from "../tokenization/Tokenizer.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

export interface TransformerOptions extends HubOptions {
  /** Inputs are truncated to this many tokens. Default: sentence_bert_config.json's, else min(max_position_embeddings, the tokenizer's model_max_length). */
  maxSeqLength?: number;
  /** Lower-case texts before tokenizing (sentence-transformers' do_lower_case, separate from the tokenizer's own). */
  doLowerCase?: boolean;
  /** "cpu", "cuda" or "cuda:N". Default "cpu". */
  device?: string;
}

export interface TransformerFromConfigOptions extends TransformerOptions {
  /** Seeds the initial weights (normal with std initializer_range, as Hugging Face initialises BERT). */
  seed?: number;
}

const OP_LOAD = "Transformer.load";

/** config.json -> the native encoder's config; anything but an absolute-position BERT is refused. */
function bertConfig(config: Record<string, unknown>, file: string): NativeBertConfig {
  const c = new ConfigReader(config, file, OP_LOAD);
  const modelType = c.string("model_type", "bert");
  if (modelType !== "bert") {
    throw new SbertError("ERR_CONFIG", `${file}: model_type '${modelType}' is not supported; sbert-node runs BERT encoders (model_type "bert")`, {
      op: OP_LOAD,
    });
  }
  const positions = c.string("position_embedding_type", "absolute");
  if (positions !== "absolute") {
    throw new SbertError("ERR_CONFIG", `${file}: position_embedding_type '${positions}' is not supported (only "absolute")`, { op: OP_LOAD });
  }
  return {
    vocabSize: c.int("vocab_size"),
    hiddenSize: c.int("hidden_size"),
    numHiddenLayers: c.int("num_hidden_layers"),
    numAttentionHeads: c.int("num_attention_heads"),
    intermediateSize: c.int("intermediate_size"),
    maxPositionEmbeddings: c.int("max_position_embeddings", 512),
    typeVocabSize: c.int("type_vocab_size", 2),
    hiddenAct: c.string("hidden_act", "gelu"),
    layerNormEps: c.number("layer_norm_eps", 1e-12),
    hiddenDropoutProb: c.number("hidden_dropout_prob", 0.1),
    attentionProbsDropoutProb: c.number("attention_probs_dropout_prob", 0.1),
    padTokenId: c.int("pad_token_id", 0),
    initializerRange: c.number("initializer_range", 0.02),
  };
}

/** The encoder: a BERT model and its tokenizer, producing token embeddings (`models.Transformer`). */
export class Transformer implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Transformer`;
  readonly className = "Transformer";
  readonly saveInRoot = true;
  /** config.json as read; written back on save. */
  readonly config: Record<string, unknown>;
  readonly tokenizer: Tokenizer;
  readonly native: NativeModule;
  /** Checkpoint keys that were present but not used (e.g. a masked-LM head). */
  readonly ignoredKeys: readonly string[];
  /** The Hub id it was downloaded from; undefined for a local folder or a new model. */
  hubId: string | undefined;
  doLowerCase: boolean;
  private _maxSeqLength: number;
  private readonly maxPositions: number;

  private constructor(
    config: Record<string, unknown>,
    tokenizer: Tokenizer,
    native: NativeModule,
    ignoredKeys: string[],
    maxSeqLength: number,
    doLowerCase: boolean,
  ) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.native = native;
    this.ignoredKeys = ignoredKeys;
    this.maxPositions = (config["max_position_embeddings"] as number | undefined) ?? 512;
    this._maxSeqLength = maxSeqLength;
    this.doLowerCase = doLowerCase;
    this.maxSeqLength = maxSeqLength;
  }

  get maxSeqLength(): number {
    return this._maxSeqLength;
  }

  set maxSeqLength(value: number) {
    assertPositiveInt(value, "maxSeqLength");
    if (value > this.maxPositions) {
      throw new RangeError(`maxSeqLength ${value} exceeds the model's max_position_embeddings (${this.maxPositions})`);
    }
    this._maxSeqLength = value;
  }

  /**
   * Loads a Hugging Face BERT folder, or a Hub model id (downloaded into the standard cache): config.json,
   * weights (model.safetensors, its sharded index, or pytorch_model.bin) and tokenizer files (tokenizer.json,
   * or vocab.txt + tokenizer_config.json).
   */
  static async load(modelNameOrPath: string, options: TransformerOptions = {}): Promise<Transformer> {
    if (typeof modelNameOrPath !== "string" || modelNameOrPath === "") throw new TypeError("Transformer.load: modelNameOrPath must be a non-empty string");
    const { revision, token, cacheFolder, localFilesOnly, endpoint } = options;
    const path = await resolveModelFolder(modelNameOrPath, { revision, token, cacheFolder, localFilesOnly, endpoint });
    const configFile = join(path, "config.json");
    const config = await readJsonObject(configFile, { op: OP_LOAD });
    const nativeConfig = bertConfig(config, configFile);
    const sbertConfigFile = join(path, "sentence_bert_config.json");
    const sbertConfig = new ConfigReader((await readJsonObject(sbertConfigFile, { optional: true, op: OP_LOAD })) ?? {}, sbertConfigFile, OP_LOAD);
    const tokenizer = await Tokenizer.fromFolder(path);
    const weights = await weightsForNative(path);
    const { module, ignoredKeys } = await callNative(OP_LOAD, (n) =>
      n.loadTransformer(nativeConfig, weights, { device: options.device ?? "cpu", seed: 0 }),
    );
    const maxSeqLength =
      options.maxSeqLength ??
      (sbertConfig.has("max_seq_length")
        ? sbertConfig.int("max_seq_length")
        : Math.min(nativeConfig.maxPositionEmbeddings, tokenizer.modelMaxLength ?? Infinity));
    const doLowerCase = options.doLowerCase ?? sbertConfig.bool("do_lower_case", false);
    try {
      const transformer = new Transformer(config, tokenizer, module, ignoredKeys, maxSeqLength, doLowerCase);
      if (path !== modelNameOrPath) transformer.hubId = modelIdFor(modelNameOrPath);
      return transformer;
    } catch (e) {
      module.dispose();
      throw e;
    }
  }

  /** A new encoder with freshly initialised weights from a BERT config.json object and a tokenizer. */
  static async fromConfig(config: Record<string, unknown>, tokenizer: Tokenizer, options: TransformerFromConfigOptions = {}): Promise<Transformer> {
    const nativeConfig = bertConfig(config, "config");
    if (tokenizer.vocabSize > nativeConfig.vocabSize) {
      throw new RangeError(`Transformer.fromConfig: the tokenizer has ${tokenizer.vocabSize} tokens but vocab_size is ${nativeConfig.vocabSize}`);
    }
    const { module } = await callNative("Transformer.fromConfig", (n) =>
      n.loadTransformer(nativeConfig, null, { device: options.device ?? "cpu", seed: options.seed ?? 0 }),
    );
    const maxSeqLength = options.maxSeqLength ?? Math.min(nativeConfig.maxPositionEmbeddings, tokenizer.modelMaxLength ?? Infinity);
    const full = { architectures: ["BertModel"], model_type: "bert", ...config };
    return new Transformer(full, tokenizer, module, [], maxSeqLength, options.doLowerCase ?? false);
  }

  getWordEmbeddingDimension(): number {
    return this.config["hidden_size"] as number;
  }

  /** Tokenizes, truncates to maxSeqLength and pads a batch of texts or text pairs. */
  tokenize(texts: TextInput[]): EncodedBatch {
    const inputs = this.doLowerCase
      ? texts.map((t) => (typeof t === "string" ? t.toLowerCase() : ([t[0].toLowerCase(), t[1].toLowerCase()] as [string, string])))
      : texts;
    return this.tokenizer.encodeBatch(inputs, { maxLength: this._maxSeqLength });
  }

  getConfigDict(): Record<string, unknown> {
    return { max_seq_length: this._maxSeqLength, do_lower_case: this.doLowerCase };
  }

  /** Writes config.json, model.safetensors, the tokenizer files and sentence_bert_config.json into `dir`. */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), { ...this.config, architectures: ["BertModel"], torch_dtype: "float32" });
    await saveWeights(this.native, join(dir, "model.safetensors"));
    await this.tokenizer.save(dir, { modelMaxLength: this._maxSeqLength });
    await writeJson(join(dir, "sentence_bert_config.json"), this.getConfigDict());
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `Transformer(${JSON.stringify({ max_seq_length: this._maxSeqLength, do_lower_case: this.doLowerCase })}) with BertModel`;
  }
}
