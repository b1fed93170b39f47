import { mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

import { SbertError } from "../errors.js";
import type { TrainingSummary } from "../fit.js";
import { modelIdFor, pushSavedFolder, resolveModelFolder, type HubOptions, type PushOptions, type PushResult } from "../hub/index.js";
import { ConfigReader, readJson, readJsonObject, writeFolderAtomically, writeJson } from "../io/files.js";
import { weightsForNative } from "../io/checkpoint.js";
import { callNative, native } from "../native.js";
import { SentenceTransformer, type LinearPrecision } from "../SentenceTransformer.js";
import type { SentenceModule } from "../models/Module.js";
import { MODULE_LOADERS, moduleClassName, transformerTask } from "../models/loaders.js";
import { Router } from "../models/Router.js";
import { Tokenizer, type EncodedBatch, type TextInput } from "../tokenization/Tokenizer.js";
import { isSparseEmbedding, sparseCosSim, sparseDotScore, toDense, toSparse, type SparseEmbedding } from "../util/sparse.js";
import { MLMTransformer } from "./MLMTransformer.js";
import { sparseEncoderModelCard } from "./modelCard.js";
import { SparseAutoEncoder } from "./SparseAutoEncoder.js";
import { SparseStaticEmbedding } from "./SparseStaticEmbedding.js";
import { SpladePooling } from "./SpladePooling.js";

export type SparseSimilarityFnName = "dot" | "cosine";
const SIMILARITY_FNS: readonly SparseSimilarityFnName[] = ["dot", "cosine"];

export interface SparseEncoderLoadOptions extends HubOptions {
  /** "cpu", "cuda" or "cuda:N". Default "cpu". */
  device?: string;
  /** Texts are cut to this many tokens. Default: sentence_bert_config.json's, else the tokenizer's and the positions' limit. */
  maxSeqLength?: number;
  /** Keep only this many of each embedding's largest values (encode's default). Default: a SparseAutoEncoder's k, else all. */
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
  /**
   * Keep only this many of each embedding's largest values. Default: the model's maxActiveDims (all when unset). A
   * SparseAutoEncoder keeps this many latents in place of its k.
   */
  maxActiveDims?: number;
  /** true (default): SparseEmbeddings; false: dense Float32Arrays over the vocabulary. */
  convertToSparseTensor?: boolean;
  /** The task the texts are for ("query", "document"): a Router sends them down that task's route. */
  task?: string;
}

export type { SparseEmbedding };

/** An embedding as SparseEncoder's methods take it: sparse, or dense over the vocabulary. */
export type SparseOrDense = SparseEmbedding | Float32Array;

const OP_LOAD = "SparseEncoder.load";
const OP_ENCODE = "SparseEncoder.encode";
/** The sentence-transformers version whose SparseEncoder layout save writes (legacy module types, MLMTransformer at the root). */
const SAVED_LAYOUT_VERSION = "5.0.0";

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
 * formats; the encoder, the head and the pooling run natively, on worker threads. CSR models instead make a dense
 * sentence embedding sparse with a SparseAutoEncoder, which keeps the k largest of its latents.
 */
export class SparseEncoder {
  /** Encode's default for maxActiveDims (undefined: keep every active dimension). */
  maxActiveDims: number | undefined;
  /** Hub id of the model, if it was downloaded. */
  hubId: string | undefined;
  /**
   * The pipeline: MLMTransformer then SpladePooling; a dense encoder (Transformer, Pooling, ...) then a
   * SparseAutoEncoder; or a Router whose routes end in sparse embeddings.
   */
  readonly modules: readonly SentenceModule[];
  private _similarityFnName: SparseSimilarityFnName;
  // The modules as one native pipeline, with encode's batching by length and its prompts.
  private readonly pipeline: SentenceTransformer;
  private disposed = false;

  private constructor(
    modules: SentenceModule[],
    options: { prompts: Record<string, string>; defaultPromptName: string | undefined; similarityFnName: SparseSimilarityFnName; maxActiveDims: number | undefined },
  ) {
    this.modules = modules;
    this.pipeline = new SentenceTransformer({ modules, prompts: options.prompts, defaultPromptName: options.defaultPromptName });
    const dim = this.getSentenceEmbeddingDimension();
    for (const m of this.allModules()) if (m instanceof SpladePooling) m.embeddingDimension = dim;
    this._similarityFnName = options.similarityFnName;
    this.maxActiveDims = options.maxActiveDims;
  }

  /** The modules, a Router's routes' included. */
  private allModules(): SentenceModule[] {
    return this.modules.flatMap((m) => (m instanceof Router ? Object.values(m.subModules).flat() : [m]));
  }

  /** The masked-LM model (of the document route, with a Router). */
  get transformer(): MLMTransformer | undefined {
    return this.allModules().find((m): m is MLMTransformer => m instanceof MLMTransformer);
  }

  /** The SpladePooling after it. */
  get pooling(): SpladePooling | undefined {
    return this.allModules().find((m): m is SpladePooling => m instanceof SpladePooling);
  }

  /**
   * Loads a SparseEncoder folder or Hub id: modules.json with a masked-LM Transformer at the root
   * (`MLMTransformer`, or sentence-transformers 6's `Transformer` with transformer_task "fill-mask") and a
   * SpladePooling; or one Router whose routes each end in a sparse embedding (inference-free models: a
   * SparseStaticEmbedding for queries, MLMTransformer + SpladePooling for documents); or a plain Hugging Face
   * `*ForMaskedLM` folder (then max pooling with relu, as sentence-transformers does); or a CSR model, any modules
   * sbert-node has ending in a SparseAutoEncoder (Transformer, Pooling, SparseAutoEncoder), whose k is then
   * maxActiveDims' default, as in sentence-transformers.
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
    const layout = entries === undefined ? { router: false as const, poolingPath: undefined, modules: undefined } : await checkModules(entries, path, modulesFile);
    const stFile = join(path, "config_sentence_transformers.json");
    const st = (await readJsonObject(stFile, { optional: true, op: OP_LOAD })) ?? {};
    const stConfig = new ConfigReader(st, stFile, OP_LOAD);
    const prompts = options.prompts ?? savedPrompts(st, stFile);
    const defaultPromptName = options.defaultPromptName ?? (stConfig.has("default_prompt_name") ? stConfig.string("default_prompt_name") : undefined);
    const saved = st["similarity_fn_name"];
    const similarityFnName = options.similarityFnName ?? (SIMILARITY_FNS.includes(saved as SparseSimilarityFnName) ? (saved as SparseSimilarityFnName) : "dot");

    const settings = { prompts, defaultPromptName, similarityFnName, maxActiveDims: optionMaxActiveDims };
    let model: SparseEncoder;
    if (layout.modules !== undefined) {
      const loaded: SentenceModule[] = [];
      try {
        for (const { cls, dir } of layout.modules) loaded.push(await MODULE_LOADERS[cls]!(dir, device));
        const sae = loaded[loaded.length - 1] as SparseAutoEncoder;
        model = new SparseEncoder(loaded, { ...settings, maxActiveDims: optionMaxActiveDims ?? sae.k });
        if (options.maxSeqLength !== undefined) model.maxSeqLength = options.maxSeqLength;
      } catch (e) {
        for (const m of loaded) m.dispose();
        throw e;
      }
    } else if (layout.router) {
      const router = await Router.load(path, { device });
      try {
        for (const [route, modules] of Object.entries(router.subModules)) {
          const last = modules[modules.length - 1]!;
          if (!(last instanceof SpladePooling || last instanceof SparseStaticEmbedding || last instanceof SparseAutoEncoder)) {
            throw new SbertError("ERR_CONFIG", `${join(path, "router_config.json")}: route '${route}' must end in a SpladePooling, a SparseStaticEmbedding or a SparseAutoEncoder (a sparse embedding), not ${last.className}`, { op: OP_LOAD });
          }
        }
        if (options.maxSeqLength !== undefined) router.maxSeqLength = options.maxSeqLength;
        model = new SparseEncoder([router], settings);
      } catch (e) {
        router.dispose();
        throw e;
      }
    } else {
      const mlm = await MLMTransformer.load(path, { device, maxSeqLength: options.maxSeqLength });
      const loaded: { dispose(): void }[] = [mlm];
      try {
        const pooling = layout.poolingPath === undefined ? new SpladePooling() : await SpladePooling.load(layout.poolingPath);
        loaded.push(pooling);
        if (device !== "cpu") pooling.native.to(device);
        model = new SparseEncoder([mlm, pooling], settings);
      } catch (e) {
        for (const m of loaded) m.dispose();
        throw e;
      }
    }
    if (path !== modelNameOrPath) model.hubId = modelIdFor(modelNameOrPath);
    if (options.quantize !== undefined) model.quantize(options.quantize);
    return model;
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
    const t = this.pipeline.tokenizer;
    if (!(t instanceof Tokenizer)) throw new SbertError("ERR_INPUT", "the model's first module has no Hugging Face tokenizer", { op: "SparseEncoder" });
    return t;
  }

  get maxSeqLength(): number {
    return this.pipeline.maxSeqLength;
  }

  set maxSeqLength(value: number) {
    this.pipeline.maxSeqLength = value;
  }

  get device(): string {
    return this.pipeline.device;
  }

  /** The embeddings' size: the vocabulary's, or a SparseAutoEncoder's hiddenDim. */
  getSentenceEmbeddingDimension(): number {
    const sae = this.allModules().find((m): m is SparseAutoEncoder => m instanceof SparseAutoEncoder);
    if (sae !== undefined) return sae.hiddenDim;
    const mlm = this.transformer;
    if (mlm !== undefined) return mlm.vocabSize;
    const staticEmbedding = this.allModules().find((m): m is SparseStaticEmbedding => m instanceof SparseStaticEmbedding);
    return staticEmbedding!.numDimensions;
  }

  /** Token ids and masks of `texts` as the native pipeline takes them (a Router's `task` picks its route). */
  tokenize(texts: TextInput[], options: { task?: string } = {}): EncodedBatch & { route?: string } {
    return this.pipeline.tokenize(texts, options);
  }

  /** The number of tokens `prompt` makes at the start of a text (prompts are part of the text). */
  promptLength(prompt: string, options: { task?: string } = {}): number | undefined {
    return this.pipeline.promptLength(prompt, options);
  }

  /**
   * Runs `fn` with the model to itself: no encode overlaps it, as training steps need (they change the weights
   * encode reads).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.pipeline.exclusive(fn);
  }

  /** Replaces every module's weights with those of a folder this model's save wrote (a training checkpoint). */
  async reloadWeights(dir: string, op: string): Promise<void> {
    const modulesFile = join(dir, "modules.json");
    const list = await readJson(modulesFile, { op });
    if (!Array.isArray(list) || list.length !== this.modules.length) {
      throw new SbertError("ERR_CONFIG", `${modulesFile}: the checkpoint's modules do not match the model's ${this.modules.length}`, { op });
    }
    for (const [idx, module] of this.modules.entries()) {
      const entry = list[idx] as { path?: unknown } | null;
      if (typeof entry?.path !== "string") throw new SbertError("ERR_CONFIG", `${modulesFile}: entry ${idx} has no path`, { op });
      const dirOf = join(dir, entry.path);
      if (module instanceof MLMTransformer || module instanceof Router) await module.reloadWeights(dirOf, op);
      else if (module.native.parameterCount() > 0) await callNative(op, async () => module.native.loadWeights(await weightsForNative(dirOf)));
    }
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
    for (const m of this.allModules()) {
      if (m instanceof SparseAutoEncoder && maxActiveDims !== undefined && maxActiveDims > m.hiddenDim) {
        throw new RangeError(`encode: maxActiveDims (${maxActiveDims}) must not be more than the SparseAutoEncoder's hiddenDim (${m.hiddenDim}): it keeps that many of its latents`);
      }
    }
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
      task: options.task,
      maxActiveDims,
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
    return this.encode(sentences, { ...o, task: "query" });
  }

  /** Embeds documents, as sentence-transformers' `encode_document`: the first of the prompts "document", "passage", "corpus" the model has, when no prompt is given. */
  encodeDocument(sentences: string, options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding>;
  encodeDocument(sentences: string[], options?: SparseEncodeOptions & { convertToSparseTensor?: true }): Promise<SparseEmbedding[]>;
  encodeDocument(sentences: string | string[], options?: SparseEncodeOptions): Promise<SparseOrDense | SparseOrDense[]>;
  encodeDocument(sentences: string | string[], options: SparseEncodeOptions = {}): Promise<SparseOrDense | SparseOrDense[]> {
    const o = { ...(options ?? {}) };
    if (o.promptName === undefined && o.prompt === undefined) o.promptName = ["document", "passage", "corpus"].find((p) => p in this.prompts);
    return this.encode(sentences, { ...o, task: "document" });
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

  /** What the last training run reports in the model card. */
  get trainingSummary(): TrainingSummary | undefined {
    return this.pipeline.trainingSummary;
  }

  set trainingSummary(summary: TrainingSummary | undefined) {
    this.pipeline.trainingSummary = summary;
  }

  /**
   * Saves the model as sentence-transformers' SparseEncoder does (the layout 5.0 and later read): the
   * `*ForMaskedLM` model at the root (config.json, model.safetensors with Hugging Face's keys, the tokenizer
   * files, sentence_bert_config.json), `1_SpladePooling/config.json`, modules.json,
   * config_sentence_transformers.json and a README.md model card. Built aside and swapped in whole.
   */
  async save(path: string, options: { modelName?: string; createModelCard?: boolean } = {}): Promise<void> {
    if (typeof path !== "string" || path === "") throw new TypeError("SparseEncoder.save: path must be a non-empty string");
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: "SparseEncoder.save" });
    await writeFolderAtomically(
      path,
      async (tmp) => {
        const entries: { idx: number; name: string; path: string; type: string }[] = [];
        for (const [idx, module] of this.modules.entries()) {
          const rel = idx === 0 && module.saveInRoot ? "" : `${idx}_${module.className}`;
          await mkdir(join(tmp, rel), { recursive: true });
          await module.save(join(tmp, rel));
          entries.push({ idx, name: String(idx), path: rel, type: module.moduleType });
        }
        await writeJson(join(tmp, "modules.json"), entries);
        await writeJson(join(tmp, "config_sentence_transformers.json"), this.getConfigDict());
        if (options.createModelCard ?? true) {
          await writeFile(join(tmp, "README.md"), sparseEncoderModelCard(this, { modelName: options.modelName ?? basename(resolve(path)) }));
        }
      },
      "SparseEncoder.save",
    );
  }

  /** Saves the model (with its card) and uploads it to the Hugging Face Hub as one commit, creating the repo if needed. */
  async pushToHub(repoId: string, options: PushOptions & { modelName?: string; createModelCard?: boolean } = {}): Promise<PushResult> {
    if (typeof repoId !== "string" || repoId === "") throw new TypeError("SparseEncoder.pushToHub: repoId must be a non-empty string");
    const { modelName = repoId, createModelCard } = options;
    // sentence-transformers titles the commit after the model's class.
    const opts = { ...options, commitMessage: options.commitMessage ?? "Add new SparseEncoder model" };
    return pushSavedFolder((folder) => this.save(folder, { modelName, createModelCard }), repoId, opts);
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
    return `SparseEncoder(\n${this.modules.map((m, i) => `  (${i}): ${String(m)}`).join("\n")}\n)`;
  }
}

/**
 * Checks modules.json: a masked-LM Transformer at the root then SpladePooling (the pooling's folder is returned), one
 * Router at the root (inference-free models), or modules ending in a SparseAutoEncoder (CSR models: each module's
 * class and folder, in idx order, are returned).
 */
async function checkModules(
  entries: unknown,
  root: string,
  file: string,
): Promise<
  | { router: true; poolingPath?: undefined; modules?: undefined }
  | { router: false; poolingPath: string; modules?: undefined }
  | { router: false; poolingPath?: undefined; modules: { cls: string; dir: string }[] }
> {
  const list = Array.isArray(entries) ? (entries as Record<string, unknown>[]) : [];
  const last = list.length > 0 && typeof list[list.length - 1] === "object" && list[list.length - 1] !== null ? list[list.length - 1]! : undefined;
  if (last !== undefined && moduleClassName(last["type"]) === "SparseAutoEncoder") {
    // A CSR model: a dense encoder whose embedding the SparseAutoEncoder makes sparse.
    const modules = [...list]
      .sort((a, b) => Number(a?.["idx"]) - Number(b?.["idx"]))
      .map((entry) => {
        if (typeof entry !== "object" || entry === null) throw new SbertError("ERR_CONFIG", `${file}: every entry must be an object`, { op: OP_LOAD });
        const cls = moduleClassName(entry["type"]);
        if (cls === undefined) {
          throw new SbertError("ERR_CONFIG", `${file}: module type ${JSON.stringify(entry["type"])} is not supported (sbert-node has ${Object.keys(MODULE_LOADERS).join(", ")})`, { op: OP_LOAD });
        }
        const rel = entry["path"];
        if (typeof rel !== "string" || rel.split(/[\\/]/).includes("..")) throw new SbertError("ERR_CONFIG", `${file}: ${cls}'s path must name a folder inside the model, got ${JSON.stringify(rel)}`, { op: OP_LOAD });
        return { cls, dir: join(root, rel) };
      });
    if (modules[modules.length - 1]!.cls !== "SparseAutoEncoder") throw new SbertError("ERR_CONFIG", `${file}: the SparseAutoEncoder must be the last module (by idx)`, { op: OP_LOAD });
    return { router: false, modules };
  }
  const types = list.map((e) => (typeof e === "object" && e !== null ? e["type"] : e));
  const shape = `sbert-node runs sparse encoders made of a masked-LM Transformer at the folder's root and a SpladePooling, or of one Router; this one lists ${JSON.stringify(types)}`;
  const only = list.length === 1 && typeof list[0] === "object" && list[0] !== null ? list[0] : undefined;
  if (only && typeof only["type"] === "string" && only["type"].startsWith("sentence_transformers.") && /\.(Router|Asym)$/.test(only["type"])) {
    if (only["path"] !== "") throw new SbertError("ERR_CONFIG", `${file}: the Router must be at the folder's root (path ""), got ${JSON.stringify(only["path"])}`, { op: OP_LOAD });
    return { router: true };
  }
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
    const task = await transformerTask(root);
    if (task !== "fill-mask") {
      const sbertFile = join(root, "sentence_bert_config.json");
      throw new SbertError("ERR_CONFIG", `${sbertFile}: field 'transformer_task' must be "fill-mask" for a SparseEncoder's Transformer, got ${JSON.stringify(task)}`, { op: OP_LOAD });
    }
  }
  if (!known(second["type"]) || secondClass !== "SpladePooling") {
    throw new SbertError("ERR_CONFIG", `${file}: module type ${JSON.stringify(second["type"])} is not SpladePooling: ${shape}`, { op: OP_LOAD });
  }
  const rel = second["path"];
  if (typeof rel !== "string" || rel === "" || rel.split(/[\\/]/).includes("..")) throw new SbertError("ERR_CONFIG", `${file}: SpladePooling's path must name a folder inside the model, got ${JSON.stringify(rel)}`, { op: OP_LOAD });
  return { router: false, poolingPath: join(root, rel) };
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
