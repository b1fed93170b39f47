import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { readJsonObject, writeJson } from "../io/files.js";
import { callNativeSync } from "../native.js";
import { assertPositiveInt, LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

export type PoolingMode = "cls" | "max" | "mean" | "mean_sqrt_len_tokens" | "weightedmean" | "lasttoken";

/** The modes in the order the legacy boolean config concatenates them. */
export const POOLING_MODES: readonly PoolingMode[] = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"];

const LEGACY_KEYS: Record<PoolingMode, string> = {
  cls: "pooling_mode_cls_token",
  max: "pooling_mode_max_tokens",
  mean: "pooling_mode_mean_tokens",
  mean_sqrt_len_tokens: "pooling_mode_mean_sqrt_len_tokens",
  weightedmean: "pooling_mode_weightedmean_tokens",
  lasttoken: "pooling_mode_lasttoken",
};

export interface PoolingOptions {
  /** One mode or several (concatenated in the order given). Default "mean". */
  poolingMode?: PoolingMode | PoolingMode[];
  /** false leaves a prompt's tokens out of the pooled embedding. Default true. */
  includePrompt?: boolean;
  poolingModeClsToken?: boolean;
  poolingModeMaxTokens?: boolean;
  poolingModeMeanTokens?: boolean;
  poolingModeMeanSqrtLenTokens?: boolean;
  poolingModeWeightedmeanTokens?: boolean;
  poolingModeLasttoken?: boolean;
}

function checkMode(mode: unknown, where: string): PoolingMode {
  if (!POOLING_MODES.includes(mode as PoolingMode)) {
    throw new RangeError(`${where}: pooling mode ${JSON.stringify(mode)} is not one of ${POOLING_MODES.join(", ")}`);
  }
  return mode as PoolingMode;
}

/** Pools token embeddings into one sentence embedding: `models.Pooling`. */
export class Pooling implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Pooling`;
  readonly className = "Pooling";
  readonly saveInRoot = false;
  readonly wordEmbeddingDimension: number;
  readonly poolingModes: readonly PoolingMode[];
  readonly includePrompt: boolean;
  readonly native: NativeModule;

  constructor(wordEmbeddingDimension: number, options: PoolingOptions = {}) {
    assertPositiveInt(wordEmbeddingDimension, "Pooling: wordEmbeddingDimension");
    let modes: PoolingMode[];
    if (options.poolingMode !== undefined) {
      const given = Array.isArray(options.poolingMode) ? options.poolingMode : [options.poolingMode];
      if (given.length === 0) throw new RangeError("Pooling: poolingMode must name at least one mode");
      modes = given.map((m) => checkMode(m, "Pooling"));
    } else {
      const flags: Record<PoolingMode, boolean | undefined> = {
        cls: options.poolingModeClsToken,
        max: options.poolingModeMaxTokens,
        mean: options.poolingModeMeanTokens,
        mean_sqrt_len_tokens: options.poolingModeMeanSqrtLenTokens,
        weightedmean: options.poolingModeWeightedmeanTokens,
        lasttoken: options.poolingModeLasttoken,
      };
      modes = POOLING_MODES.filter((m) => flags[m]);
      if (modes.length === 0) modes = ["mean"];
    }
    if (new Set(modes).size !== modes.length) throw new RangeError(`Pooling: poolingMode lists a mode twice (${modes.join(", ")})`);
    this.wordEmbeddingDimension = wordEmbeddingDimension;
    this.poolingModes = modes;
    this.includePrompt = options.includePrompt ?? true;
    this.native = callNativeSync("Pooling", (n) => n.createPooling({ modes, includePrompt: this.includePrompt }));
  }

  getSentenceEmbeddingDimension(): number {
    return this.poolingModes.length * this.wordEmbeddingDimension;
  }

  getPoolingModeStr(): string {
    return this.poolingModes.join("+");
  }

  /**
   * The legacy config (booleans) whenever it says the same thing; modes in a non-legacy order need the newer
   * `pooling_mode` list, which only sentence-transformers v5.4+ reads.
   */
  getConfigDict(): Record<string, unknown> {
    const legacyOrder = POOLING_MODES.filter((m) => this.poolingModes.includes(m));
    if (legacyOrder.every((m, i) => m === this.poolingModes[i])) {
      const config: Record<string, unknown> = { word_embedding_dimension: this.wordEmbeddingDimension };
      for (const mode of POOLING_MODES) config[LEGACY_KEYS[mode]] = this.poolingModes.includes(mode);
      config["include_prompt"] = this.includePrompt;
      return config;
    }
    return { embedding_dimension: this.wordEmbeddingDimension, pooling_mode: [...this.poolingModes], include_prompt: this.includePrompt };
  }

  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
  }

  /** Reads `config.json` in either layout (legacy booleans, or v5.4+ `pooling_mode`). */
  static async load(dir: string): Promise<Pooling> {
    const file = join(dir, "config.json");
    const config = await readJsonObject(file, { op: "Pooling.load" });
    const dim = config["embedding_dimension"] ?? config["word_embedding_dimension"];
    if (typeof dim !== "number" || !Number.isInteger(dim) || dim <= 0) {
      throw new SbertError("ERR_CONFIG", `${file}: 'word_embedding_dimension' (or 'embedding_dimension') must be a positive integer`, {
        op: "Pooling.load",
      });
    }
    const includePrompt = config["include_prompt"] ?? true;
    if (typeof includePrompt !== "boolean") {
      throw new SbertError("ERR_CONFIG", `${file}: 'include_prompt' must be true or false`, { op: "Pooling.load" });
    }
    let modes: PoolingMode[];
    const raw = config["pooling_mode"];
    try {
      if (raw !== undefined && raw !== null) {
        modes = (Array.isArray(raw) ? raw : [raw]).map((m) => checkMode(typeof m === "string" ? m.toLowerCase() : m, file));
      } else {
        modes = POOLING_MODES.filter((m) => config[LEGACY_KEYS[m]] === true);
        if (modes.length === 0) modes = ["mean"];
      }
    } catch (e) {
      throw new SbertError("ERR_CONFIG", (e as Error).message, { op: "Pooling.load" });
    }
    return new Pooling(dim, { poolingMode: modes, includePrompt });
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `Pooling(${JSON.stringify(this.getConfigDict())})`;
  }
}
