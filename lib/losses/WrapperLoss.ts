import type { SentenceTransformer } from "../SentenceTransformer.js";
import { Loss, type Label, type LabelKind } from "./Loss.js";

/**
 * A loss that runs another (MatryoshkaLoss, AdaptiveLayerLoss): it takes the inner loss's columns, labels and
 * per-batch labels (a GIST guide's embeddings), and adds to its native spec.
 */
export abstract class WrapperLoss extends Loss {
  readonly loss: Loss;

  constructor(model: SentenceTransformer, loss: Loss, where: string) {
    super(model);
    if (!(loss instanceof Loss)) throw new TypeError(`${where}: loss must be another sbert-node loss`);
    this.loss = loss;
    if (loss.batchLabels) this.batchLabels = (columns) => loss.batchLabels!(columns);
  }

  get columns(): readonly [number, number] {
    return this.loss.columns;
  }

  get labelKind(): LabelKind {
    return this.loss.labelKind;
  }

  override checkLabel(label: Label, where: string): void {
    this.loss.checkLabel(label, where);
  }
}
