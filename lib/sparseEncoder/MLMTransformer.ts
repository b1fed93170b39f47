import { join } from "node:path";

import type { NativeModule, NativeTensorSpec, NativeWeights } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson, writeJsonWithFloats } from "../io/files.js";
import { writeSafetensors } from "../io/safetensors.js";
import type { InputModule } from "../models/Module.js";
import { Transformer } from "../models/Transformer.js";
import { callNative, callNativeSync } from "../native.js";
import type { EncodedBatch, TextInput, Tokenizer } from "../tokenization/Tokenizer.js";
import { MASKED_LM_HEADS, type MaskedLmHeadBiases, type MaskedLmHeadKeys } from "./mlmHeads.js";
import { SPARSE_TYPE_PREFIX } from "./SpladePooling.js";

export interface MLMTransformerOptions {
  /** "cpu", "cuda" or "cuda:N". Default "cpu". */
  device?: string;
  /** Texts are cut to this many tokens. Default: sentence_bert_config.json's, else the tokenizer's and the positions' limit. */
  maxSeqLength?: number;
}

const OP_LOAD = "MLMTransformer.load";

type Located = { path: string; spec: NativeTensorSpec };

/**
 * sentence-transformers' `MLMTransformer`: a Hugging Face `*ForMaskedLM` model whose token embeddings are its
 * prediction head's scores over the vocabulary. The encoder is a Transformer; the head (dense, activation,
 * LayerNorm, decoder to the vocabulary, keyed as each architecture's head in mlmHeads.ts) runs natively right after
 * it, in the same pipeline step.
 */
export class MLMTransformer implements InputModule {
  readonly moduleType = `${SPARSE_TYPE_PREFIX}MLMTransformer`;
  readonly className = "MLMTransformer";
  readonly saveInRoot = true;
  /** The encoder and the head as one native module. */
  readonly native: NativeModule;

  private constructor(
    readonly transformer: Transformer,
    /** The native head (an mlm_head module). */
    readonly head: NativeModule,
    /** Where the head's keys are, for the folder's model_type. */
    readonly keys: MaskedLmHeadKeys,
    /** config.json's tie_word_embeddings. */
    readonly tied: boolean,
    /** Which of the head's layers have a bias (config.json's choice). */
    readonly biases: MaskedLmHeadBiases,
    // The checkpoint keys each head tensor is written under (none for a decoder weight read from the word embeddings).
    private readonly savedKeys: Readonly<Record<string, readonly string[]>>,
  ) {
    // Tied as transformers ties them, so that training updates the word embeddings through both uses.
    this.native = callNativeSync(OP_LOAD, (n) => n.createMlmTransformer(transformer.native, head, tied ? keys.wordEmbeddings : undefined));
  }

  /**
   * Loads a `*ForMaskedLM` folder: the encoder as Transformer.load does, and its prediction head, every key and
   * shape checked before anything is read (an SbertError naming the file and key).
   */
  static async load(path: string, options: MLMTransformerOptions = {}): Promise<MLMTransformer> {
    const device = options.device ?? "cpu";
    const configFile = join(path, "config.json");
    const config = await readJsonObject(configFile, { op: OP_LOAD });
    const modelType = config["model_type"] ?? "bert";
    const mlm = typeof modelType === "string" && Object.hasOwn(MASKED_LM_HEADS, modelType) ? MASKED_LM_HEADS[modelType]! : undefined;
    if (mlm === undefined) {
      throw new SbertError(
        "ERR_CONFIG",
        `${configFile}: model_type ${JSON.stringify(modelType)} has no masked-LM head in sbert-node (supported: ${Object.keys(MASKED_LM_HEADS).join(", ")})`,
        { op: OP_LOAD },
      );
    }
    const reader = new ConfigReader(config, configFile, OP_LOAD);
    const tied = reader.bool("tie_word_embeddings", true);

    const biases = mlm.biases?.(reader) ?? { dense: true, layerNorm: true, decoder: true };

    const weights = await weightsForNative(path);
    // The head's keys are looked for before anything is loaded; shapes are checked once the sizes are known.
    const locate = locateHead(weights, mlm, tied, biases, OP_LOAD);
    const transformer = await Transformer.load(path, { device, maxSeqLength: options.maxSeqLength });
    let head: NativeModule | undefined;
    try {
      const hidden = transformer.encoderInfo.hiddenSize;
      const vocab = transformer.encoderInfo.vocabSize;
      const { headWeights, savedKeys } = locate(hidden, vocab);
      const headConfig = {
        hiddenSize: hidden,
        vocabSize: vocab,
        activation: mlm.activation(reader),
        layerNormEps: mlm.layerNormEps(reader),
        denseBias: biases.dense,
        layerNormBias: biases.layerNorm,
        decoderBias: biases.decoder,
      };
      head = (await callNative(OP_LOAD, (n) => n.loadModule("mlm_head", headConfig, headWeights, { device, seed: 0 }))).module;
      return new MLMTransformer(transformer, head, mlm, tied, biases, savedKeys);
    } catch (e) {
      head?.dispose();
      transformer.dispose();
      throw e;
    }
  }

