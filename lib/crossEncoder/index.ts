/** sentence-transformers' `cross_encoder` package: the model, its trainer, its losses. */
export { CrossEncoder, CROSS_ENCODER_ACTIVATIONS } from "./CrossEncoder.js";
export type { CrossEncoderActivation, CrossEncoderLoadOptions, CrossEncoderPair, PredictOptions, RankOptions, RankResult } from "./CrossEncoder.js";
export { CrossEncoderTrainer, CrossEncoderTrainingArguments, type CrossEncoderTrainerOptions } from "./CrossEncoderTrainer.js";
export * as losses from "./losses/index.js";
export type { CrossEncoderFitOptions } from "./fit.js";
export * as evaluation from "./evaluation/index.js";
