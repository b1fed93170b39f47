import {
  type PairwiseScoreFunction,
  type ScoreFunction,
  cosSim,
  dotScore,
  euclideanSim,
  manhattanSim,
  pairwiseCosSim,
  pairwiseDotScore,
  pairwiseEuclideanSim,
  pairwiseManhattanSim,
} from "../util/similarity.js";

/** sbert's `SimilarityFunction` enum: the values are the strings sbert stores (e.g. `similarity_fn_name`). */
export const SimilarityFunction = {
  COSINE: "cosine",
  DOT_PRODUCT: "dot",
  DOT: "dot",
  EUCLIDEAN: "euclidean",
  MANHATTAN: "manhattan",
} as const;

export type SimilarityFunction = (typeof SimilarityFunction)[keyof typeof SimilarityFunction];

const VALUES: readonly SimilarityFunction[] = ["cosine", "dot", "euclidean", "manhattan"];

/** The accepted values, as `SimilarityFunction.possible_values()`. */
export function possibleSimilarityValues(): SimilarityFunction[] {
  return [...VALUES];
}

/** Checks `value` is a similarity function name; `where` names the argument in the error. */
export function toSimilarityFunction(value: unknown, where: string): SimilarityFunction {
  if (typeof value !== "string" || !(VALUES as readonly string[]).includes(value)) {
    throw new RangeError(`${where} must be one of ${VALUES.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as SimilarityFunction;
}

/** The matrix function of a similarity, as `SimilarityFunction.to_similarity_fn`. */
export function toSimilarityFn(similarity: SimilarityFunction): ScoreFunction {
  switch (toSimilarityFunction(similarity, "toSimilarityFn: similarity")) {
    case "cosine":
      return cosSim;
    case "dot":
      return dotScore;
    case "euclidean":
      return euclideanSim;
    case "manhattan":
      return manhattanSim;
  }
}

/** The pairwise function of a similarity, as `SimilarityFunction.to_similarity_pairwise_fn`. */
export function toSimilarityPairwiseFn(similarity: SimilarityFunction): PairwiseScoreFunction {
  switch (toSimilarityFunction(similarity, "toSimilarityPairwiseFn: similarity")) {
    case "cosine":
      return pairwiseCosSim;
    case "dot":
      return pairwiseDotScore;
    case "euclidean":
      return pairwiseEuclideanSim;
    case "manhattan":
      return pairwiseManhattanSim;
  }
}
