import { access, mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

import type { NativeModule, NativeTensorSpec, NativeWeights } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { modelIdFor, pushSavedFolder, resolveModelFolder, type HubOptions, type PushOptions, type PushResult } from "../hub/index.js";
import { weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJson, readJsonObject, writeFolderAtomically, writeJsonWithFloats } from "../io/files.js";
import { writeSafetensors } from "../io/safetensors.js";
import { Dense } from "../models/Dense.js";
import { Dropout } from "../models/Dropout.js";
import { LayerNorm } from "../models/LayerNorm.js";
import { Pooling } from "../models/Pooling.js";
import { Transformer } from "../models/Transformer.js";
import { callNative } from "../native.js";
import { SentenceTransformer, type LinearPrecision } from "../SentenceTransformer.js";
import type { DataLoader } from "../DataLoader.js";
import type { TrainingSummary } from "../fit.js";
import type { CrossEncoderFitOptions } from "./fit.js";
import type { SentenceModule } from "../models/Module.js";
import type { EncodedBatch, Tokenizer } from "../tokenization/Tokenizer.js";
import { ACTIVATION_FNS, type CrossEncoderActivation, resolveActivation, TORCH_PATHS } from "./activation.js";
import { CLASSIFICATION_HEADS, type ClassificationHead, headDropout } from "./heads.js";
import { LastNonPadToken } from "./LastNonPadToken.js";
import { crossEncoderModelCard } from "./modelCard.js";

export { CROSS_ENCODER_ACTIVATIONS, type CrossEncoderActivation } from "./activation.js";

export interface CrossEncoderLoadOptions extends HubOptions {
  /** Pairs are truncated (longest_first) to this many tokens. Default: the tokenizer's model_max_length, at most what the positions allow. */
  maxLength?: number;
  /** Applied to the logits by predict and rank. Default: the model's (config), else sigmoid for one label and identity for more. */
  activationFn?: CrossEncoderActivation | string;
  /** The classifier's label count; it must agree with the checkpoint (Hugging Face refuses a mismatch too). */
  numLabels?: number;
  /** "cpu", "cuda" or "cuda:N". Default "cpu". */
  device?: string;
  /** Inference precision of the linear layers (see SentenceTransformer.quantize). */
  quantize?: LinearPrecision;
}

export type CrossEncoderPair = [string, string];

export interface PredictOptions {
  /** Pairs per native call. Default 32. */
  batchSize?: number;
  /** Overrides the model's activationFn for this call. */
  activationFn?: CrossEncoderActivation | string;
  /** Softmax over the labels of each pair, after the activation (sentence-transformers does it whenever asked, one label included). */
  applySoftmax?: boolean;
  /** true (default): plain numbers (number[] for one label, number[][] otherwise); false: Float32Arrays (one for all scores with one label, one per pair otherwise). */
  convertToArray?: boolean;
  showProgressBar?: boolean;
}

export interface RankOptions {
  /** Only the best topK documents. Default all. */
  topK?: number;
  /** Include each document's text. */
  returnDocuments?: boolean;
  batchSize?: number;
  activationFn?: CrossEncoderActivation | string;
  applySoftmax?: boolean;
  showProgressBar?: boolean;
}

/** One ranked document: sentence-transformers' `{corpus_id, score, text}`. */
export interface RankResult {
  corpusId: number;
  score: number;
  text?: string;
}

const OP_LOAD = "CrossEncoder.load";
const OP_PREDICT = "CrossEncoder.predict";
/** The sentence-transformers version whose CrossEncoder layout save writes (a plain *ForSequenceClassification folder). */
const SAVED_LAYOUT_VERSION = "4.1.0";


/** The label count config.json gives, as transformers reads it: id2label's size, else num_labels, else 2. */
function configuredLabels(config: Record<string, unknown>, file: string): number {
  const id2label = config["id2label"];
  if (id2label !== undefined && id2label !== null) {
    if (typeof id2label !== "object" || Array.isArray(id2label)) throw new SbertError("ERR_CONFIG", `${file}: 'id2label' must be an object`, { op: OP_LOAD });
    return Object.keys(id2label).length;
  }
  const n = config["num_labels"];
  if (n === undefined || n === null) return 2;
  if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) throw new SbertError("ERR_CONFIG", `${file}: 'num_labels' must be a positive integer, got ${JSON.stringify(n)}`, { op: OP_LOAD });
  return n;
}

