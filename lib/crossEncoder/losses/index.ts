export { CrossEncoderLoss, PairLoss, type CrossEncoderLabelKind, type CrossEncoderLossBatch } from "./CrossEncoderLoss.js";
export { BinaryCrossEntropyLoss, type BinaryCrossEntropyLossOptions } from "./BinaryCrossEntropyLoss.js";
export { CrossEntropyLoss, type CrossEntropyLossOptions } from "./CrossEntropyLoss.js";
export { MSELoss, type MSELossOptions } from "./MSELoss.js";
export { MarginMSELoss, type MarginMSELossOptions } from "./MarginMSELoss.js";
export { MultipleNegativesRankingLoss, type MultipleNegativesRankingLossOptions } from "./MultipleNegativesRankingLoss.js";
export { CachedMultipleNegativesRankingLoss, type CachedMultipleNegativesRankingLossOptions } from "./CachedMultipleNegativesRankingLoss.js";
export { ListNetLoss, ListwiseLoss, type ListwiseLossOptions } from "./ListNetLoss.js";
export { LambdaLoss, LAMBDA_WEIGHTING_SCHEMES, type LambdaLossOptions, type LambdaWeightingScheme } from "./LambdaLoss.js";
