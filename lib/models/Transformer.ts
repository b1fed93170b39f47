import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";

import type { NativeEncoderInfo, NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, exists, floatKeys, readJsonObject, writeJson, writeJsonWithFloats } from "../io/files.js";
import { readSafetensorsHeader, writeSafetensors } from "../io/safetensors.js";
import { modelIdFor, resolveModelFolder, type HubOptions } from "../hub/index.js";
import { callNative, callNativeSync, native } from "../native.js";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_KEY_PREFIX,
  ADAPTER_WEIGHTS_FILE,
  checkLoraConfig,
  readAdapterConfig,
  toNativeLoraConfig,
  writeAdapterConfig,
  type LoraConfig,
} from "../peft/LoraConfig.js";
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
  /** Where its base weights came from (a folder, or the Hub id): what a saved adapter names as base_model_name_or_path. */
  nameOrPath: string | undefined;
  /** The LoRA adapter it carries (addAdapter, or an adapter folder loaded), if any. */
  adapterConfig: Required<LoraConfig> | undefined;
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
    // A peft adapter folder (as sentence-transformers saves a model with an adapter): adapter_config.json and
    // adapter_model.safetensors beside the tokenizer, the base model's config and weights where
    // base_model_name_or_path says.
    const adapter = !(await exists(join(path, "config.json"))) && (await exists(join(path, ADAPTER_CONFIG_FILE))) ? await readAdapterConfig(path, OP_LOAD) : undefined;
    let basePath = path;
    if (adapter) {
      if (adapter.baseModelNameOrPath === undefined) {
        throw new SbertError("ERR_CONFIG", `${adapter.file}: field 'base_model_name_or_path' must name the base model (a folder or a Hub id), got nothing`, { op: OP_LOAD });
      }
      basePath = await resolveModelFolder(adapter.baseModelNameOrPath, { token, cacheFolder, localFilesOnly, endpoint });
    }
    const configFile = join(basePath, "config.json");
    const config = await readJsonObject(configFile, { op: OP_LOAD });
    const sbertConfigFile = join(path, "sentence_bert_config.json");
    const sbertConfig = new ConfigReader((await readJsonObject(sbertConfigFile, { optional: true, op: OP_LOAD })) ?? {}, sbertConfigFile, OP_LOAD);
    const tokenizer = await Tokenizer.fromFolder(path);
    const weights = await weightsForNative(basePath);
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
      if (adapter) {
        const base = adapter.baseModelNameOrPath!;
        transformer.nameOrPath = basePath === base || isAbsolute(base) ? base : resolve(basePath);
        try {
          transformer.addAdapter(adapter.config);
        } catch (e) {
          // The config is the file's: say which file and field did not fit the model.
          if (e instanceof SbertError && e.code === "ERR_CONFIG") throw new SbertError("ERR_CONFIG", `${adapter.file}: field 'target_modules': ${e.message.replace(/^[^:]*: /, "")}`, { op: OP_LOAD });
          throw e;
        }
        await transformer.loadAdapterWeights(path);
      } else {
        transformer.nameOrPath = path !== modelNameOrPath ? modelIdFor(modelNameOrPath) : resolve(path);
      }
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

  /**
   * Adds a LoRA adapter (peft's LoraConfig) to the encoder's linear layers that `targetModules` names, and freezes
   * the encoder's own weights: training then updates the adapter alone. Returns the adapted layers' paths.
   */
  addAdapter(config: LoraConfig): string[] {
    const checked = checkLoraConfig(config, "addAdapter");
    if (this.adapterConfig) throw new SbertError("ERR_INPUT", "the model already has a LoRA adapter (mergeAndUnload() it first)", { op: "Transformer.addAdapter" });
    const paths = callNativeSync("Transformer.addAdapter", () => this.native.addAdapter(toNativeLoraConfig(checked)));
    this.adapterConfig = checked;
    return paths;
  }

  /** Loads a peft adapter folder (adapter_config.json + adapter_model.safetensors) made for this base model. */
  async loadAdapter(dir: string): Promise<void> {
    const { config } = await readAdapterConfig(dir, "Transformer.loadAdapter");
    this.addAdapter(config);
    await this.loadAdapterWeights(dir);
  }

  private async loadAdapterWeights(dir: string): Promise<void> {
    const header = await readSafetensorsHeader(join(dir, ADAPTER_WEIGHTS_FILE));
    const tensors = header.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, begin: e.begin, end: e.end }));
    await callNative("Transformer.loadAdapter", () => this.native.loadAdapter({ files: [{ path: header.path, tensors }] }));
  }

  /** Writes the adapter as peft does: adapter_config.json and adapter_model.safetensors (keys `base_model.model.<path>.lora_A.weight`). */
  async saveAdapter(dir: string): Promise<void> {
    const config = this.adapterConfig;
    if (!config) throw new SbertError("ERR_INPUT", "the model has no adapter (addAdapter or loadAdapter first)", { op: "Transformer.saveAdapter" });
    if (this.nameOrPath === undefined) {
      throw new SbertError(
        "ERR_INPUT",
        "the base model was not loaded from a folder or the Hub, so adapter_config.json could not name it: save the base model and load it again, or mergeAndUnload()",
        { op: "Transformer.saveAdapter" },
      );
    }
    await writeAdapterConfig(dir, config, this.nameOrPath);
    const tensors = this.native.adapterStateDict().map((t) => ({ name: ADAPTER_KEY_PREFIX + t.name, dtype: "F32" as const, shape: t.shape, data: t.data }));
    await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: "pt" });
  }

  /** Folds the adapter into the base weights (W += scaling · B·A) and removes it; the weights train again. */
  mergeAndUnload(): void {
    if (!this.adapterConfig) throw new SbertError("ERR_INPUT", "the model has no adapter", { op: "Transformer.mergeAndUnload" });
    callNativeSync("Transformer.mergeAndUnload", () => this.native.mergeAdapter());
    this.adapterConfig = undefined;
  }

  /**
   * Writes config.json, model.safetensors, the tokenizer files and sentence_bert_config.json into `dir`; with an
   * adapter, as sentence-transformers saves one: adapter_config.json and adapter_model.safetensors in place of
   * config.json and model.safetensors.
   */
  async save(dir: string): Promise<void> {
    if (this.adapterConfig) {
      await this.saveAdapter(dir);
      await this.tokenizer.save(dir, { modelMaxLength: this._maxSeqLength });
      await writeJson(join(dir, "sentence_bert_config.json"), this.getConfigDict());
      return;
    }
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
