import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import type { SentenceModule } from "../models/Module.js";
import { callNativeSync } from "../native.js";

/**
 * The token a decoder's `*ForSequenceClassification` scores: in each row, the last position whose input id is not
 * `padTokenId` (config.json's pad_token_id), as transformers picks it — by id, not by attention mask, so a pad token
 * the tokenizer appends as end of text is skipped too. With `padTokenId` null only one pair at a time can be scored,
 * as in transformers. Part of a CrossEncoder's head, which CrossEncoder.save writes; it has no weights or folder of
 * its own.
 */
export class LastNonPadToken implements SentenceModule {
  readonly moduleType = "LastNonPadToken";
  readonly className = "LastNonPadToken";
  readonly saveInRoot = false;
  readonly native: NativeModule;

  constructor(
    readonly dimension: number,
    readonly padTokenId: number | null,
    options: { device?: string } = {},
  ) {
    this.native = callNativeSync("LastNonPadToken", (n) => n.createModule("last_non_pad_token", { padTokenId }, { device: options.device ?? "cpu", seed: 0 }, null).module);
  }

  getSentenceEmbeddingDimension(): number {
    return this.dimension;
  }

  async save(): Promise<void> {
    throw new SbertError("ERR_INPUT", "LastNonPadToken is part of a CrossEncoder's classification head: save the CrossEncoder", { op: "LastNonPadToken.save" });
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `LastNonPadToken(pad_token_id=${this.padTokenId === null ? "None" : this.padTokenId})`;
  }
}
