export { Transformer, supportedModelTypes, type TransformerOptions, type TransformerFromConfigOptions } from "./Transformer.js";
export { Pooling, POOLING_MODES, type PoolingMode, type PoolingOptions } from "./Pooling.js";
export { Dense, type DenseOptions, type DenseActivation } from "./Dense.js";
export { Normalize } from "./Normalize.js";
export type { SentenceModule } from "./Module.js";
