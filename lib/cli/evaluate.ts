/**
 * `sbert-node evaluate MODEL [CONFIG]`: runs one evaluator over a dataset and prints its metrics as JSON.
 * The evaluator comes from a config (a bare evaluator section, or a train config's `evaluator`) or from flags.
 * MODEL is a SentenceTransformer or, for the cross-encoder evaluators, a cross-encoder (see isCrossEncoderFolder), or,
 * for the sparse evaluators, a SparseEncoder (see isSparseEncoderFolder).
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

import { setNumThreads } from "../backend.js";
import { CrossEncoder, isCrossEncoderFolder } from "../crossEncoder/CrossEncoder.js";
import { resolveModelFolder } from "../hub/index.js";
import { SentenceTransformer } from "../SentenceTransformer.js";
import { SparseEncoder } from "../sparseEncoder/SparseEncoder.js";
import { type CommandSpec, UsageError, choiceFlag, intFlag, numberFlag, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, THREADS_OPTION, localOrId } from "./common.js";
import { Section, readConfigFile } from "./config.js";
import { EVALUATOR_TYPES, type EvaluatorType, type ModelType, buildEvaluator, checkEvaluatorSection, evaluatorColumns, evaluatorModelType } from "./specs.js";

/** Module types only a SparseEncoder has (sentence-transformers 5's and 6's names end the same). */
const SPARSE_MODULES = /\.(SpladePooling|MLMTransformer|SparseStaticEmbedding|SparseAutoEncoder)$/;

/**
 * Whether a folder holds a SparseEncoder: config_sentence_transformers.json says so (model_type), or modules.json
 * lists one of its modules (a Router's routes are not looked into: such models say their model_type).
 */
export async function isSparseEncoderFolder(dir: string): Promise<boolean> {
  const json = async (name: string): Promise<unknown> => {
    try {
      return JSON.parse(await readFile(join(dir, name), "utf8"));
    } catch {
      return undefined;
    }
  };
  const config = (await json("config_sentence_transformers.json")) as { model_type?: unknown } | undefined;
  if (config?.model_type === "SparseEncoder") return true;
  const modules = await json("modules.json");
  return Array.isArray(modules) && modules.some((m) => typeof m?.type === "string" && SPARSE_MODULES.test(m.type));
}

const MODEL_WORDS: Record<ModelType, string> = {
  "sentence-transformer": "SentenceTransformers (bi-encoders)",
  "cross-encoder": "cross-encoders",
  "sparse-encoder": "SparseEncoders (sparse models such as SPLADE)",
};
const MODEL_WORD: Record<ModelType, string> = {
  "sentence-transformer": "a SentenceTransformer",
  "cross-encoder": "a cross-encoder",
  "sparse-encoder": "a SparseEncoder",
};

/** The evaluator a MODEL of each kind gets without --type. */
const DEFAULT_TYPES: Record<ModelType, EvaluatorType> = {
  "sentence-transformer": "EmbeddingSimilarityEvaluator",
  "cross-encoder": "CrossEncoderCorrelationEvaluator",
  "sparse-encoder": "SparseEmbeddingSimilarityEvaluator",
};

