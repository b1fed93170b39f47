/**
 * CrossEncoderTrainer: sentence-transformers' cross-encoder trainer, which is its SentenceTransformerTrainer with a
 * cross-encoder and its losses. The loop, arguments, evaluation, checkpoints (checkpoint-N/ holding the model as
 * CrossEncoder.save writes it) and resume are SentenceTransformerTrainer's; what differs is how a batch becomes the
 * native step's inputs: each loss turns its dataset columns into the text pairs the model scores (one token batch
 * per pair column), and computes itself from their logits.
 */
import type { NativeModule, NativeTensorData, NativeTokenBatch } from "../../types/native.js";
import { seededRandom } from "../internal/random.js";
import { SentenceTransformerTrainer, type PreparedDataset, type SentenceTransformerTrainerOptions } from "../SentenceTransformerTrainer.js";
import { SentenceTransformerTrainingArguments } from "../SentenceTransformerTrainingArguments.js";
import type { CrossEncoder } from "./CrossEncoder.js";
import { BinaryCrossEntropyLoss } from "./losses/BinaryCrossEntropyLoss.js";
import { CrossEncoderLoss } from "./losses/CrossEncoderLoss.js";
import { CrossEntropyLoss } from "./losses/CrossEntropyLoss.js";

const OP = "CrossEncoderTrainer";

/** The cross-encoder trainer's arguments: SentenceTransformerTrainingArguments' names and defaults (as in Python). */
export class CrossEncoderTrainingArguments extends SentenceTransformerTrainingArguments {}

export type CrossEncoderTrainerOptions = SentenceTransformerTrainerOptions<CrossEncoder, CrossEncoderLoss>;

/**
 * Trains a CrossEncoder: `new CrossEncoderTrainer({model, args, trainDataset, evalDataset, loss, evaluator})` then
 * `await trainer.train()`. The default loss is BinaryCrossEntropyLoss for a model with one label, CrossEntropyLoss
 * otherwise.
 */
export class CrossEncoderTrainer extends SentenceTransformerTrainer<CrossEncoder, CrossEncoderLoss> {
  // Draws of the losses that sample (MultipleNegativesRankingLoss's in-batch negatives), seeded by args.seed.
  #random: (() => number) | undefined;

  protected override get op(): string {
    return OP;
  }

  protected override checkModel(model: unknown): void {
    const m = model as Partial<CrossEncoder> | null | undefined;
    if (!m || typeof m.predict !== "function" || typeof m.tokenizePairs !== "function") throw new TypeError(`${OP}: model must be a CrossEncoder`);
  }

  protected override checkArgs(): void {
    if (this.args.prompts !== undefined) throw new RangeError(`${OP}: args.prompts is set, but cross-encoder training takes no prompts`);
    if (Object.keys(this.args.routerMapping).length > 0) throw new RangeError(`${OP}: args.routerMapping is set, but a cross-encoder has no Router`);
  }

  protected override defaultLoss(): CrossEncoderLoss {
    return this.model.numLabels === 1 ? new BinaryCrossEntropyLoss(this.model) : new CrossEntropyLoss(this.model);
  }

  protected override nativeModules(): NativeModule[] {
    return this.model.trainingModules.map((m) => m.native);
  }

  protected override checkInput(loss: CrossEncoderLoss, value: unknown, column: number, where: string): void {
    if (!(loss instanceof CrossEncoderLoss)) throw new TypeError(`${OP}: the loss ${(loss as { name?: string }).name} is not a cross-encoder loss (crossEncoder.losses)`);
    loss.checkInput(value, column, where);
  }

  protected override batchInputs(p: PreparedDataset<CrossEncoderLoss>, rows: number[]): { columns: NativeTokenBatch[]; labels: NativeTensorData | null } {
    const batch = rows.map((i) => p.rows[i]!);
    const values = p.inputColumns.map((c) => batch.map((r) => r[c]));
    const labels = p.labelColumn === undefined || p.loss.labelKind === "none" ? null : batch.map((r) => r[p.labelColumn!]);
    this.#random ??= seededRandom(this.args.seed);
    const { pairs, labels: tensor } = p.loss.batch(values, labels, this.#random);
    return { columns: pairs.map((column) => this.model.tokenizePairs(column)), labels: tensor };
  }

  protected override reloadWeights(dir: string, op: string): Promise<void> {
    return this.model.reloadWeights(dir, op);
  }
}