  /** Replaces the encoder's and the head's weights with those of a folder this model's save wrote (a checkpoint). */
  async reloadWeights(dir: string, op: string): Promise<void> {
    const weights = await weightsForNative(dir);
    const info = this.transformer.encoderInfo;
    const { headWeights } = locateHead(weights, this.keys, this.tied, this.biases, op)(info.hiddenSize, info.vocabSize);
    await callNative(op, () => this.transformer.native.loadWeights(weights));
    await callNative(op, () => this.head.loadWeights(headWeights));
  }

  get tokenizer(): Tokenizer {
    return this.transformer.tokenizer;
  }

  get maxSeqLength(): number {
    return this.transformer.maxSeqLength;
  }

  set maxSeqLength(value: number) {
    this.transformer.maxSeqLength = value;
  }

  /** The size of its token embeddings: the vocabulary's. */
  get vocabSize(): number {
    return this.transformer.encoderInfo.vocabSize;
  }

  tokenize(texts: TextInput[]): EncodedBatch {
    return this.transformer.tokenize(texts);
  }

  promptLength(prompt: string): number {
    return this.transformer.promptLength(prompt);
  }

  /** The encoder's and the head's weights under the checkpoint keys Hugging Face's `*ForMaskedLM` model gives them. */
  stateDict(): { name: string; shape: number[]; data: Float32Array }[] {
    const named = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const t of this.transformer.native.stateDict()) named.set(`${this.keys.prefix}.${t.name}`, t);
    for (const t of this.head.stateDict()) for (const name of this.savedKeys[t.name] ?? []) named.set(name, t);
    return [...named].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  }

  /**
   * Writes the `*ForMaskedLM` folder: config.json, model.safetensors with Hugging Face's keys (a tied decoder's
   * weight left to the word embeddings), the tokenizer files and sentence_bert_config.json.
   */
  async save(dir: string): Promise<void> {
    const info = this.transformer.encoderInfo;
    await writeJsonWithFloats(
      join(dir, "config.json"),
      { ...this.transformer.config, architectures: [this.keys.modelClass], model_type: info.modelType, tie_word_embeddings: this.tied, torch_dtype: "float32" },
      this.transformer.configFloats,
    );
    const tensors = this.stateDict().map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: t.data }));
    await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
    await this.transformer.tokenizer.save(dir, { modelMaxLength: this.transformer.maxSeqLength });
    await writeJson(join(dir, "sentence_bert_config.json"), this.transformer.getConfigDict());
  }

  dispose(): void {
    this.native.dispose();
    this.head.dispose();
    this.transformer.dispose();
  }

  toString(): string {
    return `MLMTransformer(${JSON.stringify(this.transformer.getConfigDict())}) with ${this.keys.modelClass}`;
  }
}

/**
 * The head's tensors in a checkpoint's files: every key looked for now, then (given the encoder's sizes) every
 * shape checked, before anything is read (an SbertError naming the file and key). Gives them under the native
 * head's names, and where save writes each back.
 */