export const evaluateSpec: CommandSpec = {
  name: "evaluate",
  summary: "Run an evaluator over a dataset and print the metrics as JSON.",
  usage: "MODEL [CONFIG.(json|yaml)] [options]",
  description: [
    "CONFIG holds an evaluator section ({type, path, split, columns, ...} as in train configs), or a train",
    "config whose `evaluator` is used; relative paths are taken from its folder. Without CONFIG the flags",
    "describe the evaluator; --dataset is then required. Output: {evaluator, primaryMetric, metrics}.",
    "The CrossEncoder* evaluators take a cross-encoder MODEL (a *ForSequenceClassification folder, or one whose",
    "config_sentence_transformers.json says CrossEncoder); without --type, such a MODEL gets",
    "CrossEncoderCorrelationEvaluator. CrossEncoderRerankingEvaluator reads a query, a positive (a text or a",
    "list) and a list of negatives or of first-stage documents per row (JSON lines, say).",
    "The Sparse* evaluators take a SparseEncoder MODEL (SPLADE); without --type, such a MODEL gets",
    "SparseEmbeddingSimilarityEvaluator (SparseBinaryClassificationEvaluator and SparseTripletEvaluator read",
    "what their dense versions do). SparseInformationRetrievalEvaluator reads a query, a positive and",
    "(optionally) a negative per row: the distinct positives and negatives are the corpus. Their metrics add",
    "the embeddings' active dimensions and sparsity ratio; --max-active-dims keeps each embedding's largest.",
  ].join("\n"),
  options: {
    dataset: { type: "string", value: "PATH", help: "Dataset file, folder, or Hub id (as loadDataset takes)." },
    split: { type: "string", value: "SPLIT", help: 'Split, e.g. "test" or "validation[:500]".' },
    subset: { type: "string", value: "NAME", help: "Config (subset) name of a Hub dataset." },
    type: {
      type: "string",
      value: "TYPE",
      help: `${EVALUATOR_TYPES.join(" | ")}\n(default EmbeddingSimilarityEvaluator; CrossEncoderCorrelationEvaluator for a cross-encoder;\nSparseEmbeddingSimilarityEvaluator for a SparseEncoder).`,
    },
    "sentences1-column": { type: "string", value: "COL", help: 'First sentence of each pair (default "sentence1").' },
    "sentences2-column": { type: "string", value: "COL", help: 'Second sentence of each pair (default "sentence2").' },
    "score-column": { type: "string", value: "COL", help: 'Gold similarity score (default "score").' },
    "score-scale": { type: "string", value: "X", help: "Multiply scores by X (e.g. 0.2 for 0–5 scores)." },
    "label-column": { type: "string", value: "COL", help: 'BinaryClassificationEvaluator: 0/1 label (default "label").' },
    "anchor-column": { type: "string", value: "COL", help: 'TripletEvaluator: anchor (default "anchor").' },
    "positive-column": { type: "string", value: "COL", help: 'TripletEvaluator: positive (default "positive").' },
    "negative-column": { type: "string", value: "COL", help: 'TripletEvaluator: negative (default "negative"); CrossEncoderRerankingEvaluator: list of negatives.' },
    "query-column": { type: "string", value: "COL", help: 'CrossEncoderRerankingEvaluator, SparseInformationRetrievalEvaluator: query (default "query").' },
    "max-active-dims": { type: "string", value: "N", help: "Sparse* evaluators: keep each embedding's N largest values (default: the model's)." },
    "documents-column": { type: "string", value: "COL", help: "CrossEncoderRerankingEvaluator: first-stage documents, best first (instead of negatives)." },
    "at-k": { type: "string", value: "K", help: "CrossEncoderRerankingEvaluator: MRR@K and NDCG@K (default 10)." },
    similarity: { type: "string", value: "LIST", help: "Similarities to report, comma-separated: cosine,dot,euclidean,manhattan." },
    name: { type: "string", value: "NAME", help: "Evaluator name (prefixes the metric keys)." },
    "batch-size": { type: "string", value: "N", help: "Encoding batch size." },
    "truncate-dim": { type: "string", value: "N", help: "Evaluate the first N dimensions only." },
    "output-path": { type: "string", value: "DIR", help: "Also append the results CSV in DIR." },
    device: DEVICE_OPTION,
    threads: THREADS_OPTION,
  },
  examples: [
    "sbert-node evaluate ./my-model --dataset sts-test.csv --score-scale 0.2",
    "sbert-node evaluate ./my-model eval.yaml",
    "sbert-node evaluate ./my-reranker --type CrossEncoderRerankingEvaluator --dataset rerank.jsonl --at-k 5",
  ],
};

