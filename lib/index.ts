export { SentenceTransformer } from "./SentenceTransformer.js";
export type { EncodeOptions, EmbeddingOf, LoadOptions, Precision, SaveOptions, SentenceTransformerOptions, SimilarityFnName } from "./SentenceTransformer.js";
export * as models from "./models/index.js";
export * as util from "./util/index.js";
export { SbertError, type SbertErrorCode } from "./errors.js";
export { Tokenizer, type EncodedBatch, type TextInput } from "./tokenization/Tokenizer.js";
export { setNumThreads, getNumThreads, backendInfo } from "./backend.js";
