import { join } from "node:path";

import type { NativeModule } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { weightsForNative } from "../io/checkpoint.js";
import { ConfigReader, readJsonObject, writeJson } from "../io/files.js";
import { writeSafetensors } from "../io/safetensors.js";
import { assertPositiveInt, type InputModule } from "../models/Module.js";
import { callNative } from "../native.js";
import { Tokenizer, type EncodedBatch, type TextInput } from "../tokenization/Tokenizer.js";
import { SPARSE_TYPE_PREFIX } from "./SpladePooling.js";

const OP_LOAD = "SparseStaticEmbedding.load";
const WEIGHT_KEY = "weight";

/**
 * sentence-transformers' `SparseStaticEmbedding`: a text's embedding over the vocabulary is each of its tokens'
 * weight (IDF-like), 0 elsewhere; no network runs. Inference-free SPLADE models encode queries with it (behind a
 * Router) and documents with MLMTransformer + SpladePooling. Tokenizes without special tokens, as sentence-transformers
 * does for it; the weights run natively.
 */
export class SparseStaticEmbedding implements InputModule {
  readonly moduleType = `${SPARSE_TYPE_PREFIX}SparseStaticEmbedding`;
  readonly className = "SparseStaticEmbedding";
  readonly saveInRoot = false;
  private _maxSeqLength: number;

  private constructor(
    readonly tokenizer: Tokenizer,
    readonly native: NativeModule,
    /** The embedding's size (the weights'). */
    readonly numDimensions: number,
    /** Whether training leaves the weights as they are (config.json's `frozen`). */
    readonly frozen: boolean,
  ) {
    this._maxSeqLength = tokenizer.modelMaxLength ?? 512;
  }

  /** Texts are cut to this many tokens (the tokenizer's model_max_length, as sentence-transformers takes it). */
  get maxSeqLength(): number {
    return this._maxSeqLength;
  }

  set maxSeqLength(value: number) {
    assertPositiveInt(value, "maxSeqLength");
    this._maxSeqLength = value;
  }

  /** Reads the tokenizer, config.json (`frozen`) and the weights (`weight`, one per vocabulary entry). */
  static async load(dir: string, options: { device?: string } = {}): Promise<SparseStaticEmbedding> {
    const tokenizer = await Tokenizer.fromFolder(dir);
    const configFile = join(dir, "config.json");
    const config = new ConfigReader((await readJsonObject(configFile, { optional: true, op: OP_LOAD })) ?? {}, configFile, OP_LOAD);
    const frozen = config.bool("frozen", false);
    const weights = await weightsForNative(dir);
    const all = weights.files.flatMap((f) => f.tensors.map((t) => ({ path: f.path, tensor: t })));
    const found = all.find((t) => t.tensor.name === WEIGHT_KEY);
    const files = weights.files.map((f) => f.path).join(", ");
    if (!found) throw new SbertError("ERR_WEIGHTS", `missing key '${WEIGHT_KEY}' in ${files}: SparseStaticEmbedding needs its weights`, { op: OP_LOAD });
    if (found.tensor.shape.length !== 1 || found.tensor.shape[0]! < tokenizer.vocabSize) {
      throw new SbertError(
        "ERR_WEIGHTS",
        `key '${WEIGHT_KEY}' has shape [${found.tensor.shape.join(", ")}] in ${found.path} but SparseStaticEmbedding expects one weight for each of the tokenizer's ${tokenizer.vocabSize} tokens`,
        { op: OP_LOAD },
      );
    }
    const vocabSize = found.tensor.shape[0]!;
    const only = { files: [{ path: found.path, tensors: [found.tensor] }] };
    const { module } = await callNative(OP_LOAD, (n) => n.loadModule("sparse_static_embedding", { vocabSize }, only, { device: options.device ?? "cpu", seed: 0 }));
    return new SparseStaticEmbedding(tokenizer, module, vocabSize, frozen);
  }

  /** Token ids without special tokens, cut to maxSeqLength and padded on the right with the pad token. */
  tokenize(texts: TextInput[]): EncodedBatch {
    const rows = texts.map((t, i) => {
      if (typeof t !== "string") throw new SbertError("ERR_INPUT", `texts[${i}]: SparseStaticEmbedding embeds single texts, not pairs`, { op: "SparseStaticEmbedding.tokenize" });
      return this.tokenizer.encode(t, { addSpecialTokens: false }).slice(0, this._maxSeqLength);
    });
    const seqLength = Math.max(0, ...rows.map((r) => r.length));
    const batchSize = rows.length;
    const inputIds = new Int32Array(batchSize * seqLength).fill(this.tokenizer.padTokenId);
    const attentionMask = new Int32Array(batchSize * seqLength);
    rows.forEach((r, i) => {
      inputIds.set(r, i * seqLength);
      attentionMask.fill(1, i * seqLength, i * seqLength + r.length);
    });
    return { inputIds, attentionMask, tokenTypeIds: new Int32Array(batchSize * seqLength), batchSize, seqLength };
  }

  /** Prompts are not counted apart: no pooling after this module leaves them out. */
  promptLength(): undefined {
    return undefined;
  }

  getSentenceEmbeddingDimension(): number {
    return this.numDimensions;
  }

  getConfigDict(): Record<string, unknown> {
    return { frozen: this.frozen };
  }

  /** Writes the tokenizer files, model.safetensors (`weight`) and config.json, as sentence-transformers does. */
  async save(dir: string): Promise<void> {
    await this.tokenizer.save(dir, { modelMaxLength: this._maxSeqLength });
    const tensors = this.native.stateDict().map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: t.data }));
    await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
    await writeJson(join(dir, "config.json"), this.getConfigDict());
  }

  dispose(): void {
    this.native.dispose();
  }

  toString(): string {
    return `SparseStaticEmbedding(${JSON.stringify(this.getConfigDict())}, dim=${this.numDimensions})`;
  }
}
