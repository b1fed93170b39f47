/** sentence-transformers' `sparse_encoder.evaluation`: the dense evaluators on a SparseEncoder, with sparsity statistics. */
export { SparseBinaryClassificationEvaluator, type SparseBinaryClassificationEvaluatorOptions } from "./SparseBinaryClassificationEvaluator.js";
export { SparseEmbeddingSimilarityEvaluator, type SparseEmbeddingSimilarityEvaluatorOptions } from "./SparseEmbeddingSimilarityEvaluator.js";
export { SparseMSEEvaluator, type SparseMSEEvaluatorOptions } from "./SparseMSEEvaluator.js";
export { SparseInformationRetrievalEvaluator, type SparseInformationRetrievalEvaluatorOptions } from "./SparseInformationRetrievalEvaluator.js";
export { SparseNanoBEIREvaluator, type SparseNanoBEIREvaluatorOptions } from "./SparseNanoBEIREvaluator.js";
export { SparseRerankingEvaluator, type SparseRerankingEvaluatorOptions } from "./SparseRerankingEvaluator.js";
export { SparseTranslationEvaluator, type SparseTranslationEvaluatorOptions } from "./SparseTranslationEvaluator.js";
export { SparseTripletEvaluator, type SparseTripletEvaluatorOptions } from "./SparseTripletEvaluator.js";
export { SparsityRecorder, type SparsityRecord, appendToLastRow, sparsityStats } from "./sparsity.js";
