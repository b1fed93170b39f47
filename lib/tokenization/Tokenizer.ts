import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { Tokenizer as JsTokenizer } from "@huggingface/tokenizers";

import { SbertError } from "../errors.js";
import { readJsonObject } from "../io/files.js";
import { type AddedTokenSpec, type BertNormalizerConfig, BertPipeline, WordPieceModel } from "./bertPipeline.js";
import { buildDecoder, cleanUpTokenization } from "./decoders.js";
import { ModelPipeline } from "./pipeline.js";
import { type SpecialTokensTemplate, type TemplatePiece, parsePostProcessor } from "./postProcessor.js";
import { type SentencePieceModel, readSentencePieceModel, xlmRobertaTokenizerJson } from "./sentencepieceModel.js";
import { UnsupportedComponent } from "./unsupported.js";
import { type BertTokenizerOptions, buildBertTokenizerJson, readVocabTxt, resolveBertOptions } from "./wordpiece.js";

/** A single text, or a pair tokenized as sentence A / sentence B. */
export type TextInput = string | [string, string];

export interface EncodedBatch {
  /** row-major batchSize x seqLength */
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  batchSize: number;
  seqLength: number;
}

type Json = Record<string, unknown>;

const OP_LOAD = "Tokenizer.fromFolder";
const SPECIAL_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;
/** What Hugging Face writes as model_max_length when there is none: int(1e30). */
const VERY_LARGE_INTEGER = "1000000000000000019884624838656";
const VERY_LARGE_MARK = "\u0000sbert-very-large-integer\u0000";
/** Above this a model_max_length is a "no limit" marker, not a length. */
const SANE_MAX_LENGTH = 1e9;

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A special token as tokenizer_config.json / special_tokens_map.json store it: a string or {content: ...}. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isRecord(v) && typeof v["content"] === "string") return v["content"];
  return undefined;
}

function saneMaxLength(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v < SANE_MAX_LENGTH ? v : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Keys in sorted order, as Hugging Face writes its tokenizer config files (json.dumps(sort_keys=True)). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isRecord(v)) return v;
  const out: Json = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

function pyJson(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 2).replace(JSON.stringify(VERY_LARGE_MARK), VERY_LARGE_INTEGER) + "\n";
}

/**
 * Token counts of a pair after `longest_first` truncation to `budget` tokens, the way Rust `tokenizers` (what
 * Python's fast tokenizers run) computes them: the shorter text is kept whole when the longer one can take the
 * rest; otherwise both get half, the longer one the odd token (the second one when they are equally long).
 */
export function longestFirst(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [long, short] : [short, long];
}

export class Tokenizer {
  /** Largest token id + 1 (the embedding rows a model needs). */
  readonly vocabSize: number;
  readonly padTokenId: number;
  /** tokenizer_config.json model_max_length when it is a real length (Hugging Face writes 1e30 for "none"). */
  readonly modelMaxLength: number | undefined;
  readonly doLowerCase: boolean | undefined;
  /** Where padding goes (tokenizer_config.json padding_side; decoder embedders pad on the left). */
  readonly paddingSide: "left" | "right";

  private readonly json: Json;
  private readonly config: Json;
  private readonly specialMap: Json | undefined;
  private readonly template: SpecialTokensTemplate;
  private readonly pipeline: BertPipeline | undefined;
  /** Unigram, BPE and other WordPiece tokenizers (XLM-RoBERTa, RoBERTa, ...) */
  private readonly modelPipeline: ModelPipeline | undefined;
  /** why neither pipeline runs this tokenizer.json (then @huggingface/tokenizers does) */
  private unsupported: UnsupportedComponent | undefined;
  private readonly tokenIds: Map<string, number>;
  private readonly added: AddedTokenSpec[];
  /** The file the tokenizer was read from ("vocab" when built from a list). */
  readonly file: string;
  private js: JsTokenizer | undefined;
  /** tokens -> text; null: a decoder not implemented here (@huggingface/tokenizers decodes) */
  private decoder: ((tokens: string[]) => string) | null | undefined;
  /** model vocabulary by id */
  private modelTokens: string[] | undefined;
  /** every token by id, added tokens over the model's (convertIdsToTokens) */
  private tokensById: Map<number, string> | undefined;

