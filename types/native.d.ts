// The raw addon surface (native/addon.cc), typed once. Library code reaches it only through lib/native.ts.

/** config.json as parsed, for the architecture its model_type names; `file` names it in error messages. */
export interface NativeEncoderConfig {
  config: Record<string, unknown>;
  file: string;
}

/** What a built encoder says of itself. */
export interface NativeEncoderInfo {
  modelType: string;
  /** written as config.json's `architectures` on save, e.g. "BertModel" */
  modelClass: string;
  /** rows of the token embedding matrix: token ids must stay below it */
  vocabSize: number;
  hiddenSize: number;
  /** the longest input its position embeddings allow */
  maxTokens: number;
  /** token types it reads; 0 when it reads none */
  typeVocabSize: number;
  layers: number;
  heads: number;
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
  readonly kind: "transformer" | "pooling" | "dense" | "normalize" | "router" | NativeStModuleKind;
  readonly device: string;
  readonly disposed: boolean;
  /** float32 copies of the weights under their checkpoint keys */
  stateDict(): { name: string; shape: number[]; data: Float32Array }[];
  parameterCount(): number;
  /** every parameter (checkpoint names), its shape and whether training updates it */
  namedParameters(): { name: string; shape: number[]; requiresGrad: boolean }[];
  /** whether training updates the named parameters; an unknown name throws and changes nothing */
  setRequiresGrad(names: string[], requiresGrad: boolean): void;
  /** replaces the weights from a checkpoint (all keys checked first); resolves to the keys not used */
  loadWeights(weights: NonNullable<NativeWeights>): Promise<string[]>;
  /** inference precision of the module's linear layers */
  setPrecision(precision: "float32" | "int8" | "bf16"): void;
  /** transformer modules only: the architecture's facts */
  encoderInfo(): NativeEncoderInfo;
  /** transformer modules only: adds a LoRA adapter (freezing the encoder's own weights); resolves the adapted layers' paths */
  addAdapter(config: NativeLoraConfig): string[];
  /** transformer modules only: the adapter's weights, keyed `<module path>.lora_A.weight` */
  adapterStateDict(): { name: string; shape: number[]; data: Float32Array }[];
  /** transformer modules only: replaces every adapter weight from a checkpoint (keys with or without `base_model.model.`) */
  loadAdapter(weights: NonNullable<NativeWeights>): Promise<void>;
  /** transformer modules only: folds the adapter into the base weights and removes it */
  mergeAdapter(): void;
  /** moves the weights to another device (synchronous) */
  to(device: string): void;
  dispose(): void;
}

export interface NativeLoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  useRslora: boolean;
  /** matched as peft matches a list: the whole module path or its last components; ["all-linear"]: every linear layer */
  targetModules: string[];
  /** peft's target_modules given as one string: a regular expression over the whole path ("" when a list is given) */
  targetRegex: string;
  seed: number;
}

export interface NativeTokenBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  batchSize: number;
  seqLength: number;
  promptLength?: number;
  /** the Router route the batch takes; left out: the Router's default route */
  route?: string;
  /** the most latents a SparseAutoEncoder keeps for this batch; left out: its own k */
  maxActiveDims?: number;
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export type LinearBackend = "auto" | "blas" | "onednn";

export interface NativeSetting {
  name: string;
  /** the environment variable that gives its default */
  env: string;
  kind: "boolean" | "integer" | "choice";
  min?: number;
  max?: number;
  choices?: string[];
  doc: string;
  value: boolean | number | string;
  source: "default" | "environment" | "api";
}

export interface NativeInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDeviceCount: number;
  mkldnn: boolean;
  /** Whether the "auto" linear backend runs sbert-node's own kernels here (few-row linear layers, attention, GELU, residual LayerNorm). */
  ownKernels: boolean;
  /** the instruction set they run on: "generic", "avx2" or "avx512" */
  kernelIsa: string;
  /** what the CPU offers them */
  cpuFeatures: string;
  numThreads: number;
  /** the caching CPU allocator: free blocks kept for reuse, blocks in use, reuse counts */
  cpuCache: { cachedBytes: number; inUseBytes: number; hits: number; misses: number };
  /** OpenBLAS's own pool size (0 when the BLAS is not OpenBLAS) */
  blasThreads: number;
  /** encode batches that run side by side: the encodeConcurrency setting, by default min(cores, libuv pool size) */
  concurrency: number;
  parallelInfo: string;
  config: string;
}

