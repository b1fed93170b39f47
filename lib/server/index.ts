/**
 * An embeddings and reranking server for one or more models (Fastify): OpenAI's `POST /v1/embeddings` and
 * `GET /v1/models`, the Cohere / Jina `POST /v1/rerank`, Hugging Face text-embeddings-inference's `POST /embed`,
 * `POST /rerank` and `GET /info`, and `GET /health`, `GET /metrics`. Each model has its own queue, in which
 * concurrent requests are micro-batched into shared native calls that run on libuv worker threads, so the event
 * loop keeps serving while a batch runs. Every resource a client can hold is bounded: body size, inputs per
 * request, characters per text, texts queued, and the time to send headers and body; a client that disconnects
 * takes its queued texts with it.
 */
import { createHash, timingSafeEqual } from "node:crypto";

import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";

import { CrossEncoder, type CrossEncoderPair } from "../crossEncoder/CrossEncoder.js";
import { Normalize } from "../models/Normalize.js";
import { Pooling } from "../models/Pooling.js";
import { SentenceTransformer } from "../SentenceTransformer.js";
import { SparseEncoder } from "../sparseEncoder/SparseEncoder.js";
import { VERSION } from "../version.js";
import { MicroBatcher, QueueFullError, type BatcherStats } from "./batcher.js";
import { ServerMetrics } from "./metrics.js";
import { ApiError, type EmbeddingsRequest, checkInput, embeddingsBodySchema, float32Base64, schemaError, truncate, unitLength } from "./openai.js";
import {
  type RerankRequest,
  type TeiEmbedRequest,
  type TeiRerankRequest,
  checkDocuments,
  checkQuery,
  checkTexts,
  ranking,
  rerankBodySchema,
  teiEmbedBodySchema,
  teiEmbedSparseBodySchema,
  teiRerankBodySchema,
} from "./rerank.js";

export { MicroBatcher, QueueFullError, type BatcherOptions, type BatcherStats } from "./batcher.js";
export { ApiError, type OpenAIErrorBody } from "./openai.js";

/** What the server runs: embedding models (SentenceTransformer), rerankers (CrossEncoder), sparse encoders (SparseEncoder). */
export type ServedModel = SentenceTransformer | CrossEncoder | SparseEncoder;

export interface ServerOptions {
  /** The name of a single model, reported in responses and /v1/models. Default "sentence-transformer" ("cross-encoder" for a CrossEncoder). */
  modelId?: string;
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Most texts per encode call. Default 64. */
  maxBatchSize?: number;
  /** Longest a queued text waits for a batch to fill, in ms. Default 5. */
  maxWaitMs?: number;
  /** Most inputs per request. Default 2048. */
  maxInputs?: number;
  /** Largest request body in bytes. Default 4 MiB. */
  bodyLimit?: number;
  /** Longest text, in UTF-16 code units, refused before tokenizing. Default 100,000. */
  maxInputLength?: number;
  /** Most texts waiting for a batch; a request that does not fit gets 503 with Retry-After. Default 8192 (at least maxInputs). */
  maxQueuedTexts?: number;
  /** Time a client has to send the request headers, in ms. Default 10,000. */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request, headers and body, in ms. Default 60,000 (at least headersTimeoutMs). */
  requestTimeoutMs?: number;
  /** When set, every route but /health needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Return unit-length embeddings from /v1/embeddings even if the model has no Normalize module. */
  normalize?: boolean;
  /** Fastify's logger option (false by default). */
  logger?: FastifyServerOptions["logger"];
}

export interface EmbeddingServer {
  app: FastifyInstance;
  /** Starts listening; resolves to the address, e.g. "http://127.0.0.1:8080". */
  listen(): Promise<string>;
  /** Stops accepting connections, lets requests in progress finish, then stops the batcher. The model is left to its owner. */
  close(): Promise<void>;
  /** Batching counters, and requests being answered now. */
  stats(): BatcherStats & { inFlightRequests: number };
}

