import { mkdir } from "node:fs/promises";
import { join } from "node:path";

import type { NativeModule, NativeTensorSpec, NativeWeights } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { modelIdFor, resolveModelFolder, type HubOptions } from "../hub/index.js";
import { weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJson, readJsonObject, writeFolderAtomically, writeJson, writeJsonWithFloats } from "../io/files.js";
import { writeSafetensors } from "../io/safetensors.js";
import { Transformer } from "../models/Transformer.js";
import { callNative, native } from "../native.js";
import { SentenceTransformer, type LinearPrecision } from "../SentenceTransformer.js";
import type { Tokenizer } from "../tokenization/Tokenizer.js";
import { isSparseEmbedding, sparseCosSim, sparseDotScore, toDense, toSparse, type SparseEmbedding } from "../util/sparse.js";
import { MaskedLmHead } from "./MaskedLmHead.js";
import { MASKED_LM_HEADS, type MaskedLmHeadKeys } from "./mlmHeads.js";
import { SpladePooling } from "./SpladePooling.js";

export type SparseSimilarityFnName = "dot" | "cosine";
const SIMILARITY_FNS: readonly SparseSimilarityFnName[] = ["dot", "cosine"];

export interface SparseEncoderLoadOptions extends HubOptions {
  /** "cpu", "cuda" or "cuda:N". Default "cpu". */
  device?: string;
  /** Texts are cut to this many tokens. Default: sentence_bert_config.json's, else the tokenizer's and the positions' limit. */
  maxSeqLength?: number;
  /** Keep only this many of each embedding's largest values (encode's default). */
  maxActiveDims?: number;
  /** Default: config_sentence_transformers.json's, else "dot". */
  similarityFnName?: SparseSimilarityFnName;
  /** Override the saved prompts. */
  prompts?: Record<string, string>;
  defaultPromptName?: string;
  /** Inference precision of the linear layers (see SentenceTransformer.quantize). */
  quantize?: LinearPrecision;
}

export interface SparseEncodeOptions {
  /** Texts per native call. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  /** Text put before every sentence. */
  prompt?: string;
  /** A key of the model's prompts. */
  promptName?: string;
  /** Keep only this many of each embedding's largest values. Default: the model's maxActiveDims (all when unset). */
  maxActiveDims?: number;
  /** true (default): SparseEmbeddings; false: dense Float32Arrays over the vocabulary. */
  convertToSparseTensor?: boolean;
}

export type { SparseEmbedding };

/** An embedding as SparseEncoder's methods take it: sparse, or dense over the vocabulary. */
export type SparseOrDense = SparseEmbedding | Float32Array;

const OP_LOAD = "SparseEncoder.load";
const OP_ENCODE = "SparseEncoder.encode";
/** The sentence-transformers version whose SparseEncoder layout save writes (legacy module types, MLMTransformer at the root). */
const SAVED_LAYOUT_VERSION = "5.0.0";

type Located = { path: string; spec: NativeTensorSpec };

function checkMaxActiveDims(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) throw new RangeError(`${where}: maxActiveDims must be a positive integer, got ${String(value)}`);
  return value;
}

function checkSimilarityFnName(name: unknown, where: string): SparseSimilarityFnName {
  if (!SIMILARITY_FNS.includes(name as SparseSimilarityFnName)) {
    throw new RangeError(`${where}: similarityFnName must be one of ${SIMILARITY_FNS.join(", ")}, got ${JSON.stringify(name)}`);
  }
  return name as SparseSimilarityFnName;
}

function asSparse(e: SparseOrDense, where: string): SparseEmbedding {
  if (e instanceof Float32Array) return toSparse(e);
  if (!isSparseEmbedding(e)) {
    throw new SbertError("ERR_INPUT", `${where} must be a sparse embedding {indices: Int32Array, values: Float32Array, dim} or a Float32Array`, { op: "SparseEncoder" });
  }
  return e;
}

/**
 * A sparse text encoder (SPLADE): a `*ForMaskedLM` model scores every vocabulary entry at every token, and
 * SpladePooling keeps, per entry, the largest (or summed) log(1 + relu(score)) over the text's tokens, giving one
 * vector over the vocabulary in which most values are zero. sentence-transformers' `SparseEncoder` API and folder
 * formats; the encoder, the head and the pooling run natively, on worker threads.
 */
