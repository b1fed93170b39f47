import type { NativeModule } from "../../types/native.js";
import type { EncodedBatch, TextInput, Tokenizer } from "../tokenization/Tokenizer.js";
import type { WhitespaceTokenizer } from "./tokenizer/WhitespaceTokenizer.js";

/**
 * One step of a SentenceTransformer pipeline. Each module runs natively and saves and loads its own folder,
 * as sentence-transformers modules do.
 */
export interface SentenceModule {
  /** The `type` written to modules.json (the legacy spelling every sentence-transformers version reads). */
  readonly moduleType: string;
  /** The class name used for the module's folder, `{idx}_{className}`. */
  readonly className: string;
  /** Saved into the model's root folder instead of a subfolder (the Transformer). */
  readonly saveInRoot: boolean;
  /** The native handle; internal to sbert-node. */
  readonly native: NativeModule;
  save(dir: string): Promise<void>;
  dispose(): void;
}

/** The first module of a pipeline, which turns texts into token ids (Transformer, WordEmbeddings, StaticEmbedding, Router). */
export interface InputModule extends SentenceModule {
  /** A Transformer's Hugging Face tokenizer, a WordEmbeddings' WhitespaceTokenizer. */
  readonly tokenizer: Tokenizer | WhitespaceTokenizer;
  /** Texts are cut to this many tokens. */
  maxSeqLength: number;
  /**
   * Tokenizes and pads a batch as encode and fit do. `task` ("query", "document", ...) matters to a Router, whose
   * batch then names the route it takes; other modules ignore it.
   */
  tokenize(texts: TextInput[], options?: { task?: string }): EncodedBatch & { route?: string };
  /**
   * The tokens a prompt puts at the start of a text, which Pooling with includePrompt false leaves out;
   * undefined where sentence-transformers does not count them.
   */
  promptLength(prompt: string, options?: { task?: string }): number | undefined;
}

export function isInputModule(module: SentenceModule): module is InputModule {
  return typeof (module as Partial<InputModule>).tokenize === "function" && typeof (module as Partial<InputModule>).promptLength === "function";
}

export const LEGACY_TYPE_PREFIX = "sentence_transformers.models.";

/** Checks an option that must be a positive integer. */
export function assertPositiveInt(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
}
