export {
  type EmbeddingsInput,
  type ScoreFunction,
  type PairwiseScoreFunction,
  cosSim,
  dotScore,
  manhattanSim,
  euclideanSim,
  pairwiseCosSim,
  pairwiseDotScore,
  pairwiseManhattanSim,
  pairwiseEuclideanSim,
  normalizeEmbeddings,
} from "./similarity.js";
export {
  type SemanticSearchOptions,
  type SearchHit,
  type EncodingModel,
  type ParaphraseMiningOptions,
  type ParaphraseMiningEmbeddingsOptions,
  type CommunityDetectionOptions,
  semanticSearch,
  paraphraseMining,
  paraphraseMiningEmbeddings,
  communityDetection,
} from "./retrieval.js";
export {
  type SparseEmbedding,
  type SparseSemanticSearchOptions,
  isSparseEmbedding,
  sparseCosSim,
  sparseDotScore,
  sparseSemanticSearch,
  toDense,
  toSparse,
} from "./sparse.js";
export { type QuantizationPrecision, type QuantizeOptions, quantizeEmbeddings } from "./quantization.js";
export {
  type MineHardNegativesOptions,
  type HardNegativesOutputFormat,
  type HardNegativesSamplingStrategy,
  HARD_NEGATIVES_OUTPUT_FORMATS,
  HARD_NEGATIVES_SAMPLING_STRATEGIES,
  mineHardNegatives,
} from "./hardNegatives.js";
