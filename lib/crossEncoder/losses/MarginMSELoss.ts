import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoderActivation } from "../activation.js";
import type { CrossEncoder } from "../CrossEncoder.js";
import { CrossEncoderLoss, type CrossEncoderLabelKind, type CrossEncoderLossBatch, describe, pairsWith } from "./CrossEncoderLoss.js";

export interface MarginMSELossOptions {
  /** Put on the logits before the margins are taken. Default identity. */
  activationFn?: CrossEncoderActivation | string;
}

/**
 * Distillation of a teacher's margins: for (query, positive, negative…) rows, the model's score of the positive pair
 * minus each negative pair's should equal the label. Labels are the margins (one number, or one per negative), or
 * the teacher's scores of the positive and then each negative.
 */
export class MarginMSELoss extends CrossEncoderLoss {
  readonly name = "MarginMSELoss";
  readonly columns = [3, Infinity] as const;
  readonly labelKind: CrossEncoderLabelKind = "margins";

  constructor(model: CrossEncoder, options: MarginMSELossOptions = {}) {
    super(model, options.activationFn, "identity", true);
  }

  nativeSpec(): NativeLossSpec {
    return this.spec("CrossEncoder.MarginMSELoss");
  }

  override checkLabel(label: unknown, where: string): void {
    const values = typeof label === "number" ? [label] : label;
    if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
      throw new RangeError(`${where}: ${this.name} needs a margin or a list of finite scores, got ${describe(label)}`);
    }
  }

  batch(values: unknown[][], labels: unknown[] | null): CrossEncoderLossBatch {
    const negatives = values.length - 2;
    const margins = new Float32Array(labels!.length * negatives);
    labels!.forEach((l, i) => {
      const row = typeof l === "number" ? [l] : (l as number[]);
      if (row.length === negatives + 1) {
        // The teacher's scores: positive first, then each negative.
        for (let n = 0; n < negatives; n++) margins[i * negatives + n] = row[0]! - row[n + 1]!;
      } else if (row.length === negatives) {
        margins.set(row, i * negatives);
      } else {
        throw new RangeError(`${this.name}: row ${i}'s label has ${row.length} values; with ${negatives} negative column(s) it needs ${negatives} margins or ${negatives + 1} scores`);
      }
    });
    return { pairs: values.slice(1).map((_, c) => pairsWith(values, c + 1)), labels: { data: margins, shape: [labels!.length, negatives] } };
  }
}