  private constructor(json: Json, config: Json, specialMap: Json | undefined, file: string, modelMaxLength?: number) {
    this.file = file;
    const fail = (msg: string): never => {
      throw new SbertError("ERR_FORMAT", `${file}: ${msg}`, { op: OP_LOAD });
    };
    if (!isRecord(json["model"])) fail("has no model object");
    this.json = applyConfigToNormalizer(json, config);
    this.config = config;
    this.specialMap = specialMap;
    this.template = parsePostProcessor(this.json["post_processor"], file, OP_LOAD);

    const model = this.json["model"] as Json;
    const listed = readAddedTokens(this.json["added_tokens"], fail);
    const modelVocab = new Map<string, number>();
    let maxId = -1;
    if (isRecord(model["vocab"])) {
      for (const [t, id] of Object.entries(model["vocab"])) {
        if (!Number.isInteger(id) || (id as number) < 0) fail(`model.vocab[${JSON.stringify(t)}] must be a non-negative integer`);
        modelVocab.set(t, id as number);
        maxId = Math.max(maxId, id as number);
      }
    } else if (Array.isArray(model["vocab"])) {
      // Unigram: [[piece, score], ...], the id is the position.
      model["vocab"].forEach((entry: unknown, i: number) => {
        if (Array.isArray(entry) && typeof entry[0] === "string") modelVocab.set(entry[0], i);
      });
      maxId = model["vocab"].length - 1;
    } else {
      fail("model.vocab is missing");
    }
    const added = assignAddedTokenIds(listed, modelVocab, Array.isArray(model["vocab"]) ? model["vocab"].length : modelVocab.size);
    this.added = added;
    // Added tokens take precedence over the model's vocabulary, as in Rust's AddedVocabulary.
    this.tokenIds = new Map(modelVocab);
    for (const t of added) {
      this.tokenIds.set(t.content, t.id);
      maxId = Math.max(maxId, t.id);
    }
    this.vocabSize = maxId + 1;

    const normalizer = this.json["normalizer"];
    const preTokenizer = this.json["pre_tokenizer"];
    const bertNormalizer = isRecord(normalizer) && normalizer["type"] === "BertNormalizer";
    if (
      model["type"] === "WordPiece" &&
      isRecord(preTokenizer) &&
      preTokenizer["type"] === "BertPreTokenizer" &&
      (normalizer === null || normalizer === undefined || bertNormalizer)
    ) {
      const n = normalizer as Json | null | undefined;
      const normCfg: BertNormalizerConfig | null = isRecord(n)
        ? {
            cleanText: n["clean_text"] !== false,
            handleChineseChars: n["handle_chinese_chars"] !== false,
            stripAccents: typeof n["strip_accents"] === "boolean" ? n["strip_accents"] : null,
            lowercase: n["lowercase"] !== false,
          }
        : null;
      const wp = new WordPieceModel({
        vocab: modelVocab,
        unkToken: typeof model["unk_token"] === "string" ? model["unk_token"] : "[UNK]",
        continuingSubwordPrefix: typeof model["continuing_subword_prefix"] === "string" ? model["continuing_subword_prefix"] : "##",
        maxInputCharsPerWord: Number.isInteger(model["max_input_chars_per_word"]) ? (model["max_input_chars_per_word"] as number) : 100,
      });
      this.pipeline = new BertPipeline(normCfg, wp, added);
    } else {
      try {
        this.modelPipeline = ModelPipeline.fromJson(this.json, modelVocab, added);
      } catch (e) {
        if (!(e instanceof UnsupportedComponent)) throw e;
        // Components not implemented here run in @huggingface/tokenizers (which differs from Rust on some
        // inputs); building it now surfaces what neither can run at load time.
        this.unsupported = e;
        this.jsTokenizer();
      }
    }

    this.doLowerCase = isRecord(normalizer) && bertNormalizer ? normalizer["lowercase"] !== false : typeof config["do_lower_case"] === "boolean" ? config["do_lower_case"] : undefined;
    this.modelMaxLength = modelMaxLength ?? saneMaxLength(config["model_max_length"] ?? config["max_len"]);
    this.padTokenId = this.resolvePadId();
    const side = config["padding_side"] ?? "right";
    if (side !== "left" && side !== "right") {
      throw new SbertError("ERR_CONFIG", `tokenizer_config.json of ${file}: field 'padding_side' must be "left" or "right", got ${JSON.stringify(side)}`, { op: OP_LOAD });
    }
    this.paddingSide = side;
  }

