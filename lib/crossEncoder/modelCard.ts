/**
 * The README.md model card CrossEncoder.save writes: YAML front matter the Hugging Face Hub reads
 * (`library_name: sentence-transformers`, `pipeline_tag: text-ranking`, tags, base model), the architecture, and
 * usage from TypeScript and from Python.
 */
import { evaluationSection, trainingSection } from "../modelCard.js";
import { VERSION } from "../version.js";
import type { CrossEncoder } from "./CrossEncoder.js";

/** JSON strings are YAML strings, and safe for any text. */
const y = (s: string): string => JSON.stringify(s);

export function crossEncoderModelCard(model: CrossEncoder, options: { modelName?: string } = {}): string {
  const name = options.modelName ?? "cross-encoder model";
  const t = model.trainingSummary;
  const front = ["---", "library_name: sentence-transformers", "pipeline_tag: text-ranking", "tags:"];
  front.push(...["sentence-transformers", "cross-encoder", "reranker", "sbert-node"].map((t) => `- ${y(t)}`));
  if (model.hubId) front.push(`base_model: ${y(model.hubId)}`);
  front.push("---");
  const details = [
    "- **Model Type:** Cross Encoder",
    model.hubId ? `- **Base model:** [${model.hubId}](https://huggingface.co/${model.hubId})` : undefined,
    `- **Architecture:** ${model.head.modelClass}`,
    `- **Maximum Sequence Length:** ${model.maxLength} tokens`,
    `- **Number of Output Labels:** ${model.numLabels} label${model.numLabels === 1 ? "" : "s"}`,
    `- **Activation Function:** ${model.activationFn}`,
  ].filter((l): l is string => l !== undefined);
  const pairs = `[
  ["How many people live in Berlin?", "Berlin had a population of 3,520,031 in 2019."],
  ["How many people live in Berlin?", "Berlin is well known for its museums."],
]`;
  return `${front.join("\n")}

# ${name}

This is a [Cross Encoder](https://www.sbert.net/docs/cross_encoder/usage/usage.html) model${model.hubId ? ` finetuned from [${model.hubId}](https://huggingface.co/${model.hubId})` : ""}: it reads a pair of texts together and scores how well they match, for reranking search results or classifying pairs.

## Model Details

${details.join("\n")}

## Usage

### TypeScript (sbert-node)

\`\`\`ts
import { CrossEncoder } from "sbert-node";

const model = await CrossEncoder.load(${JSON.stringify(name)});
const scores = await model.predict(${pairs});
const ranked = await model.rank("How many people live in Berlin?", ["Berlin had a population of 3,520,031 in 2019.", "Berlin is well known for its museums."]);
\`\`\`

### Python (sentence-transformers)

\`\`\`python
from sentence_transformers import CrossEncoder

model = CrossEncoder(${JSON.stringify(name)})
scores = model.predict(${pairs})
\`\`\`

${t ? evaluationSection(t) : ""}${t ? `${trainingSection(t)}\n` : ""}## Framework Versions

- sbert-node: ${VERSION}
`;
}
