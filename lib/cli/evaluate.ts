/**
 * `sbert-node evaluate MODEL [CONFIG]`: runs one evaluator over a dataset and prints its metrics as JSON.
 * The evaluator comes from a config (a bare evaluator section, or a train config's `evaluator`) or from flags.
 */
import { dirname, resolve } from "node:path";

import { type CommandSpec, UsageError, choiceFlag, intFlag, numberFlag, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, THREADS_OPTION, loadModel } from "./common.js";
import { Section, readConfigFile } from "./config.js";
import { EVALUATOR_TYPES, buildEvaluator, checkEvaluatorSection } from "./specs.js";

export const evaluateSpec: CommandSpec = {
  name: "evaluate",
  summary: "Run an evaluator over a dataset and print the metrics as JSON.",
  usage: "MODEL [CONFIG.(json|yaml)] [options]",
  description: [
    "CONFIG holds an evaluator section ({type, path, split, columns, ...} as in train configs), or a train",
    "config whose `evaluator` is used; relative paths are taken from its folder. Without CONFIG the flags",
    "describe the evaluator; --dataset is then required. Output: {evaluator, primaryMetric, metrics}.",
  ].join("\n"),
  options: {
    dataset: { type: "string", value: "PATH", help: "Dataset file, folder, or Hub id (as loadDataset takes)." },
    split: { type: "string", value: "SPLIT", help: 'Split, e.g. "test" or "validation[:500]".' },
    subset: { type: "string", value: "NAME", help: "Config (subset) name of a Hub dataset." },
    type: { type: "string", value: "TYPE", help: `${EVALUATOR_TYPES.join(" | ")}\n(default EmbeddingSimilarityEvaluator).` },
    "sentences1-column": { type: "string", value: "COL", help: 'First sentence of each pair (default "sentence1").' },
    "sentences2-column": { type: "string", value: "COL", help: 'Second sentence of each pair (default "sentence2").' },
    "score-column": { type: "string", value: "COL", help: 'Gold similarity score (default "score").' },
    "score-scale": { type: "string", value: "X", help: "Multiply scores by X (e.g. 0.2 for 0–5 scores)." },
    "label-column": { type: "string", value: "COL", help: 'BinaryClassificationEvaluator: 0/1 label (default "label").' },
    "anchor-column": { type: "string", value: "COL", help: 'TripletEvaluator: anchor (default "anchor").' },
    "positive-column": { type: "string", value: "COL", help: 'TripletEvaluator: positive (default "positive").' },
    "negative-column": { type: "string", value: "COL", help: 'TripletEvaluator: negative (default "negative").' },
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
  ],
};

const FLAG_FIELDS: [flag: string, section: "columns" | "root", key: string][] = [
  ["sentences1-column", "columns", "sentences1"],
  ["sentences2-column", "columns", "sentences2"],
  ["score-column", "columns", "score"],
  ["label-column", "columns", "label"],
  ["anchor-column", "columns", "anchors"],
  ["positive-column", "columns", "positives"],
  ["negative-column", "columns", "negatives"],
];

/** The evaluator section the flags describe. */
function sectionFromFlags(v: Record<string, unknown>, cmd: string): Record<string, unknown> {
  const s = (k: string): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const type = choiceFlag(v as never, "type", EVALUATOR_TYPES, cmd) ?? "EmbeddingSimilarityEvaluator";
  const dataset = s("dataset");
  if (dataset === undefined) throw new UsageError("give a CONFIG file or --dataset", cmd);
  const out: Record<string, unknown> = { type, path: dataset };
  if (s("split")) out["split"] = s("split");
  if (s("subset")) out["name"] = s("subset");
  const columns: Record<string, string> = {};
  for (const [flagName, , key] of FLAG_FIELDS) {
    const val = s(flagName);
    if (val === undefined) continue;
    const allowed =
      type === "TripletEvaluator" ? ["anchors", "positives", "negatives"] : type === "BinaryClassificationEvaluator" ? ["sentences1", "sentences2", "label"] : ["sentences1", "sentences2", "score"];
    if (!allowed.includes(key)) throw new UsageError(`--${flagName} does not apply to ${type}`, cmd);
    columns[key] = val;
  }
  if (Object.keys(columns).length) out["columns"] = columns;
  const scale = numberFlag(v as never, "score-scale", cmd);
  if (scale !== undefined) {
    if (type !== "EmbeddingSimilarityEvaluator") throw new UsageError(`--score-scale does not apply to ${type}`, cmd);
    out["scoreScale"] = scale;
  }
  if (s("similarity")) out["similarityFnNames"] = s("similarity")!.split(",").map((x) => x.trim());
  if (s("name")) out["name"] = s("name");
  const batchSize = intFlag(v as never, "batch-size", cmd);
  if (batchSize !== undefined) out["batchSize"] = batchSize;
  const truncateDim = intFlag(v as never, "truncate-dim", cmd);
  if (truncateDim !== undefined) out["truncateDim"] = truncateDim;
  return out;
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  const cmd = "evaluate";
  const parsed = parseCommand(evaluateSpec, argv);
  const [modelName, configPath] = positionals(parsed, ["MODEL", "CONFIG"], cmd, 1);
  const v = parsed.values;
  let section: Section;
  let base: string;
  if (configPath !== undefined) {
    const describing = Object.keys(v).filter((k) => !["device", "threads", "output-path", "verbose", "help"].includes(k));
    if (describing.length) throw new UsageError(`--${describing[0]} describes the evaluator; with a CONFIG file, put it in the config`, cmd);
    const root = await readConfigFile(configPath);
    section = root["evaluator"] !== undefined ? Section.of(root["evaluator"], "evaluator") : new Section(root, "");
    base = dirname(resolve(configPath));
  } else {
    section = new Section(sectionFromFlags(v, cmd), "");
    base = process.cwd();
  }
  checkEvaluatorSection(section);
  const outputPath = str(v, "output-path");
  const model = await loadModel(modelName!, { device: str(v, "device"), threads: intFlag(v, "threads", cmd) });
  try {
    const built = await buildEvaluator(section, base, { writeCsv: outputPath !== undefined });
    const metrics = await built.evaluator.evaluate(model, outputPath !== undefined ? { outputPath: resolve(outputPath) } : {});
    process.stdout.write(`${JSON.stringify({ evaluator: built.type, rows: built.rows, primaryMetric: built.evaluator.primaryMetric, metrics }, null, 2)}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
