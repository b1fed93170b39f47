import type { NativeLossSpec } from "../../../types/native.js";
import type { CrossEncoderActivation } from "../activation.js";
import type { CrossEncoder, CrossEncoderPair } from "../CrossEncoder.js";
import { CrossEncoderLoss, type CrossEncoderLabelKind, type CrossEncoderLossBatch, checkOptionalPositiveInt, describe } from "./CrossEncoderLoss.js";

export interface ListwiseLossOptions {
  /** Put on the logits first. Default identity. */
  activationFn?: CrossEncoderActivation | string | null;
  /** Pairs scored per forward pass (kept for the configuration; the scores and gradients do not depend on it). */
  miniBatchSize?: number | null;
}

/**
 * The shared shape of the listwise losses: rows of (query, [documents…]) with one label per document. The pairs of a
 * batch go in one column, query by query; the labels become a [queries, most documents] matrix with -inf where a
 * query has fewer documents.
 */
export abstract class ListwiseLoss extends CrossEncoderLoss {
  readonly columns = [2, 2] as const;
  readonly labelKind: CrossEncoderLabelKind = "list";
  readonly miniBatchSize: number | null;

  constructor(model: CrossEncoder, options: ListwiseLossOptions) {
    super(model, options.activationFn, "identity", true);
    this.miniBatchSize = checkOptionalPositiveInt(options.miniBatchSize, "miniBatchSize", new.target.name);
  }

  override checkInput(value: unknown, column: number, where: string): void {
    if (column === 0) return super.checkInput(value, column, where);
    if (!Array.isArray(value) || value.length === 0 || value.some((d) => typeof d !== "string")) {
      throw new TypeError(`${where}: ${this.name} needs a non-empty list of document texts, got ${describe(value)}`);
    }
  }

  override checkLabel(label: unknown, where: string): void {
    if (!Array.isArray(label) || label.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
      throw new RangeError(`${where}: ${this.name} needs a list of finite scores, one per document, got ${describe(label)}`);
    }
  }

  batch(values: unknown[][], labels: unknown[] | null): CrossEncoderLossBatch {
    const queries = values[0] as string[];
    const docs = values[1] as string[][];
    const width = Math.max(...docs.map((d) => d.length));
    const matrix = new Float32Array(queries.length * width).fill(-Infinity);
    const pairs: CrossEncoderPair[] = [];
    docs.forEach((list, i) => {
      const scores = labels![i] as number[];
      if (scores.length !== list.length) throw new RangeError(`${this.name}: row ${i} has ${list.length} documents but ${scores.length} labels`);
      list.forEach((d, j) => {
        pairs.push([queries[i]!, d]);
        matrix[i * width + j] = scores[j]!;
      });
    });
    return { pairs: [pairs], labels: { data: matrix, shape: [queries.length, width] } };
  }

  override getConfigDict(): Record<string, unknown> {
    return { ...super.getConfigDict(), mini_batch_size: this.miniBatchSize };
  }
}

/** ListNet: cross-entropy between the softmax of each query's document scores and the softmax of their labels. */
export class ListNetLoss extends ListwiseLoss {
  readonly name = "ListNetLoss";

  constructor(model: CrossEncoder, options: ListwiseLossOptions = {}) {
    super(model, options);
  }

  nativeSpec(): NativeLossSpec {
    return this.spec("CrossEncoder.ListNetLoss");
  }
}
