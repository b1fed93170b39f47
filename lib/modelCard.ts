/**
 * The README.md model card written on every save: YAML front matter the Hugging Face Hub reads
 * (`library_name: sentence-transformers`, `pipeline_tag: sentence-similarity`, tags, base model, datasets,
 * metrics and a model-index with the evaluation results), the architecture, usage from TypeScript and from
 * Python, and what the last training run used and logged.
 */
import { native } from "./native.js";
import type { TrainingSummary } from "./fit.js";
import { Dense } from "./models/Dense.js";
import { Normalize } from "./models/Normalize.js";
import { Pooling } from "./models/Pooling.js";
import { Transformer } from "./models/Transformer.js";
import type { SentenceTransformer } from "./SentenceTransformer.js";
import { VERSION } from "./version.js";

export interface ModelCardOptions {
  modelName?: string;
  datasets?: string[];
}

/** JSON strings are YAML strings, and safe for any text. */
const y = (s: string): string => JSON.stringify(s);

function cell(v: unknown): string {
  // A loss without labels (MultipleNegativesRankingLoss) leaves the label cell empty.
  const text = typeof v === "string" ? v : typeof v === "number" ? formatNumber(v) : (JSON.stringify(v) ?? "");
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

function prettyMetric(key: string): string {
  return key
    .split("_")
    .map((w) => (w.length ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join(" ");
}

function architecture(model: SentenceTransformer): string[] {
  return model.modules.map((m, i) => {
    if (m instanceof Transformer) {
      return `  (${i}): Transformer({'max_seq_length': ${m.maxSeqLength}, 'do_lower_case': ${m.doLowerCase ? "True" : "False"}}) with Transformer model: BertModel`;
    }
    if (m instanceof Pooling) return `  (${i}): Pooling(${JSON.stringify(m.getConfigDict())})`;
    if (m instanceof Dense) return `  (${i}): Dense(${JSON.stringify(m.getConfigDict())})`;
    if (m instanceof Normalize) return `  (${i}): Normalize()`;
    return `  (${i}): ${String(m)}`;
  });
}

function frontMatter(model: SentenceTransformer, t: TrainingSummary | undefined, name: string, datasets: string[]): string[] {
  const lines = ["---", "library_name: sentence-transformers", "pipeline_tag: sentence-similarity", "tags:"];
  const tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "sbert-node"];
  if (t) {
    const size = t.objectives.reduce((a, o) => a + o.examples, 0);
    tags.push(`dataset_size:${size}`, ...new Set(t.objectives.map((o) => `loss:${o.loss}`)));
  }
  lines.push(...tags.map((tag) => `- ${y(tag)}`));
  if (model.baseModel) lines.push(`base_model: ${y(model.baseModel)}`);
  if (datasets.length) lines.push("datasets:", ...datasets.map((d) => `- ${y(d)}`));
  const last = t?.evaluations.at(-1);
  if (last) {
    const metrics = Object.entries(last.metrics).filter(([, v]) => Number.isFinite(v));
    lines.push("metrics:", ...metrics.map(([k]) => `- ${y(k)}`));
    lines.push(
      "model-index:",
      `- name: ${y(name)}`,
      "  results:",
      "  - task:",
      "      type: semantic-similarity",
      "      name: Semantic Similarity",
      "    dataset:",
      `      name: ${y(datasets[0] ?? "evaluation")}`,
      `      type: ${y(datasets[0] ?? "evaluation")}`,
      "    metrics:",
      ...metrics.flatMap(([k, v]) => [`    - type: ${y(k)}`, `      value: ${v}`, `      name: ${y(prettyMetric(k))}`]),
    );
  }
  lines.push("---");
  return lines;
}

export function trainingSection(t: TrainingSummary): string {
  const out: string[] = ["## Training Details", ""];
  t.objectives.forEach((o, i) => {
    out.push(`### Training Dataset${t.objectives.length > 1 ? ` ${i + 1}` : ""}`, "");
    out.push(`* Size: ${o.examples} training examples, batch size ${o.batchSize}`);
    const columns = o.samples[0]?.texts.length ?? 0;
    const head = [...Array.from({ length: columns }, (_, c) => `text ${c + 1}`), "label"];
    out.push("* Samples:", "", `  | ${head.join(" | ")} |`, `  |${head.map(() => ":---").join("|")}|`);
    for (const s of o.samples) out.push(`  | ${[...s.texts.map(cell), cell(s.label)].join(" | ")} |`);
    out.push("", `* Loss: \`${o.loss}\` with these parameters:`, "", "  ```json", ...JSON.stringify(o.lossConfig, null, 2).split("\n").map((l) => `  ${l}`), "  ```", "");
  });
  out.push("### Training Hyperparameters", "", "Non-default values:", "");
  for (const [k, v] of Object.entries(t.hyperparameters)) out.push(`- \`${k}\`: ${JSON.stringify(v)}`);
  out.push("");
  if (t.log.length) {
    const metric = t.primaryMetric;
    out.push("### Training Logs", "", `| Epoch | Step | Training Loss |${metric ? ` ${metric} |` : ""}`, `|:---:|:---:|:---:|${metric ? ":---:|" : ""}`);
    // One row per evaluation (or every ~10% of the run without an evaluator), loss averaged since the row before.
    const rows: { epoch: number; step: number; loss: number; score?: number }[] = [];
    let from = 0;
    const flush = (upTo: number, score?: number) => {
      const slice = t.log.filter((l) => l.step > from && l.step <= upTo);
      if (!slice.length) return;
      rows.push({ epoch: slice.at(-1)!.epoch, step: upTo, loss: slice.reduce((a, l) => a + l.loss, 0) / slice.length, score });
      from = upTo;
    };
    if (t.evaluations.length) {
      for (const e of t.evaluations) flush(e.globalStep, metric ? e.metrics[metric] : undefined);
    } else {
      const every = Math.max(1, Math.ceil(t.log.length / 10));
      for (let s = every; s < t.log.at(-1)!.step + every; s += every) flush(Math.min(s, t.log.at(-1)!.step));
    }
    for (const r of rows) out.push(`| ${r.epoch.toFixed(4)} | ${r.step} | ${r.loss.toFixed(4)} |${metric ? ` ${r.score === undefined ? "-" : r.score.toFixed(4)} |` : ""}`);
    out.push("");
  }
  return out.join("\n");
}

/** The last evaluation's metrics as a table (empty without evaluations). */
export function evaluationSection(t: TrainingSummary): string {
  const last = t.evaluations.at(-1);
  if (!last) return "";
  return [
    "## Evaluation",
    "",
    `Results of the last evaluation (epoch ${last.epoch}, step ${last.steps}):`,
    "",
    "| Metric | Value |",
    "|:---|:---|",
    ...Object.entries(last.metrics).map(([k, v]) => `| ${k} | ${formatNumber(v)} |`),
    "",
    "",
  ].join("\n");
}

export function modelCard(model: SentenceTransformer, options: ModelCardOptions = {}): string {
  const name = options.modelName ?? "sentence-transformers model";
  const t = model.trainingSummary;
  const datasets = options.datasets ?? [];
  const dim = model.getSentenceEmbeddingDimension();
  const transformer = model.modules[0] instanceof Transformer ? model.modules[0] : undefined;
  const similarity = { cosine: "Cosine Similarity", dot: "Dot Product", euclidean: "Euclidean Similarity", manhattan: "Manhattan Similarity" }[model.similarityFnName];
  const details = [
    "- **Model Type:** Sentence Transformer",
    model.baseModel ? `- **Base model:** [${model.baseModel}](https://huggingface.co/${model.baseModel})` : undefined,
    transformer ? `- **Maximum Sequence Length:** ${transformer.maxSeqLength} tokens` : undefined,
    dim !== undefined ? `- **Output Dimensionality:** ${dim} dimensions` : undefined,
    `- **Similarity Function:** ${similarity}`,
    datasets.length ? `- **Training Datasets:** ${datasets.join(", ")}` : undefined,
  ].filter((l): l is string => l !== undefined);

  const evaluation = t ? evaluationSection(t) : "";

  const info = native().info();
  return `${frontMatter(model, t, name, datasets).join("\n")}

# ${name}

This is a [sentence-transformers](https://www.SBERT.net) model${model.baseModel ? ` finetuned from [${model.baseModel}](https://huggingface.co/${model.baseModel})` : ""}. It maps sentences and paragraphs to a ${dim ?? "fixed"}-dimensional dense vector space and can be used for semantic textual similarity, semantic search, paraphrase mining, text classification, clustering, and more.

## Model Details

${details.join("\n")}

### Full Model Architecture

\`\`\`
SentenceTransformer(
${architecture(model).join("\n")}
)
\`\`\`

## Usage

### TypeScript (sbert-node)

\`\`\`ts
import { SentenceTransformer } from "sbert-node";

const model = await SentenceTransformer.load(${JSON.stringify(name)});
const sentences = ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli."];
const embeddings = await model.encode(sentences);
console.log(model.similarity(embeddings, embeddings));
\`\`\`

### Python (sentence-transformers)

\`\`\`python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(${JSON.stringify(name)})
sentences = ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli."]
embeddings = model.encode(sentences)
print(model.similarity(embeddings, embeddings))
\`\`\`

${evaluation}${t ? `${trainingSection(t)}\n` : ""}### Framework Versions

- sbert-node: ${VERSION}
- libtorch: ${info.torchVersion}
- Node.js: ${process.versions.node}
`;
}