  private specialToken(key: string): string | undefined {
    return tokenContent(this.config[key]) ?? tokenContent(this.specialMap?.[key]);
  }

  private resolvePadId(): number {
    const pad = this.specialToken("pad_token");
    if (pad !== undefined) {
      const id = this.tokenIds.get(pad);
      if (id === undefined) {
        throw new SbertError("ERR_CONFIG", `pad_token ${JSON.stringify(pad)} (tokenizer_config.json / special_tokens_map.json) is not in the vocabulary of ${this.file}`, {
          op: OP_LOAD,
        });
      }
      return id;
    }
    const padding = this.json["padding"];
    if (isRecord(padding) && Number.isInteger(padding["pad_id"])) return padding["pad_id"] as number;
    const id = this.tokenIds.get("[PAD]");
    if (id !== undefined) return id;
    throw new SbertError("ERR_CONFIG", `${this.file}: no pad token (set pad_token in tokenizer_config.json)`, { op: OP_LOAD });
  }

  private jsTokenizer(): JsTokenizer {
    if (this.js === undefined) {
      const json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...this.json };
      try {
        this.js = new JsTokenizer(json, this.config);
      } catch (e) {
        const why = this.unsupported !== undefined ? `field ${this.unsupported.message}; ` : "";
        throw new SbertError("ERR_FORMAT", `${this.file}: unsupported tokenizer: ${why}@huggingface/tokenizers: ${(e as Error).message}`, { op: OP_LOAD, cause: e });
      }
    }
    return this.js;
  }

  /**
   * Loads tokenizer.json (with tokenizer_config.json and special_tokens_map.json when present), or else
   * sentencepiece.bpe.model as XLM-RoBERTa's tokenizer, the way transformers' XLMRobertaTokenizer converts it,
   * or else vocab.txt + tokenizer_config.json as a BERT WordPiece tokenizer, the way BertTokenizerFast does.
   */
  static async fromFolder(dir: string): Promise<Tokenizer> {
    if (typeof dir !== "string" || dir === "") throw new TypeError("Tokenizer.fromFolder: dir must be a non-empty string");
    const jsonPath = join(dir, "tokenizer.json");
    const configPath = join(dir, "tokenizer_config.json");
    const vocabPath = join(dir, "vocab.txt");
    const config = (await readJsonObject(configPath, { optional: true, op: OP_LOAD })) ?? {};
    const specialMap = await readJsonObject(join(dir, "special_tokens_map.json"), { optional: true, op: OP_LOAD });
    if (await isFile(jsonPath)) {
      const json = await readJsonObject(jsonPath, { op: OP_LOAD });
      return new Tokenizer(json, config, specialMap, jsonPath);
    }
    const spmPath = join(dir, "sentencepiece.bpe.model");
    if (await isFile(spmPath)) return Tokenizer.fromSentencePiece(spmPath, config, specialMap, configPath);
    if (await isFile(vocabPath)) {
      let text: string;
      try {
        text = await readFile(vocabPath, "utf8");
      } catch (e) {
        throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${vocabPath}: ${(e as Error).message}`, { op: OP_LOAD, cause: e });
      }
      const vocab = readVocabTxt(text);
      if (vocab.length === 0) throw new SbertError("ERR_FORMAT", `${vocabPath} is empty: a vocab.txt lists one token per line`, { op: OP_LOAD });
      const opts = bertOptionsFromConfig(config, specialMap, configPath);
      const json = buildBertTokenizerJson(vocab, opts) as Json;
      return new Tokenizer(json, bertTokenizerConfig(opts, config), specialMap, vocabPath);
    }
    throw new SbertError(
      "ERR_FILE_NOT_FOUND",
      `${dir} has no tokenizer: looked for tokenizer.json, sentencepiece.bpe.model, and vocab.txt (with tokenizer_config.json)`,
      { op: OP_LOAD },
    );
  }

  private static async fromSentencePiece(spmPath: string, config: Json, specialMap: Json | undefined, configPath: string): Promise<Tokenizer> {
    const cls = config["tokenizer_class"];
    if (cls !== undefined && cls !== null && cls !== "XLMRobertaTokenizer" && cls !== "XLMRobertaTokenizerFast") {
      throw new SbertError("ERR_CONFIG", `${configPath}: field 'tokenizer_class' ${JSON.stringify(cls)} is not supported with sentencepiece.bpe.model alone (XLMRobertaTokenizer is; a tokenizer.json would be read as it is)`, { op: OP_LOAD });
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(spmPath));
    } catch (e) {
      throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${spmPath}: ${(e as Error).message}`, { op: OP_LOAD, cause: e });
    }
    let model: SentencePieceModel;
    try {
      model = readSentencePieceModel(bytes);
    } catch (e) {
      throw new SbertError("ERR_FORMAT", `${spmPath}: ${(e as Error).message}`, { op: OP_LOAD, cause: e });
    }
    if (model.modelType !== 1) {
      throw new SbertError("ERR_FORMAT", `${spmPath}: field 'trainer_spec.model_type' is ${model.modelType}; only unigram (1) models are supported`, { op: OP_LOAD });
    }
    const token = (key: string, fallback: string) => tokenContent(config[key]) ?? tokenContent(specialMap?.[key]) ?? fallback;
    const specials = {
      bos: token("bos_token", "<s>"),
      pad: token("pad_token", "<pad>"),
      eos: token("eos_token", "</s>"),
      unk: token("unk_token", "<unk>"),
      mask: token("mask_token", "<mask>"),
      addPrefixSpace: config["add_prefix_space"] !== false,
    };
    const full: Json = {
      bos_token: specials.bos,
      cls_token: token("cls_token", "<s>"),
      eos_token: specials.eos,
      mask_token: specials.mask,
      pad_token: specials.pad,
      sep_token: token("sep_token", "</s>"),
      unk_token: specials.unk,
      tokenizer_class: "XLMRobertaTokenizer",
      ...config,
    };
    return new Tokenizer(xlmRobertaTokenizerJson(model, specials), full, specialMap, spmPath);
  }

  /** A BERT WordPiece tokenizer from a vocabulary (token i has id i), as from vocab.txt + tokenizer_config.json. */
  static fromVocab(vocab: string[], opts: BertTokenizerOptions & { modelMaxLength?: number } = {}): Tokenizer {
    if (opts?.modelMaxLength !== undefined && (!Number.isInteger(opts.modelMaxLength) || opts.modelMaxLength <= 0)) {
      throw new RangeError(`Tokenizer.fromVocab: opts.modelMaxLength must be a positive integer, got ${opts.modelMaxLength}`);
    }
    const json = buildBertTokenizerJson(vocab, opts) as Json;
    const config = bertTokenizerConfig(opts, {});
    if (opts.modelMaxLength !== undefined) config["model_max_length"] = opts.modelMaxLength;
    return new Tokenizer(json, config, undefined, "vocab", opts.modelMaxLength);
  }

  /** A tokenizer from the contents of tokenizer.json (and optionally tokenizer_config.json). */
  static fromJson(tokenizerJson: object, tokenizerConfig: object = {}): Tokenizer {
    if (!isRecord(tokenizerJson)) throw new TypeError("Tokenizer.fromJson: tokenizerJson must be an object");
    if (!isRecord(tokenizerConfig)) throw new TypeError("Tokenizer.fromJson: tokenizerConfig must be an object");
    return new Tokenizer(tokenizerJson, tokenizerConfig, undefined, "tokenizer.json");
  }

  /** The ids of a text without special tokens; with `limit`, tokenization may stop early (see BertPipeline.encode). */
  private ids(text: string, limit?: number): number[] {
    if (this.pipeline !== undefined) return this.pipeline.encode(text, limit);
    if (this.modelPipeline !== undefined) {
      try {
        return this.modelPipeline.encode(text, limit);
      } catch (e) {
        throw new SbertError("ERR_INPUT", `cannot tokenize ${JSON.stringify(text.slice(0, 50))}: ${(e as Error).message}`, { op: "Tokenizer.encode", cause: e });
      }
    }
    const ids = this.jsTokenizer().encode(text, { add_special_tokens: false }).ids;
    for (const id of ids) {
      if (id === undefined) throw new SbertError("ERR_INPUT", `cannot tokenize ${JSON.stringify(text.slice(0, 50))}: a token has no id and there is no unk token`, { op: "Tokenizer.encode" });
    }
    return limit !== undefined && ids.length > limit ? ids.slice(0, limit) : ids;
  }

  /**
   * Tokenizes, truncates (longest_first, to `maxLength` tokens including the special tokens), adds the special
   * tokens and pads to the longest row. Token types: 0 for text A and its special tokens, the post-processor's
   * types for text B (1 for BERT), 0 on padding.
   */
  encodeBatch(inputs: TextInput[], opts: { maxLength: number }): EncodedBatch {
    if (!Array.isArray(inputs)) throw new TypeError("Tokenizer.encodeBatch: inputs must be an array of strings or [string, string] pairs");
    if (!isRecord(opts)) throw new TypeError("Tokenizer.encodeBatch: opts must be { maxLength }");
    const { maxLength } = opts;
    if (typeof maxLength !== "number" || !Number.isInteger(maxLength)) {
      throw new TypeError(`Tokenizer.encodeBatch: opts.maxLength must be an integer, got ${String(maxLength)}`);
    }
    let anyPair = false;
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i];
      if (typeof x === "string") continue;
      if (Array.isArray(x) && x.length === 2 && typeof x[0] === "string" && typeof x[1] === "string") {
        anyPair = true;
        continue;
      }
      throw new TypeError(`Tokenizer.encodeBatch: inputs[${i}] must be a string or a [string, string] pair`);
    }
    const t = this.template;
    const needed = anyPair ? Math.max(t.addedPair, t.addedSingle) : t.addedSingle;
    if (maxLength < needed || maxLength < 0) {
      throw new RangeError(`Tokenizer.encodeBatch: opts.maxLength ${maxLength} is less than the ${needed} special tokens added to ${anyPair ? "a pair" : "a text"}`);
    }

    const n = inputs.length;
    const rowsA: number[][] = new Array(n);
    const rowsB: (number[] | null)[] = new Array(n);
    const lenA = new Int32Array(n);
    const lenB = new Int32Array(n);
    let seqLength = 0;
    for (let i = 0; i < n; i++) {
      const x = inputs[i]!;
      if (typeof x === "string") {
        const a = this.ids(x, maxLength);
        rowsA[i] = a;
        rowsB[i] = null;
        lenA[i] = Math.min(a.length, maxLength - t.addedSingle);
        seqLength = Math.max(seqLength, lenA[i]! + t.addedSingle);
      } else {
        const a = this.ids(x[0], maxLength);
        const b = this.ids(x[1], maxLength);
        rowsA[i] = a;
        rowsB[i] = b;
        const [la, lb] = longestFirst(a.length, b.length, maxLength - t.addedPair);
        lenA[i] = la;
        lenB[i] = lb;
        seqLength = Math.max(seqLength, la + lb + t.addedPair);
      }
    }

    const inputIds = new Int32Array(n * seqLength).fill(this.padTokenId);
    const attentionMask = new Int32Array(n * seqLength);
    const tokenTypeIds = new Int32Array(n * seqLength);
    for (let i = 0; i < n; i++) {
      const b = rowsB[i]!;
      const pieces: readonly TemplatePiece[] = b === null ? t.single : t.pair;
      let pos = i * seqLength;
      for (const p of pieces) {
        if (p.ids !== undefined) {
          for (const id of p.ids) {
            inputIds[pos] = id;
            tokenTypeIds[pos++] = p.typeId;
          }
        } else {
          const src = p.seq === 0 ? rowsA[i]! : b!;
          const len = p.seq === 0 ? lenA[i]! : lenB[i]!;
          for (let k = 0; k < len; k++) {
            inputIds[pos] = src[k]!;
            tokenTypeIds[pos++] = p.typeId;
          }
        }
      }
      const row = i * seqLength, length = pos - row;
      if (this.paddingSide === "left" && length < seqLength) {
        const shift = seqLength - length;
        inputIds.copyWithin(row + shift, row, pos);
        tokenTypeIds.copyWithin(row + shift, row, pos);
        inputIds.fill(this.padTokenId, row, row + shift);
        tokenTypeIds.fill(0, row, row + shift);
        attentionMask.fill(1, row + shift, row + seqLength);
      } else {
        attentionMask.fill(1, row, pos);
      }
    }
    return { inputIds, attentionMask, tokenTypeIds, batchSize: n, seqLength };
  }

  /** Whether `id` is one of the special tokens (added tokens marked special: [CLS], </s>, <|endoftext|>, ...). */
  /** Whether `other` maps the same tokens to the same ids (added tokens included), as transformers' get_vocab() compares. */
  sameVocabulary(other: Tokenizer): boolean {
    if (other === this) return true;
    if (other.tokenIds.size !== this.tokenIds.size) return false;
    for (const [token, id] of this.tokenIds) if (other.tokenIds.get(token) !== id) return false;
    return true;
  }

  isSpecialId(id: number): boolean {
    return this.added.some((t) => t.id === id && t.special);
  }

  /** The ids of one text, with the special tokens unless `addSpecialTokens` is false; no truncation. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    if (typeof text !== "string") throw new TypeError("Tokenizer.encode: text must be a string");
    const ids = this.ids(text);
    if (opts?.addSpecialTokens === false) return ids;
    const out: number[] = [];
    for (const p of this.template.single) {
      if (p.ids !== undefined) out.push(...p.ids);
      else for (const id of ids) out.push(id);
    }
    return out;
  }

  /**
   * Text of a list of ids as transformers decodes it: Rust's decode (tokens through the tokenizer.json decoder),
   * then clean_up_tokenization when tokenizer_config.json asks for it (never for BPE models), optionally without
   * the special tokens.
   */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (!Array.isArray(ids)) throw new TypeError("Tokenizer.decode: ids must be an array of integers");
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0) throw new TypeError(`Tokenizer.decode: ids[${i}] must be a non-negative integer, got ${String(id)}`);
    });
    if (ids.length === 0) return "";
    const own = this.decodeOwn(ids, opts?.skipSpecialTokens === true);
    if (own !== undefined) return own;
    const js = this.jsTokenizer();
    return js.decode(ids, { skip_special_tokens: opts?.skipSpecialTokens === true });
  }

  /** Rust's decode with the decoders implemented here; undefined when the decoder is not one of them. */
  private decodeOwn(ids: number[], skipSpecial: boolean): string | undefined {
    if (this.decoder === undefined) {
      try {
        this.decoder = buildDecoder(this.json["decoder"]);
      } catch (e) {
        if (!(e instanceof UnsupportedComponent)) throw e;
        this.decoder = null;
      }
    }
    if (this.decoder === null) return undefined;
    if (this.modelTokens === undefined) {
      const model = this.json["model"] as Json;
      const tokens: string[] = [];
      if (Array.isArray(model["vocab"])) model["vocab"].forEach((e: unknown, i: number) => (tokens[i] = Array.isArray(e) ? String(e[0]) : ""));
      else if (isRecord(model["vocab"])) for (const [t, id] of Object.entries(model["vocab"])) tokens[id as number] = t;
      this.modelTokens = tokens;
    }
    const byId = new Map(this.added.map((t) => [t.id, t.content]));
    const special = new Set(this.added.filter((t) => t.special).map((t) => t.content));
    const tokens: string[] = [];
    for (const id of ids) {
      const t = byId.get(id) ?? this.modelTokens[id];
      if (t !== undefined && !(skipSpecial && special.has(t))) tokens.push(t);
    }
    let text = this.decoder(tokens);
    const model = this.json["model"] as Json;
    if (this.config["clean_up_tokenization_spaces"] === true && (model["type"] !== "BPE" || this.config["clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"] === true)) {
      text = cleanUpTokenization(text);
    }
    return text;
  }

  /**
   * The token string of each id, as transformers' convert_ids_to_tokens: an added token's content, else the model
   * vocabulary's entry; undefined for an id that names neither.
   */
  convertIdsToTokens(ids: ArrayLike<number>): (string | undefined)[] {
    if (this.tokensById === undefined) {
      const byId = new Map<number, string>();
      for (const [t, id] of this.tokenIds) byId.set(id, t);
      for (const t of this.added) byId.set(t.id, t.content);
      this.tokensById = byId;
    }
    return Array.from(ids, (id) => this.tokensById!.get(id));
  }

  /** The id of a token string (added tokens first), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenIds.get(token);
  }

  /**
   * Writes what BertTokenizerFast.save_pretrained writes: tokenizer.json, tokenizer_config.json,
   * special_tokens_map.json, and vocab.txt for WordPiece models. `opts.modelMaxLength` overrides model_max_length.
   */
  async save(dir: string, opts: { modelMaxLength?: number } = {}): Promise<void> {
    if (typeof dir !== "string" || dir === "") throw new TypeError("Tokenizer.save: dir must be a non-empty string");
    const mml = opts?.modelMaxLength;
    if (mml !== undefined && (!Number.isInteger(mml) || mml <= 0)) {
      throw new RangeError(`Tokenizer.save: opts.modelMaxLength must be a positive integer, got ${String(mml)}`);
    }
    const config = this.savedConfig(mml);
    const specialMap: Json = {};
    for (const key of SPECIAL_KEYS) {
      const v = config[key];
      if (v !== undefined && v !== null) specialMap[key] = v;
    }
    if (Array.isArray(config["additional_special_tokens"]) && config["additional_special_tokens"].length > 0) {
      specialMap["additional_special_tokens"] = config["additional_special_tokens"];
    }
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(this.json, null, 2));
    await writeFile(join(dir, "tokenizer_config.json"), pyJson(config));
    await writeFile(join(dir, "special_tokens_map.json"), pyJson(specialMap));
    const model = this.json["model"] as Json;
    if (model["type"] === "WordPiece" && isRecord(model["vocab"])) {
      const byId = Object.entries(model["vocab"] as Record<string, number>).sort((a, b) => a[1] - b[1]);
      await writeFile(join(dir, "vocab.txt"), byId.map(([t]) => `${t}\n`).join(""));
    }
  }

  private savedConfig(modelMaxLength: number | undefined): Json {
    const c: Json = { ...this.config };
    for (const k of ["name_or_path", "special_tokens_map_file", "tokenizer_file", "max_len"]) delete c[k];
    const mml = modelMaxLength ?? this.modelMaxLength;
    c["model_max_length"] = mml ?? VERY_LARGE_MARK;
    const n = this.json["normalizer"];
    if (isRecord(n) && n["type"] === "BertNormalizer") {
      c["do_lower_case"] = n["lowercase"] !== false;
      c["strip_accents"] = typeof n["strip_accents"] === "boolean" ? n["strip_accents"] : null;
      c["tokenize_chinese_chars"] = n["handle_chinese_chars"] !== false;
    }
    for (const key of SPECIAL_KEYS) {
      if (c[key] === undefined) {
        const v = this.specialMap?.[key] ?? this.inferSpecial(key);
        if (v !== undefined) c[key] = v;
      }
    }
    c["clean_up_tokenization_spaces"] ??= true;
    c["tokenizer_class"] ??= this.pipeline !== undefined ? "BertTokenizer" : "PreTrainedTokenizerFast";
    const decoder: Json = {};
    for (const t of this.added) {
      decoder[String(t.id)] = { content: t.content, lstrip: t.lstrip, normalized: t.normalized, rstrip: t.rstrip, single_word: t.singleWord, special: t.special };
    }
    c["added_tokens_decoder"] = decoder;
    return c;
  }

  /** A special token's string for a tokenizer.json that came without tokenizer_config.json. */
  private inferSpecial(key: string): string | undefined {
    const model = this.json["model"] as Json;
    const known = (t: string) => (this.tokenIds.has(t) ? t : undefined);
    const byId = (id: number | undefined) => {
      if (id === undefined) return undefined;
      for (const [t, i] of this.tokenIds) if (i === id) return t;
      return undefined;
    };
    const pieces = this.template.single.filter((p) => p.ids !== undefined);
    switch (key) {
      case "unk_token":
        return typeof model["unk_token"] === "string" ? model["unk_token"] : undefined;
      case "cls_token":
        return this.pipeline !== undefined ? byId(pieces[0]?.ids?.[0]) : undefined;
      case "sep_token":
        return this.pipeline !== undefined ? byId(pieces[pieces.length - 1]?.ids?.[0]) : undefined;
      case "pad_token":
        return byId(this.padTokenId);
      case "mask_token":
        return this.pipeline !== undefined ? known("[MASK]") : undefined;
      default:
        return undefined;
    }
  }
}

