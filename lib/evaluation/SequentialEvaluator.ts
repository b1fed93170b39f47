import { type EvaluateOptions, type EvaluatedModel, SentenceEvaluator } from "./SentenceEvaluator.js";

export interface SequentialEvaluatorOptions {
  /** Turns the primary scores of the evaluators (in order) into `sequential_score`. Default: the last one. */
  mainScoreFunction?: (scores: number[]) => number;
}

/**
 * Runs several evaluators one after the other on the same model, as sbert's `SequentialEvaluator`: the result
 * holds every evaluator's metrics plus `sequential_score`, derived from their primary metrics, which is the
 * primary metric.
 */
export class SequentialEvaluator extends SentenceEvaluator {
  readonly evaluators: SentenceEvaluator[];
  readonly mainScoreFunction: (scores: number[]) => number;

  constructor(evaluators: SentenceEvaluator[], options: SequentialEvaluatorOptions = {}) {
    super();
    const op = "SequentialEvaluator";
    if (!Array.isArray(evaluators)) throw new TypeError(`${op}: evaluators must be an array of evaluators`);
    evaluators.forEach((e, i) => {
      if (!e || typeof e.evaluate !== "function") throw new TypeError(`${op}: evaluators[${i}] has no evaluate method`);
    });
    const main = options.mainScoreFunction ?? ((scores: number[]) => scores[scores.length - 1]!);
    if (typeof main !== "function") throw new TypeError(`${op}: mainScoreFunction must be a function`);
    this.evaluators = evaluators;
    this.mainScoreFunction = main;
    this.primaryMetric = "sequential_score";
  }

  override async evaluate(model: EvaluatedModel, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    const evaluations: Record<string, number>[] = [];
    const scores: number[] = [];
    for (const evaluator of this.evaluators) {
      const evaluation = await evaluator.evaluate(model, options);
      // Without a primary metric, sbert falls back to the first metric.
      const key = evaluator.primaryMetric ? evaluator.primaryMetric : Object.keys(evaluation)[0];
      if (key === undefined || !(key in evaluation)) {
        throw new RangeError(`SequentialEvaluator: an evaluator returned no "${key ?? ""}" metric (its primary metric)`);
      }
      scores.push(evaluation[key]!);
      evaluations.push(evaluation);
    }
    this.primaryMetric = "sequential_score";
    const results: Record<string, number> = Object.assign({}, ...evaluations);
    results["sequential_score"] = scores.length === 0 ? 0 : this.mainScoreFunction(scores);
    return results;
  }

  override get description(): string {
    return "Sequential";
  }
}