/** Token count of each text as the model sees it: its default prompt included, truncated to maxSeqLength. */
function tokenCounter(model: SentenceTransformer): (texts: string[]) => number {
  const prompt = model.defaultPromptName !== undefined ? model.prompts[model.defaultPromptName] : undefined;
  return (texts) => {
    let total = 0;
    // Small groups, so one long text does not pad a large tokenized block.
    for (let i = 0; i < texts.length; i += 64) {
      const group = texts.slice(i, i + 64);
      const batch = model.tokenize(prompt ? group.map((t) => prompt + t) : group);
      for (const m of batch.attentionMask) total += m;
    }
    return total;
  };
}

interface Embedder {
  kind: "embedding";
  id: string;
  model: SentenceTransformer;
  batcher: MicroBatcher<string>;
  dimension: number | undefined;
  normalizes: boolean;
  countTokens: (texts: string[]) => number;
}

interface Reranker {
  kind: "reranker";
  id: string;
  model: CrossEncoder;
  batcher: MicroBatcher<CrossEncoderPair>;
}

interface Sparse {
  kind: "sparse";
  id: string;
  model: SparseEncoder;
  /** Each text's full vocabulary-sized vector; routes keep its non-zero entries. */
  batcher: MicroBatcher<string>;
}

type Served = Embedder | Reranker | Sparse;

const KIND_NAMES = { embedding: "an embedding model (SentenceTransformer)", reranker: "a reranker (CrossEncoder)", sparse: "a sparse encoder (SparseEncoder)" } as const;
const isServable = (m: unknown): m is ServedModel => m instanceof SentenceTransformer || m instanceof CrossEncoder || m instanceof SparseEncoder;

/** Batching counters of several queues, as one. */
function combined(stats: BatcherStats[]): BatcherStats {
  const sum = (key: keyof BatcherStats) => stats.reduce((n, s) => n + s[key], 0);
  return {
    requests: sum("requests"),
    texts: sum("texts"),
    batches: sum("batches"),
    largestBatch: Math.max(0, ...stats.map((s) => s.largestBatch)),
    cancelledTexts: sum("cancelledTexts"),
    refusedRequests: sum("refusedRequests"),
    queuedTexts: sum("queuedTexts"),
    runningBatches: sum("runningBatches"),
  };
}

/**
 * Serves one model (its name `options.modelId`) or several, by name (`{ "embed": st, "rerank": ce }`). A request's
 * `model` picks among the models of the kind its route needs; without one (or, when the server has a single model
 * of that kind, with any name) the first of that kind answers. TEI's routes, which name no model, use the first
 * model of their kind, and /info describes the first model.
 */
