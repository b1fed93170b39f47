import { readFile } from "node:fs/promises";
import { join } from "node:path";

import type { NativeEncoderInfo, NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, floatKeys, readJsonObject, writeJson, writeJsonWithFloats } from "../io/files.js";
import { modelIdFor, resolveModelFolder, type HubOptions } from "../hub/index.js";
import { callNative, native } from "../native.js";
import { Tokenizer, type EncodedBatch, type TextInput } from "../tokenization/Tokenizer.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type InputModule } from "./Module.js";

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

/** The model_types this build runs (each an architecture of the native addon). */
export function supportedModelTypes(): string[] {
  return native().architectures();
}

/** The encoder (any supported architecture, see supportedModelTypes) and its tokenizer, producing token embeddings (`models.Transformer`). */
export class Transformer implements InputModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Transformer`;
  readonly className = "Transformer";
  readonly saveInRoot = true;
  /** config.json as read; written back on save. */
  readonly config: Record<string, unknown>;
  /** config.json's keys written as floats, whole numbers included (`2.0`): written so again on save. */
  configFloats: readonly string[] = [];
  readonly tokenizer: Tokenizer;
  readonly native: NativeModule;
  /** Checkpoint keys that were present but not used (e.g. a masked-LM head). */
  readonly ignoredKeys: readonly string[];
  /** What the native encoder says of itself: architecture, sizes. */
  readonly encoderInfo: NativeEncoderInfo;
  /** The Hub id it was downloaded from; undefined for a local folder or a new model. */
  hubId: string | undefined;
  doLowerCase: boolean;
  private _maxSeqLength: number;

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
    this.encoderInfo = native.encoderInfo();
    this._maxSeqLength = maxSeqLength;
    this.doLowerCase = doLowerCase;
    this.maxSeqLength = maxSeqLength;
  }

  get maxSeqLength(): number {
    return this._maxSeqLength;
  }

  set maxSeqLength(value: number) {
    assertPositiveInt(value, "maxSeqLength");
    if (value > this.encoderInfo.maxTokens) {
      throw new RangeError(`maxSeqLength ${value} exceeds the ${this.encoderInfo.maxTokens} tokens the model's max_position_embeddings allow`);
    }
    this._maxSeqLength = value;
  }

  /**
   * Loads a Hugging Face encoder folder (any supported model_type), or a Hub model id (downloaded into the standard cache): config.json,
   * weights (model.safetensors, its sharded index, or pytorch_model.bin) and tokenizer files (tokenizer.json,
   * or vocab.txt + tokenizer_config.json).
   */
  static async load(modelNameOrPath: string, options: TransformerOptions = {}): Promise<Transformer> {
    if (typeof modelNameOrPath !== "string" || modelNameOrPath === "") throw new TypeError("Transformer.load: modelNameOrPath must be a non-empty string");
    const { revision, token, cacheFolder, localFilesOnly, endpoint } = options;
    const path = await resolveModelFolder(modelNameOrPath, { revision, token, cacheFolder, localFilesOnly, endpoint });
    const configFile = join(path, "config.json");
    const config = await readJsonObject(configFile, { op: OP_LOAD });
    const sbertConfigFile = join(path, "sentence_bert_config.json");
    const sbertConfig = new ConfigReader((await readJsonObject(sbertConfigFile, { optional: true, op: OP_LOAD })) ?? {}, sbertConfigFile, OP_LOAD);
    const tokenizer = await Tokenizer.fromFolder(path);
    const weights = await weightsForNative(path);
    const { module, ignoredKeys } = await callNative(OP_LOAD, (n) =>
      n.loadTransformer({ config, file: configFile }, weights, { device: options.device ?? "cpu", seed: 0 }),
    );
    try {
      const rows = module.encoderInfo().vocabSize;
      if (tokenizer.vocabSize > rows) {
        // Ids past the embedding matrix would fail (or read out of bounds) at the first text that produces them.
        throw new SbertError(
          "ERR_CONFIG",
          `${tokenizer.file} has ${tokenizer.vocabSize} tokens but the model's word embeddings have ${rows} rows (vocab_size in ${configFile})`,
          { op: OP_LOAD },
        );
      }
      const maxSeqLength =
        options.maxSeqLength ??
        (sbertConfig.has("max_seq_length")
          ? sbertConfig.int("max_seq_length")
          : Math.min(module.encoderInfo().maxTokens, tokenizer.modelMaxLength ?? Infinity));
      const doLowerCase = options.doLowerCase ?? sbertConfig.bool("do_lower_case", false);
      const transformer = new Transformer(config, tokenizer, module, ignoredKeys, maxSeqLength, doLowerCase);
      transformer.configFloats = floatKeys(await readFile(configFile, "utf8"));
      if (path !== modelNameOrPath) transformer.hubId = modelIdFor(modelNameOrPath);
      return transformer;
    } catch (e) {
      module.dispose();
      throw e;
    }
  }

  /** A new encoder with freshly initialised weights from a config.json object (model_type "bert" when it names none) and a tokenizer. */
  static async fromConfig(config: Record<string, unknown>, tokenizer: Tokenizer, options: TransformerFromConfigOptions = {}): Promise<Transformer> {
    const { module } = await callNative("Transformer.fromConfig", (n) =>
      n.loadTransformer({ config, file: "config" }, null, { device: options.device ?? "cpu", seed: options.seed ?? 0 }),
    );
    try {
      const info = module.encoderInfo();
      if (tokenizer.vocabSize > info.vocabSize) {
        throw new RangeError(`Transformer.fromConfig: the tokenizer has ${tokenizer.vocabSize} tokens but vocab_size is ${info.vocabSize}`);
      }
      const maxSeqLength = options.maxSeqLength ?? Math.min(info.maxTokens, tokenizer.modelMaxLength ?? Infinity);
      const full = { architectures: [info.modelClass], model_type: info.modelType, ...config };
      return new Transformer(full, tokenizer, module, [], maxSeqLength, options.doLowerCase ?? false);
    } catch (e) {
      module.dispose();
      throw e;
    }
  }

  getWordEmbeddingDimension(): number {
    return this.encoderInfo.hiddenSize;
  }

  /** Tokenizes, truncates to maxSeqLength and pads a batch of texts or text pairs. */
  tokenize(texts: TextInput[]): EncodedBatch {
    const inputs = this.doLowerCase
      ? texts.map((t) => (typeof t === "string" ? t.toLowerCase() : ([t[0].toLowerCase(), t[1].toLowerCase()] as [string, string])))
      : texts;
    return this.tokenizer.encodeBatch(inputs, { maxLength: this._maxSeqLength });
  }

  /** As sentence-transformers counts a prompt: its tokens with any leading special token, without a closing special one. */
  promptLength(prompt: string): number {
    const { inputIds, seqLength } = this.tokenize([prompt]);
    return seqLength > 0 && this.tokenizer.isSpecialId(inputIds[seqLength - 1]!) ? seqLength - 1 : seqLength;
  }

  getConfigDict(): Record<string, unknown> {
    return { max_seq_length: this._maxSeqLength, do_lower_case: this.doLowerCase };
  }

  /** Writes config.json, model.safetensors, the tokenizer files and sentence_bert_config.json into `dir`. */
  async save(dir: string): Promise<void> {
    const config = { ...this.config, architectures: [this.encoderInfo.modelClass], model_type: this.encoderInfo.modelType, torch_dtype: "float32" };
    await writeJsonWithFloats(join(dir, "config.json"), config, this.configFloats);
    await saveWeights(this.native, join(dir, "model.safetensors"));
    await this.tokenizer.save(dir, { modelMaxLength: this._maxSeqLength });
    await writeJson(join(dir, "sentence_bert_config.json"), this.getConfigDict());
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `Transformer(${JSON.stringify({ max_seq_length: this._maxSeqLength, do_lower_case: this.doLowerCase })}) with ${this.encoderInfo.modelClass}`;
  }
}
