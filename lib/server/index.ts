/**
 * An OpenAI-compatible embeddings server for one SentenceTransformer (Fastify): `POST /v1/embeddings`,
 * `GET /v1/models`, `GET /health`, `GET /metrics`. Concurrent requests are micro-batched into shared encode
 * calls, which run on libuv worker threads, so the event loop keeps serving while a batch is encoded.
 * Every resource a client can hold is bounded: body size, inputs per request, characters per text, texts
 * queued, and the time to send headers and body; a client that disconnects takes its queued texts with it.
 */
import { createHash, timingSafeEqual } from "node:crypto";

import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from "fastify";

import { Normalize } from "../models/Normalize.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { MicroBatcher, QueueFullError, type BatcherStats } from "./batcher.js";
import { ServerMetrics } from "./metrics.js";
import { ApiError, type EmbeddingsRequest, checkInput, embeddingsBodySchema, float32Base64, schemaError, truncate } from "./openai.js";

export { MicroBatcher, QueueFullError, type BatcherOptions, type BatcherStats } from "./batcher.js";
export { ApiError, type OpenAIErrorBody } from "./openai.js";

export interface ServerOptions {
  /** The model name reported in responses and /v1/models. Default "sentence-transformer". */
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
  /** Return unit-length embeddings even if the model has no Normalize module. */
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

export function createServer(model: SentenceTransformer, options: ServerOptions = {}): EmbeddingServer {
  const modelId = options.modelId ?? "sentence-transformer";
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

  const dimension = model.getSentenceEmbeddingDimension();
  // A model that normalizes keeps doing so after `dimensions` cuts its embeddings short.
  const normalizes = options.normalize === true || model.modules.some((m) => m instanceof Normalize);
  const created = Math.floor(Date.now() / 1000);
  const countTokens = tokenCounter(model);
  const batcher = new MicroBatcher(
    (texts) => model.encode(texts, { batchSize: maxBatchSize, normalizeEmbeddings: options.normalize === true }),
    { maxBatchSize, maxWaitMs, maxQueuedTexts },
  );
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

  app.post("/v1/embeddings", { schema: { body: embeddingsBodySchema } }, async (req, reply) => {
    const body = req.body as EmbeddingsRequest;
    const texts = checkInput(body.input, maxInputs, maxInputLength);
    const dims = body.dimensions ?? undefined;
    if (dims !== undefined && dimension !== undefined && dims > dimension) {
      throw new ApiError(400, `'dimensions' must be between 1 and ${dimension} for this model, got ${dims}`, "dimensions", "invalid_value");
    }
    const base64 = body.encoding_format === "base64";
    const tokens = countTokens(texts);
    // A client that goes away takes its queued texts with it.
    const gone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) gone.abort(new ApiError(499, "the client closed the connection", null, "client_closed"));
    };
    reply.raw.on("close", onClose);
    if (req.raw.socket.destroyed) onClose();
    inFlight++;
    let rows: Float32Array[];
    try {
      rows = await batcher.submit(texts, gone.signal);
    } catch (e) {
      if (!(e instanceof QueueFullError)) throw e;
      throw new ApiError(503, `the server is busy (${e.queued} texts queued, limit ${e.limit}); retry later`, null, "server_overloaded", "server_error", { "retry-after": "1" });
    } finally {
      inFlight--;
      reply.raw.off("close", onClose);
    }
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

  const modelCard = () => ({ id: modelId, object: "model", created, owned_by: "sbert-node" });
  app.get("/v1/models", async () => ({ object: "list", data: [modelCard()] }));
  app.get("/v1/models/*", async (req) => {
    const id = (req.params as Record<string, string>)["*"];
    if (id !== modelId) throw new ApiError(404, `the model '${id}' does not exist; this server has '${modelId}'`, "model", "model_not_found");
    return modelCard();
  });

  app.get("/metrics", async (_req, reply) =>
    reply.type("text/plain; version=0.0.4; charset=utf-8").send(metrics.render(batcher.snapshot(), inFlight)),
  );

  app.get("/health", async () => ({
    status: "ok",
    model: {
      id: modelId,
      embedding_dimension: dimension ?? null,
      max_seq_length: model.maxSeqLength,
      device: model.device,
      normalized: normalizes,
      similarity: model.similarityFnName,
    },
    batching: { max_batch_size: maxBatchSize, max_wait_ms: maxWaitMs, max_inputs: maxInputs, max_queued_texts: maxQueuedTexts, max_input_length: maxInputLength, ...snakeStats() },
  }));

  function snakeStats() {
    const s = batcher.snapshot();
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
        await batcher.close();
      })();
      return closed;
    },
    stats: () => ({ ...batcher.snapshot(), inFlightRequests: inFlight }),
  };
}
