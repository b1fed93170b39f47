import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { callNativeSync } from "../native.js";
import { LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

function checkProbability(p: unknown, where: string): number {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new RangeError(`${where}: dropout must be a number between 0 and 1, got ${String(p)}`);
  return p;
}

/**
 * Dropout on the sentence embedding during training (each value zeroed with probability `dropout`, the others
 * scaled by 1 / (1 - dropout)); the identity in encode: `models.Dropout`. Saves only its config.json.
 */
export class Dropout implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Dropout`;
  readonly className = "Dropout";
  readonly saveInRoot = false;
  readonly dropout: number;
  readonly native: NativeModule;

  /** `dropout`: the probability of zeroing a value. Default 0.2. */
  constructor(dropout = 0.2) {
    this.dropout = checkProbability(dropout, "Dropout");
    this.native = callNativeSync("Dropout", (n) => n.createModule("dropout", { p: this.dropout }, { device: "cpu", seed: 0 }, null).module);
  }

  getConfigDict(): Record<string, unknown> {
    return { dropout: this.dropout };
  }

  async save(dir: string): Promise<void> {
    await writeJson(join(dir, "config.json"), this.getConfigDict());
  }

  static async load(dir: string): Promise<Dropout> {
    const file = join(dir, "config.json");
    const c = new ConfigReader(await readJsonObject(file, { op: "Dropout.load" }), file, "Dropout.load");
    const dropout = c.number("dropout", 0.2);
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new SbertError("ERR_CONFIG", `${file}: field 'dropout' must be between 0 and 1, got ${dropout}`, { op: "Dropout.load" });
    }
    return new Dropout(dropout);
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `Dropout(${JSON.stringify(this.getConfigDict())})`;
  }
}
