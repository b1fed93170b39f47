import type { NativeLossSpec, NativeTensor, NativeTensorData, NativeTokenBatch } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { Tokenizer } from "../tokenization/Tokenizer.js";
import { checkNonNegative, checkOneOf, checkPositive, Loss, type LabelKind } from "./Loss.js";

export type MarginStrategy = "absolute" | "relative";

export interface GISTEmbedLossOptions {
  /** The model whose similarities pick the in-batch negatives to leave out (it is not trained). */
  guide: SentenceTransformer;
  /** The cosine similarities are divided by it. Default 0.01. */
  temperature?: number;
  /**
   * "absolute" (default): a candidate the guide scores above the positive's guide score minus `margin` is left out;
   * "relative": above that score minus |score| × `margin`.
   */
  marginStrategy?: MarginStrategy;
  /** Default 0: only candidates the guide finds closer to the anchor than its positive are left out. */
  margin?: number;
  /** The other anchors among each anchor's candidates. Default true. */
  contrastAnchors?: boolean;
  /** The other positives, compared with the anchor's positive, among the candidates. Default true. */
  contrastPositives?: boolean;
}

/**
 * GISTEmbed (Solatorio, 2024): MultipleNegativesRankingLoss over (anchor, positive[, negative]) rows in which a
 * guide model vets the in-batch negatives: those it scores as close to the anchor as the positive is are likely
 * false negatives and are left out of the softmax. The guide embeds each batch with the model's own tokens when
 * both share a vocabulary (and the guide takes texts as long), otherwise the decoded texts again.
 */
export class GISTEmbedLoss extends Loss {
  readonly name: string = "GISTEmbedLoss";
  readonly columns: readonly [number, number] = [2, 3];
  readonly labelKind: LabelKind = "none";
  readonly guide: SentenceTransformer;
  readonly temperature: number;
  readonly marginStrategy: MarginStrategy;
  readonly margin: number;
  readonly contrastAnchors: boolean;
  readonly contrastPositives: boolean;
  /** The guide tokenizes the texts itself (a different vocabulary, or shorter inputs than the model's). */
  readonly mustRetokenize: boolean;

  constructor(model: SentenceTransformer, options: GISTEmbedLossOptions) {
    super(model);
    const where = new.target.name;
    const guide = (options as Partial<GISTEmbedLossOptions> | undefined)?.guide;
    if (!guide || typeof (guide as { embedTokens?: unknown }).embedTokens !== "function") {
      throw new TypeError(`${where}: options.guide must be a SentenceTransformer (the guide model)`);
    }
    if (!(model.tokenizer instanceof Tokenizer) || !(guide.tokenizer instanceof Tokenizer)) {
      throw new TypeError(`${where}: the model and the guide must both take a Hugging Face tokenizer (a Transformer module first)`);
    }
    this.guide = guide;
    this.temperature = checkPositive(options.temperature ?? 0.01, "temperature", where);
    this.marginStrategy = checkOneOf(options.marginStrategy ?? "absolute", ["absolute", "relative"], "marginStrategy", where);
    this.margin = checkNonNegative(options.margin ?? 0, "margin", where);
    this.contrastAnchors = checkBoolean(options.contrastAnchors ?? true, "contrastAnchors", where);
    this.contrastPositives = checkBoolean(options.contrastPositives ?? true, "contrastPositives", where);
    this.mustRetokenize = !model.tokenizer.sameVocabulary(guide.tokenizer) || guide.maxSeqLength < model.maxSeqLength;
  }

  nativeSpec(): NativeLossSpec {
    return {
      loss: "GISTEmbedLoss",
      temperature: this.temperature,
      marginStrategy: this.marginStrategy,
      margin: this.margin,
      contrastAnchors: this.contrastAnchors,
      contrastPositives: this.contrastPositives,
    };
  }

  /** The guide's embeddings of every column of a batch, [rows, columns, guide dim]: the labels the native loss reads. */
  override async batchLabels(columns: NativeTokenBatch[]): Promise<NativeTensorData> {
    const parts: NativeTensor[] = [];
    for (const column of columns) parts.push(await this.guide.embedTokens(this.mustRetokenize ? this.guide.tokenize(this.decode(column)) : column));
    const rows = columns[0]!.batchSize;
    const dim = parts[0]!.shape[1]!;
    const data = new Float32Array(rows * columns.length * dim);
    parts.forEach((p, c) => {
      for (let r = 0; r < rows; r++) data.set(p.data.subarray(r * dim, (r + 1) * dim), (r * columns.length + c) * dim);
    });
    return { data, shape: [rows, columns.length, dim] };
  }

  /** The texts of a token batch as the model's tokenizer decodes them, special tokens left out. */
  private decode(batch: NativeTokenBatch): string[] {
    const tokenizer = this.model.tokenizer as Tokenizer;
    const texts: string[] = [];
    for (let r = 0; r < batch.batchSize; r++) {
      const ids: number[] = [];
      for (let t = r * batch.seqLength; t < (r + 1) * batch.seqLength; t++) if (batch.attentionMask[t] !== 0) ids.push(batch.inputIds[t]!);
      texts.push(tokenizer.decode(ids, { skipSpecialTokens: true }));
    }
    return texts;
  }

  getConfigDict(): Record<string, unknown> {
    return {
      guide: this.guide.baseModel === undefined ? "SentenceTransformer" : `SentenceTransformer('${this.guide.baseModel}')`,
      temperature: this.temperature,
      margin_strategy: this.marginStrategy,
      margin: this.margin,
      contrast_anchors: this.contrastAnchors,
      contrast_positives: this.contrastPositives,
      gather_across_devices: false,
    };
  }
}

function checkBoolean(value: boolean, name: string, where: string): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${where}: ${name} must be true or false, got ${String(value)}`);
  return value;
}
