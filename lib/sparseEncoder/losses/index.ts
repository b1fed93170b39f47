/** sentence-transformers' `sparse_encoder.losses`: SpladeLoss and its regularizer, and the losses it wraps. */
export { FlopsLoss, type FlopsLossOptions } from "./FlopsLoss.js";
export { SpladeLoss, type SpladeLossOptions } from "./SpladeLoss.js";
export { SparseAnglELoss } from "./SparseAnglELoss.js";
export { SparseCoSENTLoss } from "./SparseCoSENTLoss.js";
export { SparseCosineSimilarityLoss } from "./SparseCosineSimilarityLoss.js";
export { SparseMSELoss } from "./SparseMSELoss.js";
export { SparseMarginMSELoss } from "./SparseMarginMSELoss.js";
export { SparseDistillKLDivLoss } from "./SparseDistillKLDivLoss.js";
export { SparseMultipleNegativesRankingLoss } from "./SparseMultipleNegativesRankingLoss.js";
export { SparseTripletLoss } from "./SparseTripletLoss.js";
