// The raw addon surface (native/addon.cc), typed once. Library code reaches it only through lib/native.ts.

export interface NativeBertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  hiddenAct: string;
  layerNormEps: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  padTokenId: number;
  initializerRange: number;
}

export interface NativeDenseConfig {
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  /** gelu, relu, tanh, sigmoid, silu, identity */
  activation: string;
}

export interface NativeTensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** absolute byte offsets in the file */
  begin: number;
  end: number;
  /** With a stride, [begin, end) is a whole storage and the tensor a view into it (torch.save checkpoints). */
  stride?: number[];
  storageOffset?: number;
}

/** Where each tensor's bytes lie; null builds the module with fresh weights. */
export type NativeWeights = { files: { path: string; tensors: NativeTensorSpec[] }[] } | null;

export interface NativeLoadOptions {
  device: string;
  /** seeds the initialisation when weights is null */
  seed: number;
}

export interface NativeModule {
  readonly kind: "transformer" | "pooling" | "dense" | "normalize";
  readonly device: string;
  readonly disposed: boolean;
  /** float32 copies of the weights under their checkpoint keys */
  stateDict(): { name: string; shape: number[]; data: Float32Array }[];
  parameterCount(): number;
  /** moves the weights to another device (synchronous) */
  to(device: string): void;
  dispose(): void;
}

export interface NativeTokenBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  batchSize: number;
  seqLength: number;
  promptLength?: number;
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export interface NativeInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDeviceCount: number;
  mkldnn: boolean;
  numThreads: number;
  parallelInfo: string;
  config: string;
}

export interface NativeAddon {
  loadTransformer(
    config: NativeBertConfig,
    weights: NativeWeights,
    options: NativeLoadOptions,
  ): Promise<{ module: NativeModule; ignoredKeys: string[] }>;
  loadDense(
    config: NativeDenseConfig,
    weights: NativeWeights,
    options: NativeLoadOptions,
  ): Promise<{ module: NativeModule; ignoredKeys: string[] }>;
  createDense(config: NativeDenseConfig, options: NativeLoadOptions): { module: NativeModule; ignoredKeys: string[] };
  createPooling(config: { modes: string[]; includePrompt: boolean }): NativeModule;
  createNormalize(): NativeModule;
  encode(
    modules: NativeModule[],
    batch: NativeTokenBatch,
    options: { output: "sentence_embedding" | "token_embeddings"; normalize: boolean; truncateDim: number },
  ): Promise<NativeTensor>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  info(): NativeInfo;
}
