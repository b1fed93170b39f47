/**
 * The README.md model card written on every save, with the YAML front matter the Hugging Face Hub reads
 * (`library_name: sentence-transformers`, `pipeline_tag: sentence-similarity`, tags, base model), the architecture,
 * and usage from TypeScript (sbert-node) and Python (sentence-transformers).
 */
import type { SentenceTransformer } from "./SentenceTransformer.js";
import { Dense } from "./models/Dense.js";
import { Normalize } from "./models/Normalize.js";
import { Pooling } from "./models/Pooling.js";
import { Transformer } from "./models/Transformer.js";

export interface ModelCardOptions {
  modelName?: string;
  baseModel?: string;
  datasets?: string[];
}

function yamlString(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : JSON.stringify(s);
}

export function modelCard(model: SentenceTransformer, options: ModelCardOptions = {}): string {
  const name = options.modelName ?? "sentence-transformers model";
  const dim = model.getSentenceEmbeddingDimension();
  const transformer = model.modules[0] instanceof Transformer ? model.modules[0] : undefined;
  const front = [
    "---",
    "library_name: sentence-transformers",
    "pipeline_tag: sentence-similarity",
    "tags:",
    "- sentence-transformers",
    "- sentence-similarity",
    "- feature-extraction",
    "- sbert-node",
  ];
  if (options.baseModel) front.push(`base_model: ${yamlString(options.baseModel)}`);
  if (options.datasets?.length) front.push("datasets:", ...options.datasets.map((d) => `- ${yamlString(d)}`));
  front.push("---");

  const architecture = model.modules.map((m, i) => {
    if (m instanceof Transformer) return `  (${i}): Transformer({'max_seq_length': ${m.maxSeqLength}, 'do_lower_case': ${m.doLowerCase ? "True" : "False"}}) with Transformer model: BertModel`;
    if (m instanceof Pooling) return `  (${i}): Pooling(${JSON.stringify(m.getConfigDict())})`;
    if (m instanceof Dense) return `  (${i}): Dense(${JSON.stringify(m.getConfigDict())})`;
    if (m instanceof Normalize) return `  (${i}): Normalize()`;
    return `  (${i}): ${String(m)}`;
  });

  const details = [
    `- **Model Type:** Sentence Transformer`,
    options.baseModel ? `- **Base model:** ${options.baseModel}` : undefined,
    transformer ? `- **Maximum Sequence Length:** ${transformer.maxSeqLength} tokens` : undefined,
    dim !== undefined ? `- **Output Dimensionality:** ${dim} dimensions` : undefined,
    `- **Similarity Function:** ${model.similarityFnName === "cosine" ? "Cosine Similarity" : model.similarityFnName}`,
  ].filter((l): l is string => l !== undefined);

  return `${front.join("\n")}

# ${name}

This is a [sentence-transformers](https://www.SBERT.net) model. It maps sentences and paragraphs to a ${dim ?? "fixed"}-dimensional dense vector space and can be used for semantic textual similarity, semantic search, paraphrase mining, text classification, clustering, and more.

## Model Details

${details.join("\n")}

### Full Model Architecture

\`\`\`
SentenceTransformer(
${architecture.join("\n")}
)
\`\`\`

## Usage

### TypeScript (sbert-node)

\`\`\`ts
import { SentenceTransformer } from "sbert-node";

const model = await SentenceTransformer.load("${name}");
const sentences = ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli."];
const embeddings = await model.encode(sentences);
console.log(model.similarity(embeddings, embeddings));
\`\`\`

### Python (sentence-transformers)

\`\`\`python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("${name}")
sentences = ["Una ragazza si acconcia i capelli.", "Una ragazza si sta spazzolando i capelli."]
embeddings = model.encode(sentences)
print(model.similarity(embeddings, embeddings))
\`\`\`
`;
}
