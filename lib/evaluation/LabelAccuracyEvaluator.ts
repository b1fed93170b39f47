import { DataLoader } from "../DataLoader.js";
import { InputExample } from "../InputExample.js";
import { SoftmaxLoss } from "../losses/SoftmaxLoss.js";
import { appendCsvRow } from "./output.js";
import { type EvaluateOptions, type EvaluatedModel, SentenceEvaluator, checkModel, checkPositiveInt, embed } from "./SentenceEvaluator.js";

const OP = "LabelAccuracyEvaluator";

export interface LabelAccuracyEvaluatorOptions {
  /** The SoftmaxLoss whose classifier labels the pairs (trained with the model). */
  softmaxModel: SoftmaxLoss;
  name?: string;
  writeCsv?: boolean;
  /** Sentences per encode call. Default: the DataLoader's batch size, or 32 for a list of examples. */
  batchSize?: number;
  showProgressBar?: boolean;
}

/**
 * Accuracy of a SoftmaxLoss's classifier on labelled sentence pairs, as sentence-transformers'
 * LabelAccuracyEvaluator: both texts of each example are embedded with the evaluated model, the classifier's
 * features built as the loss builds them (u, v, |u − v|, u * v, per its concatenation options), and its argmax
 * compared with the example's label. Metric `accuracy` (also the primary metric), CSV
 * `accuracy_evaluation{_name}_results.csv`.
 */
export class LabelAccuracyEvaluator extends SentenceEvaluator {
  readonly examples: readonly InputExample[];
  readonly name: string;
  readonly softmaxModel: SoftmaxLoss;
  readonly writeCsv: boolean;
  readonly batchSize: number;
  readonly showProgressBar: boolean;
  readonly csvFile: string;
  readonly csvHeaders = ["epoch", "steps", "accuracy"];

  constructor(dataloader: DataLoader | readonly InputExample[], options: LabelAccuracyEvaluatorOptions) {
    super();
    if (typeof options !== "object" || options === null) throw new TypeError(`${OP}: options with softmaxModel (a SoftmaxLoss) are required`);
    if (!(options.softmaxModel instanceof SoftmaxLoss)) throw new TypeError(`${OP}: softmaxModel must be a SoftmaxLoss`);
    let examples: readonly InputExample[];
    if (dataloader instanceof DataLoader) examples = dataloader.examples;
    else if (Array.isArray(dataloader)) examples = dataloader;
    else throw new TypeError(`${OP}: dataloader must be a DataLoader or an array of InputExamples`);
    if (examples.length === 0) throw new RangeError(`${OP}: there are no examples to evaluate`);
    const loss = options.softmaxModel;
    examples.forEach((e, i) => {
      if (!(e instanceof InputExample)) throw new TypeError(`${OP}: examples[${i}] is not an InputExample`);
      if (e.texts.length !== 2) throw new RangeError(`${OP}: examples[${i}] has ${e.texts.length} texts; SoftmaxLoss classifies pairs (2 texts)`);
      const label = e.label;
      if (typeof label !== "number" || !Number.isInteger(label) || label < 0 || label >= loss.numLabels) {
        const got = typeof label === "number" ? String(label) : `a list of ${label.length} values`;
        throw new RangeError(`${OP}: examples[${i}].label must be a class of the SoftmaxLoss (an integer in 0..${loss.numLabels - 1}), got ${got}`);
      }
    });
    this.examples = [...examples];
    this.softmaxModel = loss;
    this.name = options.name ?? "";
    if (typeof this.name !== "string") throw new TypeError(`${OP}: name must be a string`);
    this.writeCsv = options.writeCsv ?? true;
    this.batchSize = checkPositiveInt(options.batchSize ?? (dataloader instanceof DataLoader ? dataloader.batchSize : 32), OP, "batchSize");
    this.showProgressBar = options.showProgressBar ?? false;
    this.csvFile = `accuracy_evaluation${this.name ? `_${this.name}` : ""}_results.csv`;
    this.primaryMetric = "accuracy";
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    checkModel(model, OP);
    const { outputPath, epoch = -1, steps = -1 } = options;
    const loss = this.softmaxModel;
    const classifier = loss.classifier;
    if (classifier === undefined) {
      throw new Error(`${OP}: the SoftmaxLoss has no classifier yet: it is created by a trainer (SentenceTransformerTrainer or fit) training with that loss; evaluate after, or during, training`);
    }
    // No prompt: the texts are embedded as the loss embeds them in training.
    const encodeOptions = { batchSize: this.batchSize, showProgressBar: this.showProgressBar, prompt: "" };
    const u = await embed(model, this.examples.map((e) => e.texts[0]!), encodeOptions, OP);
    const v = await embed(model, this.examples.map((e) => e.texts[1]!), encodeOptions, OP);
    const dim = loss.sentenceEmbeddingDimension;
    if (u[0]!.length !== dim) throw new RangeError(`${OP}: the model's embeddings have ${u[0]!.length} dimensions but the SoftmaxLoss was made for ${dim}`);

    const { weight, bias, inFeatures, outFeatures } = classifier;
    const features = new Float32Array(inFeatures);
    let correct = 0;
    for (let i = 0; i < this.examples.length; i++) {
      const a = u[i]!;
      const b = v[i]!;
      let o = 0;
      if (loss.concatenationSentRep) {
        features.set(a, o);
        features.set(b, o + dim);
        o += 2 * dim;
      }
      if (loss.concatenationSentDifference) {
        for (let d = 0; d < dim; d++) features[o + d] = Math.abs(a[d]! - b[d]!);
        o += dim;
      }
      if (loss.concatenationSentMultiplication) {
        for (let d = 0; d < dim; d++) features[o + d] = a[d]! * b[d]!;
        o += dim;
      }
      // torch.argmax: the first of equal maxima, and the first NaN above all.
      let best = 0;
      let bestLogit = -Infinity;
      for (let k = 0; k < outFeatures && !Number.isNaN(bestLogit); k++) {
        let logit = bias[k]!;
        const row = k * inFeatures;
        for (let f = 0; f < inFeatures; f++) logit += weight[row + f]! * features[f]!;
        if (logit > bestLogit || Number.isNaN(logit)) {
          best = k;
          bestLogit = logit;
        }
      }
      if (best === this.examples[i]!.label) correct++;
    }
    const accuracy = correct / this.examples.length;

    if (outputPath !== undefined && outputPath !== null && this.writeCsv) {
      await appendCsvRow(outputPath, this.csvFile, this.csvHeaders, [{ int: epoch }, { int: steps }, accuracy], "\r\n");
    }
    return this.prefixNameToMetrics({ accuracy }, this.name);
  }
}
