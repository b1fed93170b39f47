import type { NativeLossSpec } from "../../types/native.js";
import { checkOneOf, checkPositive, describe, Loss, type EmbeddingModel, type Label, type LabelKind, type SimilarityFctName } from "./Loss.js";
import { pairwiseName } from "./MarginMSELoss.js";

export interface DistillKLDivLossOptions {
  /** How a query scores a passage: "dot" (default, sentence-transformers' pairwise_dot_score) or "cosine". */
  similarityFct?: SimilarityFctName;
  /** Divides both the student's and the teacher's scores before their softmax. Default 1. */
  temperature?: number;
  /** The student's own temperature (default `temperature`); the loss is multiplied by its square. */
  studentTemperature?: number;
  /** The teacher's own temperature (default `temperature`). */
  teacherTemperature?: number;
}

/**
 * Distillation by KL divergence (Lin et al., 2020): for (query, positive, negative…) rows, the softmax of the
 * model's scores of the candidates should match the softmax of the teacher's. The label holds the teacher's
 * score of each candidate column, in order (positive, then each negative); -Infinity leaves a candidate out. The
 * divergence is averaged over rows and multiplied by the student temperature squared, so that the gradients keep
 * their size when the temperature softens the distributions.
 */
export class DistillKLDivLoss extends Loss {
  readonly name: string = "DistillKLDivLoss";
  readonly columns: readonly [number, number] = [3, Infinity];
  readonly labelKind: LabelKind = "scores";
  readonly similarityFct: SimilarityFctName;
  readonly temperature: number;
  readonly studentTemperature: number;
  readonly teacherTemperature: number;

  constructor(model: EmbeddingModel, options: DistillKLDivLossOptions = {}) {
    super(model);
    const where = new.target.name;
    this.similarityFct = checkOneOf(options.similarityFct ?? "dot", ["dot", "cosine"], "similarityFct", where);
    this.temperature = checkPositive(options.temperature ?? 1, "temperature", where);
    this.studentTemperature = checkPositive(options.studentTemperature ?? this.temperature, "studentTemperature", where);
    this.teacherTemperature = checkPositive(options.teacherTemperature ?? this.temperature, "teacherTemperature", where);
  }

  override checkLabel(label: Label, where: string): void {
    if (!(Array.isArray(label) || label instanceof Float32Array) || label.length < 2) {
      throw new RangeError(`${where}: ${this.name} needs the teacher's scores of the candidates (positive, then each negative) as a list of 2 or more numbers, got ${describe(label)}`);
    }
    for (const v of label) {
      // -Infinity is a candidate the teacher rules out; NaN or +Infinity would make the loss NaN.
      if (typeof v !== "number" || Number.isNaN(v) || v === Infinity) throw new RangeError(`${where}: ${this.name} needs numbers as teacher scores (-Infinity leaves a candidate out), got ${String(v)}`);
    }
    if (Array.from(label).every((v) => v === -Infinity)) throw new RangeError(`${where}: every teacher score is -Infinity; at least one candidate must be scored`);
  }

  nativeSpec(): NativeLossSpec {
    return { loss: "DistillKLDivLoss", similarity: this.similarityFct, studentTemperature: this.studentTemperature, teacherTemperature: this.teacherTemperature };
  }

  getConfigDict(): Record<string, unknown> {
    const config: Record<string, unknown> = { similarity_fct: pairwiseName(this.similarityFct), temperature: this.temperature };
    if (this.studentTemperature !== this.temperature) config.student_temperature = this.studentTemperature;
    if (this.teacherTemperature !== this.temperature) config.teacher_temperature = this.teacherTemperature;
    return config;
  }
}
