import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { readJsonObject } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import { Tokenizer, type EncodedBatch, type TextInput } from "../tokenization/Tokenizer.js";
import { assertPositiveInt, embeddingMatrix, LEGACY_TYPE_PREFIX, paddedBatch, type EmbeddingWeights, type InputModule } from "./Module.js";

export interface StaticEmbeddingOptions {
  /** The Hugging Face tokenizer whose token ids index the rows (a tokenizer.json tokenizer). */
  tokenizer: Tokenizer;
  /** Row i for token id i: a list of rows, or one row-major Float32Array with its shape. */
  embeddingWeights?: EmbeddingWeights;
  /** Without embeddingWeights: the width of a fresh matrix of tokenizer.vocabSize rows, drawn from normal(0, 1). */
  embeddingDim?: number;
  /** Seeds the fresh matrix as torch.manual_seed(seed) does for nn.EmbeddingBag. Default 0. */
  seed?: number;
  device?: string;
}

const WEIGHT_KEY = "embedding.weight";
const MODEL2VEC_KEY = "embeddings";
const TOKENIZER_FILE = "tokenizer.json";
const OP_LOAD = "StaticEmbedding.load";

/** How tokenizer.json's `truncation` cuts a text's ids (special tokens are never added here). */
interface Truncation {
  maxLength: number;
  fromLeft: boolean;
}

function readTruncation(json: Record<string, unknown>, file: string): Truncation | undefined {
  const t = json["truncation"];
  if (t === null || t === undefined) return undefined;
  const fail = (field: string, expected: string): never => {
    throw new SbertError("ERR_CONFIG", `${file}: field 'truncation.${field}' must be ${expected}`, { op: OP_LOAD });
  };
  if (typeof t !== "object" || Array.isArray(t)) fail("", "an object or null");
  const r = t as Record<string, unknown>;
  const maxLength = r["max_length"];
  if (typeof maxLength !== "number" || !Number.isInteger(maxLength) || maxLength < 0) fail("max_length", "a non-negative integer");
  const direction = r["direction"] ?? "Right";
  if (direction !== "Right" && direction !== "Left") fail("direction", '"Right" or "Left"');
  return { maxLength: maxLength as number, fromLeft: direction === "Left" };
}

/**
 * sbert-node's Tokenizer wants a pad id for the padded batches of Transformer models. A StaticEmbedding never pads
 * (its batches carry an attention mask and the padding is left out of every mean), so a tokenizer.json without a
 * pad token gets its first vocabulary token as a stand-in that is never read.
 */
function tokenizerFromJson(json: Record<string, unknown>, file: string): Tokenizer {
  const relabel = (e: unknown): never => {
    if (e instanceof SbertError && e.message.startsWith(`${TOKENIZER_FILE}:`)) {
      throw new SbertError(e.code, `${file}${e.message.slice(TOKENIZER_FILE.length)}`, { op: OP_LOAD, cause: e });
    }
    throw e;
  };
  try {
    return Tokenizer.fromJson(json);
  } catch (e) {
    if (!(e instanceof SbertError) || e.code !== "ERR_CONFIG" || !/no pad token/.test(e.message)) relabel(e);
  }
  const model = json["model"] as Record<string, unknown>;
  const vocab = model["vocab"];
  const first = Array.isArray(vocab) ? (vocab[0] as unknown[] | undefined)?.[0] : Object.keys(vocab as object)[0];
  try {
    return Tokenizer.fromJson(json, { pad_token: first });
  } catch (e) {
    return relabel(e);
  }
}


/**
 * A static embedding model (`models.StaticEmbedding`, as in model2vec and static-retrieval models): each text's
 * embedding is the mean of its tokens' rows, the tokens being the tokenizer's ids without special tokens, cut only
 * by the tokenizer.json's own truncation. It makes the sentence embedding itself (no Pooling after it), and its
 * matrix always trains.
 */
