export {
  SimilarityFunction,
  possibleSimilarityValues,
  toSimilarityFn,
  toSimilarityPairwiseFn,
} from "./SimilarityFunction.js";
export {
  type EvaluatedModel,
  type EvaluationEncodeOptions,
  type EvaluateOptions,
  SentenceEvaluator,
} from "./SentenceEvaluator.js";
export { pearson, spearman, rankAverage, averagePrecision, matthewsCorrcoef, ndcgScore } from "./stats.js";
export { type EmbeddingSimilarityEvaluatorOptions, EmbeddingSimilarityEvaluator } from "./EmbeddingSimilarityEvaluator.js";
export {
  type BinaryClassificationEvaluatorOptions,
  type BinaryClassificationScores,
  BinaryClassificationEvaluator,
  findBestAccAndThreshold,
  findBestF1AndThreshold,
} from "./BinaryClassificationEvaluator.js";
export { type TripletEvaluatorOptions, TripletEvaluator } from "./TripletEvaluator.js";
export {
  type InformationRetrievalEvaluatorOptions,
  type RetrievalScores,
  InformationRetrievalEvaluator,
} from "./InformationRetrievalEvaluator.js";
export {
  type NanoBEIRDatasetName,
  type NanoBEIREvaluatorOptions,
  type NanoBEIRRetrievalOptions,
  NANOBEIR_DATASETS,
  NANOBEIR_DEFAULT_DATASET_ID,
  NanoBEIREvaluator,
  loadNanoBEIRSplit,
  numpyMean,
} from "./NanoBEIREvaluator.js";
export { type SequentialEvaluatorOptions, SequentialEvaluator } from "./SequentialEvaluator.js";
export { type MSEEvaluatorOptions, MSEEvaluator } from "./MSEEvaluator.js";
export { type TranslationEvaluatorOptions, TranslationEvaluator } from "./TranslationEvaluator.js";
export {
  type ParaphraseMiningEvaluatorOptions,
  type SentenceId,
  ParaphraseMiningEvaluator,
} from "./ParaphraseMiningEvaluator.js";
export { type RerankingEvaluatorOptions, type RerankingSample, RerankingEvaluator } from "./RerankingEvaluator.js";
export { type LabelAccuracyEvaluatorOptions, LabelAccuracyEvaluator } from "./LabelAccuracyEvaluator.js";