export class SparseEncoder {
  /** Encode's default for maxActiveDims (undefined: keep every active dimension). */
  maxActiveDims: number | undefined;
  /** Hub id of the model, if it was downloaded. */
  hubId: string | undefined;
  private _similarityFnName: SparseSimilarityFnName;
  private readonly transformer: Transformer;
  private readonly head: MaskedLmHead;
  readonly pooling: SpladePooling;
  // Encoder, head and pooling as one native pipeline, with encode's batching by length and its prompts.
  private readonly pipeline: SentenceTransformer;
  private disposed = false;

  private constructor(
    transformer: Transformer,
    head: MaskedLmHead,
    pooling: SpladePooling,
    options: { prompts: Record<string, string>; defaultPromptName: string | undefined; similarityFnName: SparseSimilarityFnName; maxActiveDims: number | undefined },
  ) {
    this.transformer = transformer;
    this.head = head;
    this.pooling = pooling;
    pooling.embeddingDimension = transformer.encoderInfo.vocabSize;
    this.pipeline = new SentenceTransformer({ modules: [transformer, head, pooling], prompts: options.prompts, defaultPromptName: options.defaultPromptName });
    this._similarityFnName = options.similarityFnName;
    this.maxActiveDims = options.maxActiveDims;
  }

  /**
   * Loads a SparseEncoder folder or Hub id: modules.json with a masked-LM Transformer at the root
   * (`MLMTransformer`, or sentence-transformers 6's `Transformer` with transformer_task "fill-mask") and a
   * SpladePooling, or a plain Hugging Face `*ForMaskedLM` folder (then max pooling with relu, as
   * sentence-transformers does).
   */
  static async load(modelNameOrPath: string, options: SparseEncoderLoadOptions = {}): Promise<SparseEncoder> {
    if (typeof modelNameOrPath !== "string" || modelNameOrPath === "") throw new TypeError("SparseEncoder.load: modelNameOrPath must be a non-empty string");
    if (typeof options !== "object" || options === null) throw new TypeError("SparseEncoder.load: options must be an object");
    const optionMaxActiveDims = checkMaxActiveDims(options.maxActiveDims, "SparseEncoder.load");
    if (options.similarityFnName !== undefined) checkSimilarityFnName(options.similarityFnName, "SparseEncoder.load");
    const { revision, token, cacheFolder, localFilesOnly, endpoint } = options;
    const path = await resolveModelFolder(modelNameOrPath, { revision, token, cacheFolder, localFilesOnly, endpoint });
    const device = options.device ?? "cpu";

    const modulesFile = join(path, "modules.json");
    const entries = await readJson(modulesFile, { optional: true, op: OP_LOAD });
    let poolingPath: string | undefined;
    if (entries !== undefined) poolingPath = await checkModules(entries, path, modulesFile);
    const stFile = join(path, "config_sentence_transformers.json");
    const st = (await readJsonObject(stFile, { optional: true, op: OP_LOAD })) ?? {};
    const stConfig = new ConfigReader(st, stFile, OP_LOAD);
    const prompts = options.prompts ?? savedPrompts(st, stFile);
    const defaultPromptName = options.defaultPromptName ?? (stConfig.has("default_prompt_name") ? stConfig.string("default_prompt_name") : undefined);
    const saved = st["similarity_fn_name"];
    const similarityFnName = options.similarityFnName ?? (SIMILARITY_FNS.includes(saved as SparseSimilarityFnName) ? (saved as SparseSimilarityFnName) : "dot");

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

    const weights = await weightsForNative(path);
    const tensors = new Map<string, Located>();
    for (const f of weights.files) for (const t of f.tensors) tensors.set(t.name, { path: f.path, spec: t });
    const files = weights.files.map((f) => f.path).join(", ");
    // The head's keys are looked for before anything is loaded; shapes are checked once the sizes are known.
    const needed = headKeys(mlm, tied);
    for (const part of needed) {
      if (!part.lookup.some((k) => tensors.has(k))) {
        const [first, ...others] = part.reported;
        const or = others.length > 0 ? ` (or '${others.join("', '")}')` : "";
        throw new SbertError("ERR_WEIGHTS", `missing key '${first}'${or} in ${files}: ${mlm.modelClass}'s prediction head needs it for its ${part.name}`, { op: OP_LOAD });
      }
    }

    const loaded: { dispose(): void }[] = [];
    try {
      const transformer = await Transformer.load(path, { device, maxSeqLength: options.maxSeqLength });
      loaded.push(transformer);
      const hidden = transformer.encoderInfo.hiddenSize;
      const vocab = transformer.encoderInfo.vocabSize;
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
            { op: OP_LOAD },
          );
        }
        byFile.set(found.path, [...(byFile.get(found.path) ?? []), { ...found.spec, name }]);
      }
      const headWeights: NonNullable<NativeWeights> = { files: [...byFile].map(([p, specs]) => ({ path: p, tensors: specs })) };
      const headConfig = { hiddenSize: hidden, vocabSize: vocab, activation: mlm.activation(reader), layerNormEps: mlm.layerNormEps(reader) };
      const { module } = await callNative(OP_LOAD, (n) => n.loadModule("mlm_head", headConfig, headWeights, { device, seed: 0 }));
      const head = new MaskedLmHead(mlm, module, tied, savedKeys);
      loaded.push(head);
      const pooling = poolingPath === undefined ? new SpladePooling() : await SpladePooling.load(poolingPath);
      loaded.push(pooling);
      if (device !== "cpu") pooling.native.to(device);
      const model = new SparseEncoder(transformer, head, pooling, { prompts, defaultPromptName, similarityFnName, maxActiveDims: optionMaxActiveDims });
      if (path !== modelNameOrPath) model.hubId = modelIdFor(modelNameOrPath);
      if (options.quantize !== undefined) model.quantize(options.quantize);
      return model;
    } catch (e) {
      for (const m of loaded) m.dispose();
      throw e;
    }
  }

  /** The similarity function similarity() and similarityPairwise() use: "dot" (sentence-transformers' default) or "cosine". */
  get similarityFnName(): SparseSimilarityFnName {
    return this._similarityFnName;
  }

  set similarityFnName(name: SparseSimilarityFnName) {
    this._similarityFnName = checkSimilarityFnName(name, "SparseEncoder");
  }

  get prompts(): Record<string, string> {
    return this.pipeline.prompts;
  }

  get defaultPromptName(): string | undefined {
    return this.pipeline.defaultPromptName;
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

  get device(): string {
    return this.pipeline.device;
  }

  /** The embeddings' size: the vocabulary's. */
  getSentenceEmbeddingDimension(): number {
    return this.transformer.encoderInfo.vocabSize;
  }

  /**
   * Embeds one text (→ one embedding) or many (→ one per text, in order), as sparse embeddings unless
   * convertToSparseTensor is false. Batches are sorted by length and run natively off the event loop.
   */
  encode(sentences: string, options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding>;
  encode(sentences: string[], options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding[]>;
  encode(sentences: string, options: SparseEncodeOptions & { convertToSparseTensor: false }): Promise<Float32Array>;
  encode(sentences: string[], options: SparseEncodeOptions & { convertToSparseTensor: false }): Promise<Float32Array[]>;
  encode(sentences: string | string[], options?: SparseEncodeOptions): Promise<SparseOrDense | SparseOrDense[]>;
  async encode(sentences: string | string[], options: SparseEncodeOptions = {}): Promise<SparseOrDense | SparseOrDense[]> {
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: OP_ENCODE });
    if (typeof options !== "object" || options === null || Array.isArray(options)) throw new SbertError("ERR_INPUT", "options must be an object (or left out)", { op: OP_ENCODE });
    const maxActiveDims = checkMaxActiveDims(options.maxActiveDims, "encode") ?? this.maxActiveDims;
    const single = typeof sentences === "string";
    if (!single && !Array.isArray(sentences)) throw new SbertError("ERR_INPUT", `sentences must be a string or an array of strings, got ${sentences === null ? "null" : typeof sentences}`, { op: OP_ENCODE });
    (single ? [sentences] : sentences).forEach((s, i) => {
      if (typeof s !== "string") throw new SbertError("ERR_INPUT", `sentences[${i}] must be a string, got ${s === null ? "null" : typeof s}`, { op: OP_ENCODE });
    });
    const dense = (await this.pipeline.encode(single ? [sentences] : sentences, {
      batchSize: options.batchSize,
      showProgressBar: options.showProgressBar,
      prompt: options.prompt,
      promptName: options.promptName,
    })) as Float32Array[];
    const out: SparseOrDense[] = dense.map((row) => {
      if (options.convertToSparseTensor ?? true) return toSparse(row, maxActiveDims);
      return maxActiveDims === undefined ? row.slice() : toDense(toSparse(row, maxActiveDims));
    });
    return single ? out[0]! : out;
  }

  /** Embeds queries, as sentence-transformers' `encode_query`: the prompt named "query" when the model has one and no prompt is given. */
  encodeQuery(sentences: string, options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding>;
  encodeQuery(sentences: string[], options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding[]>;
  encodeQuery(sentences: string | string[], options?: SparseEncodeOptions): Promise<SparseOrDense | SparseOrDense[]>;
  encodeQuery(sentences: string | string[], options: SparseEncodeOptions = {}): Promise<SparseOrDense | SparseOrDense[]> {
    const o = { ...(options ?? {}) };
    if (o.promptName === undefined && o.prompt === undefined && "query" in this.prompts) o.promptName = "query";
    return this.encode(sentences, o);
  }

  /** Embeds documents, as sentence-transformers' `encode_document`: the first of the prompts "document", "passage", "corpus" the model has, when no prompt is given. */
  encodeDocument(sentences: string, options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding>;
  encodeDocument(sentences: string[], options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding[]>;
  encodeDocument(sentences: string | string[], options?: SparseEncodeOptions): Promise<SparseOrDense | SparseOrDense[]>;
  encodeDocument(sentences: string | string[], options: SparseEncodeOptions = {}): Promise<SparseOrDense | SparseOrDense[]> {
    const o = { ...(options ?? {}) };
    if (o.promptName === undefined && o.prompt === undefined) o.promptName = ["document", "passage", "corpus"].find((p) => p in this.prompts);
    return this.encode(sentences, o);
  }

  /**
   * The active dimensions of an embedding as [token, weight] pairs, heaviest first (the `topK` heaviest when given),
   * as sentence-transformers' `decode`; a list of embeddings gives one list each.
   */
  decode(embedding: SparseOrDense, topK?: number): [string, number][];
  decode(embeddings: SparseOrDense[], topK?: number): [string, number][][];
  decode(embeddings: SparseOrDense | SparseOrDense[], topK?: number): [string, number][] | [string, number][][] {
    if (topK !== undefined && (!Number.isInteger(topK) || topK <= 0)) throw new RangeError(`decode: topK must be a positive integer, got ${String(topK)}`);
    const one = (e: SparseOrDense, where: string): [string, number][] => {
      const s = asSparse(e, where);
      const order = Array.from(s.indices.keys()).filter((k) => s.values[k] !== 0);
      order.sort((a, b) => s.values[b]! - s.values[a]! || s.indices[a]! - s.indices[b]!);
      const kept = topK === undefined ? order : order.slice(0, topK);
      const tokens = this.tokenizer.convertIdsToTokens(kept.map((k) => s.indices[k]!));
      return kept.map((k, i) => [tokens[i] ?? `[${s.indices[k]}]`, s.values[k]!]);
    };
    return Array.isArray(embeddings) ? embeddings.map((e, i) => one(e, `embeddings[${i}]`)) : one(embeddings, "embedding");
  }

  /**
   * The mean number of active (non-zero) dimensions of the embeddings and the mean share of inactive ones, as
   * sentence-transformers' `sparsity`: `{activeDims, sparsityRatio}` (0 and 1 for no embeddings).
   */
  static sparsity(embeddings: SparseOrDense | SparseOrDense[]): { activeDims: number; sparsityRatio: number } {
    const list = (Array.isArray(embeddings) ? embeddings : [embeddings]).map((e, i) => asSparse(e, `embeddings[${i}]`));
    if (list.length === 0 || list[0]!.dim === 0) return { activeDims: 0, sparsityRatio: 1 };
    let active = 0;
    for (const e of list) for (const v of e.values) if (v !== 0) active++;
    const activeDims = active / list.length;
    return { activeDims, sparsityRatio: 1 - activeDims / list[0]!.dim };
  }

  /**
   * The dimensions `a` shares with each of `b`, valued a·b where that product is positive, as sentence-transformers'
   * `intersection` (decode shows which tokens two texts match on); one embedding for one `b`, a list for a list.
   */
  static intersection(a: SparseOrDense, b: SparseOrDense): SparseEmbedding;
  static intersection(a: SparseOrDense, b: SparseOrDense[]): SparseEmbedding[];
  static intersection(a: SparseOrDense, b: SparseOrDense | SparseOrDense[]): SparseEmbedding | SparseEmbedding[] {
    const x = asSparse(a, "a");
    const one = (e: SparseOrDense, where: string): SparseEmbedding => {
      const y = asSparse(e, where);
      if (y.dim !== x.dim) throw new SbertError("ERR_INPUT", `${where} has ${y.dim} dimensions but a has ${x.dim}`, { op: "SparseEncoder.intersection" });
      const indices: number[] = [];
      const values: number[] = [];
      for (let i = 0, j = 0; i < x.indices.length && j < y.indices.length; ) {
        if (x.indices[i] === y.indices[j]) {
          const v = Math.fround(x.values[i]! * y.values[j]!);
          if (v > 0) {
            indices.push(x.indices[i]!);
            values.push(v);
          }
          i++;
          j++;
        } else if (x.indices[i]! < y.indices[j]!) i++;
        else j++;
      }
      return { indices: Int32Array.from(indices), values: Float32Array.from(values), dim: x.dim };
    };
    return Array.isArray(b) ? b.map((e, i) => one(e, `b[${i}]`)) : one(b, "b");
  }

  /** The similarity (similarityFnName) of every embedding of `a` with every one of `b`: a [a.length][b.length] matrix. */
  similarity(a: SparseOrDense | SparseOrDense[], b: SparseOrDense | SparseOrDense[]): number[][] {
    const left = (Array.isArray(a) ? a : [a]).map((e, i) => asSparse(e, `a[${i}]`));
    const right = (Array.isArray(b) ? b : [b]).map((e, i) => asSparse(e, `b[${i}]`));
    const score = this.scorer();
    return left.map((x) => right.map((y) => score(x, y)));
  }

  /** The similarity of each pair a[i], b[i]. */
  similarityPairwise(a: SparseOrDense[], b: SparseOrDense[]): number[] {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) throw new SbertError("ERR_INPUT", "similarityPairwise needs two arrays of the same length", { op: "SparseEncoder" });
    const score = this.scorer();
    return a.map((x, i) => score(asSparse(x, `a[${i}]`), asSparse(b[i]!, `b[${i}]`)));
  }

  private scorer(): (x: SparseEmbedding, y: SparseEmbedding) => number {
    return this._similarityFnName === "dot" ? sparseDotScore : sparseCosSim;
  }

  /** Linear layers' inference precision (see SentenceTransformer.quantize). */
  quantize(precision: LinearPrecision): void {
    this.pipeline.quantize(precision);
  }

  /** The contents of config_sentence_transformers.json. */
  getConfigDict(): Record<string, unknown> {
    const info = native().info();
    return {
      __version__: { sentence_transformers: SAVED_LAYOUT_VERSION, transformers: "4.41.0", pytorch: info.torchVersion },
      prompts: this.prompts,
      default_prompt_name: this.defaultPromptName ?? null,
      similarity_fn_name: this._similarityFnName,
      model_type: "SparseEncoder",
    };
  }

  /**
   * Saves the model as sentence-transformers' SparseEncoder does (the layout 5.0 and later read): the
   * `*ForMaskedLM` model at the root (config.json, model.safetensors with Hugging Face's keys, the tokenizer
   * files, sentence_bert_config.json), `1_SpladePooling/config.json`, modules.json and
   * config_sentence_transformers.json. Built aside and swapped in whole.
   */
  async save(path: string): Promise<void> {
    if (typeof path !== "string" || path === "") throw new TypeError("SparseEncoder.save: path must be a non-empty string");
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: "SparseEncoder.save" });
    const mlm = this.head.head;
    const named = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const t of this.transformer.native.stateDict()) named.set(`${mlm.prefix}.${t.name}`, t);
    for (const t of this.head.stateDict()) named.set(t.name, t);
    const tensors = [...named].map(([name, t]) => ({ name, dtype: "F32" as const, shape: t.shape, data: t.data }));
    const info = this.transformer.encoderInfo;
    await writeFolderAtomically(
      path,
      async (tmp) => {
        await writeJsonWithFloats(
          join(tmp, "config.json"),
          { ...this.transformer.config, architectures: [mlm.modelClass], model_type: info.modelType, tie_word_embeddings: this.head.tied, torch_dtype: "float32" },
          this.transformer.configFloats,
        );
        await writeSafetensors(join(tmp, "model.safetensors"), tensors, { format: "pt" });
        await this.transformer.tokenizer.save(tmp, { modelMaxLength: this.transformer.maxSeqLength });
        await writeJson(join(tmp, "sentence_bert_config.json"), this.transformer.getConfigDict());
        const poolingDir = `1_${this.pooling.className}`;
        await mkdir(join(tmp, poolingDir));
        await this.pooling.save(join(tmp, poolingDir));
        await writeJson(join(tmp, "modules.json"), [
          { idx: 0, name: "0", path: "", type: this.head.moduleType },
          { idx: 1, name: "1", path: poolingDir, type: this.pooling.moduleType },
        ]);
        await writeJson(join(tmp, "config_sentence_transformers.json"), this.getConfigDict());
      },
      "SparseEncoder.save",
    );
  }

  /** Frees the native weights. Calls already running finish first. */
  dispose(): void {
    this.disposed = true;
    this.pipeline.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  toString(): string {
    return `SparseEncoder(${this.head.head.modelClass}, max_seq_length=${this.maxSeqLength}, ${String(this.pooling)})`;
  }
}

/**
 * The head's parts by native name, each with the checkpoint keys that may hold it in the order transformers 5 reads
 * them (`lookup`) and in the order a missing one is reported (`reported`, the usual key first). A tied decoder
 * reads a weight or bias of its own where the checkpoint stores one (transformers ties only what is absent or
 * equal), else the word embeddings and the head's bias; an untied one reads only its own.
 */
function headKeys(mlm: MaskedLmHeadKeys, tied: boolean): { name: string; lookup: string[]; reported: string[] }[] {
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
    one("dense.bias", `${mlm.dense}.bias`),
    one("layer_norm.weight", `${mlm.layerNorm}.weight`),
    one("layer_norm.bias", `${mlm.layerNorm}.bias`),
    weight,
    bias,
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

/** Checks modules.json: a masked-LM Transformer at the root, then SpladePooling; returns the pooling's folder. */
async function checkModules(entries: unknown, root: string, file: string): Promise<string> {
  const list = Array.isArray(entries) ? (entries as Record<string, unknown>[]) : [];
  const types = list.map((e) => (typeof e === "object" && e !== null ? e["type"] : e));
  const shape = `sbert-node runs sparse encoders made of a masked-LM Transformer at the folder's root and a SpladePooling; this one lists ${JSON.stringify(types)}`;
  if (list.length !== 2 || list.some((e) => typeof e !== "object" || e === null)) throw new SbertError("ERR_CONFIG", `${file}: ${shape}`, { op: OP_LOAD });
  const [first, second] = list as [Record<string, unknown>, Record<string, unknown>];
  const firstClass = typeof first["type"] === "string" ? first["type"].slice(first["type"].lastIndexOf(".") + 1) : undefined;
  const secondClass = typeof second["type"] === "string" ? second["type"].slice(second["type"].lastIndexOf(".") + 1) : undefined;
  const known = (t: unknown) => typeof t === "string" && t.startsWith("sentence_transformers.");
  if (!known(first["type"]) || (firstClass !== "MLMTransformer" && firstClass !== "Transformer") || first["path"] !== "") {
    throw new SbertError("ERR_CONFIG", `${file}: module type ${JSON.stringify(first["type"])} is not a masked-LM Transformer at the folder's root: ${shape}`, { op: OP_LOAD });
  }
  if (firstClass === "Transformer") {
    // sentence-transformers 6 writes a plain Transformer whose task says it runs the masked-LM head.
    const sbertFile = join(root, "sentence_bert_config.json");
    const sbert = (await readJsonObject(sbertFile, { optional: true, op: OP_LOAD })) ?? {};
    if (sbert["transformer_task"] !== "fill-mask") {
      throw new SbertError("ERR_CONFIG", `${sbertFile}: field 'transformer_task' must be "fill-mask" for a SparseEncoder's Transformer, got ${JSON.stringify(sbert["transformer_task"])}`, { op: OP_LOAD });
    }
  }
  if (!known(second["type"]) || secondClass !== "SpladePooling") {
    throw new SbertError("ERR_CONFIG", `${file}: module type ${JSON.stringify(second["type"])} is not SpladePooling: ${shape}`, { op: OP_LOAD });
  }
  const rel = second["path"];
  if (typeof rel !== "string" || rel === "" || rel.split(/[\\/]/).includes("..")) throw new SbertError("ERR_CONFIG", `${file}: SpladePooling's path must name a folder inside the model, got ${JSON.stringify(rel)}`, { op: OP_LOAD });
  return join(root, rel);
}

/** config_sentence_transformers.json's prompts ({name: text}). */
function savedPrompts(st: Record<string, unknown>, file: string): Record<string, string> {
  const p = st["prompts"];
  if (p === undefined || p === null) return {};
  if (typeof p !== "object" || Array.isArray(p) || Object.values(p).some((v) => typeof v !== "string")) {
    throw new SbertError("ERR_CONFIG", `${file}: field 'prompts' must be an object of strings`, { op: OP_LOAD });
  }
  return { ...(p as Record<string, string>) };
}