/** Each column flag and the `columns` key it sets, for the evaluator types it applies to. */
const COLUMN_FLAGS: Record<string, Partial<Record<EvaluatorType, string>>> = {
  "sentences1-column": {
    EmbeddingSimilarityEvaluator: "sentences1",
    BinaryClassificationEvaluator: "sentences1",
    CrossEncoderCorrelationEvaluator: "sentences1",
    CrossEncoderClassificationEvaluator: "sentences1",
    SparseEmbeddingSimilarityEvaluator: "sentences1",
    SparseBinaryClassificationEvaluator: "sentences1",
  },
  "sentences2-column": {
    EmbeddingSimilarityEvaluator: "sentences2",
    BinaryClassificationEvaluator: "sentences2",
    CrossEncoderCorrelationEvaluator: "sentences2",
    CrossEncoderClassificationEvaluator: "sentences2",
    SparseEmbeddingSimilarityEvaluator: "sentences2",
    SparseBinaryClassificationEvaluator: "sentences2",
  },
  "score-column": { EmbeddingSimilarityEvaluator: "score", CrossEncoderCorrelationEvaluator: "score", SparseEmbeddingSimilarityEvaluator: "score" },
  "label-column": { BinaryClassificationEvaluator: "label", CrossEncoderClassificationEvaluator: "label", SparseBinaryClassificationEvaluator: "label" },
  "anchor-column": { TripletEvaluator: "anchors", SparseTripletEvaluator: "anchors" },
  "positive-column": {
    TripletEvaluator: "positives",
    CrossEncoderRerankingEvaluator: "positive",
    SparseInformationRetrievalEvaluator: "positive",
    SparseTripletEvaluator: "positives",
  },
  "negative-column": {
    TripletEvaluator: "negatives",
    CrossEncoderRerankingEvaluator: "negative",
    SparseInformationRetrievalEvaluator: "negative",
    SparseTripletEvaluator: "negatives",
  },
  "query-column": { CrossEncoderRerankingEvaluator: "query", SparseInformationRetrievalEvaluator: "query" },
  "documents-column": { CrossEncoderRerankingEvaluator: "documents" },
};

