import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { basename, isAbsolute, join, normalize, resolve, sep } from "node:path";

import type { NativeModule, NativeTensor, NativeTokenBatch } from "../types/native.js";
import { SbertError } from "./errors.js";
import { readJson, readJsonObject, writeFolderAtomically, writeJson } from "./io/files.js";
import { modelCard } from "./modelCard.js";
import { Dense } from "./models/Dense.js";
import { LayerNorm } from "./models/LayerNorm.js";
import { MODULE_LOADERS, moduleClassName } from "./models/loaders.js";
import { isInputModule, type InputModule, type SentenceModule } from "./models/Module.js";
import { Pooling } from "./models/Pooling.js";
import { Router } from "./models/Router.js";
import { StaticEmbedding } from "./models/StaticEmbedding.js";
import { Transformer } from "./models/Transformer.js";
import type { LoraConfig } from "./peft/LoraConfig.js";
import { fit, type FitOptions, type FitResult, type TrainingSummary } from "./fit.js";
import { modelIdFor, pushSavedFolder, resolveModelFolder, type HubOptions, type PushOptions, type PushResult } from "./hub/index.js";
import { ReadWriteLock } from "./internal/lock.js";
import { getEncodeConcurrency } from "./backend.js";
import { MultiProcessPool, defaultChunkSize, planPool, type MultiProcessPoolOptions } from "./multiProcess/MultiProcessPool.js";
import { callNative, callNativeSync, native } from "./native.js";
import { ProgressBar } from "./progress.js";
import type { EncodedBatch, TextInput, Tokenizer } from "./tokenization/Tokenizer.js";
import type { WhitespaceTokenizer } from "./models/tokenizer/WhitespaceTokenizer.js";
import {
  cosSim,
  dotScore,
  euclideanSim,
  manhattanSim,
  pairwiseCosSim,
  pairwiseDotScore,
  pairwiseEuclideanSim,
  pairwiseManhattanSim,
  quantizeEmbeddings,
} from "./util/index.js";

export type Precision = "float32" | "int8" | "uint8" | "binary" | "ubinary";
export type SimilarityFnName = "cosine" | "dot" | "euclidean" | "manhattan";
/** The array type of one embedding at a given precision. */
export type EmbeddingOf<P extends Precision> = P extends "int8" | "binary" ? Int8Array : P extends "uint8" | "ubinary" ? Uint8Array : Float32Array;

export interface EncodeOptions<P extends Precision = Precision> {
  /** Sentences per native call. Default 32. */
  batchSize?: number;
  showProgressBar?: boolean;
  /** "sentence_embedding" (default) or "token_embeddings" (one vector per token, padding left out). */
  outputValue?: "sentence_embedding" | "token_embeddings";
  /** Scale each embedding to unit length. */
  normalizeEmbeddings?: boolean;
  /** Quantize the embeddings (ranges taken from the embeddings of this call, as sentence-transformers does). */
  precision?: P;
  /** Keep only the first dimensions (Matryoshka models). Defaults to the model's truncateDim. */
  truncateDim?: number;
  /** Text put before every sentence. */
  prompt?: string;
  /** A key of the model's prompts. */
  promptName?: string;
  /**
   * The task the texts are for ("query", "document", ...): a Router sends them down that task's route. Models
   * without a Router ignore it, as sentence-transformers does.
   */
  task?: string;
  /**
   * The most latents a SparseAutoEncoder in the pipeline keeps for this call, in place of its k (sentence-transformers'
   * `max_active_dims` forward argument); other modules ignore it. Not with a pool.
   */
  maxActiveDims?: number;
  /**
   * A pool from startMultiProcessPool: the texts are encoded by its worker processes, in chunks, and come back in
   * input order (sentence embeddings only; int8/uint8 ranges are taken over the whole call, as without a pool).
   */
  pool?: MultiProcessPool;
  /** Texts per chunk sent to a pool's worker. Default: a tenth of each worker's share, at most 5000. */
  chunkSize?: number;
}

export interface SentenceTransformerOptions {
  modules: SentenceModule[];
  /** Moves every module there. */
  device?: string;
  prompts?: Record<string, string>;
  defaultPromptName?: string;
  similarityFnName?: SimilarityFnName;
  truncateDim?: number;
}

export interface LoadOptions extends HubOptions {
  device?: string;
  /** Inference precision of the linear layers: "float32" (default), "int8" or "bf16" (see quantize()). */
  quantize?: LinearPrecision;
  truncateDim?: number;
  prompts?: Record<string, string>;
  defaultPromptName?: string;
  similarityFnName?: SimilarityFnName;
}

export interface SaveOptions {
  /** Shown in the model card. */
  modelName?: string;
  /** Dataset ids named in the model card. */
  trainDatasets?: string[];
  /** Write README.md (default true). */
  createModelCard?: boolean;
}