type Located = { path: string; spec: NativeTensorSpec };

// The head's tensors `${key}.${suffix}` (present: the caller checked), each shape checked first (an SbertError naming
// the file and key), as native weights under the module's own names.
function headWeights(
  tensors: Map<string, Located>,
  key: string,
  parts: { suffix: string; shape: number[]; name: string }[],
  head: ClassificationHead,
): NonNullable<NativeWeights> {
  const pick = (suffix: string, expected: number[]): Located => {
    const name = `${key}.${suffix}`;
    const found = tensors.get(name)!;
    if (found.spec.shape.length !== expected.length || found.spec.shape.some((d, i) => d !== expected[i])) {
      throw new SbertError(
        "ERR_WEIGHTS",
        `key '${name}' has shape [${found.spec.shape.join(", ")}] in ${found.path} but ${head.modelClass}'s head expects [${expected.join(", ")}]`,
        { op: OP_LOAD },
      );
    }
    return found;
  };
  const byFile = new Map<string, NativeTensorSpec[]>();
  for (const { suffix, shape, name } of parts) {
    const located = pick(suffix, shape);
    byFile.set(located.path, [...(byFile.get(located.path) ?? []), { ...located.spec, name }]);
  }
  return { files: [...byFile].map(([path, specs]) => ({ path, tensors: specs })) };
}

/** One linear layer of the head as a native Dense: `${key}.weight` [out, in] and, with a bias, `${key}.bias` [out]. */
async function loadHeadLayer(
  tensors: Map<string, Located>,
  key: string,
  shape: [number, number],
  activation: string,
  bias: boolean,
  head: ClassificationHead,
  device: string,
): Promise<Dense> {
  const [out, inFeatures] = shape;
  const parts = [{ suffix: "weight", shape: [out, inFeatures], name: "linear.weight" }];
  if (bias) parts.push({ suffix: "bias", shape: [out], name: "linear.bias" });
  const weights = headWeights(tensors, key, parts, head);
  const config = { inFeatures, outFeatures: out, bias, activation };
  const { module } = await callNative(OP_LOAD, (n) => n.loadDense(config, weights, { device, seed: 0 }));
  return new Dense({ inFeatures, outFeatures: out, bias, activationFunction: activation }, module);
}

/** The head's LayerNorm as a native LayerNorm module: `${key}.weight` [hidden] and, with a bias, `${key}.bias`. */
async function loadHeadNorm(tensors: Map<string, Located>, norm: NonNullable<ClassificationHead["norm"]>, hidden: number, head: ClassificationHead, device: string): Promise<LayerNorm> {
  const parts = [{ suffix: "weight", shape: [hidden], name: "norm.weight" }];
  if (norm.bias) parts.push({ suffix: "bias", shape: [hidden], name: "norm.bias" });
  const weights = headWeights(tensors, norm.key, parts, head);
  const { module } = await callNative(OP_LOAD, (n) => n.loadModule("layer_norm", { dimension: hidden, eps: norm.eps, bias: norm.bias }, weights, { device, seed: 0 }));
  return new LayerNorm(hidden, { device }, module);
}

/** The checkpoint keys a head reads. */
function headKeys(head: ClassificationHead): string[] {
  const keys = [`${head.out.key}.weight`];
  if (head.out.bias) keys.push(`${head.out.key}.bias`);
  if (head.dense) keys.push(`${head.dense.key}.weight`, ...(head.dense.bias ? [`${head.dense.key}.bias`] : []));
  if (head.norm) keys.push(`${head.norm.key}.weight`, ...(head.norm.bias ? [`${head.norm.key}.bias`] : []));
  return keys;
}

function checkPair(p: unknown, i: number): CrossEncoderPair {
  if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || typeof p[1] !== "string") {
    throw new SbertError("ERR_INPUT", `pairs[${i}] must be a [string, string] pair, got ${p === null ? "null" : Array.isArray(p) ? `an array of ${p.length}` : typeof p}`, {
      op: OP_PREDICT,
    });
  }
  return p as CrossEncoderPair;
}