/** The evaluator section the flags describe; `defaultType` when --type is not given. */
function sectionFromFlags(v: Record<string, unknown>, cmd: string, defaultType: EvaluatorType): Record<string, unknown> {
  const s = (k: string): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const type = choiceFlag(v as never, "type", EVALUATOR_TYPES, cmd) ?? defaultType;
  const dataset = s("dataset");
  if (dataset === undefined) throw new UsageError("give a CONFIG file or --dataset", cmd);
  const only = (flagName: string, ...types: EvaluatorType[]): void => {
    if (v[flagName] !== undefined && !types.includes(type)) throw new UsageError(`--${flagName} does not apply to ${type}`, cmd);
  };
  const out: Record<string, unknown> = { type, path: dataset };
  if (s("split")) out["split"] = s("split");
  if (s("subset")) out["name"] = s("subset");
  const columns: Record<string, string> = {};
  for (const [flagName, keys] of Object.entries(COLUMN_FLAGS)) {
    const val = s(flagName);
    if (val === undefined) continue;
    const key = keys[type];
    if (key === undefined || !evaluatorColumns(type).includes(key)) throw new UsageError(`--${flagName} does not apply to ${type}`, cmd);
    columns[key] = val;
  }
  if (Object.keys(columns).length) out["columns"] = columns;
  only("score-scale", "EmbeddingSimilarityEvaluator", "CrossEncoderCorrelationEvaluator", "SparseEmbeddingSimilarityEvaluator");
  const scale = numberFlag(v as never, "score-scale", cmd);
  if (scale !== undefined) out["scoreScale"] = scale;
  only(
    "similarity",
    "EmbeddingSimilarityEvaluator",
    "BinaryClassificationEvaluator",
    "TripletEvaluator",
    "SparseEmbeddingSimilarityEvaluator",
    "SparseBinaryClassificationEvaluator",
    "SparseTripletEvaluator",
  );
  if (s("similarity")) out["similarityFnNames"] = s("similarity")!.split(",").map((x) => x.trim());
  if (s("name")) out["name"] = s("name");
  const batchSize = intFlag(v as never, "batch-size", cmd);
  if (batchSize !== undefined) out["batchSize"] = batchSize;
  only("truncate-dim", "EmbeddingSimilarityEvaluator", "BinaryClassificationEvaluator", "TripletEvaluator");
  const truncateDim = intFlag(v as never, "truncate-dim", cmd);
  if (truncateDim !== undefined) out["truncateDim"] = truncateDim;
  only("at-k", "CrossEncoderRerankingEvaluator");
  const atK = intFlag(v as never, "at-k", cmd);
  if (atK !== undefined) out["atK"] = atK;
  only("max-active-dims", "SparseEmbeddingSimilarityEvaluator", "SparseInformationRetrievalEvaluator", "SparseBinaryClassificationEvaluator", "SparseTripletEvaluator");
  const maxActiveDims = intFlag(v as never, "max-active-dims", cmd);
  if (maxActiveDims !== undefined) out["maxActiveDims"] = maxActiveDims;
  return out;
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  const cmd = "evaluate";
  const parsed = parseCommand(evaluateSpec, argv);
  const [modelName, configPath] = positionals(parsed, ["MODEL", "CONFIG"], cmd, 1);
  const v = parsed.values;
  let section: Section;
  let base: string;
  let folder: string | undefined;
  let modelKind: ModelType | undefined;
  // Which kind of model MODEL is (a Hub id is downloaded to tell).
  const kind = async (): Promise<ModelType> => {
    folder ??= await resolveModelFolder(await localOrId(modelName!));
    modelKind ??= (await isCrossEncoderFolder(folder)) ? "cross-encoder" : (await isSparseEncoderFolder(folder)) ? "sparse-encoder" : "sentence-transformer";
    return modelKind;
  };
  if (configPath !== undefined) {
    const describing = Object.keys(v).filter((k) => !["device", "threads", "output-path", "verbose", "help"].includes(k));
    if (describing.length) throw new UsageError(`--${describing[0]} describes the evaluator; with a CONFIG file, put it in the config`, cmd);
    const root = await readConfigFile(configPath);
    section = root["evaluator"] !== undefined ? Section.of(root["evaluator"], "evaluator") : new Section(root, "");
    base = dirname(resolve(configPath));
  } else {
    const defaultType = v["type"] === undefined ? DEFAULT_TYPES[await kind()] : "EmbeddingSimilarityEvaluator";
    section = new Section(sectionFromFlags(v, cmd, defaultType), "");
    base = process.cwd();
  }
  const type = checkEvaluatorSection(section);
  const wants = evaluatorModelType(type);
  const has = await kind();
  if (wants !== has) throw new UsageError(`${type} evaluates ${MODEL_WORDS[wants]}, but ${modelName} is ${MODEL_WORD[has]}`, cmd);
  const outputPath = str(v, "output-path");
  const threads = intFlag(v, "threads", cmd);
  if (threads !== undefined) setNumThreads(threads);
  const device = str(v, "device");
  const loadOptions = device !== undefined ? { device } : {};
  const model =
    wants === "cross-encoder"
      ? await CrossEncoder.load(folder!, loadOptions)
      : wants === "sparse-encoder"
        ? await SparseEncoder.load(folder!, loadOptions)
        : await SentenceTransformer.load(folder!, loadOptions);
  try {
    const built = await buildEvaluator(section, base, { writeCsv: outputPath !== undefined });
    const options = outputPath !== undefined ? { outputPath: resolve(outputPath) } : {};
    const metrics =
      built.modelType === "cross-encoder"
        ? await built.evaluator.evaluate(model as CrossEncoder, options)
        : built.modelType === "sparse-encoder"
          ? await built.evaluator.evaluate(model as SparseEncoder, options)
          : await built.evaluator.evaluate(model as SentenceTransformer, options);
    process.stdout.write(`${JSON.stringify({ evaluator: built.type, rows: built.rows, primaryMetric: built.evaluator.primaryMetric, metrics }, null, 2)}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
