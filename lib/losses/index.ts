export { Loss, type LabelKind, type Label, type SimilarityFctName, type DistanceMetricName } from "./Loss.js";
export { CosineSimilarityLoss, CoSENTLoss, AnglELoss, type CosineSimilarityLossOptions, type CoSENTLossOptions } from "./similarity.js";
export {
  MultipleNegativesRankingLoss,
  MultipleNegativesSymmetricRankingLoss,
  CachedMultipleNegativesRankingLoss,
  type MultipleNegativesRankingLossOptions,
  type CachedMultipleNegativesRankingLossOptions,
} from "./ranking.js";
export {
  ContrastiveLoss,
  OnlineContrastiveLoss,
  TripletLoss,
  BatchHardTripletLoss,
  type ContrastiveLossOptions,
  type TripletLossOptions,
  type BatchHardTripletLossOptions,
} from "./contrastive.js";
export { SoftmaxLoss, type SoftmaxLossOptions } from "./SoftmaxLoss.js";
export { MSELoss } from "./MSELoss.js";
export { MatryoshkaLoss, type MatryoshkaLossOptions } from "./MatryoshkaLoss.js";
