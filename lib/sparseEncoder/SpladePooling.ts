import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNativeSync } from "../native.js";
import type { SentenceModule } from "../models/Module.js";

/** How SpladePooling reduces a text's tokens (checked against the native side's list in the tests). */
export const SPLADE_POOLING_STRATEGIES = ["max", "sum"] as const;
export type SpladePoolingStrategy = (typeof SPLADE_POOLING_STRATEGIES)[number];
/** What SpladePooling puts on the scores before pooling: log1p(relu(x)), or log1p of that again. */
export const SPLADE_ACTIVATIONS = ["relu", "log1p_relu"] as const;
export type SpladeActivation = (typeof SPLADE_ACTIVATIONS)[number];

/** The modules.json `type` written on save (the spelling sentence-transformers 5.0 to 6 read). */
export const SPARSE_TYPE_PREFIX = "sentence_transformers.sparse_encoder.models.";

export interface SpladePoolingOptions {
  /** Default "max" (SPLADE v2 and later); "sum" is the first SPLADE's. */
  poolingStrategy?: SpladePoolingStrategy;
  /** Default "relu". */
  activationFunction?: SpladeActivation;
  /** The vocabulary size, once known (written to the config). */
  embeddingDimension?: number;
}

function checkChoice<T extends string>(value: unknown, choices: readonly T[], name: string): T {
  if (!choices.includes(value as T)) throw new RangeError(`SpladePooling: ${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
  return value as T;
}

/**
 * sentence-transformers' `SpladePooling`: each text's vector over the vocabulary, the max (or sum) over its tokens
 * of log(1 + relu(score)) of the masked-LM scores before it. Runs natively; saves only its config.json.
 */
export class SpladePooling implements SentenceModule {
  readonly moduleType = `${SPARSE_TYPE_PREFIX}SpladePooling`;
  readonly className = "SpladePooling";
  readonly saveInRoot = false;
  readonly poolingStrategy: SpladePoolingStrategy;
  readonly activationFunction: SpladeActivation;
  embeddingDimension: number | undefined;
  readonly native: NativeModule;

  constructor(options: SpladePoolingOptions = {}) {
    this.poolingStrategy = checkChoice(options.poolingStrategy ?? "max", SPLADE_POOLING_STRATEGIES, "poolingStrategy");
    this.activationFunction = checkChoice(options.activationFunction ?? "relu", SPLADE_ACTIVATIONS, "activationFunction");
    this.embeddingDimension = options.embeddingDimension;
    const config = { poolingStrategy: this.poolingStrategy, activationFunction: this.activationFunction };
    this.native = callNativeSync("SpladePooling", (n) => n.createModule("splade_pooling", config, { device: "cpu", seed: 0 }, null).module);
  }

  getSentenceEmbeddingDimension(): number | undefined {
    return this.embeddingDimension;
  }

  /** config.json as sentence-transformers before 6 writes it (6 reads `word_embedding_dimension` too). */
  getConfigDict(): Record<string, unknown> {
    return { pooling_strategy: this.poolingStrategy, activation_function: this.activationFunction, word_embedding_dimension: this.embeddingDimension ?? null };
  }

  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
  }

  /** Reads config.json: `pooling_strategy`, `activation_function`, and `embedding_dimension` (6) or `word_embedding_dimension` (before). */
  static async load(dir: string): Promise<SpladePooling> {
    const op = "SpladePooling.load";
    const file = join(dir, "config.json");
    const c = new ConfigReader(await readJsonObject(file, { op }), file, op);
    const choice = <T extends string>(field: string, fallback: T, choices: readonly T[]): T => {
      const v = c.string(field, fallback);
      if (!choices.includes(v as T)) throw new SbertError("ERR_CONFIG", `${file}: field '${field}' must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}`, { op });
      return v as T;
    };
    const poolingStrategy = choice("pooling_strategy", "max", SPLADE_POOLING_STRATEGIES);
    const activationFunction = choice("activation_function", "relu", SPLADE_ACTIVATIONS);
    const dimField = c.has("embedding_dimension") ? "embedding_dimension" : "word_embedding_dimension";
    const embeddingDimension = c.has(dimField) ? c.int(dimField) : undefined;
    return new SpladePooling({ poolingStrategy, activationFunction, embeddingDimension });
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `SpladePooling(${JSON.stringify(this.getConfigDict())})`;
  }
}