function readAddedTokens(v: unknown, fail: (msg: string) => never): AddedTokenSpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail("added_tokens must be a list");
  return (v as unknown[]).map((t, i) => {
    if (!isRecord(t) || typeof t["content"] !== "string" || !Number.isInteger(t["id"])) fail(`added_tokens[${i}] must have a string content and an integer id`);
    const r = t as Json;
    const special = r["special"] === true;
    return {
      id: r["id"] as number,
      content: r["content"] as string,
      singleWord: r["single_word"] === true,
      lstrip: r["lstrip"] === true,
      rstrip: r["rstrip"] === true,
      normalized: typeof r["normalized"] === "boolean" ? r["normalized"] : !special,
      special,
    };
  });
}

/**
 * The ids Rust's `tokenizers` gives the added tokens of a tokenizer.json, which it does not take from the file:
 * in list order, a token already known (added before, or in the model's vocabulary) keeps that id, and a new
 * one gets the next id from the model's vocabulary size on. Files written by the libraries agree with this.
 */
function assignAddedTokenIds(listed: AddedTokenSpec[], modelVocab: Map<string, number>, modelSize: number): AddedTokenSpec[] {
  const byContent = new Map<string, number>();
  let next = modelSize;
  const out: AddedTokenSpec[] = [];
  for (const t of listed) {
    if (t.content === "") continue;
    let id = byContent.get(t.content) ?? modelVocab.get(t.content);
    if (id === undefined) id = next++;
    byContent.set(t.content, id);
    const at = out.findIndex((o) => o.content === t.content);
    if (at >= 0) out[at] = { ...t, id };
    else out.push({ ...t, id });
  }
  return out;
}