/** One objective's loss. Options a loss does not use are ignored. */
export interface NativeLossSpec {
  loss:
    | "CosineSimilarityLoss"
    | "CoSENTLoss"
    | "AnglELoss"
    | "MultipleNegativesRankingLoss"
    | "MultipleNegativesSymmetricRankingLoss"
    | "SoftmaxLoss"
    | "ContrastiveLoss"
    | "OnlineContrastiveLoss"
    | "TripletLoss"
    | "BatchHardTripletLoss"
    | "MSELoss"
    | "MarginMSELoss"
    | "DistillKLDivLoss"
    | "GISTEmbedLoss"
    | "MegaBatchMarginLoss"
    | "CrossEncoder.BinaryCrossEntropyLoss"
    | "CrossEncoder.CrossEntropyLoss"
    | "CrossEncoder.MSELoss"
    | "CrossEncoder.MarginMSELoss"
    | "CrossEncoder.MultipleNegativesRankingLoss"
    | "CrossEncoder.ListNetLoss"
    | "CrossEncoder.LambdaLoss";
  scale?: number;
  margin?: number;
  sizeAverage?: boolean;
  /** CosineSimilarityLoss: "mse" | "l1" */
  lossFct?: string;
  /** CosineSimilarityLoss: "identity" | "relu" */
  cosScoreTransformation?: string;
  similarity?: "cosine" | "dot";
  distance?: "cosine" | "euclidean" | "manhattan";
  numLabels?: number;
  concatRep?: boolean;
  concatDiff?: boolean;
  concatMul?: boolean;
  /** SoftmaxLoss: the sentence embedding size, and the seed of the classifier's initial weights */
  embeddingDimension?: number;
  seed?: number;
  /** > 0: gradient cache in mini-batches of this size */
  miniBatchSize?: number;
  /** MultipleNegativesRankingLoss in distributed training: candidates from every rank. */
  gatherAcrossDevices?: boolean;
  matryoshkaDims?: number[];
  matryoshkaWeights?: number[];
  matryoshkaDimsPerStep?: number;
  /** Cross-encoder losses: the activation put on the logits first (a Dense activation name) */
  activation?: string;
  /** CrossEncoder.BinaryCrossEntropyLoss: the positive term's weight */
  posWeight?: number;
  /** CrossEncoder.LambdaLoss */
  weightingScheme?: "none" | "NDCGLoss1Scheme" | "NDCGLoss2Scheme" | "LambdaRankScheme" | "NDCGLoss2PPScheme";
  mu?: number;
  k?: number;
  sigma?: number;
  eps?: number;
  reductionLog?: "natural" | "binary";
  /** DistillKLDivLoss: the student's and the teacher's temperatures (default 1) */
  studentTemperature?: number;
  teacherTemperature?: number;
  /** GISTEmbedLoss: scores divided by this (default 0.01) */
  temperature?: number;
  /** GISTEmbedLoss: how `margin` lowers the positive's guide score into the bound above which candidates are dropped */
  marginStrategy?: "absolute" | "relative";
  /** GISTEmbedLoss: anchor-anchor and positive-positive similarities among the candidates (default true) */
  contrastAnchors?: boolean;
  contrastPositives?: boolean;
  /** MegaBatchMarginLoss: the cosine a positive should reach (default 0.8) and the hardest negative stay under (0.3) */
  positiveMargin?: number;
  negativeMargin?: number;
  /** AdaptiveLayerLoss around the loss above: the loss on earlier layers' embeddings too, and their KL divergence from the last's */
  adaptiveLayer?: {
    nLayersPerStep: number;
    lastLayerWeight: number;
    priorLayersWeight: number;
    klDivWeight: number;
    klTemperature: number;
    layerWeighting: "uniform" | "log" | "linear";
  };
  /** SpladeLoss around the loss above: FLOPS regularizers on the sparse embeddings (thresholds null: none). */
  splade?: {
    documentRegularizerWeight: number;
    /** null: no query term */
    queryRegularizerWeight: number | null;
    documentRegularizerThreshold: number | null;
    queryRegularizerThreshold: number | null;
    useDocumentRegularizerOnly: boolean;
  };
}

/** A SpladeLoss's regularizer weights for one batch (query null: no query term). */
export interface NativeRegularizerWeights {
  document: number;
  query: number | null;
}

/** A batch's loss; a loss made of several parts (SpladeLoss) also names each, as it enters the sum. */
export interface NativeLossValue {
  loss: number;
  terms?: Record<string, number>;
}

export interface NativeOptimizerConfig {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  maxGradNorm: number;
  scheduler: string;
  warmupSteps: number;
  totalSteps: number;
  /** transformers' lr_scheduler_kwargs, as the native schedules take them (rates are fractions of lr) */
  schedule?: { numCycles?: number; power?: number; endRate?: number; minLrRate?: number; timescale?: number };
  useAmp: boolean;
  /** Layers recompute their activations in backward instead of keeping them (default false). */
  gradientCheckpointing?: boolean;
  /** seeds the trainer's own generator (training's dropout draws from it) */
  seed: number;
}

