import type { NativeLossSpec, NativeRegularizerWeights } from "../../../types/native.js";
import { CachedMultipleNegativesRankingLoss } from "../../losses/CachedMultipleNegativesRankingLoss.js";
import { checkNonNegative, Loss, type Label, type LabelKind } from "../../losses/Loss.js";
import { SparseEncoder } from "../SparseEncoder.js";
import { FlopsLoss } from "./FlopsLoss.js";

export interface SpladeLossOptions {
  /** Weight of the documents' FLOPS term (the second and later columns). Often called lambda_d. */
  documentRegularizerWeight: number;
  /** Weight of the queries' FLOPS term (the first column). Unset: no query term (inference-free models). */
  queryRegularizerWeight?: number;
  /** The documents' regularizer. Default FlopsLoss with documentRegularizerThreshold. */
  documentRegularizer?: FlopsLoss;
  /** The queries' regularizer. Default FlopsLoss with queryRegularizerThreshold. */
  queryRegularizer?: FlopsLoss;
  /** The default document regularizer counts only embeddings with more than this many active values. */
  documentRegularizerThreshold?: number;
  /** The default query regularizer counts only embeddings with more than this many active values. */
  queryRegularizerThreshold?: number;
  /** Every column is a document, regularized together with documentRegularizerWeight (symmetric data). */
  useDocumentRegularizerOnly?: boolean;
}

/**
 * SPLADE's training objective: a loss on the sparse embeddings (e.g. SparseMultipleNegativesRankingLoss) plus
 * FLOPS regularizers on the documents' and the queries' embeddings, which trade a little effectiveness for
 * sparsity. The regularizer weights may change as training goes (SpladeRegularizerWeightSchedulerCallback, which
 * SparseEncoderTrainer adds); the trainer logs each part (base_loss, document_regularizer_loss,
 * query_regularizer_loss).
 */
export class SpladeLoss extends Loss {
  readonly name = "SpladeLoss";
  readonly loss: Loss;
  /** The documents' term's weight now (the callback raises it from 0). */
  documentRegularizerWeight: number;
  /** The queries' term's weight now; undefined: no query term. */
  queryRegularizerWeight: number | undefined;
  readonly documentRegularizer: FlopsLoss;
  readonly queryRegularizer: FlopsLoss | undefined;
  readonly useDocumentRegularizerOnly: boolean;

  constructor(model: SparseEncoder, loss: Loss, options: SpladeLossOptions) {
    super(model);
    const where = "SpladeLoss";
    if (!(model instanceof SparseEncoder)) throw new TypeError(`${where}: the model must be a SparseEncoder`);
    if (!(loss instanceof Loss)) throw new TypeError(`${where}: loss must be a loss (sparseEncoder.losses)`);
    if (loss instanceof SpladeLoss) throw new TypeError(`${where}: the inner loss cannot be another SpladeLoss`);
    if (loss instanceof CachedMultipleNegativesRankingLoss) throw new TypeError(`${where}: a cached inner loss is not supported; use SparseMultipleNegativesRankingLoss`);
    if (loss.model !== model) throw new TypeError(`${where}: the inner loss ${loss.name} was built for another model`);
    if (typeof options !== "object" || options === null) throw new TypeError(`${where}: options must be an object with documentRegularizerWeight`);
    this.loss = loss;
    this.useDocumentRegularizerOnly = options.useDocumentRegularizerOnly ?? false;
    this.documentRegularizerWeight = checkNonNegative(options.documentRegularizerWeight, "documentRegularizerWeight", where);
    // With every column a document there is no query term, as sentence-transformers drops its weight.
    const query = this.useDocumentRegularizerOnly ? undefined : options.queryRegularizerWeight;
    this.queryRegularizerWeight = query === undefined || query === null ? undefined : checkNonNegative(query, "queryRegularizerWeight", where);
    for (const [name, r] of [["documentRegularizer", options.documentRegularizer], ["queryRegularizer", options.queryRegularizer]] as const) {
      if (r !== undefined && !(r instanceof FlopsLoss)) throw new TypeError(`${where}: ${name} must be a FlopsLoss`);
      if (r !== undefined && r.model !== model) throw new TypeError(`${where}: ${name} was built for another model`);
    }
    this.documentRegularizer = options.documentRegularizer ?? new FlopsLoss(model, { threshold: options.documentRegularizerThreshold });
    this.queryRegularizer = this.useDocumentRegularizerOnly ? undefined : (options.queryRegularizer ?? new FlopsLoss(model, { threshold: options.queryRegularizerThreshold }));
  }

  get columns(): readonly [number, number] {
    const [min, max] = this.loss.columns;
    // Queries and documents: at least two columns, unless every column is a document.
    return [Math.max(min, this.useDocumentRegularizerOnly ? 1 : 2), max];
  }

  get labelKind(): LabelKind {
    return this.loss.labelKind;
  }

  override checkLabel(label: Label, where: string): void {
    this.loss.checkLabel(label, where);
  }

  regularizerWeights(): NativeRegularizerWeights {
    return { document: this.documentRegularizerWeight, query: this.queryRegularizerWeight ?? null };
  }

  nativeSpec(): NativeLossSpec {
    return {
      ...this.loss.nativeSpec(),
      splade: {
        documentRegularizerWeight: this.documentRegularizerWeight,
        queryRegularizerWeight: this.queryRegularizerWeight ?? null,
        documentRegularizerThreshold: this.documentRegularizer.threshold ?? null,
        queryRegularizerThreshold: this.queryRegularizer?.threshold ?? null,
        useDocumentRegularizerOnly: this.useDocumentRegularizerOnly,
      },
    };
  }

  getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = { loss: this.loss.name, document_regularizer_weight: this.documentRegularizerWeight };
    if (this.queryRegularizerWeight !== undefined) config["query_regularizer_weight"] = this.queryRegularizerWeight;
    if (this.documentRegularizer.threshold !== undefined) config["document_regularizer_threshold"] = this.documentRegularizer.threshold;
    if (this.queryRegularizer?.threshold !== undefined) config["query_regularizer_threshold"] = this.queryRegularizer.threshold;
    return config;
  }
}
