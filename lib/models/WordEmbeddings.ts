import { createReadStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights, weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import type { EncodedBatch, TextInput } from "../tokenization/Tokenizer.js";
import { assertPositiveInt, embeddingMatrix, LEGACY_TYPE_PREFIX, paddedBatch, type EmbeddingWeights, type InputModule } from "./Module.js";
import { WhitespaceTokenizer } from "./tokenizer/WhitespaceTokenizer.js";

export interface WordEmbeddingsOptions {
  tokenizer: WhitespaceTokenizer;
  /** The matrix, row i for token id i: a list of rows, or one row-major Float32Array with its shape. */
  embeddingWeights: EmbeddingWeights;
  /** Train the matrix too. Default false. */
  updateEmbeddings?: boolean;
  /** Texts are cut to this many words. Default 1000000. */
  maxSeqLength?: number;
  device?: string;
}

export interface FromTextFileOptions {
  updateEmbeddings?: boolean;
  /** What separates a word and its values on a line. Default " ". */
  itemSeparator?: string;
  /** Its vocabulary is replaced by the file's. Default: a new WhitespaceTokenizer. */
  tokenizer?: WhitespaceTokenizer;
  /** Read at most this many words. */
  maxVocabSize?: number;
  device?: string;
}

const CONFIG_FILE = "wordembedding_config.json";
/** The tokenizer_class written: the legacy module path, which every sentence-transformers version imports. */
const WHITESPACE_CLASS = "sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer";
const WEIGHT_KEY = "emb_layer.weight";
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_FLOAT = /^([+-]?)(inf|infinity|nan)$/i;

function parseFloatPy(text: string): number | undefined {
  const t = text.trim();
  if (FLOAT.test(t)) return Number(t);
  const special = SPECIAL_FLOAT.exec(t);
  if (!special) return undefined;
  if (special[2]!.toLowerCase() === "nan") return NaN;
  return special[1] === "-" ? -Infinity : Infinity;
}


/**
 * Word vectors looked up by the module's own WhitespaceTokenizer (GloVe-style models): `models.WordEmbeddings`.
 * As the first module of a SentenceTransformer it tokenizes the texts; padding takes id 0 (the padding row that
 * fromTextFile puts first). The matrix learns only with updateEmbeddings.
 */
export class WordEmbeddings implements InputModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}WordEmbeddings`;
  readonly className = "WordEmbeddings";
  readonly saveInRoot = false;
  readonly tokenizer: WhitespaceTokenizer;
  readonly updateEmbeddings: boolean;
  /** Rows and width of the matrix. */
  readonly numEmbeddings: number;
  readonly embeddingDimension: number;
  readonly native: NativeModule;
  private _maxSeqLength: number;

  constructor(options: WordEmbeddingsOptions);
  /** @internal */
  constructor(options: Omit<WordEmbeddingsOptions, "embeddingWeights"> & { shape: [number, number] }, native: NativeModule);
  constructor(options: (WordEmbeddingsOptions | (Omit<WordEmbeddingsOptions, "embeddingWeights"> & { shape: [number, number] })), native?: NativeModule) {
    if (typeof options !== "object" || options === null) throw new TypeError("WordEmbeddings: options must be an object");
    if (!(options.tokenizer instanceof WhitespaceTokenizer)) throw new TypeError("WordEmbeddings: tokenizer must be a WhitespaceTokenizer");
    const updateEmbeddings = options.updateEmbeddings ?? false;
    if (typeof updateEmbeddings !== "boolean") throw new TypeError("WordEmbeddings: updateEmbeddings must be true or false");
    this._maxSeqLength = options.maxSeqLength ?? 1000000;
    assertPositiveInt(this._maxSeqLength, "WordEmbeddings: maxSeqLength");
    this.tokenizer = options.tokenizer;
    this.updateEmbeddings = updateEmbeddings;
    if (native) {
      [this.numEmbeddings, this.embeddingDimension] = (options as { shape: [number, number] }).shape;
      this.native = native;
    } else {
      const { data, shape } = embeddingMatrix((options as WordEmbeddingsOptions).embeddingWeights, "WordEmbeddings");
      [this.numEmbeddings, this.embeddingDimension] = shape;
      WordEmbeddings.checkVocab(this.tokenizer, this.numEmbeddings, "WordEmbeddings");
      this.native = callNativeSync(
        "WordEmbeddings",
        (n) =>
          n.createModule(
            "word_embeddings",
            { numEmbeddings: shape[0], dimension: shape[1], updateEmbeddings },
            { device: options.device ?? "cpu", seed: 0 },
            [{ name: WEIGHT_KEY, shape, data }],
          ).module,
      );
    }
  }

  private static checkVocab(tokenizer: WhitespaceTokenizer, rows: number, where: string): void {
    if (tokenizer.vocabSize > rows) {
      throw new RangeError(`${where}: the tokenizer's vocabulary has ${tokenizer.vocabSize} words but the embedding matrix only ${rows} rows`);
    }
  }

  /**
   * Texts are cut to this many words. sentence-transformers keeps max_seq_length in the config without applying
   * it; with the default (1000000) no text is cut either way.
   */
  get maxSeqLength(): number {
    return this._maxSeqLength;
  }

  set maxSeqLength(value: number) {
    assertPositiveInt(value, "maxSeqLength");
    this._maxSeqLength = value;
  }

  getWordEmbeddingDimension(): number {
    return this.embeddingDimension;
  }

  /** Token ids of each text (cut to maxSeqLength), padded with 0 to the longest (at least one position). */
  tokenize(texts: TextInput[]): EncodedBatch {
    const rows = texts.map((t, i) => {
      if (typeof t !== "string") {
        throw new SbertError("ERR_INPUT", `WordEmbeddings tokenizes single texts; sentences[${i}] is a pair`, { op: "WordEmbeddings.tokenize" });
      }
      return this.tokenizer.tokenize(t).slice(0, this._maxSeqLength);
    });
    return paddedBatch(rows);
  }

  /** sentence-transformers does not count a prompt's words (Pooling's includePrompt has no effect). */
  promptLength(_prompt: string): undefined {
    return undefined;
  }

  getConfigDict(): Record<string, unknown> {
    return { tokenizer_class: WHITESPACE_CLASS, update_embeddings: this.updateEmbeddings, max_seq_length: this._maxSeqLength };
  }

  /** Writes wordembedding_config.json, model.safetensors (`emb_layer.weight`) and whitespacetokenizer_config.json. */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, CONFIG_FILE), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
    await this.tokenizer.save(dir);
  }

  static async load(dir: string, options: { device?: string } = {}): Promise<WordEmbeddings> {
    const op = "WordEmbeddings.load";
    const file = join(dir, CONFIG_FILE);
    const c = new ConfigReader(await readJsonObject(file, { op }), file, op);
    const tokenizerClass = c.string("tokenizer_class");
    if (!tokenizerClass.startsWith("sentence_transformers.") || !tokenizerClass.endsWith(".WhitespaceTokenizer")) {
      throw new SbertError("ERR_CONFIG", `${file}: tokenizer_class ${JSON.stringify(tokenizerClass)} is not supported (sbert-node reads WhitespaceTokenizer)`, { op });
    }
    const updateEmbeddings = c.bool("update_embeddings", false);
    const maxSeqLength = c.int("max_seq_length", 1000000);
    if (maxSeqLength <= 0) throw new SbertError("ERR_CONFIG", `${file}: field 'max_seq_length' must be positive, got ${maxSeqLength}`, { op });
    const tokenizer = await WhitespaceTokenizer.load(dir);
    const weights = await weightsForNative(dir);
    const spec = weights.files.flatMap((f) => f.tensors.map((t) => ({ file: f.path, ...t }))).find((t) => t.name === WEIGHT_KEY);
    if (!spec || spec.shape.length !== 2) {
      throw new SbertError("ERR_WEIGHTS", `${weights.files.map((f) => f.path).join(", ")}: needs a 2-d '${WEIGHT_KEY}'`, { op });
    }
    const shape = spec.shape as [number, number];
    if (tokenizer.vocabSize > shape[0]) {
      throw new SbertError(
        "ERR_CONFIG",
        `${join(dir, "whitespacetokenizer_config.json")}: the vocabulary has ${tokenizer.vocabSize} words but ${spec.file} has ${shape[0]} embedding rows`,
        { op },
      );
    }
    const { module } = await callNative(op, (n) =>
      n.loadModule("word_embeddings", { numEmbeddings: shape[0], dimension: shape[1], updateEmbeddings }, weights, { device: options.device ?? "cpu", seed: 0 }),
    );
    return new WordEmbeddings({ tokenizer, updateEmbeddings, maxSeqLength, shape }, module);
  }

  /**
   * Reads word vectors from a text file (GloVe's format, a word2vec header line allowed; `.gz` read
   * compressed), as sentence-transformers' `from_text_file` does: row 0 is an all-zero PADDING_TOKEN, lines
   * whose width differs from the first one's are skipped.
   */
  static async fromTextFile(path: string, options: FromTextFileOptions = {}): Promise<WordEmbeddings> {
    const op = "WordEmbeddings.fromTextFile";
    if (typeof path !== "string" || path === "") throw new TypeError(`${op}: path must be a non-empty string`);
    const separator = options.itemSeparator ?? " ";
    if (typeof separator !== "string" || separator === "") throw new TypeError(`${op}: itemSeparator must be a non-empty string`);
    const maxVocab = options.maxVocabSize;
    if (maxVocab !== undefined) assertPositiveInt(maxVocab, `${op}: maxVocabSize`);
    const vocab: string[] = [];
    const rows: Float32Array[] = [];
    let dim: number | undefined;
    let lineNo = 0;
    const raw = createReadStream(path);
    const stream = path.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
    const failed = new Promise<never>((_, reject) => {
      const onError = (e: Error) => reject(new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${path}: ${e.message}`, { op, cause: e }));
      raw.on("error", onError);
      stream.on("error", onError);
    });
    failed.catch(() => {});
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    const read = (async () => {
      for await (const line of lines) {
        lineNo++;
        const split = line.trimEnd().split(separator);
        if (vocab.length === 0 && split.length === 2) continue;  // word2vec's "count dimension" header
        if (dim === undefined) {
          dim = split.length - 1;
          if (dim <= 0) throw new SbertError("ERR_FORMAT", `${path}:${lineNo}: a word and its values expected`, { op });
          vocab.push("PADDING_TOKEN");
          rows.push(new Float32Array(dim));
        }
        if (split.length - 1 !== dim) continue;
        const row = new Float32Array(dim);
        for (let i = 0; i < dim; i++) {
          const v = parseFloatPy(split[i + 1]!);
          if (v === undefined) throw new SbertError("ERR_FORMAT", `${path}:${lineNo}: ${JSON.stringify(split[i + 1])} is not a number`, { op });
          row[i] = v;
        }
        vocab.push(split[0]!);
        rows.push(row);
        if (maxVocab !== undefined && vocab.length > maxVocab) break;
      }
    })();
    try {
      await Promise.race([read, failed]);
    } finally {
      lines.close();
      raw.destroy();
    }
    if (dim === undefined) throw new SbertError("ERR_FORMAT", `${path} holds no word vectors`, { op });
    const tokenizer = options.tokenizer ?? new WhitespaceTokenizer();
    tokenizer.setVocab(vocab);
    return new WordEmbeddings({ tokenizer, embeddingWeights: rows, updateEmbeddings: options.updateEmbeddings, device: options.device });
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `WordEmbeddings(${JSON.stringify(this.getConfigDict())})`;
  }
}