export function createServer(models: ServedModel | Record<string, ServedModel>, options: ServerOptions = {}): EmbeddingServer {
  const named: [string, ServedModel][] =
    isServable(models)
      ? [[options.modelId ?? (models instanceof CrossEncoder ? "cross-encoder" : models instanceof SparseEncoder ? "sparse-encoder" : "sentence-transformer"), models]]
      : typeof models === "object" && models !== null
        ? Object.entries(models)
        : [];
  if (named.length === 0) throw new TypeError("createServer: give a SentenceTransformer, a CrossEncoder, a SparseEncoder, or an object of them by name");
  for (const [id, m] of named) {
    if (!isServable(m)) throw new TypeError(`createServer: model '${id}' is not a SentenceTransformer, a CrossEncoder or a SparseEncoder`);
    if (id === "") throw new TypeError("createServer: model names must not be empty");
  }
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8080;
  const maxBatchSize = options.maxBatchSize ?? 64;
  const maxWaitMs = options.maxWaitMs ?? 5;
  const maxInputs = options.maxInputs ?? 2048;
  const bodyLimit = options.bodyLimit ?? 4 * 1024 * 1024;
  const maxInputLength = options.maxInputLength ?? 100_000;
  const maxQueuedTexts = options.maxQueuedTexts ?? Math.max(8192, maxInputs);
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? Math.max(60_000, headersTimeoutMs);
  const limits = [
    ["maxBatchSize", maxBatchSize, 1],
    ["maxInputs", maxInputs, 1],
    ["bodyLimit", bodyLimit, 1],
    ["port", port, 0],
    ["maxInputLength", maxInputLength, 1],
    ["maxQueuedTexts", maxQueuedTexts, maxInputs],
    ["headersTimeoutMs", headersTimeoutMs, 1],
    ["requestTimeoutMs", requestTimeoutMs, headersTimeoutMs],
  ] as const;
  for (const [name, v, min] of limits) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`createServer: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  if (typeof maxWaitMs !== "number" || !(maxWaitMs >= 0)) throw new RangeError(`createServer: maxWaitMs must be >= 0, got ${String(maxWaitMs)}`);
  const { apiKey } = options;
  if (apiKey !== undefined && (typeof apiKey !== "string" || apiKey.trim() === "" || apiKey !== apiKey.trim())) {
    throw new TypeError("createServer: apiKey must be a non-empty string without surrounding spaces");
  }
  // Digests have one length, so comparing them takes the same time whatever the key given.
  const keyDigest = apiKey === undefined ? undefined : createHash("sha256").update(apiKey).digest();

  const created = Math.floor(Date.now() / 1000);
  const batching = { maxBatchSize, maxWaitMs, maxQueuedTexts };
  const served: Served[] = named.map(([id, model]): Served => {
    if (model instanceof CrossEncoder) {
      // Logits are queued; each request puts its own activation on them.
      return { kind: "reranker", id, model, batcher: new MicroBatcher<CrossEncoderPair>((pairs) => model.predictLogits(pairs, { batchSize: maxBatchSize }), batching) };
    }
    if (model instanceof SparseEncoder) {
      return { kind: "sparse", id, model, batcher: new MicroBatcher<string>((texts) => model.encode(texts, { batchSize: maxBatchSize, convertToSparseTensor: false }), batching) };
    }
    return {
      kind: "embedding",
      id,
      model,
      batcher: new MicroBatcher<string>((texts) => model.encode(texts, { batchSize: maxBatchSize, normalizeEmbeddings: options.normalize === true }), batching),
      dimension: model.getSentenceEmbeddingDimension(),
      // A model that normalizes keeps doing so after `dimensions` cuts its embeddings short.
      normalizes: options.normalize === true || model.modules.some((m) => m instanceof Normalize),
      countTokens: tokenCounter(model),
    };
  });
  const snapshot = (): BatcherStats => combined(served.map((m) => m.batcher.snapshot()));

  /** The model of `kind` that a request's `model` names, else the first of that kind (see createServer). */
  function pick(kind: "embedding", requested: string | null | undefined): Embedder;
  function pick(kind: "reranker", requested: string | null | undefined): Reranker;
  function pick(kind: "sparse", requested: string | null | undefined): Sparse;
  function pick(kind: Served["kind"], requested: string | null | undefined): Served {
    const candidates = served.filter((m) => m.kind === kind);
    if (candidates.length === 0) {
      const what = { embedding: "embedding model", reranker: "reranker", sparse: "sparse encoder" }[kind];
      throw new ApiError(400, `this server has no ${what} (it serves ${served.map((m) => `'${m.id}'`).join(", ")})`, "model", "model_not_found");
    }
    if (requested === undefined || requested === null) return candidates[0]!;
    const found = served.find((m) => m.id === requested);
    if (found !== undefined && found.kind !== kind) {
      throw new ApiError(400, `'${requested}' is ${KIND_NAMES[found.kind]}; this route needs ${KIND_NAMES[kind]}`, "model", "invalid_model");
    }
    if (found !== undefined) return found;
    if (candidates.length === 1) return candidates[0]!;
    throw new ApiError(404, `the model '${requested}' does not exist; this server has ${candidates.map((m) => `'${m.id}'`).join(", ")}`, "model", "model_not_found");
  }

  const metrics = new ServerMetrics();
  let inFlight = 0;
  let closing = false;

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    requestTimeout: requestTimeoutMs,
    // Node checks these timeouts every connectionsCheckingInterval ms (30 s by default).
    http: { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.ceil(headersTimeoutMs / 4)) },
    // Types are checked, never coerced: 123 is not a string, "3" not a dimension count.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
  });
  app.removeContentTypeParser("text/plain");

  app.addHook("onRequest", async (req) => {
    if (keyDigest === undefined || req.routeOptions.url === "/health") return;
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? "");
    if (m === null || !timingSafeEqual(createHash("sha256").update(m[1]!).digest(), keyDigest)) {
      throw new ApiError(401, m === null ? "missing API key: send 'Authorization: Bearer <key>'" : "invalid API key", null, "invalid_api_key", "invalid_request_error", {
        "www-authenticate": "Bearer",
      });
    }
  });

  app.addHook("onResponse", async (req, reply) => {
    metrics.observe(req.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
  });

  app.addHook("onSend", async (_req, reply, payload) => {
    // Clients should not reuse a connection to a server that is shutting down.
    if (closing) reply.header("connection", "close");
    return payload;
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let api: ApiError;
    if (err instanceof ApiError) {
      api = err;
    } else if (err.validation) {
      api = schemaError(err.validation as never);
    } else if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      api = new ApiError(413, `the request body is larger than the limit of ${bodyLimit} bytes`, null, "request_too_large");
    } else if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      const type = req.headers["content-type"];
      api = new ApiError(415, `unsupported content type${type ? ` '${type}'` : " (none given)"}: send application/json`, null, "unsupported_media_type");
    } else if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || err instanceof SyntaxError) {
      api = new ApiError(400, `the request body is not valid JSON: ${err.message}`, null, "invalid_json");
    } else if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
      api = new ApiError(err.statusCode, err.message, null, err.code ?? null);
    } else {
      req.log.error(err);
      api = new ApiError(500, `the server failed: ${err.message}`, null, "internal_error");
    }
    void reply.status(api.status).headers(api.headers).send(api.body());
  });

  app.setNotFoundHandler((req, reply) => {
    const api = new ApiError(404, `no route ${req.method} ${req.url.split("?")[0]}`, null, "not_found");
    void reply.status(404).send(api.body());
  });

  /**
   * Queues `items` on `batcher` for this request: a client that goes away takes its queued items with it, and a
   * full queue is a 503 with Retry-After.
   */
  async function submit<T>(batcher: MicroBatcher<T>, items: T[], req: FastifyRequest, reply: FastifyReply): Promise<Float32Array[]> {
    const gone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) gone.abort(new ApiError(499, "the client closed the connection", null, "client_closed"));
    };
    reply.raw.on("close", onClose);
    if (req.raw.socket.destroyed) onClose();
    inFlight++;
    try {
      return await batcher.submit(items, gone.signal);
    } catch (e) {
      if (!(e instanceof QueueFullError)) throw e;
      throw new ApiError(503, `the server is busy (${e.queued} texts queued, limit ${e.limit}); retry later`, null, "server_overloaded", "server_error", { "retry-after": "1" });
    } finally {
      inFlight--;
      reply.raw.off("close", onClose);
    }
  }

  app.post("/v1/embeddings", { schema: { body: embeddingsBodySchema } }, async (req, reply) => {
    const body = req.body as EmbeddingsRequest;
    const texts = checkInput(body.input, maxInputs, maxInputLength);
    const { id: modelId, batcher, dimension, normalizes, countTokens } = pick("embedding", body.model);
    const dims = body.dimensions ?? undefined;
    if (dims !== undefined && dimension !== undefined && dims > dimension) {
      throw new ApiError(400, `'dimensions' must be between 1 and ${dimension} for this model, got ${dims}`, "dimensions", "invalid_value");
    }
    const base64 = body.encoding_format === "base64";
    const tokens = countTokens(texts);
    const rows = await submit(batcher, texts, req, reply);
    // Serialized in slices that yield to the event loop, so a large response does not hold up other requests.
    const parts: string[] = [];
    for (let index = 0; index < rows.length; index++) {
      if (index > 0 && index % 256 === 0) await new Promise((r) => setImmediate(r));
      const v = truncate(rows[index]!, dims, normalizes);
      const embedding = base64 ? `"${float32Base64(v)}"` : JSON.stringify(Array.from(v));
      parts.push(`{"object":"embedding","index":${index},"embedding":${embedding}}`);
    }
    const json = `{"object":"list","data":[${parts.join(",")}],"model":${JSON.stringify(modelId)},"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`;
    return reply.type("application/json; charset=utf-8").send(json);
  });

  /** A query's pairs with `documents` (named `field` in messages), through the queue of a one-label reranker: their logits. */
  async function rerankLogits(body: { query: string; documents: unknown[]; model?: string | null }, field: string, req: FastifyRequest, reply: FastifyReply) {
    const query = checkQuery(body.query, maxInputLength);
    const texts = checkDocuments(body.documents, field, maxInputs, maxInputLength);
    const { id, model, batcher } = pick("reranker", body.model);
    if (model.numLabels !== 1) throw new ApiError(400, `'${id}' gives ${model.numLabels} scores per pair; reranking needs a model with one`, "model", "invalid_model");
    const logits = await submit(batcher, texts.map((t): CrossEncoderPair => [query, t]), req, reply);
    return { id, model, texts, logits };
  }

  /** The Cohere / Jina rerank API: documents scored against the query (the model's activation), best first. */
  app.post("/v1/rerank", { schema: { body: rerankBodySchema } }, async (req, reply) => {
    const body = req.body as RerankRequest;
    const { id, model, texts, logits } = await rerankLogits(body, "documents", req, reply);
    const scores = model.activate(logits).map((r) => r[0]!);
    const results = ranking(scores, body.top_n ?? undefined).map((index) => ({
      index,
      relevance_score: scores[index]!,
      ...(body.return_documents ? { document: { text: texts[index]! } } : {}),
    }));
    return { model: id, results };
  });

  /** text-embeddings-inference's rerank: `raw_scores` gives the logits, otherwise the model's activation (sigmoid by default). */
  app.post("/rerank", { schema: { body: teiRerankBodySchema } }, async (req, reply) => {
    const body = req.body as TeiRerankRequest;
    const { model, texts, logits } = await rerankLogits({ query: body.query, documents: body.texts }, "texts", req, reply);
    const scores = model.activate(logits, body.raw_scores ? { activationFn: "identity" } : {}).map((r) => r[0]!);
    return ranking(scores).map((index) => ({ index, score: scores[index]!, ...(body.return_text ? { text: texts[index]! } : {}) }));
  });

  /** text-embeddings-inference's embed: unit-length embeddings unless `normalize` is false. */
  app.post("/embed", { schema: { body: teiEmbedBodySchema } }, async (req, reply) => {
    const body = req.body as TeiEmbedRequest;
    const texts = checkTexts(body.inputs, "inputs", maxInputs, maxInputLength);
    const { batcher } = pick("embedding", undefined);
    const rows = await submit(batcher, texts, req, reply);
    const normalize = body.normalize ?? true;
    return rows.map((v) => Array.from(normalize ? unitLength(v) : v));
  });

  /** text-embeddings-inference's embed_sparse: each text's non-zero dimensions as {index, value}, by index. */
  app.post("/embed_sparse", { schema: { body: teiEmbedSparseBodySchema } }, async (req, reply) => {
    const body = req.body as TeiEmbedRequest;
    const texts = checkTexts(body.inputs, "inputs", maxInputs, maxInputLength);
    const { batcher } = pick("sparse", undefined);
    const rows = await submit(batcher, texts, req, reply);
    return rows.map((v) => {
      const entries: { index: number; value: number }[] = [];
      for (let i = 0; i < v.length; i++) if (v[i] !== 0) entries.push({ index: i, value: v[i]! });
      return entries;
    });
  });

  app.get("/info", async () => {
    const first = served[0]!;
    const common = {
      model_id: first.id,
      model_sha: null,
      model_dtype: "float32",
      max_input_length: first.kind === "reranker" ? first.model.maxLength : first.model.maxSeqLength,
      max_client_batch_size: maxInputs,
      max_batch_requests: maxBatchSize,
      auto_truncate: true,
      version: VERSION,
      sha: null,
      docker_label: null,
    };
    if (first.kind === "reranker") {
      const id2label = (first.model.config["id2label"] as Record<string, string> | undefined) ?? Object.fromEntries(Array.from({ length: first.model.numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
      const label2id = Object.fromEntries(Object.entries(id2label).map(([i, l]) => [l, Number(i)]));
      return { ...common, model_type: { reranker: { id2label, label2id } } };
    }
    if (first.kind === "sparse") return { ...common, model_type: { embedding: { pooling: "splade" } } };
    const pooling = first.model.modules.find((m): m is Pooling => m instanceof Pooling)?.poolingModes[0];
    return { ...common, model_type: { embedding: { pooling: pooling === "lasttoken" ? "last_token" : pooling ?? null } } };
  });

  const modelCard = (id: string) => ({ id, object: "model", created, owned_by: "sbert-node" });
  app.get("/v1/models", async () => ({ object: "list", data: served.map((m) => modelCard(m.id)) }));
  app.get("/v1/models/*", async (req) => {
    const id = (req.params as Record<string, string>)["*"];
    if (!served.some((m) => m.id === id)) {
      throw new ApiError(404, `the model '${id}' does not exist; this server has ${served.map((m) => `'${m.id}'`).join(", ")}`, "model", "model_not_found");
    }
    return modelCard(id);
  });

  app.get("/metrics", async (_req, reply) => reply.type("text/plain; version=0.0.4; charset=utf-8").send(metrics.render(snapshot(), inFlight)));

  const describe = (m: Served) =>
    m.kind === "embedding"
      ? {
          id: m.id,
          kind: m.kind,
          embedding_dimension: m.dimension ?? null,
          max_seq_length: m.model.maxSeqLength,
          device: m.model.device,
          normalized: m.normalizes,
          similarity: m.model.similarityFnName,
        }
      : m.kind === "sparse"
        ? { id: m.id, kind: m.kind, vocabulary_size: m.model.getSentenceEmbeddingDimension() ?? null, max_seq_length: m.model.maxSeqLength, device: m.model.device }
        : { id: m.id, kind: m.kind, num_labels: m.model.numLabels, max_seq_length: m.model.maxLength, device: m.model.device, activation_fn: m.model.activationFn };
  app.get("/health", async () => ({
    status: "ok",
    model: describe(served[0]!),
    models: served.map(describe),
    batching: { max_batch_size: maxBatchSize, max_wait_ms: maxWaitMs, max_inputs: maxInputs, max_queued_texts: maxQueuedTexts, max_input_length: maxInputLength, ...snakeStats() },
  }));

  function snakeStats() {
    const s = snapshot();
    return {
      requests: s.requests,
      texts: s.texts,
      batches: s.batches,
      largest_batch: s.largestBatch,
      cancelled_texts: s.cancelledTexts,
      refused_requests: s.refusedRequests,
      queued_texts: s.queuedTexts,
      running_batches: s.runningBatches,
      in_flight_requests: inFlight,
    };
  }

  let closed: Promise<void> | undefined;
  return {
    app,
    async listen() {
      return app.listen({ host, port });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        await app.close();
        await Promise.all(served.map((m) => m.batcher.close()));
      })();
      return closed;
    },
    stats: () => ({ ...snapshot(), inFlightRequests: inFlight }),
  };
}