/**
 * A cross-encoder (reranker): a Hugging Face `*ForSequenceClassification` model that reads a text pair together
 * and gives it one score (or one per label), with sentence-transformers' `CrossEncoder` API and folder formats.
 * Runs the encoder, the pooled token embeddings and the architecture's head natively, on worker threads. Encoders
 * pool their first token (or the mean); decoders (Qwen3, Gemma 3) the last token that is not the pad token
 * (heads.ts).
 */
export class CrossEncoder {
  readonly numLabels: number;
  /** config.json as read; written back on save. */
  readonly config: Record<string, unknown>;
  readonly head: ClassificationHead;
  /** What predict puts on the logits unless told otherwise. */
  activationFn: CrossEncoderActivation;
  /** The Hub id it was downloaded from, if any. */
  hubId: string | undefined;
  private readonly transformer: Transformer;
  private readonly dense: Dense | undefined;
  private readonly norm: LayerNorm | undefined;
  private readonly out: Dense;
  // The encoder, the pooled token and the head as one native pipeline (and encode's batching by length).
  private readonly pipeline: SentenceTransformer;
  private disposed = false;

  private constructor(
    transformer: Transformer,
    pooling: Pooling | LastNonPadToken,
    dense: Dense | undefined,
    norm: LayerNorm | undefined,
    out: Dense,
    head: ClassificationHead,
    activationFn: CrossEncoderActivation,
    dropout: number,
  ) {
    this.transformer = transformer;
    this.dense = dense;
    this.norm = norm;
    this.out = out;
    this.head = head;
    this.config = transformer.config;
    this.numLabels = out.outFeatures;
    this.activationFn = activationFn;
    // Dropout as the Hugging Face head applies it in training (inference skips it).
    const drop = () => (dropout > 0 ? [new Dropout(dropout)] : []);
    this.pipeline = new SentenceTransformer({
      modules: [transformer, pooling, ...(head.dropout?.beforeDense ? drop() : []), ...(dense ? [dense] : []), ...(norm ? [norm] : []), ...drop(), out],
    });
  }