export class StaticEmbedding implements InputModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}StaticEmbedding`;
  readonly className = "StaticEmbedding";
  readonly saveInRoot = false;
  readonly tokenizer: Tokenizer;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly native: NativeModule;
  private readonly truncation: Truncation | undefined;

  constructor(options: StaticEmbeddingOptions);
  /** @internal */
  constructor(options: { tokenizer: Tokenizer; shape: [number, number]; truncation: Truncation | undefined }, native: NativeModule);
  constructor(options: StaticEmbeddingOptions | { tokenizer: Tokenizer; shape: [number, number]; truncation: Truncation | undefined }, native?: NativeModule) {
    if (typeof options !== "object" || options === null) throw new TypeError("StaticEmbedding: options must be an object");
    if (!(options.tokenizer instanceof Tokenizer)) throw new TypeError("StaticEmbedding: tokenizer must be a Tokenizer (tokenizer.json)");
    this.tokenizer = options.tokenizer;
    if (native) {
      const o = options as { shape: [number, number]; truncation: Truncation | undefined };
      [this.numEmbeddings, this.embeddingDim] = o.shape;
      this.truncation = o.truncation;
      this.native = native;
      return;
    }
    const o = options as StaticEmbeddingOptions;
    this.truncation = undefined;
    const device = o.device ?? "cpu";
    if (o.embeddingWeights !== undefined) {
      const { data, shape } = embeddingMatrix(o.embeddingWeights, "StaticEmbedding");
      [this.numEmbeddings, this.embeddingDim] = shape;
      this.native = callNativeSync(
        "StaticEmbedding",
        (n) => n.createModule("static_embedding", { numEmbeddings: shape[0], dimension: shape[1] }, { device, seed: 0 }, [{ name: WEIGHT_KEY, shape, data }]).module,
      );
    } else if (o.embeddingDim !== undefined) {
      assertPositiveInt(o.embeddingDim, "StaticEmbedding: embeddingDim");
      const seed = o.seed ?? 0;
      if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`StaticEmbedding: seed must be a non-negative integer, got ${String(seed)}`);
      this.numEmbeddings = this.tokenizer.vocabSize;
      this.embeddingDim = o.embeddingDim;
      this.native = callNativeSync(
        "StaticEmbedding",
        (n) => n.createModule("static_embedding", { numEmbeddings: this.numEmbeddings, dimension: this.embeddingDim }, { device, seed }, null).module,
      );
    } else {
      throw new TypeError("StaticEmbedding: give embeddingWeights or embeddingDim");
    }
  }

  /** StaticEmbedding reads every token (sentence-transformers reports an infinite max_seq_length). */
  get maxSeqLength(): number {
    return Infinity;
  }

  set maxSeqLength(_value: number) {
    throw new TypeError("StaticEmbedding has no maxSeqLength to set: it reads every token, cut only by its tokenizer.json's truncation");
  }

  getSentenceEmbeddingDimension(): number {
    return this.embeddingDim;
  }

  /** One text's ids: no special tokens, cut as its tokenizer.json's truncation says. */
  private ids(text: string): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: false });
    const t = this.truncation;
    if (t === undefined || ids.length <= t.maxLength) return ids;
    return t.fromLeft ? ids.slice(ids.length - t.maxLength) : ids.slice(0, t.maxLength);
  }

  /** Each text's ids, padded with 0 to the longest (at least one position); the mask marks the real ones. */
  tokenize(texts: TextInput[]): EncodedBatch {
    const rows = texts.map((t, i) => {
      if (typeof t !== "string") {
        throw new SbertError("ERR_INPUT", `StaticEmbedding embeds single texts; sentences[${i}] is a pair`, { op: "StaticEmbedding.tokenize" });
      }
      return this.ids(t);
    });
    return paddedBatch(rows);
  }

  /** A prompt's tokens are averaged in like the text's (there is no Pooling to leave them out). */
  promptLength(_prompt: string): undefined {
    return undefined;
  }

  /**
   * Writes model.safetensors (`embedding.weight`) and tokenizer.json, without padding and with the truncation
   * applied here, as sentence-transformers' StaticEmbedding saves (it has no config file).
   */
  async save(dir: string): Promise<void> {
    await saveWeights(this.native, join(dir, "model.safetensors"));
    const tmp = await mkdtemp(join(tmpdir(), "sbert-static-"));
    try {
      await this.tokenizer.save(tmp);
      const json = JSON.parse(await readFile(join(tmp, TOKENIZER_FILE), "utf8")) as Record<string, unknown>;
      json["padding"] = null;
      // The truncation this module applies (a tokenizer given to the constructor is not cut).
      json["truncation"] =
        this.truncation === undefined
          ? null
          : { direction: this.truncation.fromLeft ? "Left" : "Right", max_length: this.truncation.maxLength, strategy: "LongestFirst", stride: 0 };
      await writeFile(join(dir, TOKENIZER_FILE), JSON.stringify(json, null, 2));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Reads a StaticEmbedding folder (or a model2vec one): tokenizer.json and the weights (`embedding.weight`). */
  static async load(dir: string, options: { device?: string } = {}): Promise<StaticEmbedding> {
    const file = join(dir, TOKENIZER_FILE);
    const json = await readJsonObject(file, { op: OP_LOAD });
    const tokenizer = tokenizerFromJson(json, file);
    const truncation = readTruncation(json, file);
    const weights = await weightsForNative(dir);
    // As sentence-transformers: `embedding.weight`, else model2vec's `embeddings`; any other tensor is not read.
    const all = weights.files.flatMap((f) => f.tensors.map((t) => ({ path: f.path, tensor: t })));
    const found = all.find((t) => t.tensor.name === WEIGHT_KEY) ?? all.find((t) => t.tensor.name === MODEL2VEC_KEY);
    if (!found || found.tensor.shape.length !== 2) {
      throw new SbertError("ERR_WEIGHTS", `${weights.files.map((f) => f.path).join(", ")}: needs a 2-d '${WEIGHT_KEY}' (or model2vec's '${MODEL2VEC_KEY}')`, { op: OP_LOAD });
    }
    const shape = found.tensor.shape as [number, number];
    const only = { files: [{ path: found.path, tensors: [{ ...found.tensor, name: WEIGHT_KEY }] }] };
    const { module } = await callNative(OP_LOAD, (n) =>
      n.loadModule("static_embedding", { numEmbeddings: shape[0], dimension: shape[1] }, only, { device: options.device ?? "cpu", seed: 0 }),
    );
    return new StaticEmbedding({ tokenizer, shape, truncation }, module);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `StaticEmbedding(${this.numEmbeddings}, ${this.embeddingDim}, mode='mean')`;
  }
}
