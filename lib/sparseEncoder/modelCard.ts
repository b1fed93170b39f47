/**
 * The README.md model card SparseEncoder.save writes: YAML front matter the Hugging Face Hub reads
 * (`library_name: sentence-transformers`, `pipeline_tag: feature-extraction`, tags naming the kind of sparse encoder,
 * base model), the architecture, usage from TypeScript and from Python, and the last training run's evaluation and
 * details where the model has one.
 */
import { evaluationSection, trainingSection } from "../modelCard.js";
import type { SentenceModule } from "../models/Module.js";
import { Router } from "../models/Router.js";
import { VERSION } from "../version.js";
import type { SparseEncoder } from "./SparseEncoder.js";

/** JSON strings are YAML strings, and safe for any text. */
const y = (s: string): string => JSON.stringify(s);

/**
 * The words sentence-transformers names a sparse encoder's kind with, by the modules it holds ("Asymmetric" for a
 * Router, "Inference-free" for static query weights, "SPLADE", "CSR" for a sparse autoencoder), in that order.
 */
export function sparseEncoderKinds(modules: readonly SentenceModule[]): string[] {
  const all = modules.flatMap((m) => (m instanceof Router ? [m, ...Object.values(m.subModules).flat()] : [m]));
  const has = (className: string) => all.some((m) => m.className === className);
  const kinds: string[] = [];
  if (all.some((m) => m instanceof Router)) kinds.push("Asymmetric");
  if (has("SparseStaticEmbedding")) kinds.push("Inference-free");
  if (has("SpladePooling")) kinds.push("SPLADE");
  if (has("SparseAutoEncoder")) kinds.push("CSR");
  return kinds;
}

export function sparseEncoderModelCard(model: SparseEncoder, options: { modelName?: string } = {}): string {
  const kinds = sparseEncoderKinds(model.modules);
  const modelType = [...kinds, "Sparse Encoder"].join(" ");
  const name = options.modelName ?? `${modelType} model`;
  const t = model.trainingSummary;
  const front = ["---", "library_name: sentence-transformers", "pipeline_tag: feature-extraction", "tags:"];
  const tags = ["sentence-transformers", "sparse-encoder", "sparse", ...kinds.map((k) => k.toLowerCase()), "sbert-node"];
  front.push(...tags.map((tag) => `- ${y(tag)}`));
  if (model.hubId) front.push(`base_model: ${y(model.hubId)}`);
  front.push("---");
  const dim = model.getSentenceEmbeddingDimension();
  const similarity = { dot: "Dot Product", cosine: "Cosine Similarity" }[model.similarityFnName];
  const details = [
    `- **Model Type:** ${modelType}`,
    model.hubId ? `- **Base model:** [${model.hubId}](https://huggingface.co/${model.hubId})` : undefined,
    `- **Maximum Sequence Length:** ${model.maxSeqLength} tokens`,
    `- **Output Dimensionality:** ${dim} dimensions${model.maxActiveDims !== undefined ? ` (encode keeps the ${model.maxActiveDims} largest)` : ""}`,
    `- **Similarity Function:** ${similarity}`,
  ].filter((l): l is string => l !== undefined);
  const sentences = `[
  "The weather is lovely today.",
  "It's so sunny outside!",
  "He drove to the stadium.",
]`;
  return `${front.join("\n")}

# ${name}

This is a [${modelType}](https://www.sbert.net/docs/sparse_encoder/usage/usage.html) model${model.hubId ? ` finetuned from [${model.hubId}](https://huggingface.co/${model.hubId})` : ""}: it maps texts to a ${dim}-dimensional sparse vector space, one dimension per vocabulary entry, for semantic search and sparse retrieval.

## Model Details

${details.join("\n")}

### Full Model Architecture

\`\`\`
${model.toString()}
\`\`\`

## Usage

### TypeScript (sbert-node)

\`\`\`ts
import { SparseEncoder } from "sbert-node";

const model = await SparseEncoder.load(${JSON.stringify(name)});
const sentences = ${sentences};
const embeddings = await model.encode(sentences);
console.log(model.similarity(embeddings, embeddings));
console.log(model.decode(embeddings[0], 10));
\`\`\`

### Python (sentence-transformers)

\`\`\`python
from sentence_transformers import SparseEncoder

model = SparseEncoder(${JSON.stringify(name)})
sentences = ${sentences}
embeddings = model.encode(sentences)
print(model.similarity(embeddings, embeddings))
\`\`\`

${t ? evaluationSection(t) : ""}${t ? `${trainingSection(t)}\n` : ""}## Framework Versions

- sbert-node: ${VERSION}
`;
}