  /**
   * Loads a cross-encoder folder or Hub id: a plain Hugging Face `*ForSequenceClassification` folder (what
   * sentence-transformers before 5.4 saves, and most Hub rerankers), or sentence-transformers 6's modular layout
   * (modules.json with one Transformer, config_sentence_transformers.json with model_type "CrossEncoder").
   */
  static async load(modelNameOrPath: string, options: CrossEncoderLoadOptions = {}): Promise<CrossEncoder> {
    if (typeof modelNameOrPath !== "string" || modelNameOrPath === "") throw new TypeError("CrossEncoder.load: modelNameOrPath must be a non-empty string");
    if (typeof options !== "object" || options === null) throw new TypeError("CrossEncoder.load: options must be an object");
    if (options.numLabels !== undefined && (!Number.isInteger(options.numLabels) || options.numLabels <= 0)) {
      throw new RangeError(`CrossEncoder.load: numLabels must be a positive integer, got ${String(options.numLabels)}`);
    }
    const optionActivation = options.activationFn === undefined ? undefined : resolveActivation(options.activationFn, "CrossEncoder.load", null);
    const { revision, token, cacheFolder, localFilesOnly, endpoint } = options;
    const path = await resolveModelFolder(modelNameOrPath, { revision, token, cacheFolder, localFilesOnly, endpoint });
    const device = options.device ?? "cpu";

    // sentence-transformers reads modules.json only when config_sentence_transformers.json calls the folder a
    // CrossEncoder; any other folder is loaded as the Hugging Face model at its root.
    let savedActivation: CrossEncoderActivation | undefined;
    const modulesFile = join(path, "modules.json");
    const stFile = join(path, "config_sentence_transformers.json");
    const entries = await readJson(modulesFile, { optional: true, op: OP_LOAD });
    const st = entries === undefined ? undefined : await readJsonObject(stFile, { optional: true, op: OP_LOAD });
    if (entries !== undefined && st?.["model_type"] === "CrossEncoder") {
      const types = Array.isArray(entries) ? entries.map((e) => (typeof e === "object" && e !== null ? (e as Record<string, unknown>)["type"] : e)) : [];
      const one = Array.isArray(entries) && entries.length === 1 ? (entries[0] as Record<string, unknown>) : undefined;
      if (one === undefined || typeof one["type"] !== "string" || !one["type"].endsWith(".Transformer") || one["path"] !== "") {
        throw new SbertError(
          "ERR_CONFIG",
          `${modulesFile}: sbert-node runs cross-encoders made of one sequence-classification Transformer at the folder's root; this one lists ${JSON.stringify(types)}`,
          { op: OP_LOAD },
        );
      }
      const saved = st["activation_fn"];
      if (typeof saved === "string" && saved.startsWith("torch.")) savedActivation = resolveActivation(saved, `${stFile}: activation_fn`, "ERR_CONFIG", OP_LOAD);
    }

    const configFile = join(path, "config.json");
    const config = await readJsonObject(configFile, { op: OP_LOAD });
    const modelType = config["model_type"] ?? "bert";
    const entry = typeof modelType === "string" && Object.hasOwn(CLASSIFICATION_HEADS, modelType) ? CLASSIFICATION_HEADS[modelType]! : undefined;
    if (entry === undefined) {
      throw new SbertError(
        "ERR_CONFIG",
        `${configFile}: model_type ${JSON.stringify(modelType)} has no sequence-classification head in sbert-node (supported: ${Object.keys(CLASSIFICATION_HEADS).join(", ")})`,
        { op: OP_LOAD },
      );
    }
    const head = entry.configure ? entry.configure(new ConfigReader(config, configFile, OP_LOAD)) : entry;
    if (head.pooling === "last_non_pad") await refuseChatTemplate(path, head);
    const numLabels = configuredLabels(config, configFile);
    if (options.numLabels !== undefined && options.numLabels !== numLabels) {
      throw new SbertError("ERR_CONFIG", `numLabels ${options.numLabels} was asked for but ${configFile} gives ${numLabels} labels (id2label / num_labels)`, { op: OP_LOAD });
    }
    const activationFn = optionActivation ?? savedActivation ?? configActivation(config, configFile) ?? (numLabels === 1 ? "sigmoid" : "identity");

    const weights = await weightsForNative(path);
    const tensors = new Map<string, Located>();
    for (const f of weights.files) for (const t of f.tensors) tensors.set(t.name, { path: f.path, spec: t });
    const files = weights.files.map((f) => f.path).join(", ");
    // Every head key is looked for before anything is loaded; shapes are checked once the hidden size is known.
    for (const name of headKeys(head)) {
      if (!tensors.has(name)) throw new SbertError("ERR_WEIGHTS", `missing key '${name}' in ${files}: ${head.modelClass}'s classification head needs it`, { op: OP_LOAD });
    }

    const loaded: { dispose(): void }[] = [];
    try {
      const transformer = await Transformer.load(path, { device, maxSeqLength: options.maxLength });
      loaded.push(transformer);
      const hidden = transformer.getWordEmbeddingDimension();
      const dense = head.dense ? await loadHeadLayer(tensors, head.dense.key, [hidden, hidden], head.dense.activation, head.dense.bias, head, device) : undefined;
      if (dense) loaded.push(dense);
      const norm = head.norm ? await loadHeadNorm(tensors, head.norm, hidden, head, device) : undefined;
      if (norm) loaded.push(norm);
      const out = await loadHeadLayer(tensors, head.out.key, [numLabels, hidden], "identity", head.out.bias, head, device);
      loaded.push(out);
      const pooling = head.pooling === "last_non_pad" ? new LastNonPadToken(hidden, head.padTokenId ?? null, { device }) : new Pooling(hidden, { poolingMode: head.pooling });
      loaded.push(pooling);
      const model = new CrossEncoder(transformer, pooling, dense, norm, out, head, activationFn, headDropout(head, new ConfigReader(config, configFile, OP_LOAD)));
      if (path !== modelNameOrPath) model.hubId = modelIdFor(modelNameOrPath);
      if (options.quantize !== undefined) model.quantize(options.quantize);
      return model;
    } catch (e) {
      for (const m of loaded) m.dispose();
      throw e;
    }
  }

