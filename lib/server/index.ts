/**
 * An OpenAI-compatible embeddings server for one SentenceTransformer (Fastify): `POST /v1/embeddings`,
 * `GET /v1/models`, `GET /health`. Concurrent requests are micro-batched into shared encode calls, which run
 * on libuv worker threads, so the event loop keeps serving while a batch is encoded.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from "fastify";

import { Normalize } from "../models/Normalize.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { MicroBatcher, type BatcherStats } from "./batcher.js";
import { ApiError, type EmbeddingsRequest, checkInput, embeddingsBodySchema, float32Base64, schemaError, truncate } from "./openai.js";

export { MicroBatcher, type BatcherOptions, type BatcherStats } from "./batcher.js";
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
  for (const [name, v, min] of [["maxBatchSize", maxBatchSize, 1], ["maxInputs", maxInputs, 1], ["bodyLimit", bodyLimit, 1], ["port", port, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`createServer: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  if (typeof maxWaitMs !== "number" || !(maxWaitMs >= 0)) throw new RangeError(`createServer: maxWaitMs must be >= 0, got ${String(maxWaitMs)}`);

  const dimension = model.getSentenceEmbeddingDimension();
  // A model that normalizes keeps doing so after `dimensions` cuts its embeddings short.
  const normalizes = options.normalize === true || model.modules.some((m) => m instanceof Normalize);
  const created = Math.floor(Date.now() / 1000);
  const countTokens = tokenCounter(model);
  const batcher = new MicroBatcher(
    (texts) => model.encode(texts, { batchSize: maxBatchSize, normalizeEmbeddings: options.normalize === true }),
    { maxBatchSize, maxWaitMs },
  );
  let inFlight = 0;
  let closing = false;

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // Types are checked, never coerced: 123 is not a string, "3" not a dimension count.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
  });
  app.removeContentTypeParser("text/plain");

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
    void reply.status(api.status).send(api.body());
  });

  app.setNotFoundHandler((req, reply) => {
    const api = new ApiError(404, `no route ${req.method} ${req.url.split("?")[0]}`, null, "not_found");
    void reply.status(404).send(api.body());
  });

  app.post("/v1/embeddings", { schema: { body: embeddingsBodySchema } }, async (req, reply) => {
    const body = req.body as EmbeddingsRequest;
    const texts = checkInput(body.input, maxInputs);
    const dims = body.dimensions ?? undefined;
    if (dims !== undefined && dimension !== undefined && dims > dimension) {
      throw new ApiError(400, `'dimensions' must be between 1 and ${dimension} for this model, got ${dims}`, "dimensions", "invalid_value");
    }
    const base64 = body.encoding_format === "base64";
    const tokens = countTokens(texts);
    inFlight++;
    let rows: Float32Array[];
    try {
      rows = await batcher.submit(texts);
    } finally {
      inFlight--;
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
    batching: { max_batch_size: maxBatchSize, max_wait_ms: maxWaitMs, max_inputs: maxInputs, ...snakeStats() },
  }));

  function snakeStats() {
    const s = batcher.snapshot();
    return {
      requests: s.requests,
      texts: s.texts,
      batches: s.batches,
      largest_batch: s.largestBatch,
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
