export { type EvaluatedCrossEncoder, CrossEncoderEvaluator } from "./CrossEncoderEvaluator.js";
export {
  type CrossEncoderRerankingEvaluatorOptions,
  type RerankingSample,
  CrossEncoderRerankingEvaluator,
} from "./CrossEncoderRerankingEvaluator.js";
export { type CrossEncoderCorrelationEvaluatorOptions, CrossEncoderCorrelationEvaluator } from "./CrossEncoderCorrelationEvaluator.js";
export { type CrossEncoderClassificationEvaluatorOptions, CrossEncoderClassificationEvaluator } from "./CrossEncoderClassificationEvaluator.js";
export {
  type CrossEncoderNanoBEIREvaluatorOptions,
  type NanoBEIRDatasetName,
  CrossEncoderNanoBEIREvaluator,
  NANOBEIR_DATASETS,
} from "./CrossEncoderNanoBEIREvaluator.js";
