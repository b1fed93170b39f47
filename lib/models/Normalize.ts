import type { NativeModule } from "../../types/native.js";
import { callNativeSync } from "../native.js";
import { LEGACY_TYPE_PREFIX, type SentenceModule } from "./Module.js";

/** Scales each sentence embedding to unit length: `models.Normalize`. Saves an empty folder. */
export class Normalize implements SentenceModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Normalize`;
  readonly className = "Normalize";
  readonly saveInRoot = false;
  readonly native: NativeModule = callNativeSync("Normalize", (n) => n.createNormalize());

  async save(_dir: string): Promise<void> {}

  static async load(_dir: string): Promise<Normalize> {
    return new Normalize();
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return "Normalize()";
  }
}