  /** Pairs are truncated (longest_first) to this many tokens, special tokens included. */
  get maxLength(): number {
    return this.transformer.maxSeqLength;
  }

  set maxLength(value: number) {
    this.transformer.maxSeqLength = value;
  }

  get tokenizer(): Tokenizer {
    return this.transformer.tokenizer;
  }

  get device(): string {
    return this.pipeline.device;
  }

  /**
   * The classifier's logits, one Float32Array of numLabels values per pair, in order (what predict puts the
   * activation on). For callers that batch pairs of several requests together, as the server does.
   */
  async predictLogits(pairs: CrossEncoderPair[], options: { batchSize?: number; showProgressBar?: boolean } = {}): Promise<Float32Array[]> {
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: OP_PREDICT });
    const { batchSize = 32, showProgressBar = false } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`predict: batchSize must be a positive integer, got ${String(batchSize)}`);
    const checked = pairs.map((p, i) => checkPair(p, i));
    if (checked.length === 0) return [];
    if (this.head.pooling === "last_non_pad" && this.head.padTokenId === null && checked.length > 1 && batchSize > 1) {
      // transformers refuses too: without a pad id the last real token of a padded row cannot be told.
      throw new SbertError(
        "ERR_INPUT",
        `${this.head.modelClass} scores the last token that is not the pad token, and this model's config.json sets no pad_token_id: it can score only one pair per batch (batchSize 1), got ${checked.length} pairs with batchSize ${batchSize}`,
        { op: OP_PREDICT },
      );
    }
    return this.pipeline.encode(checked, { batchSize, showProgressBar });
  }

  /** predict's scores from logits: the activation (default the model's), then softmax over each pair's labels when asked. */
  activate(logits: Float32Array[], options: { activationFn?: CrossEncoderActivation | string; applySoftmax?: boolean } = {}): Float32Array[] {
    const act = ACTIVATION_FNS[options.activationFn === undefined ? this.activationFn : resolveActivation(options.activationFn, "predict", null)];
    return logits.map((row) => {
      const out = new Float32Array(row.length);
      for (let j = 0; j < row.length; j++) out[j] = act(row[j]!);
      if (options.applySoftmax) {
        const max = Math.max(...out);
        let sum = 0;
        for (let j = 0; j < out.length; j++) sum += Math.exp(out[j]! - max);
        for (let j = 0; j < out.length; j++) out[j] = Math.exp(out[j]! - max) / sum;
      }
      return out;
    });
  }

  /**
   * Scores text pairs: one [a, b] pair gives its score (one label) or scores; a list of pairs gives one per pair,
   * in order. Pairs are batched by length and run natively off the event loop.
   */
  predict(pair: CrossEncoderPair, options?: PredictOptions & { convertToArray?: true }): Promise<number | number[]>;
  predict(pairs: CrossEncoderPair[], options?: PredictOptions & { convertToArray?: true }): Promise<number[] | number[][]>;
  predict(pairs: CrossEncoderPair | CrossEncoderPair[], options: PredictOptions & { convertToArray: false }): Promise<Float32Array | Float32Array[]>;
  async predict(inputs: CrossEncoderPair | CrossEncoderPair[], options: PredictOptions = {}): Promise<unknown> {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new SbertError("ERR_INPUT", "options must be an object (or left out)", { op: OP_PREDICT });
    }
    if (!Array.isArray(inputs)) throw new SbertError("ERR_INPUT", `pairs must be a [string, string] pair or an array of pairs, got ${inputs === null ? "null" : typeof inputs}`, { op: OP_PREDICT });
    const single = inputs.length > 0 && !Array.isArray(inputs[0]);
    const pairs = (single ? [inputs] : inputs) as CrossEncoderPair[];
    const { activationFn, applySoftmax } = options;
    // The activation is checked before anything runs.
    this.activate([], { activationFn });
    const rows = this.activate(await this.predictLogits(pairs, options), { activationFn, applySoftmax });
    const flat = this.numLabels === 1;
    let result: unknown;
    if (options.convertToArray ?? true) {
      result = flat ? rows.map((r) => r[0]!) : rows.map((r) => Array.from(r));
    } else {
      result = flat ? Float32Array.from(rows, (r) => r[0]!) : rows;
    }
    if (!single) return result;
    return (result as ArrayLike<unknown>)[0];
  }

  /**
   * Scores `query` against each document and returns them best first (stable on ties), as sentence-transformers'
   * `rank`: `{corpusId, score, text?}`. Only for models with one label.
   */
  async rank(query: string, documents: string[], options: RankOptions = {}): Promise<RankResult[]> {
    if (typeof query !== "string") throw new SbertError("ERR_INPUT", "query must be a string", { op: "CrossEncoder.rank" });
    if (!Array.isArray(documents)) throw new SbertError("ERR_INPUT", "documents must be an array of strings", { op: "CrossEncoder.rank" });
    documents.forEach((d, i) => {
      if (typeof d !== "string") throw new SbertError("ERR_INPUT", `documents[${i}] must be a string, got ${d === null ? "null" : typeof d}`, { op: "CrossEncoder.rank" });
    });
    const { topK } = options;
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 0)) throw new RangeError(`rank: topK must be a non-negative integer, got ${String(topK)}`);
    if (this.numLabels !== 1) {
      throw new SbertError("ERR_INPUT", `rank() needs a model with one label; this one has ${this.numLabels}: score the pairs with predict() instead`, { op: "CrossEncoder.rank" });
    }
    const scores = await this.predict(
      documents.map((d) => [query, d] as CrossEncoderPair),
      { batchSize: options.batchSize, activationFn: options.activationFn, applySoftmax: options.applySoftmax, showProgressBar: options.showProgressBar },
    );
    const results: RankResult[] = (scores as number[]).map((score, corpusId) => (options.returnDocuments ? { corpusId, score, text: documents[corpusId]! } : { corpusId, score }));
    results.sort((a, b) => b.score - a.score);
    return topK === undefined ? results : results.slice(0, topK);
  }

  /** What the last training run reports in the model card (set by CrossEncoderTrainer). */
  get trainingSummary(): TrainingSummary | undefined {
    return this.pipeline.trainingSummary;
  }

  set trainingSummary(summary: TrainingSummary | undefined) {
    this.pipeline.trainingSummary = summary;
  }

  /** The native pipeline a trainer steps: encoder, pooled token, head (with its dropout). @internal */
  get trainingModules(): readonly SentenceModule[] {
    return this.pipeline.modules;
  }

  /** Tokenizes pairs as predict does (longest_first truncation to maxLength). @internal */
  tokenizePairs(pairs: CrossEncoderPair[]): EncodedBatch {
    return this.pipeline.tokenize(pairs.map((p, i) => checkPair(p, i)));
  }

  /** Runs `fn` while no predict batch is using the weights (training steps). @internal */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.pipeline.exclusive(fn);
  }

  /** Loads the weights of a folder this model's save wrote (a training checkpoint) into its layers. @internal */
  async reloadWeights(dir: string, op: string): Promise<void> {
    const weights = await weightsForNative(dir);
    const tensors = new Map<string, Located>();
    for (const f of weights.files) for (const t of f.tensors) tensors.set(t.name, { path: f.path, spec: t });
    const head = this.head;
    for (const name of headKeys(head)) {
      if (!tensors.has(name)) throw new SbertError("ERR_WEIGHTS", `missing key '${name}' in ${dir}: ${head.modelClass}'s classification head needs it`, { op });
    }
    const hidden = this.transformer.getWordEmbeddingDimension();
    const linear = (key: string, shape: number[], bias: boolean) =>
      headWeights(tensors, key, [{ suffix: "weight", shape, name: "linear.weight" }, ...(bias ? [{ suffix: "bias", shape: [shape[0]!], name: "linear.bias" }] : [])], head);
    const parts: [NativeModule, NonNullable<NativeWeights>][] = [
      [this.transformer.native, weights],
      [this.out.native, linear(head.out.key, [this.numLabels, hidden], head.out.bias)],
    ];
    if (this.dense && head.dense) parts.push([this.dense.native, linear(head.dense.key, [hidden, hidden], head.dense.bias)]);
    if (this.norm && head.norm) {
      const n = head.norm;
      parts.push([this.norm.native, headWeights(tensors, n.key, [{ suffix: "weight", shape: [hidden], name: "norm.weight" }, ...(n.bias ? [{ suffix: "bias", shape: [hidden], name: "norm.bias" }] : [])], head)]);
    }
    for (const [module, w] of parts) await callNative(op, () => module.loadWeights(w));
  }

  /**
   * Runs `evaluator` on this model, as sentence-transformers' `evaluate`: its metrics, with its CSV written under
   * `outputPath` when one is given (created if missing).
   */
  async evaluate(evaluator: { evaluate(model: CrossEncoder, options?: { outputPath?: string }): Promise<Record<string, number>> }, outputPath?: string): Promise<Record<string, number>> {
    if (!evaluator || typeof evaluator.evaluate !== "function") throw new TypeError("CrossEncoder.evaluate: evaluator must be an evaluator (with an evaluate method)");
    if (outputPath !== undefined) await mkdir(outputPath, { recursive: true });
    return evaluator.evaluate(this, outputPath === undefined ? {} : { outputPath });
  }

  /**
   * Trains on a DataLoader of InputExamples (texts [a, b], label), the API of sentence-transformers before v4, run by
   * CrossEncoderTrainer as sentence-transformers runs it (see CrossEncoderFitOptions).
   */
  async fit(trainDataloader: DataLoader, options: CrossEncoderFitOptions = {}): Promise<void> {
    const { crossEncoderFit } = await import("./fit.js");
    await crossEncoderFit(this, trainDataloader, options);
  }

  /** Linear layers' inference precision (see SentenceTransformer.quantize). */
  quantize(precision: LinearPrecision): void {
    this.pipeline.quantize(precision);
  }

  /**
   * Saves a Hugging Face `*ForSequenceClassification` folder that sentence-transformers' `CrossEncoder(path)` (and
   * transformers' AutoModelForSequenceClassification) loads unchanged: config.json (with the activation under
   * `sentence_transformers`), model.safetensors with Hugging Face's keys, the tokenizer files and a README.md model
   * card. Built aside and swapped in whole.
   */
  async save(path: string, options: { modelName?: string; createModelCard?: boolean } = {}): Promise<void> {
    if (typeof path !== "string" || path === "") throw new TypeError("CrossEncoder.save: path must be a non-empty string");
    if (this.disposed) throw new SbertError("ERR_DISPOSED", "the model was disposed", { op: "CrossEncoder.save" });
    const info = this.transformer.encoderInfo;
    const named = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const t of this.transformer.native.stateDict()) named.set(`${this.head.prefix}.${t.name}`, t);
    // The head's layers are the authority for their keys (BERT's pooler is also kept by the encoder, unused).
    const layers: [Dense, string][] = [[this.out, this.head.out.key]];
    if (this.dense && this.head.dense) layers.push([this.dense, this.head.dense.key]);
    for (const [layer, key] of layers) {
      for (const t of layer.native.stateDict()) named.set(`${key}.${t.name.replace(/^linear\./, "")}`, t);
    }
    if (this.norm && this.head.norm) {
      for (const t of this.norm.native.stateDict()) named.set(`${this.head.norm.key}.${t.name.replace(/^norm\./, "")}`, t);
    }
    const tensors = [...named].map(([name, t]) => ({ name, dtype: "F32" as const, shape: t.shape, data: t.data }));
    await writeFolderAtomically(
      path,
      async (tmp) => {
        await writeJsonWithFloats(
          join(tmp, "config.json"),
          {
            ...this.config,
            architectures: [this.head.modelClass],
            model_type: info.modelType,
            torch_dtype: "float32",
            sentence_transformers: { activation_fn: TORCH_PATHS[this.activationFn], version: SAVED_LAYOUT_VERSION },
          },
          this.transformer.configFloats,
        );
        await writeSafetensors(join(tmp, "model.safetensors"), tensors, { format: "pt" });
        await this.transformer.tokenizer.save(tmp, { modelMaxLength: this.maxLength });
        if (options.createModelCard ?? true) {
          await writeFile(join(tmp, "README.md"), crossEncoderModelCard(this, { modelName: options.modelName ?? basename(resolve(path)) }));
        }
      },
      "CrossEncoder.save",
    );
  }

  /** Saves the model (with its card) and uploads it to the Hugging Face Hub as one commit, creating the repo if needed. */
  async pushToHub(repoId: string, options: PushOptions & { modelName?: string; createModelCard?: boolean } = {}): Promise<PushResult> {
    if (typeof repoId !== "string" || repoId === "") throw new TypeError("CrossEncoder.pushToHub: repoId must be a non-empty string");
    const { modelName = repoId, createModelCard } = options;
    return pushSavedFolder((folder) => this.save(folder, { modelName, createModelCard }), repoId, options);
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
    return `CrossEncoder(${this.head.modelClass}, num_labels=${this.numLabels}, max_length=${this.maxLength}, activation_fn=${TORCH_PATHS[this.activationFn]})`;
  }
}

