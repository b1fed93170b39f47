/** sentence-transformers' `sparse_encoder` package: the model and its modules, its trainer and its losses. */
export { MLMTransformer, type MLMTransformerOptions } from "./MLMTransformer.js";
export { SparseAutoEncoder, type SparseAutoEncoderOptions } from "./SparseAutoEncoder.js";
export { SparseEncoder } from "./SparseEncoder.js";
export { SparseStaticEmbedding } from "./SparseStaticEmbedding.js";
export type { SparseEmbedding, SparseEncodeOptions, SparseEncoderLoadOptions, SparseOrDense, SparseSimilarityFnName } from "./SparseEncoder.js";
export { SPLADE_ACTIVATIONS, SPLADE_POOLING_STRATEGIES, SpladePooling } from "./SpladePooling.js";
export type { SpladeActivation, SpladePoolingOptions, SpladePoolingStrategy } from "./SpladePooling.js";
export { MASKED_LM_HEADS, type MaskedLmHeadBiases, type MaskedLmHeadKeys } from "./mlmHeads.js";
export { SparseEncoderTrainer, SparseEncoderTrainingArguments, type SparseEncoderTrainerOptions } from "./SparseEncoderTrainer.js";
export {
  SpladeRegularizerWeightSchedulerCallback,
  type SpladeRegularizerWeightSchedulerCallbackOptions,
  type SpladeWeightSchedulerType,
} from "./callbacks/SpladeRegularizerWeightSchedulerCallback.js";
export * as losses from "./losses/index.js";
export * as evaluation from "./evaluation/index.js";
