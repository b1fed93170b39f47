/**
 * SparseEncoderTrainer: sentence-transformers' sparse-encoder trainer, which is its SentenceTransformerTrainer over
 * a SparseEncoder: the same loop, arguments, evaluation, checkpoints (checkpoint-N/ holding the model as
 * SparseEncoder.save writes it) and resume. The sparse embeddings are dense over the vocabulary while training;
 * SpladeLoss adds the FLOPS regularizers, whose weights SpladeRegularizerWeightSchedulerCallback raises from 0.
 */
import { Loss } from "../losses/Loss.js";
import { SentenceTransformerTrainer, type SentenceTransformerTrainerOptions } from "../SentenceTransformerTrainer.js";
import { SentenceTransformerTrainingArguments } from "../SentenceTransformerTrainingArguments.js";
import { SpladeRegularizerWeightSchedulerCallback } from "./callbacks/SpladeRegularizerWeightSchedulerCallback.js";
import { SparseMSELoss } from "./losses/SparseMSELoss.js";
import { SparseMultipleNegativesRankingLoss } from "./losses/SparseMultipleNegativesRankingLoss.js";
import { SpladeLoss } from "./losses/SpladeLoss.js";
import { SparseEncoder } from "./SparseEncoder.js";

const OP = "SparseEncoderTrainer";

/** The sparse-encoder trainer's arguments: SentenceTransformerTrainingArguments' names and defaults (as in Python). */
export class SparseEncoderTrainingArguments extends SentenceTransformerTrainingArguments {}

export type SparseEncoderTrainerOptions = SentenceTransformerTrainerOptions<SparseEncoder, Loss>;

/**
 * Trains a SparseEncoder: `new SparseEncoderTrainer({model, args, trainDataset, evalDataset, loss, evaluator})` then
 * `await trainer.train()`. The default loss is SpladeLoss over SparseMultipleNegativesRankingLoss with query and
 * document regularizer weights 5e-5 and 3e-5, as sentence-transformers'.
 */
export class SparseEncoderTrainer extends SentenceTransformerTrainer<SparseEncoder, Loss> {
  constructor(options: SparseEncoderTrainerOptions) {
    super(options);
    const losses = this.loss instanceof Loss ? [this.loss] : Object.values(this.loss);
    for (const loss of losses) {
      // The sparse versions of the bi-encoder losses train only under a regularizer (SparseMSELoss excepted).
      if (!(loss instanceof SpladeLoss) && loss.name.startsWith("Sparse") && !(loss instanceof SparseMSELoss)) {
        throw new TypeError(`${OP}: ${loss.name} should not be used alone: wrap it in a SpladeLoss`);
      }
      const scheduled = this.callbacks.some((c) => c instanceof SpladeRegularizerWeightSchedulerCallback && c.loss === loss);
      if (loss instanceof SpladeLoss && !scheduled) this.callbacks.unshift(new SpladeRegularizerWeightSchedulerCallback(loss));
    }
  }

  protected override get op(): string {
    return OP;
  }

  protected override checkModel(model: unknown): void {
    if (!(model instanceof SparseEncoder)) throw new TypeError(`${OP}: model must be a SparseEncoder`);
  }

  protected override defaultLoss(): Loss {
    return new SpladeLoss(this.model, new SparseMultipleNegativesRankingLoss(this.model), { queryRegularizerWeight: 5e-5, documentRegularizerWeight: 3e-5 });
  }

  protected override reloadWeights(dir: string, op: string): Promise<void> {
    return this.model.reloadWeights(dir, op);
  }
}