export interface NativeTensorData {
  data: Float32Array;
  shape: number[];
}

export interface NativeStepResult {
  loss: number;
  /** the learning rate of this step */
  lr: number;
  /** optimizer steps taken, this one included */
  step: number;
  /** the gradients' total norm before clipping */
  gradNorm: number;
}

export interface NativeProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** Rank 0's host; rank 0 serves the rendezvous store there. */
  masterAddr: string;
  masterPort: number;
  /** How long a collective waits for the other ranks before failing. */
  timeoutMs: number;
}

/** One rank's membership in a distributed training group. Collectives must be made by every rank, in the same order. */
export interface NativeProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** Elementwise sum (or max) of `values` over the ranks. */
  allreduce(values: number[], op?: "sum" | "max"): Promise<number[]>;
  barrier(): Promise<void>;
  dispose(): void;
}

/** A native trainer as one rank: gradients averaged over the group before each optimizer step, in buckets. */
export interface NativeDataParallel {
  group: NativeProcessGroup;
  bucketBytes: number;
}

export interface NativeTrainer {
  /** One optimizer step on one batch: `columns` holds one token batch per text column. */
  step(objective: number, columns: NativeTokenBatch[], labels: NativeTensorData | null): Promise<NativeStepResult>;
  /**
   * Forward and backward of one batch, its gradients times `scale` added to those accumulated since the last
   * optimizer step (no update); resolves to the batch's unscaled loss. A loss that is not finite discards them all.
   */
  accumulate(
    objective: number,
    columns: NativeTokenBatch[],
    labels: NativeTensorData | null,
    scale: number,
    weights?: NativeRegularizerWeights,
    /** No batch follows before optimizerStep: a distributed run averages gradients during this backward pass. */
    lastOfStep?: boolean,
  ): Promise<NativeLossValue>;
  /** Clipping, AdamW and the schedule over the accumulated gradients, then cleared (`loss` is 0 here). */
  optimizerStep(): Promise<NativeStepResult>;
  /** The loss of one batch in inference mode (no dropout, no gradients). */
  evalLoss(objective: number, columns: NativeTokenBatch[], labels: NativeTensorData | null, weights?: NativeRegularizerWeights): Promise<NativeLossValue>;
  readonly stepCount: number;
  /** Seconds spent averaging gradients over the ranks without overlapping computation (0 in one process). */
  readonly communicationSeconds: number;
  lrAt(step: number): number;
  /** AdamW moments (`exp_avg.<i>.<key>`, `exp_avg_sq.<i>.<key>`) and loss heads (`head<j>.<key>`) */
  state(): { name: string; shape: number[]; data: Float32Array }[];
  loadState(tensors: { name: string; shape: number[]; data: Float32Array }[], stepCount: number): void;
  /** the trainer's generator state (saved in checkpoints) */
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  dispose(): void;
}

/** Entry points for the tests only: native pieces checked on their own. Not part of the library's API. */
export interface NativeTesting {
  lossAndGrad(
    spec: NativeLossSpec,
    embeddings: NativeTensorData[],
    labels: NativeTensorData | null,
    head: { weight: NativeTensorData; bias: NativeTensorData } | null,
  ): NativeLossValue & { grads: { name: string; shape: number[]; data: Float32Array }[]; headGrads?: { name: string; shape: number[]; data: Float32Array }[] };
  /** x after training's dropout (each element zeroed with probability p, the rest scaled by 1 / (1 - p)); for checks of the noise */
  dropout(x: NativeTensorData, p: number): NativeTensor;
  /** how a linear layer's product runs for these facts (ops::choose_linear_path) */
  chooseLinearPath(query: {
    inference: boolean;
    rows: number;
    precision: "float32" | "int8" | "bf16";
    backend: "auto" | "blas" | "onednn";
    ownKernels: boolean;
    isa: "generic" | "avx2" | "avx512";
    /** libtorch's oneDNN multiplies plain float32 weights (libtorch >= 2.0 built with oneDNN) */
    onednnPlain: boolean;
  }): "aten" | "blas" | "panels" | "int8-panels" | "onednn" | "onednn-int8" | "bf16";
  /** how a new linear layer [out, in] keeps its weight for these facts (ops::choose_weight_layout) */
  chooseWeightLayout(query: { isa: "generic" | "avx2" | "avx512"; onednnPlain: boolean; in: number; out: number }): "column-major" | "row-major";
  /** the check setPrecision makes, on the CPU features given instead of this CPU's: throws where they cannot run `precision` */
  checkPrecision(precision: "float32" | "int8" | "bf16", cpu: { avx512Bf16: boolean; amxBf16: boolean }): void;
  /** libtorch's default CPU generator, which dropout above draws from */
  manualSeed(seed: number): void;
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
}