function locateHead(
  weights: Awaited<ReturnType<typeof weightsForNative>>,
  mlm: MaskedLmHeadKeys,
  tied: boolean,
  biases: MaskedLmHeadBiases,
  op: string,
): (hidden: number, vocab: number) => { headWeights: NonNullable<NativeWeights>; savedKeys: Record<string, string[]> } {
  const tensors = new Map<string, Located>();
  for (const f of weights.files) for (const t of f.tensors) tensors.set(t.name, { path: f.path, spec: t });
  const files = weights.files.map((f) => f.path).join(", ");
  const needed = headKeys(mlm, tied, biases);
  for (const part of needed) {
    if (!part.lookup.some((k) => tensors.has(k))) {
      const [first, ...others] = part.reported;
      const or = others.length > 0 ? ` (or '${others.join("', '")}')` : "";
      throw new SbertError("ERR_WEIGHTS", `missing key '${first}'${or} in ${files}: ${mlm.modelClass}'s prediction head needs it for its ${part.name}`, { op });
    }
  }
  return (hidden, vocab) => {
    const shapes: Record<string, number[]> = {
      "dense.weight": [hidden, hidden],
      "dense.bias": [hidden],
      "layer_norm.weight": [hidden],
      "layer_norm.bias": [hidden],
      "decoder.weight": [vocab, hidden],
      "decoder.bias": [vocab],
    };
    const byFile = new Map<string, NativeTensorSpec[]>();
    const savedKeys: Record<string, string[]> = {};
    for (const { name, lookup } of needed) {
      const key = lookup.find((k) => tensors.has(k))!;
      savedKeys[name] = savedKeysOf(mlm, tied, name, key);
      const found = tensors.get(key)!;
      const expected = shapes[name]!;
      if (found.spec.shape.length !== expected.length || found.spec.shape.some((d, i) => d !== expected[i])) {
        throw new SbertError(
          "ERR_WEIGHTS",
          `key '${key}' has shape [${found.spec.shape.join(", ")}] in ${found.path} but ${mlm.modelClass}'s prediction head expects [${expected.join(", ")}]`,
          { op },
        );
      }
      byFile.set(found.path, [...(byFile.get(found.path) ?? []), { ...found.spec, name }]);
    }
    return { headWeights: { files: [...byFile].map(([p, specs]) => ({ path: p, tensors: specs })) }, savedKeys };
  };
}

/**
 * The head's parts by native name, each with the checkpoint keys that may hold it in the order transformers 5 reads
 * them (`lookup`) and in the order a missing one is reported (`reported`, the usual key first). A tied decoder
 * reads a weight or bias of its own where the checkpoint stores one (transformers ties only what is absent or
 * equal), else the word embeddings and the head's bias; an untied one reads only its own. A bias the config leaves
 * out is not looked for.
 */
function headKeys(mlm: MaskedLmHeadKeys, tied: boolean, biases: MaskedLmHeadBiases): { name: string; lookup: string[]; reported: string[] }[] {
  const one = (name: string, key: string) => ({ name, lookup: [key], reported: [key] });
  const embeddings = [`${mlm.prefix}.${mlm.wordEmbeddings}`, mlm.wordEmbeddings];
  const weight = tied
    ? { name: "decoder.weight", lookup: [`${mlm.decoder}.weight`, ...embeddings], reported: [embeddings[0]!, `${mlm.decoder}.weight`] }
    : one("decoder.weight", `${mlm.decoder}.weight`);
  const bias =
    tied && mlm.tiedBias !== undefined
      ? { name: "decoder.bias", lookup: [`${mlm.decoder}.bias`, mlm.tiedBias], reported: [mlm.tiedBias, `${mlm.decoder}.bias`] }
      : one("decoder.bias", `${mlm.decoder}.bias`);
  return [
    one("dense.weight", `${mlm.dense}.weight`),
    ...(biases.dense ? [one("dense.bias", `${mlm.dense}.bias`)] : []),
    one("layer_norm.weight", `${mlm.layerNorm}.weight`),
    ...(biases.layerNorm ? [one("layer_norm.bias", `${mlm.layerNorm}.bias`)] : []),
    weight,
    ...(biases.decoder ? [bias] : []),
  ];
}

/**
 * Where save writes a head tensor read from `key`: back under the key, except a decoder weight read from the word
 * embeddings (the encoder writes those); an untied decoder's bias is written under the head's bias too, the
 * parameter transformers keeps beside it unused.
 */
function savedKeysOf(mlm: MaskedLmHeadKeys, tied: boolean, name: string, key: string): string[] {
  if (name === "decoder.weight" && key !== `${mlm.decoder}.weight`) return [];
  if (name === "decoder.bias" && !tied && mlm.tiedBias !== undefined) return [mlm.tiedBias, key];
  return [key];
}
