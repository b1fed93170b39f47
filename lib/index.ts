export { SentenceTransformer, LINEAR_PRECISIONS } from "./SentenceTransformer.js";
export type { EncodeOptions, EmbeddingOf, LinearPrecision, LoadOptions, Precision, SaveOptions, SentenceTransformerOptions, SimilarityFnName } from "./SentenceTransformer.js";
export { MultiProcessPool, type MultiProcessPoolOptions, type PoolProcess } from "./multiProcess/MultiProcessPool.js";
export { CrossEncoder, CROSS_ENCODER_ACTIVATIONS } from "./crossEncoder/CrossEncoder.js";
export type { CrossEncoderActivation, CrossEncoderLoadOptions, CrossEncoderPair, PredictOptions, RankOptions, RankResult } from "./crossEncoder/CrossEncoder.js";
export { CrossEncoderTrainer, CrossEncoderTrainingArguments, type CrossEncoderTrainerOptions } from "./crossEncoder/CrossEncoderTrainer.js";
export * as crossEncoder from "./crossEncoder/index.js";
export { SparseAutoEncoder, SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments, SpladePooling } from "./sparseEncoder/index.js";
export type { SparseEmbedding, SparseEncodeOptions, SparseEncoderLoadOptions, SparseOrDense, SparseSimilarityFnName } from "./sparseEncoder/index.js";
export * as sparseEncoder from "./sparseEncoder/index.js";
export * as models from "./models/index.js";
export * as losses from "./losses/index.js";
export * as evaluation from "./evaluation/index.js";
export * as datasets from "./datasets/index.js";
export { loadDataset, type LoadDatasetOptions } from "./datasets/loadDataset.js";
export { Dataset } from "./datasets/Dataset.js";
export * as hub from "./hub/index.js";
export { InputExample, type InputExampleInit } from "./InputExample.js";
export { DataLoader, type DataLoaderOptions } from "./DataLoader.js";
export type { FitOptions, FitResult, FitEvaluator, TrainingLogEntry, EvaluationLogEntry } from "./fit.js";
export {
  SentenceTransformerTrainer,
  TrainerControl,
  type SentenceTransformerTrainerOptions,
  type TrainerCallback,
  type TrainerCallbackEvent,
  type TrainerEvaluator,
  type TrainableModel,
  type TrainingLoss,
  type TrainerState,
  type TrainOptions,
  type TrainOutput,
} from "./SentenceTransformerTrainer.js";
export {
  SentenceTransformerTrainingArguments,
  type SentenceTransformerTrainingArgumentsInit,
  type IntervalStrategy,
  type SaveStrategy,
  type LrSchedulerType,
  type TrainingPrompts,
  type RouterMapping,
} from "./SentenceTransformerTrainingArguments.js";
export { BatchSamplers, MultiDatasetBatchSamplers, type BatchSamplerName, type MultiDatasetBatchSamplerName } from "./sampler.js";
export * as util from "./util/index.js";
export { SbertError, type SbertErrorCode } from "./errors.js";
export { Tokenizer, type EncodedBatch, type TextInput } from "./tokenization/Tokenizer.js";
export {
  setNumThreads,
  getNumThreads,
  backendInfo,
  settings,
  type Setting,
  LINEAR_BACKENDS,
  setLinearBackend,
  getLinearBackend,
  KERNEL_ISAS,
  type KernelIsa,
  setKernelIsa,
  getKernelIsa,
  setSplitBatches,
  getSplitBatches,
  setCpuCacheLimit,
  getCpuCacheLimit,
  setMallocTuning,
  getMallocTuning,
  setBlasThreads,
  getBlasThreads,
  setEncodeConcurrency,
  getEncodeConcurrency,
  emptyCache,
} from "./backend.js";
export { createServer } from "./server/index.js";
export type { LoraConfig } from "./peft/LoraConfig.js";
