import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { saveWeights } from "../io/checkpoint.js";
import { readJsonObject, writeJson } from "../io/files.js";
import { callNativeSync } from "../native.js";
import { LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

export interface WordWeightsOptions {
  /** The tokenizer's vocabulary: word i is token id i. */
  vocab: string[];
  /** A weight per word (idf values, say); a word without one is looked up lower-cased. */
  wordWeights: Record<string, number> | Map<string, number>;
  /** The weight of vocabulary words that have none. Default 1. */
  unknownWordWeight?: number;
  device?: string;
}

/** The weight of each vocabulary word, as sentence-transformers picks it. */
function weightsOf(vocab: string[], table: Map<string, number>, unknown: number): Float32Array {
  const out = new Float32Array(vocab.length);
  vocab.forEach((word, i) => {
    out[i] = table.get(word) ?? table.get(word.toLowerCase()) ?? unknown;
  });
  return out;
}

function checkOptions(options: WordWeightsOptions, where: string): { vocab: string[]; table: Map<string, number>; unknown: number } {
  if (typeof options !== "object" || options === null) throw new TypeError(`${where}: options must be an object`);
  const { vocab, wordWeights } = options;
  if (!Array.isArray(vocab) || vocab.length === 0 || vocab.some((w) => typeof w !== "string")) {
    throw new TypeError(`${where}: vocab must be a non-empty list of strings`);
  }
  if (typeof wordWeights !== "object" || wordWeights === null || Array.isArray(wordWeights)) {
    throw new TypeError(`${where}: wordWeights must map words to numbers`);
  }
  // A Map, so that words such as "constructor" never meet an object's inherited properties.
  const table = new Map(wordWeights instanceof Map ? wordWeights : Object.entries(wordWeights));
  for (const [word, w] of table) {
    if (typeof w !== "number" || !Number.isFinite(w)) throw new TypeError(`${where}: the weight of ${JSON.stringify(word)} must be a finite number, got ${String(w)}`);
  }
  const unknown = options.unknownWordWeight ?? 1;
  if (typeof unknown !== "number" || !Number.isFinite(unknown)) throw new TypeError(`${where}: unknownWordWeight must be a finite number`);
  return { vocab: [...vocab], table, unknown };
}

/**
 * Scales each token embedding by its word's weight (idf, say), and has Pooling's mean modes divide by each
 * text's sum of weights instead of its token count: `models.WordWeights`. The weights learn in training.
 * As in sentence-transformers, the module is rebuilt from config.json (`vocab`, `word_weights`,
 * `unknown_word_weight`) when loaded; the model.safetensors it saves beside is not read back.
 */
export class WordWeights implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}WordWeights`;
  readonly className = "WordWeights";
  readonly saveInRoot = false;
  readonly vocab: readonly string[];
  readonly wordWeights: ReadonlyMap<string, number>;
  readonly unknownWordWeight: number;
  readonly native: NativeModule;

  constructor(options: WordWeightsOptions) {
    const { vocab, table, unknown } = checkOptions(options, "WordWeights");
    this.vocab = vocab;
    this.wordWeights = table;
    this.unknownWordWeight = unknown;
    const data = weightsOf(vocab, table, unknown);
    this.native = callNativeSync(
      "WordWeights",
      (n) =>
        n.createModule("word_weights", { vocabSize: vocab.length }, { device: options.device ?? "cpu", seed: 0 }, [
          { name: "emb_layer.weight", shape: [vocab.length, 1], data },
        ]).module,
    );
  }

  getConfigDict(): Record<string, unknown> {
    return { vocab: [...this.vocab], word_weights: Object.fromEntries(this.wordWeights), unknown_word_weight: this.unknownWordWeight };
  }

  /** Writes config.json and model.safetensors (`emb_layer.weight`, [vocabulary, 1]). */
  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
    await saveWeights(this.native, join(dir, "model.safetensors"));
  }

  static async load(dir: string, options: { device?: string } = {}): Promise<WordWeights> {
    const file = join(dir, "config.json");
    const config = await readJsonObject(file, { op: "WordWeights.load" });
    try {
      return new WordWeights({
        vocab: config["vocab"] as string[],
        wordWeights: config["word_weights"] as Record<string, number>,
        unknownWordWeight: (config["unknown_word_weight"] ?? undefined) as number | undefined,
        device: options.device,
      });
    } catch (e) {
      if (e instanceof SbertError) throw e;
      throw new SbertError("ERR_CONFIG", `${file}: ${(e as Error).message}`, { op: "WordWeights.load" });
    }
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `WordWeights({vocab: ${this.vocab.length} words, word_weights: ${this.wordWeights.size} words, unknown_word_weight: ${this.unknownWordWeight}})`;
  }
}
