import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import type { SentenceModule } from "../models/Module.js";
import type { MaskedLmHeadKeys } from "./mlmHeads.js";
import { SPARSE_TYPE_PREFIX } from "./SpladePooling.js";

/**
 * The prediction head of a `*ForMaskedLM` model, run natively on every token's hidden state (scores over the
 * vocabulary, what sentence-transformers' MLMTransformer outputs as token embeddings). It is written back under its
 * Hugging Face keys by SparseEncoder.save, beside the encoder, never into a folder of its own.
 */
export class MaskedLmHead implements SentenceModule {
  readonly moduleType = `${SPARSE_TYPE_PREFIX}MLMTransformer`;
  readonly className = "MLMTransformer";
  readonly saveInRoot = true;
  constructor(
    readonly head: MaskedLmHeadKeys,
    readonly native: NativeModule,
    /** config.json's tie_word_embeddings. */
    readonly tied: boolean,
    /** The checkpoint keys each native tensor is written under (none for a decoder weight read from the word embeddings). */
    readonly savedKeys: Readonly<Record<string, readonly string[]>>,
  ) {}

  /** The head's weights under the checkpoint keys Hugging Face's model gives them. */
  stateDict(): { name: string; shape: number[]; data: Float32Array }[] {
    return this.native.stateDict().flatMap((t) => (this.savedKeys[t.name] ?? []).map((name) => ({ ...t, name })));
  }

  async save(): Promise<void> {
    throw new SbertError("ERR_INPUT", "the masked-LM head is saved with its encoder, by SparseEncoder.save", { op: "MaskedLmHead.save" });
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `MaskedLmHead(${this.head.modelClass})`;
  }
}