/**
 * sentence-transformers 6 renders a pair through the tokenizer's chat template, when it has one, as a "query" and a
 * "document" message; sbert-node tokenizes pairs with the tokenizer's pair template only, so a decoder reranker
 * with a chat template is refused rather than scored on other tokens.
 */
async function refuseChatTemplate(dir: string, head: ClassificationHead): Promise<void> {
  const configFile = join(dir, "tokenizer_config.json");
  const config = await readJsonObject(configFile, { optional: true, op: OP_LOAD });
  const found: string[] = [];
  const template = config?.["chat_template"];
  if (template !== undefined && template !== null) found.push(`${configFile} (chat_template)`);
  for (const name of ["chat_template.jinja", "chat_template.json"]) {
    const file = join(dir, name);
    if (await access(file).then(() => true, () => false)) found.push(file);
  }
  if (found.length > 0) {
    throw new SbertError(
      "ERR_CONFIG",
      `${head.modelClass} with a chat template (${found.join(", ")}): sentence-transformers renders each pair through it as query and document messages, which sbert-node does not; it scores pairs joined by the tokenizer's pair template. Remove the chat template to score them so.`,
      { op: OP_LOAD },
    );
  }
}

/** config.json's activation: `sentence_transformers.activation_fn` (v4+), else `sbert_ce_default_activation_function` (before v4). */
function configActivation(config: Record<string, unknown>, file: string): CrossEncoderActivation | undefined {
  const block = config["sentence_transformers"];
  let path: unknown;
  let field = "sentence_transformers.activation_fn";
  if (typeof block === "object" && block !== null && "activation_fn" in block) {
    path = (block as Record<string, unknown>)["activation_fn"];
  } else {
    path = config["sbert_ce_default_activation_function"];
    field = "sbert_ce_default_activation_function";
  }
  if (path === undefined || path === null) return undefined;
  if (typeof path !== "string") throw new SbertError("ERR_CONFIG", `${file}: '${field}' must be a string`, { op: OP_LOAD });
  // sentence-transformers imports only torch classes unless trust_remote_code; others fall back to the default.
  if (!path.startsWith("torch.")) return undefined;
  return resolveActivation(path, `${file}: ${field}`, "ERR_CONFIG", OP_LOAD);
}

/**
 * Whether a model folder holds a cross-encoder: config_sentence_transformers.json says model_type "CrossEncoder",
 * or, without modules.json, config.json's architectures name a `*ForSequenceClassification` model.
 */
export async function isCrossEncoderFolder(dir: string): Promise<boolean> {
  const op = "isCrossEncoderFolder";
  const st = await readJsonObject(join(dir, "config_sentence_transformers.json"), { optional: true, op });
  if (st?.["model_type"] === "CrossEncoder") return true;
  if ((await readJson(join(dir, "modules.json"), { optional: true, op })) !== undefined) return false;
  const config = await readJsonObject(join(dir, "config.json"), { optional: true, op });
  const architectures = config?.["architectures"];
  return Array.isArray(architectures) && architectures.some((a) => typeof a === "string" && a.endsWith("ForSequenceClassification"));
}
