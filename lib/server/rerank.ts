/**
 * The rerank and text-embeddings-inference wire formats: request schemas and checks with messages that name the
 * field, for `POST /v1/rerank` (Cohere / Jina: `{model, query, documents, top_n, return_documents}`), TEI's
 * `POST /rerank` (`{query, texts, raw_scores, return_text}`) and `POST /embed` (`{inputs, normalize}`).
 */
import { ApiError, checkInput } from "./openai.js";

export interface RerankRequest {
  model?: string | null;
  query: string;
  documents: unknown[];
  top_n?: number | null;
  return_documents?: boolean | null;
}

export const rerankBodySchema = {
  type: "object",
  required: ["query", "documents"],
  properties: {
    model: { type: ["string", "null"] },
    query: { type: "string" },
    documents: { type: "array" },
    top_n: { type: ["integer", "null"], minimum: 1 },
    return_documents: { type: ["boolean", "null"] },
    max_chunks_per_doc: { type: ["integer", "null"] },
    rank_fields: { type: ["array", "null"] },
  },
} as const;

export interface TeiRerankRequest {
  query: string;
  texts: unknown[];
  raw_scores?: boolean | null;
  return_text?: boolean | null;
  truncate?: boolean | null;
}

export const teiRerankBodySchema = {
  type: "object",
  required: ["query", "texts"],
  properties: {
    query: { type: "string" },
    texts: { type: "array" },
    raw_scores: { type: ["boolean", "null"] },
    return_text: { type: ["boolean", "null"] },
    truncate: { type: ["boolean", "null"] },
    truncation_direction: { type: ["string", "null"], enum: ["Right", "right", null] },
  },
} as const;

export interface TeiEmbedRequest {
  inputs: unknown;
  normalize?: boolean | null;
  truncate?: boolean | null;
}

export const teiEmbedBodySchema = {
  type: "object",
  required: ["inputs"],
  properties: {
    inputs: { type: ["string", "array"] },
    normalize: { type: ["boolean", "null"] },
    truncate: { type: ["boolean", "null"] },
    truncation_direction: { type: ["string", "null"], enum: ["Right", "right", null] },
    prompt_name: { type: "null" },
  },
} as const;

/** text-embeddings-inference's embed_sparse body: embed's, without normalize. */
export const teiEmbedSparseBodySchema = {
  ...teiEmbedBodySchema,
  properties: { inputs: teiEmbedBodySchema.properties.inputs, truncate: teiEmbedBodySchema.properties.truncate, truncation_direction: teiEmbedBodySchema.properties.truncation_direction, prompt_name: teiEmbedBodySchema.properties.prompt_name },
} as const;

/** A non-empty query of at most `maxChars` characters. */
export function checkQuery(query: string, maxChars: number): string {
  if (query === "") throw new ApiError(400, "'query' must not be an empty string", "query", "invalid_value");
  if (query.length > maxChars) throw new ApiError(400, `'query' has ${query.length} characters; at most ${maxChars} are allowed per text`, "query", "input_too_long");
  return query;
}

/**
 * The texts of a documents list: strings, or (Cohere's other form) objects with a string `text`; at least one,
 * at most `maxInputs`, each checked as embeddings inputs are.
 */
export function checkDocuments(documents: unknown[], field: string, maxInputs: number, maxChars: number): string[] {
  if (documents.length === 0) throw new ApiError(400, `'${field}' must not be an empty array`, field, "invalid_value");
  const texts = documents.map((d, i) => {
    if (typeof d === "object" && d !== null && !Array.isArray(d) && typeof (d as Record<string, unknown>)["text"] === "string") return (d as { text: string }).text;
    if (typeof d === "string") return d;
    throw new ApiError(400, `'${field}[${i}]' must be a string (or an object with a string 'text'), got ${d === null ? "null" : Array.isArray(d) ? "an array" : typeof d}`, `${field}[${i}]`, "invalid_type");
  });
  return checkTexts(texts, field, maxInputs, maxChars);
}

/** checkInput's checks (a string or an array of strings) with its messages naming `field` instead of `input`. */
export function checkTexts(value: unknown, field: string, maxInputs: number, maxChars: number): string[] {
  try {
    return checkInput(value, maxInputs, maxChars);
  } catch (e) {
    if (!(e instanceof ApiError) || e.param === null) throw e;
    throw new ApiError(e.status, e.message.replace(/'input/, `'${field}`), e.param.replace(/^input/, field), e.code, e.type, e.headers);
  }
}

/** Indexes of `scores`, best first; equal scores keep their order (sentence-transformers' rank sorts stably). */
export function ranking(scores: ArrayLike<number>, topN?: number): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  return topN === undefined ? order : order.slice(0, topN);
}