const PRECISIONS: readonly Precision[] = ["float32", "int8", "uint8", "binary", "ubinary"];
/** What quantize() takes (checked against the native side's list in the tests). */
export const LINEAR_PRECISIONS = ["float32", "int8", "bf16"] as const;
export type LinearPrecision = (typeof LINEAR_PRECISIONS)[number];
/** What encode can return (checked against the native side's list in the tests). */
export const OUTPUT_VALUES = ["sentence_embedding", "token_embeddings"] as const;
const SIMILARITY_FNS: readonly SimilarityFnName[] = ["cosine", "dot", "euclidean", "manhattan"];
const OP_LOAD = "SentenceTransformer.load";
const OP_ENCODE = "SentenceTransformer.encode";

function checkSimilarityFnName(name: unknown, where: string): SimilarityFnName {
  if (!SIMILARITY_FNS.includes(name as SimilarityFnName)) {
    throw new RangeError(`${where}: similarityFnName must be one of ${SIMILARITY_FNS.join(", ")}, got ${JSON.stringify(name)}`);
  }
  return name as SimilarityFnName;
}

function textLength(t: TextInput): number {
  return typeof t === "string" ? t.length : t[0].length + t[1].length;
}

/** Checks `sentences` entry by entry; a bad entry is an ERR_INPUT naming its index. */
function checkInputs(sentences: unknown): TextInput[] {
  if (!Array.isArray(sentences)) {
    throw new SbertError("ERR_INPUT", `sentences must be a string or an array of strings, got ${typeof sentences}`, { op: OP_ENCODE });
  }
  for (let i = 0; i < sentences.length; i++) {
    const s: unknown = sentences[i];
    const pair = Array.isArray(s) && s.length === 2 && typeof s[0] === "string" && typeof s[1] === "string";
    if (typeof s !== "string" && !pair) {
      throw new SbertError(
        "ERR_INPUT",
        `sentences[${i}] must be a string (or a [string, string] pair), got ${s === null ? "null" : Array.isArray(s) ? "an array" : typeof s}`,
        { op: OP_ENCODE },
      );
    }
  }
  return sentences as TextInput[];
}

function checkModules(modules: unknown): SentenceModule[] {
  if (!Array.isArray(modules) || modules.length === 0) throw new TypeError("SentenceTransformer: modules must be a non-empty array");
  for (const [i, m] of modules.entries()) {
    if (!m || typeof m !== "object" || !("native" in m) || typeof (m as SentenceModule).save !== "function") {
      throw new TypeError(`SentenceTransformer: modules[${i}] is not a sentence-transformers module (models.Transformer, Pooling, Dense, Normalize, ...)`);
    }
  }
  return modules as SentenceModule[];
}

/** A relative module path from modules.json that stays inside the model folder. */
function modulePath(root: string, relative: unknown, file: string): string {
  if (typeof relative !== "string") throw new SbertError("ERR_CONFIG", `${file}: every module needs a string 'path'`, { op: OP_LOAD });
  const norm = normalize(relative);
  if (isAbsolute(relative) || norm === ".." || norm.startsWith(`..${sep}`)) {
    throw new SbertError("ERR_CONFIG", `${file}: module path '${relative}' points outside the model folder`, { op: OP_LOAD });
  }
  return join(root, relative);
}

/**
 * A sentence embedding model: a pipeline of modules (Transformer → Pooling → optional Dense / Normalize)
 * that maps texts to fixed-size vectors, with the sentence-transformers API and folder format.
 */
export class SentenceTransformer {
  readonly modules: SentenceModule[];
  prompts: Record<string, string>;
  defaultPromptName: string | undefined;
  similarityFnName: SimilarityFnName;
  truncateDim: number | undefined;
  /** What the last fit() trained on and logged; the model card reports it. */
  trainingSummary: TrainingSummary | undefined;
  /** Hub id of the model this one was loaded or built from, for the model card. */
  baseModel: string | undefined;
  private disposed = false;
  // The folder load() read, while the weights are still the ones in it (a pool's workers load from it).
  private sourceFolder: string | undefined;
  private linearPrecision: LinearPrecision = "float32";
  // Encode batches share the weights; a training step takes them alone.
  private readonly lock = new ReadWriteLock();

  constructor(options: SentenceTransformerOptions) {
    if (typeof options !== "object" || options === null) throw new TypeError("SentenceTransformer: options must be an object");
    this.modules = checkModules(options.modules);
    this.prompts = { ...(options.prompts ?? {}) };
    this.defaultPromptName = options.defaultPromptName;
    if (this.defaultPromptName !== undefined && !(this.defaultPromptName in this.prompts)) {
      throw new RangeError(`SentenceTransformer: defaultPromptName '${this.defaultPromptName}' is not one of the prompts (${Object.keys(this.prompts).join(", ")})`);
    }
    this.similarityFnName = checkSimilarityFnName(options.similarityFnName ?? "cosine", "SentenceTransformer");
    if (options.truncateDim !== undefined) SentenceTransformer.checkTruncateDim(options.truncateDim);
    this.truncateDim = options.truncateDim;
    if (options.device !== undefined) {
      for (const m of this.modules) m.native.to(options.device);
    }
    const first = this.modules[0];
    this.baseModel = first instanceof Transformer ? first.hubId : undefined;
  }