/**
 * BertTokenizerFast rebuilds its BertNormalizer when tokenizer_config.json says otherwise about lowercasing,
 * accents or CJK handling; the config's explicit values win here too.
 */
function applyConfigToNormalizer(json: Json, config: Json): Json {
  const n = json["normalizer"];
  if (!isRecord(n) || n["type"] !== "BertNormalizer") return json;
  const next: Json = { ...n };
  if (typeof config["do_lower_case"] === "boolean") next["lowercase"] = config["do_lower_case"];
  if (typeof config["strip_accents"] === "boolean" || config["strip_accents"] === null) next["strip_accents"] = config["strip_accents"];
  if (typeof config["tokenize_chinese_chars"] === "boolean") next["handle_chinese_chars"] = config["tokenize_chinese_chars"];
  if (Object.keys(next).every((k) => next[k] === n[k])) return json;
  return { ...json, normalizer: next };
}

function bertOptionsFromConfig(config: Json, specialMap: Json | undefined, file: string): BertTokenizerOptions {
  const bad = (field: string, expected: string): never => {
    throw new SbertError("ERR_CONFIG", `${file}: field '${field}' must be ${expected}, got ${JSON.stringify(config[field])}`, { op: OP_LOAD });
  };
  const bool = (field: string): boolean | undefined => {
    const v = config[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") bad(field, "true or false");
    return v as boolean;
  };
  const token = (field: string): string | undefined => {
    const v = config[field];
    if (v === undefined || v === null) return tokenContent(specialMap?.[field]);
    const s = tokenContent(v);
    if (s === undefined || s === "") bad(field, "a token string");
    return s;
  };
  const sa = config["strip_accents"];
  if (sa !== undefined && sa !== null && typeof sa !== "boolean") bad("strip_accents", "true, false or null");
  const opts: BertTokenizerOptions = {
    stripAccents: (sa as boolean | null | undefined) ?? null,
  };
  const lower = bool("do_lower_case");
  if (lower !== undefined) opts.doLowerCase = lower;
  const cjk = bool("tokenize_chinese_chars");
  if (cjk !== undefined) opts.tokenizeChineseChars = cjk;
  const unk = token("unk_token");
  if (unk !== undefined) opts.unkToken = unk;
  const sep = token("sep_token");
  if (sep !== undefined) opts.sepToken = sep;
  const pad = token("pad_token");
  if (pad !== undefined) opts.padToken = pad;
  const cls = token("cls_token");
  if (cls !== undefined) opts.clsToken = cls;
  const mask = token("mask_token");
  if (mask !== undefined) opts.maskToken = mask;
  return opts;
}

/** The tokenizer_config.json of a BERT tokenizer built from a vocabulary (the loaded config's other keys kept). */
function bertTokenizerConfig(opts: BertTokenizerOptions, loaded: Json): Json {
  const o = resolveBertOptions(opts, "Tokenizer");
  const config: Json = {
    ...loaded,
    clean_up_tokenization_spaces: loaded["clean_up_tokenization_spaces"] ?? true,
    cls_token: o.clsToken,
    do_lower_case: o.doLowerCase,
    mask_token: o.maskToken,
    pad_token: o.padToken,
    sep_token: o.sepToken,
    strip_accents: o.stripAccents,
    tokenize_chinese_chars: o.tokenizeChineseChars,
    tokenizer_class: loaded["tokenizer_class"] ?? "BertTokenizer",
    unk_token: o.unkToken,
  };
  return config;
}