export interface NativeAddon {
  createTrainer(modules: NativeModule[], objectives: NativeLossSpec[], optimizer: NativeOptimizerConfig, parallel?: NativeDataParallel): NativeTrainer;
  /** Joins a distributed training group (c10d, Gloo over TCP): resolves once every rank has joined. */
  createProcessGroup(options: NativeProcessGroupOptions): Promise<NativeProcessGroup>;
  /** Whether this build has a CPU process group (it was built with Gloo's headers). */
  distributedAvailable(): boolean;
  readonly _testing: NativeTesting;
  loadTransformer(
    config: NativeEncoderConfig,
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
  /** frees the blocks the caching CPU allocator keeps */
  emptyCache(): void;
  /** the model_types loadTransformer accepts */
  architectures(): string[];
  /** the names native code accepts where TypeScript keeps a typed list too */
  schemas(): { poolingModes: string[]; schedulers: string[]; activations: string[]; outputValues: string[]; losses: string[]; modelTypes: string[]; linearPrecisions: string[]; spladePoolingStrategies: string[]; spladeActivations: string[] };
  /** every process-wide setting: its spec (the one authority on what it takes), value and where that came from */
  settings(): NativeSetting[];
  getSetting(name: string): boolean | number | string;
  /** checked natively against the setting's spec; an Input error names the setting and what it takes */
  setSetting(name: string, value: boolean | number | string): void;
  getNumThreads(): number;
  info(): NativeInfo;
}

/** The further sentence-transformers modules (native/st_modules.h), by kind, with what each is built from. */
export interface NativeStModuleConfigs {
  layer_norm: { dimension: number; eps: number; bias: boolean };
  /** the token read by a decoder's sequence-classification score; padTokenId null: config.json sets none */
  last_non_pad_token: { padTokenId: number | null };
  dropout: { p: number };
  weighted_layer_pooling: { numHiddenLayers: number; layerStart: number };
  word_embeddings: { numEmbeddings: number; dimension: number; updateEmbeddings: boolean };
  word_weights: { vocabSize: number };
  cnn: { inDimension: number; outChannels: number; kernelSizes: number[] };
  lstm: { embeddingDimension: number; hiddenDim: number; numLayers: number; dropout: number; bidirectional: boolean };
  static_embedding: { numEmbeddings: number; dimension: number };
  /** a *ForMaskedLM prediction head (native/sparse.h); activation as config.json's hidden_act spells it; which layers have a bias */
  mlm_head: { hiddenSize: number; vocabSize: number; activation: string; layerNormEps: number; denseBias: boolean; layerNormBias: boolean; decoderBias: boolean };
  splade_pooling: { poolingStrategy: string; activationFunction: string };
  sparse_static_embedding: { vocabSize: number };
  /** sentence-transformers' SparseAutoEncoder (native/sparse_auto_encoder.h) */
  sparse_auto_encoder: { inputDim: number; hiddenDim: number; k: number; normalize: boolean };
}
export type NativeStModuleKind = keyof NativeStModuleConfigs;

export interface NativeAddon {
  /** a new module: its weights the given tensors (every key checked), or with null freshly initialised from the seed */
  createModule<K extends NativeStModuleKind>(
    kind: K,
    config: NativeStModuleConfigs[K],
    options: NativeLoadOptions,
    tensors: { name: string; shape: number[]; data: Float32Array }[] | null,
  ): { module: NativeModule; ignoredKeys: string[] };
  /** a module with a checkpoint's weights, read off the JS thread */
  loadModule<K extends NativeStModuleKind>(
    kind: K,
    config: NativeStModuleConfigs[K],
    weights: NonNullable<NativeWeights>,
    options: NativeLoadOptions,
  ): Promise<{ module: NativeModule; ignoredKeys: string[] }>;
  /** a Router over existing module handles (shared, not copied); defaultRoute "" for none */
  createRouter(routes: { name: string; modules: NativeModule[] }[], defaultRoute: string): NativeModule;
  /**
   * an encoder and its masked-LM head (an mlm_head module) run as one pipeline module, both handles shared; with
   * `tiedKey`, the head's decoder weight becomes the encoder's parameter of that name where their values are equal
   */
  createMlmTransformer(transformer: NativeModule, head: NativeModule, tiedKey?: string): NativeModule;
}