  private static checkTruncateDim(dim: unknown): void {
    if (typeof dim !== "number" || !Number.isInteger(dim) || dim <= 0) throw new RangeError(`truncateDim must be a positive integer, got ${String(dim)}`);
  }

  /**
   * Loads a sentence-transformers folder (modules.json, legacy or v5.4+ layout) or a plain Hugging Face BERT
   * folder (then Transformer + mean Pooling, as sentence-transformers does). A name that is not a folder is a
   * Hugging Face Hub model id, downloaded into the standard cache (`revision`, `token`, `cacheFolder`,
   * `localFilesOnly`; HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT are honoured).
   */
  static async load(modelNameOrPath: string, options: LoadOptions = {}): Promise<SentenceTransformer> {
    if (typeof modelNameOrPath !== "string" || modelNameOrPath === "") {
      throw new TypeError("SentenceTransformer.load: modelNameOrPath must be a non-empty string");
    }
    const { revision, token, cacheFolder, localFilesOnly, endpoint } = options;
    const path = await resolveModelFolder(modelNameOrPath, { revision, token, cacheFolder, localFilesOnly, endpoint });
    const device = options.device ?? "cpu";
    const modulesFile = join(path, "modules.json");
    const entries = await readJson(modulesFile, { optional: true, op: OP_LOAD });
    const modules: SentenceModule[] = [];
    try {
      if (entries === undefined) {
        const transformer = await Transformer.load(path, { device });
        modules.push(transformer, new Pooling(transformer.getWordEmbeddingDimension(), { poolingMode: "mean" }));
      } else {
        if (!Array.isArray(entries) || entries.length === 0) {
          throw new SbertError("ERR_CONFIG", `${modulesFile} must hold a non-empty list of modules`, { op: OP_LOAD });
        }
        const sorted = [...entries].sort((a, b) => Number(a?.idx) - Number(b?.idx));
        for (const entry of sorted) {
          if (typeof entry !== "object" || entry === null) throw new SbertError("ERR_CONFIG", `${modulesFile}: every entry must be an object`, { op: OP_LOAD });
          const dir = modulePath(path, entry.path, modulesFile);
          const cls = moduleClassName(entry.type);
          if (cls === undefined) {
            throw new SbertError(
              "ERR_CONFIG",
              `${modulesFile}: module type ${JSON.stringify(entry.type)} is not supported (sbert-node has ${Object.keys(MODULE_LOADERS).join(", ")})`,
              { op: OP_LOAD },
            );
          }
          modules.push(await MODULE_LOADERS[cls]!(dir, device));
        }
      }
      const stFile = join(path, "config_sentence_transformers.json");
      const st = (await readJsonObject(stFile, { optional: true, op: OP_LOAD })) ?? {};
      const prompts = options.prompts ?? (st["prompts"] as Record<string, string> | undefined) ?? {};
      if (typeof prompts !== "object" || Object.values(prompts).some((p) => typeof p !== "string")) {
        throw new SbertError("ERR_CONFIG", `${stFile}: 'prompts' must map names to strings`, { op: OP_LOAD });
      }
      const similarity = options.similarityFnName ?? (st["similarity_fn_name"] as SimilarityFnName | null | undefined) ?? "cosine";
      if (!SIMILARITY_FNS.includes(similarity)) {
        throw new SbertError("ERR_CONFIG", `${stFile}: similarity_fn_name ${JSON.stringify(similarity)} is not one of ${SIMILARITY_FNS.join(", ")}`, {
          op: OP_LOAD,
        });
      }
      const defaultPromptName = options.defaultPromptName ?? (st["default_prompt_name"] as string | null | undefined) ?? undefined;
      if (defaultPromptName !== undefined && !(defaultPromptName in prompts)) {
        throw new SbertError("ERR_CONFIG", `${stFile}: default_prompt_name '${defaultPromptName}' is not one of the prompts`, { op: OP_LOAD });
      }
      const truncateDim = options.truncateDim ?? (st["truncate_dim"] as number | null | undefined) ?? undefined;
      const model = new SentenceTransformer({ modules, prompts, defaultPromptName, similarityFnName: similarity, truncateDim });
      if (path !== modelNameOrPath) model.baseModel = modelIdFor(modelNameOrPath);
      if (options.quantize !== undefined) model.quantize(options.quantize);
      model.sourceFolder = resolve(path);
      return model;
    } catch (e) {
      for (const m of modules) m.dispose();
      throw e;
    }
  }

