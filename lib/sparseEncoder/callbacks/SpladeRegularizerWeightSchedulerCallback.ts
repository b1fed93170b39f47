import type { TrainerCallback, TrainerCallbackEvent } from "../../SentenceTransformerTrainer.js";
import type { SparseEncoder } from "../SparseEncoder.js";
import { SpladeLoss } from "../losses/SpladeLoss.js";

export type SpladeWeightSchedulerType = "linear" | "quadratic";

export interface SpladeRegularizerWeightSchedulerCallbackOptions {
  /** How the weights rise from 0: "quadratic" (default) or "linear" in the step. */
  schedulerType?: SpladeWeightSchedulerType;
  /** The fraction of the run's steps over which they reach their full value, in (0, 1]. Default 1/3. */
  warmupRatio?: number;
}

/**
 * Raises a SpladeLoss's regularizer weights from 0 to the values it was made with over the first part of training
 * (quadratically by default), so that the model learns to retrieve before it learns to be sparse. SparseEncoderTrainer
 * adds one for a SpladeLoss that has none. The weights in use are logged as document_regularizer_weight and
 * query_regularizer_weight.
 */
export class SpladeRegularizerWeightSchedulerCallback implements TrainerCallback<SparseEncoder> {
  readonly loss: SpladeLoss;
  readonly schedulerType: SpladeWeightSchedulerType;
  readonly warmupRatio: number;
  readonly maxDocumentRegularizerWeight: number;
  readonly maxQueryRegularizerWeight: number | undefined;
  #document = 0;
  #query: number | undefined;
  #warmupSteps: number | undefined;

  constructor(loss: SpladeLoss, options: SpladeRegularizerWeightSchedulerCallbackOptions = {}) {
    const where = "SpladeRegularizerWeightSchedulerCallback";
    if (!(loss instanceof SpladeLoss)) throw new TypeError(`${where}: loss must be a SpladeLoss`);
    const type = options.schedulerType ?? "quadratic";
    if (type !== "linear" && type !== "quadratic") throw new RangeError(`${where}: schedulerType must be "linear" or "quadratic", got ${JSON.stringify(type)}`);
    const ratio = options.warmupRatio ?? 1 / 3;
    if (typeof ratio !== "number" || !(ratio > 0 && ratio <= 1)) throw new RangeError(`${where}: warmupRatio must be in (0, 1], got ${String(ratio)}`);
    this.loss = loss;
    this.schedulerType = type;
    this.warmupRatio = ratio;
    this.maxDocumentRegularizerWeight = loss.documentRegularizerWeight;
    this.maxQueryRegularizerWeight = loss.queryRegularizerWeight;
    this.#query = this.maxQueryRegularizerWeight === undefined ? undefined : 0;
  }

  /** The weight at `step` (optimizer steps taken) of one whose full value is `max`. */
  weightAt(step: number, max: number): number {
    const warmup = this.#warmupSteps;
    if (warmup === undefined || step >= warmup) return max;
    const ratio = step / Math.max(warmup, 1);
    return max * (this.schedulerType === "linear" ? ratio : ratio * ratio);
  }

  onTrainBegin({ state }: TrainerCallbackEvent<SparseEncoder>): void {
    this.#warmupSteps = Math.max(Math.floor(state.max_steps * this.warmupRatio), 1);
    this.#set(this.#document, this.#query);
  }

  onStepBegin({ state }: TrainerCallbackEvent<SparseEncoder>): void {
    if (this.#warmupSteps === undefined) return;
    const step = state.global_step;
    const query = this.maxQueryRegularizerWeight === undefined ? undefined : this.weightAt(step, this.maxQueryRegularizerWeight);
    this.#set(this.weightAt(step, this.maxDocumentRegularizerWeight), query);
  }

  onLog({ logs }: TrainerCallbackEvent<SparseEncoder> & { logs: Record<string, number> }): void {
    logs["document_regularizer_weight"] = this.#document;
    if (this.#query !== undefined) logs["query_regularizer_weight"] = this.#query;
  }

  #set(document: number, query: number | undefined): void {
    this.#document = document;
    this.#query = query;
    this.loss.documentRegularizerWeight = document;
    this.loss.queryRegularizerWeight = query;
  }
}