  /** The first module, which tokenizes. */
  private get inputModule(): InputModule {
    const first = this.modules[0]!;
    if (!isInputModule(first)) {
      throw new SbertError("ERR_CONFIG", `the first module must tokenize (models.Transformer, StaticEmbedding, WordEmbeddings or Router), not ${first.className}`, { op: OP_ENCODE });
    }
    return first;
  }

  get maxSeqLength(): number {
    return this.inputModule.maxSeqLength;
  }

  set maxSeqLength(value: number) {
    this.inputModule.maxSeqLength = value;
  }

  /** The first module's tokenizer: a Transformer's Hugging Face tokenizer, or a WordEmbeddings' WhitespaceTokenizer. */
  get tokenizer(): Tokenizer | WhitespaceTokenizer {
    return this.inputModule.tokenizer;
  }

  get device(): string {
    return this.modules[0]!.native.device;
  }

  /** The size of the embeddings encode returns (after truncateDim). */
  private adapterHost(op: string): Transformer {
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op });
    const first = this.modules[0];
    if (!(first instanceof Transformer)) throw new SbertError("ERR_INPUT", "adapters need a Transformer as the first module", { op });
    return first;
  }

  /**
   * Adds a LoRA adapter (peft's LoraConfig in camelCase) to the Transformer's linear layers named by
   * `targetModules`, freezing its own weights: fit and SentenceTransformerTrainer then train the adapter (and
   * any later module's weights), as sentence-transformers' add_adapter. Returns the adapted layers' paths.
   */
  addAdapter(config: LoraConfig): string[] {
    this.sourceFolder = undefined;
    return this.adapterHost("SentenceTransformer.addAdapter").addAdapter(config);
  }

  /** Loads a peft adapter folder (adapter_config.json + adapter_model.safetensors) onto this base model. */
  async loadAdapter(path: string): Promise<void> {
    if (typeof path !== "string" || path === "") throw new TypeError("loadAdapter: path must be a non-empty string");
    const host = this.adapterHost("SentenceTransformer.loadAdapter");
    await this.exclusive(() => host.loadAdapter(path));
  }

  /** Writes the adapter alone, as peft's save_pretrained: adapter_config.json and adapter_model.safetensors. */
  async saveAdapter(path: string): Promise<void> {
    if (typeof path !== "string" || path === "") throw new TypeError("saveAdapter: path must be a non-empty string");
    const host = this.adapterHost("SentenceTransformer.saveAdapter");
    await writeFolderAtomically(path, (tmp) => host.saveAdapter(tmp), "SentenceTransformer.saveAdapter");
  }

  /** Folds the adapter into the Transformer's weights and removes it (peft's merge_and_unload). */
  mergeAndUnload(): void {
    this.sourceFolder = undefined;
    this.adapterHost("SentenceTransformer.mergeAndUnload").mergeAndUnload();
  }

  getSentenceEmbeddingDimension(): number | undefined {
    let dim: number | undefined;
    for (const m of this.modules) {
      if (m instanceof Pooling || m instanceof Dense || m instanceof LayerNorm || m instanceof StaticEmbedding || m instanceof Router) {
        dim = m.getSentenceEmbeddingDimension() ?? dim;
      }
    }
    return dim !== undefined && this.truncateDim !== undefined ? Math.min(dim, this.truncateDim) : dim;
  }

  /**
   * Tokenizes as encode does: truncated to maxSeqLength and padded to the longest text. With a Router, `task` picks
   * the route (and the batch names it).
   */
  tokenize(texts: TextInput[], options: { task?: string } = {}): EncodedBatch & { route?: string } {
    return this.inputModule.tokenize(checkInputs(texts), options);
  }

  /**
   * Every weight of every module, named `<module index>.<checkpoint key>` (a Transformer's keys as in its
   * model.safetensors, e.g. `0.encoder.layer.0.attention.self.query.weight`), with its shape and whether training
   * updates it.
   */
  namedParameters(): { name: string; shape: number[]; requiresGrad: boolean }[] {
    return this.modules.flatMap((m, i) => m.native.namedParameters().map((p) => ({ ...p, name: `${i}.${p.name}` })));
  }

  /**
   * Freezes (`requiresGrad` false) or unfreezes weights for training, as setting `requires_grad` on PyTorch
   * parameters: those named (see namedParameters), or those whose name passes `select`. Frozen weights keep their
   * values and take no optimizer state. Returns the names chosen; a name that is no weight, or a test no name
   * passes, throws a RangeError and changes nothing.
   */
  setRequiresGrad(select: string[] | ((name: string) => boolean), requiresGrad: boolean): string[] {
    if (typeof requiresGrad !== "boolean") throw new TypeError(`setRequiresGrad: requiresGrad must be true or false, got ${String(requiresGrad)}`);
    const all = this.namedParameters().map((p) => p.name);
    let chosen: string[];
    if (typeof select === "function") {
      chosen = all.filter((n) => select(n));
      if (chosen.length === 0) throw new RangeError("setRequiresGrad: no weight's name passes the test (see namedParameters() for the names)");
    } else if (Array.isArray(select)) {
      const known = new Set(all);
      const unknown = select.find((n) => !known.has(n));
      if (unknown !== undefined) throw new RangeError(`setRequiresGrad: the model has no weight '${String(unknown)}' (see namedParameters() for the names)`);
      chosen = [...select];
    } else {
      throw new TypeError("setRequiresGrad: select must be a list of weight names or a function of the name");
    }
    this.modules.forEach((m, i) => {
      const prefix = `${i}.`;
      const mine = chosen.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
      if (mine.length > 0) callNativeSync("setRequiresGrad", () => m.native.setRequiresGrad(mine, requiresGrad));
    });
    return chosen;
  }

  /**
   * The sentence embeddings [rows, dim] of a batch already tokenized (by this model's tokenizer, or one with the same
   * vocabulary), as a guide model gives them to a loss; not normalized. @internal
   */
  embedTokens(batch: NativeTokenBatch): Promise<NativeTensor> {
    const handles = this.modules.map((m) => m.native);
    return this.lock.read(() => callNative(OP_ENCODE, (n) => n.encode(handles, batch, { output: "sentence_embedding", normalize: false, truncateDim: 0 })));
  }

  /** The number of tokens `prompt` takes at the start of a text (for pooling that leaves prompts out). @internal */
  promptLength(prompt: string, options: { task?: string } = {}): number | undefined {
    return this.inputModule.promptLength(prompt, options);
  }

  private resolvePrompt(prompt: string | undefined, promptName: string | undefined): string | undefined {
    if (prompt !== undefined) {
      if (typeof prompt !== "string") throw new TypeError("encode: prompt must be a string");
      return prompt;
    }
    if (promptName !== undefined) {
      const p = this.prompts[promptName];
      if (p === undefined) throw new RangeError(`encode: promptName '${promptName}' is not one of the prompts (${Object.keys(this.prompts).join(", ") || "none"})`);
      return p;
    }
    return this.defaultPromptName !== undefined ? this.prompts[this.defaultPromptName] : undefined;
  }

  /**
   * Embeds one text (→ one array) or many (→ an array of arrays, in input order). Batches are sorted by length
   * and run on libuv worker threads, so the event loop stays free.
   */
  encode<P extends Precision = "float32">(sentences: string, options?: EncodeOptions<P> & { outputValue?: "sentence_embedding" }): Promise<EmbeddingOf<P>>;
  encode<P extends Precision = "float32">(sentences: TextInput[], options?: EncodeOptions<P> & { outputValue?: "sentence_embedding" }): Promise<EmbeddingOf<P>[]>;
  encode(sentences: string, options: EncodeOptions<"float32"> & { outputValue: "token_embeddings" }): Promise<Float32Array[]>;
  encode(sentences: TextInput[], options: EncodeOptions<"float32"> & { outputValue: "token_embeddings" }): Promise<Float32Array[][]>;
  async encode(sentences: string | TextInput[], options: EncodeOptions = {}): Promise<unknown> {
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: OP_ENCODE });
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new SbertError("ERR_INPUT", `options must be an object (or left out), got ${options === null ? "null" : Array.isArray(options) ? "an array" : typeof options}`, { op: OP_ENCODE });
    }
    const {
      batchSize = 32,
      showProgressBar = false,
      outputValue = "sentence_embedding",
      normalizeEmbeddings = false,
      precision = "float32",
      truncateDim = this.truncateDim,
    } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`encode: batchSize must be a positive integer, got ${String(batchSize)}`);
    if (!(OUTPUT_VALUES as readonly string[]).includes(outputValue)) {
      throw new RangeError(`encode: outputValue must be "sentence_embedding" or "token_embeddings", got ${JSON.stringify(outputValue)}`);
    }
    if (!PRECISIONS.includes(precision)) throw new RangeError(`encode: precision must be one of ${PRECISIONS.join(", ")}, got ${JSON.stringify(precision)}`);
    if (truncateDim !== undefined) SentenceTransformer.checkTruncateDim(truncateDim);
    const { pool, chunkSize } = options;
    if (pool !== undefined) this.checkPool(pool, outputValue, chunkSize);
    const single = typeof sentences === "string";
    const inputs = checkInputs(single ? [sentences] : sentences);
    if (inputs.length === 0) return [];

    const prompt = this.resolvePrompt(options.prompt, options.promptName);
    const task = options.task;
    if (task !== undefined && typeof task !== "string") throw new TypeError(`encode: task must be a string, got ${typeof task}`);
    const maxActiveDims = options.maxActiveDims;
    if (maxActiveDims !== undefined) {
      if (!Number.isInteger(maxActiveDims) || maxActiveDims <= 0) throw new RangeError(`encode: maxActiveDims must be a positive integer, got ${String(maxActiveDims)}`);
      if (pool !== undefined) throw new SbertError("ERR_INPUT", "maxActiveDims cannot be combined with a pool (its workers encode with the modules' own settings)", { op: OP_ENCODE });
    }
    if (pool !== undefined) {
      const size = chunkSize ?? defaultChunkSize(inputs.length, pool.processes.length);
      const bar = showProgressBar ? new ProgressBar({ total: Math.ceil(inputs.length / size), label: "Chunks" }) : undefined;
      let rows: Float32Array[];
      try {
        rows = await pool.encode(inputs, { batchSize, normalizeEmbeddings, truncateDim, prompt, task }, size, () => bar?.tick());
      } finally {
        bar?.stop();
      }
      // Quantized here, over the whole call: per-chunk ranges would depend on the chunking.
      const final: unknown[] = precision === "float32" ? rows : quantizeEmbeddings(rows, precision);
      return single ? final[0] : final;
    }
    const texts = prompt === undefined ? inputs : inputs.map((t) => (typeof t === "string" ? prompt + t : ([prompt + t[0], t[1]] as [string, string])));
    const input = this.inputModule;
    const promptLength = prompt === undefined ? undefined : input.promptLength(prompt, { task });

    const handles: NativeModule[] = this.modules.map((m) => m.native);
    const order = texts.map((_, i) => i).sort((a, b) => textLength(texts[b]!) - textLength(texts[a]!) || a - b);
    const results: unknown[] = new Array(texts.length);
    // Batches run side by side, one per core (see encodeConcurrency); a small input is split so every core
    // gets a share. Results do not depend on how texts are grouped.
    const concurrency = getEncodeConcurrency();
    const size = Math.max(1, Math.min(batchSize, Math.ceil(texts.length / concurrency)));
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += size) batches.push(order.slice(start, start + size));
    const bar = showProgressBar ? new ProgressBar({ total: batches.length, label: "Batches" }) : undefined;

    const run = (b: EncodedBatch): Promise<NativeTensor> =>
      this.lock.read(() =>
        callNative(OP_ENCODE, (n) =>
          n.encode(handles, { ...b, promptLength, maxActiveDims }, { output: outputValue, normalize: normalizeEmbeddings, truncateDim: truncateDim ?? 0 }),
        ),
      );
    const unpack = (idx: number[], batch: EncodedBatch, out: NativeTensor): void => {
      if (outputValue === "token_embeddings") {
        const [, seq, hidden] = out.shape as [number, number, number];
        idx.forEach((orig, row) => {
          const mask = batch.attentionMask.subarray(row * seq, (row + 1) * seq);
          // The attended span: padding left out on either side (left-padding tokenizers put it first).
          let first = 0, last = seq - 1;
          while (last > 0 && mask[last] === 0) last--;
          while (first < last && mask[first] === 0) first++;
          const tokens: Float32Array[] = [];
          for (let t = first; t <= last; t++) tokens.push(out.data.slice((row * seq + t) * hidden, (row * seq + t + 1) * hidden));
          results[orig] = tokens;
        });
      } else {
        const dim = out.shape[1]!;
        idx.forEach((orig, row) => {
          results[orig] = out.data.subarray(row * dim, (row + 1) * dim);
        });
      }
    };
    // Each lane tokenizes its next batch on the JS thread while the other lanes' batches run natively.
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < batches.length) {
        const idx = batches[next++]!;
        const batch = input.tokenize(idx.map((i) => texts[i]!), { task });
        unpack(idx, batch, await run(batch));
        bar?.tick();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, lane));
    bar?.stop();

    let final = results;
    if (outputValue === "sentence_embedding" && precision !== "float32") {
      final = quantizeEmbeddings(results as Float32Array[], precision) as unknown[];
    }
    return single ? final[0] : final;
  }

  private checkPool(pool: unknown, outputValue: string, chunkSize: unknown): asserts pool is MultiProcessPool {
    if (!(pool instanceof MultiProcessPool)) throw new TypeError("encode: pool must be a pool from startMultiProcessPool()");
    if (pool.owner !== this) throw new SbertError("ERR_INPUT", "the pool was started by another model (its workers run that model)", { op: OP_ENCODE });
    if (outputValue !== "sentence_embedding") throw new SbertError("ERR_INPUT", `a pool encodes sentence embeddings only, not ${JSON.stringify(outputValue)}`, { op: OP_ENCODE });
    if (chunkSize !== undefined && (typeof chunkSize !== "number" || !Number.isInteger(chunkSize) || chunkSize <= 0)) {
      throw new RangeError(`encode: chunkSize must be a positive integer, got ${String(chunkSize)}`);
    }
  }

  /**
   * Starts worker processes that encode for this model, as sentence-transformers' `start_multi_process_pool`:
   * pass the pool to `encode(texts, { pool })` and end it with `pool.close()` or `stopMultiProcessPool(pool)`.
   * Each worker loads the model on its device from the folder it was loaded from or, for a model built in memory,
   * trained or adapted since, from a temporary copy saved now (removed when the pool ends); the workers encode the
   * model as it is now. `threadsPerProcess` keeps the workers together within the machine's cores.
   */
  async startMultiProcessPool(options: MultiProcessPoolOptions = {}): Promise<MultiProcessPool> {
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: "SentenceTransformer.startMultiProcessPool" });
    const info = native().info();
    const plan = planPool(options, { cores: availableParallelism(), cudaDevices: info.cuda ? info.cudaDeviceCount : 0 });
    let folder = this.sourceFolder;
    let temporary: string | undefined;
    if (folder === undefined) {
      temporary = await mkdtemp(join(tmpdir(), "sbert-node-pool-"));
      folder = join(temporary, "model");
      try {
        await this.save(folder, { createModelCard: false });
      } catch (e) {
        await rm(temporary, { recursive: true, force: true });
        throw e;
      }
    }
    return MultiProcessPool.start({ owner: this, folder, temporary, precision: this.linearPrecision, maxSeqLength: this.maxSeqLength }, plan);
  }

  /** Ends a pool's workers, as sentence-transformers' `stop_multi_process_pool` (the same as `pool.close()`). */
  stopMultiProcessPool(pool: MultiProcessPool): Promise<void> {
    return SentenceTransformer.stopMultiProcessPool(pool);
  }

  static stopMultiProcessPool(pool: MultiProcessPool): Promise<void> {
    if (!(pool instanceof MultiProcessPool)) throw new TypeError("stopMultiProcessPool: pool must be a pool from startMultiProcessPool()");
    return pool.close();
  }

  /**
   * Embeds queries, as sentence-transformers' `encode_query`: the prompt named "query" when the model has one (and
   * no prompt or promptName is given), and the task "query", which a Router routes by.
   */
  encodeQuery<P extends Precision = "float32">(sentences: string, options?: EncodeOptions<P> & { outputValue?: "sentence_embedding" }): Promise<EmbeddingOf<P>>;
  encodeQuery<P extends Precision = "float32">(sentences: TextInput[], options?: EncodeOptions<P> & { outputValue?: "sentence_embedding" }): Promise<EmbeddingOf<P>[]>;
  encodeQuery(sentences: string | TextInput[], options: EncodeOptions = {}): Promise<unknown> {
    const o = { ...(options ?? {}) };
    if (o.promptName === undefined && o.prompt === undefined && "query" in this.prompts) o.promptName = "query";
    return this.encode(sentences as TextInput[], { ...o, task: "query" } as EncodeOptions & { outputValue?: "sentence_embedding" });
  }

  /**
   * Embeds documents, as sentence-transformers' `encode_document`: the first of the prompts named "document",
   * "passage", "corpus" that the model has (when no prompt or promptName is given), and the task "document".
   */
  encodeDocument<P extends Precision = "float32">(sentences: string, options?: EncodeOptions<P> & { outputValue?: "sentence_embedding" }): Promise<EmbeddingOf<P>>;
  encodeDocument<P extends Precision = "float32">(sentences: TextInput[], options?: EncodeOptions<P> & { outputValue?: "sentence_embedding" }): Promise<EmbeddingOf<P>[]>;
  encodeDocument(sentences: string | TextInput[], options: EncodeOptions = {}): Promise<unknown> {
    const o = { ...(options ?? {}) };
    if (o.promptName === undefined && o.prompt === undefined) o.promptName = ["document", "passage", "corpus"].find((p) => p in this.prompts);
    return this.encode(sentences as TextInput[], { ...o, task: "document" } as EncodeOptions & { outputValue?: "sentence_embedding" });
  }

  /**
   * Runs `evaluator` on this model, as sentence-transformers' `evaluate`: its metrics, with its CSV written under
   * `outputPath` when one is given (created if missing).
   */
  async evaluate(evaluator: { evaluate(model: SentenceTransformer, options?: { outputPath?: string }): Promise<Record<string, number>> }, outputPath?: string): Promise<Record<string, number>> {
    if (!evaluator || typeof evaluator.evaluate !== "function") throw new TypeError("SentenceTransformer.evaluate: evaluator must be an evaluator (with an evaluate method)");
    if (outputPath !== undefined) await mkdir(outputPath, { recursive: true });
    return evaluator.evaluate(this, outputPath === undefined ? {} : { outputPath });
  }

  /**
   * Trains the model, as sentence-transformers' `fit`: the objectives become a dict of datasets that
   * SentenceTransformerTrainer trains round robin (AdamW with a warmup schedule, evaluation, best-model saving,
   * checkpoints); see lib/fit.ts.
   */
  async fit(options: FitOptions): Promise<FitResult> {
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: "SentenceTransformer.fit" });
    return fit(this, options);
  }

  /**
   * Sets how encode runs the linear layers: "int8" quantizes their weights per output channel and their inputs
   * per batch (oneDNN; faster on CPUs with VNNI) or, under 64 tokens in a batch on CPUs with AVX2, per token
   * (sbert-node's int8 kernel; short requests 1.3-1.9x faster than float32 in the benchmark). Embeddings are
   * close to but not equal to float32. "bf16" rounds the weights and the layers' inputs to bfloat16 and multiplies
   * them with float32 sums (oneDNN's bf16 product); it needs a CPU with AVX512_BF16 or AMX-BF16 and is refused
   * elsewhere (an SbertError with code ERR_DEVICE). Attention, norms and pooling stay float32. "float32" goes back.
   * Training always runs in float32, and int8 and bf16 weights are re-derived after every weight change.
   */
  quantize(precision: LinearPrecision): void {
    if (!LINEAR_PRECISIONS.includes(precision)) {
      throw new RangeError(`quantize: precision must be ${LINEAR_PRECISIONS.map((p) => JSON.stringify(p)).join(", ")}, got ${JSON.stringify(precision)}`);
    }
    // The CPU check comes first, in the first module: a refused precision changes nothing.
    callNativeSync("SentenceTransformer.quantize", () => {
      for (const m of this.modules) m.native.setPrecision(precision);
    });
    this.linearPrecision = precision;
  }

  /** Runs `fn` while no encode batch is using the weights (training steps). @internal */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.sourceFolder = undefined;
    return this.lock.write(fn);
  }

  /** The model's similarity (similarityFnName) between every embedding of `a` and every one of `b`. */
  similarity(a: Float32Array | Float32Array[], b: Float32Array | Float32Array[]): number[][] {
    switch (this.similarityFnName) {
      case "cosine":
        return cosSim(a, b);
      case "dot":
        return dotScore(a, b);
      case "euclidean":
        return euclideanSim(a, b);
      case "manhattan":
        return manhattanSim(a, b);
    }
  }

  /** The model's similarity between a[i] and b[i]. */
  similarityPairwise(a: Float32Array[], b: Float32Array[]): number[] {
    switch (this.similarityFnName) {
      case "cosine":
        return pairwiseCosSim(a, b);
      case "dot":
        return pairwiseDotScore(a, b);
      case "euclidean":
        return pairwiseEuclideanSim(a, b);
      case "manhattan":
        return pairwiseManhattanSim(a, b);
    }
  }

  /** The contents of config_sentence_transformers.json. */
  getConfigDict(): Record<string, unknown> {
    const info = native().info();
    const config: Record<string, unknown> = {
      __version__: { sentence_transformers: "3.0.0", transformers: "4.41.0", pytorch: info.torchVersion },
      prompts: this.prompts,
      default_prompt_name: this.defaultPromptName ?? null,
      similarity_fn_name: this.similarityFnName,
    };
    if (this.truncateDim !== undefined) config["truncate_dim"] = this.truncateDim;
    return config;
  }

  /**
   * Saves the model as sentence-transformers does (legacy layout): the Transformer at the root, each further
   * module in `{idx}_{Class}/`, modules.json, config_sentence_transformers.json and a README.md model card.
   * The folder is built aside and swapped in whole.
   */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    if (typeof path !== "string" || path === "") throw new TypeError("save: path must be a non-empty string");
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: "SentenceTransformer.save" });
    await writeFolderAtomically(path, async (tmp) => {
      const entries: { idx: number; name: string; path: string; type: string }[] = [];
      for (const [idx, module] of this.modules.entries()) {
        const rel = idx === 0 && module.saveInRoot ? "" : `${idx}_${module.className}`;
        const dir = join(tmp, rel);
        await mkdir(dir, { recursive: true });
        await module.save(dir);
        entries.push({ idx, name: String(idx), path: rel, type: module.moduleType });
      }
      await writeJson(join(tmp, "modules.json"), entries);
      await writeJson(join(tmp, "config_sentence_transformers.json"), this.getConfigDict());
      if (options.createModelCard ?? true) {
        await writeFile(join(tmp, "README.md"), modelCard(this, { modelName: options.modelName ?? basename(resolve(path)), datasets: options.trainDatasets }));
      }
    }, "SentenceTransformer.save");
  }

  /**
   * Saves the model and uploads it to the Hugging Face Hub as one commit (creating the repo if needed), with
   * its model card.
   */
  async pushToHub(repoId: string, options: PushOptions & SaveOptions & { trainDatasets?: string[]; replaceModelCard?: boolean } = {}): Promise<PushResult> {
    if (typeof repoId !== "string" || repoId === "") throw new TypeError("pushToHub: repoId must be a non-empty string");
    const { modelName = repoId, createModelCard, trainDatasets } = options;
    return pushSavedFolder((folder) => this.save(folder, { modelName, createModelCard, trainDatasets }), repoId, options);
  }

  /** Frees the native weights. Calls already running finish first (they hold their own reference). */
  dispose(): void {
    this.disposed = true;
    for (const m of this.modules) m.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  toString(): string {
    const lines = this.modules.map((m, i) => `  (${i}): ${String(m)}`);
    return `SentenceTransformer(\n${lines.join("\n")}\n)`;
  }
}
