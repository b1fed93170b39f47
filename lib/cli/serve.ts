/**
 * `sbert-node serve MODEL`: the OpenAI-compatible embeddings server. SIGTERM/SIGINT stop accepting
 * connections, let requests in progress finish, dispose the model and exit 0.
 */
import { type CommandSpec, UsageError, flag, intFlag, parseByteSize, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, THREADS_OPTION, loadModel, note } from "./common.js";

export const serveSpec: CommandSpec = {
  name: "serve",
  summary: "Serve a model over HTTP with the OpenAI embeddings API (POST /v1/embeddings, GET /v1/models, GET /health, GET /metrics).",
  usage: "MODEL [options]",
  description: [
    "Requests: {input: string | string[], model?, encoding_format?: float | base64, dimensions?, user?}.",
    "`dimensions` keeps the first N values and re-normalizes them when the model normalizes (a Normalize",
    "module, or --normalize). `model` in a request is not checked; responses name the served model.",
    "Concurrent requests are batched together: up to --max-batch-size texts per forward pass, a text",
    "waiting at most --max-wait-ms for others. SIGTERM or Ctrl-C finishes requests in progress, then exits.",
    "Limits: a text over --max-input-length gets 400; a request that does not fit in --max-queue gets 503",
    "with Retry-After; a client slower than --headers-timeout / --request-timeout gets 408; a client that",
    "disconnects has its queued texts dropped. With --api-key (or SBERT_NODE_API_KEY) every route but /health",
    "needs 'Authorization: Bearer KEY'. /metrics is in the Prometheus text format.",
  ].join("\n"),
  options: {
    port: { type: "string", short: "p", value: "N", help: "Port (default 8080; 0 picks a free one, printed at start)." },
    host: { type: "string", value: "HOST", help: "Interface to listen on (default 127.0.0.1)." },
    "max-batch-size": { type: "string", value: "N", help: "Most texts per forward pass (default 64)." },
    "max-wait-ms": { type: "string", value: "MS", help: "Longest a text waits for a batch to fill (default 5)." },
    "max-inputs": { type: "string", value: "N", help: "Most inputs per request (default 2048)." },
    "body-limit": { type: "string", value: "SIZE", help: "Largest request body, e.g. 4mb, 512kb (default 4mb)." },
    "max-input-length": { type: "string", value: "N", help: "Most characters per text (default 100000)." },
    "max-queue": { type: "string", value: "N", help: "Most texts waiting for a batch (default 8192, at least --max-inputs)." },
    "headers-timeout": { type: "string", value: "S", help: "Seconds a client has to send the request headers (default 10)." },
    "request-timeout": { type: "string", value: "S", help: "Seconds a client has to send the whole request (default 60)." },
    "api-key": { type: "string", value: "KEY", help: "Require 'Authorization: Bearer KEY' (default: $SBERT_NODE_API_KEY, else none)." },
    "model-id": { type: "string", value: "NAME", help: "Model name in responses (default: MODEL as given)." },
    normalize: { type: "boolean", help: "Return unit-length embeddings." },
    "shutdown-timeout": { type: "string", value: "S", help: "Seconds to wait for requests in progress at shutdown (default 30)." },
    device: DEVICE_OPTION,
    threads: THREADS_OPTION,
  },
  examples: [
    "sbert-node serve ./my-model --port 8080",
    "curl -s localhost:8080/v1/embeddings -H 'content-type: application/json' -d '{\"input\": [\"hello\", \"world\"]}'",
  ],
};

export async function serveCommand(argv: string[]): Promise<number> {
  const cmd = "serve";
  const parsed = parseCommand(serveSpec, argv);
  const [modelName] = positionals(parsed, ["MODEL"], cmd);
  const v = parsed.values;
  const port = intFlag(v, "port", cmd, 0, 65535) ?? 8080;
  const host = str(v, "host") ?? "127.0.0.1";
  const maxBatchSize = intFlag(v, "max-batch-size", cmd) ?? 64;
  const maxWaitMs = intFlag(v, "max-wait-ms", cmd, 0) ?? 5;
  const maxInputs = intFlag(v, "max-inputs", cmd) ?? 2048;
  const limitRaw = str(v, "body-limit");
  const bodyLimit = limitRaw === undefined ? 4 * 1024 * 1024 : parseByteSize(limitRaw);
  if (bodyLimit === undefined) throw new UsageError(`--body-limit must be a size like 4mb, 512kb or 1048576, got '${limitRaw}'`, cmd);
  const shutdownTimeout = intFlag(v, "shutdown-timeout", cmd, 0) ?? 30;
  const maxInputLength = intFlag(v, "max-input-length", cmd) ?? 100_000;
  const maxQueuedTexts = intFlag(v, "max-queue", cmd) ?? Math.max(8192, maxInputs);
  if (maxQueuedTexts < maxInputs) throw new UsageError(`--max-queue (${maxQueuedTexts}) must be at least --max-inputs (${maxInputs})`, cmd);
  const headersTimeout = intFlag(v, "headers-timeout", cmd) ?? 10;
  const requestTimeout = intFlag(v, "request-timeout", cmd) ?? Math.max(60, headersTimeout);
  if (requestTimeout < headersTimeout) throw new UsageError(`--request-timeout (${requestTimeout}) must be at least --headers-timeout (${headersTimeout})`, cmd);
  const apiKey = str(v, "api-key") ?? (process.env["SBERT_NODE_API_KEY"] || undefined);
  if (apiKey !== undefined && (apiKey.trim() === "" || apiKey !== apiKey.trim())) throw new UsageError("--api-key must be non-empty, without surrounding spaces", cmd);
  const threads = intFlag(v, "threads", cmd);
  const verbose = flag(v, "verbose");

  const model = await loadModel(modelName!, { device: str(v, "device"), threads });
  const { createServer } = await import("../server/index.js");
  const server = createServer(model, {
    modelId: str(v, "model-id") ?? modelName!,
    host,
    port,
    maxBatchSize,
    maxWaitMs,
    maxInputs,
    bodyLimit,
    maxInputLength,
    maxQueuedTexts,
    headersTimeoutMs: headersTimeout * 1000,
    requestTimeoutMs: requestTimeout * 1000,
    apiKey,
    normalize: flag(v, "normalize"),
    logger: verbose ? { level: "info" } : false,
  });
  let address: string;
  try {
    address = await server.listen();
  } catch (e) {
    model.dispose();
    throw e;
  }
  note(`sbert-node serve: listening on ${address} (model ${modelName}, dim ${model.getSentenceEmbeddingDimension()}, ${model.device}, batches of ${maxBatchSize})`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals): void => {
      if (stopping) {
        note(`sbert-node serve: ${sig} again, exiting without waiting`);
        process.exit(1);
      }
      stopping = true;
      const busy = server.stats().inFlightRequests;
      note(`sbert-node serve: ${sig}: shutting down${busy ? ` after ${busy} request(s) in progress` : ""}`);
      const timer = setTimeout(() => {
        note(`sbert-node serve: requests still running after ${shutdownTimeout}s, exiting`);
        process.exit(1);
      }, shutdownTimeout * 1000);
      timer.unref();
      server
        .close()
        .then(() => {
          model.dispose();
          note("sbert-node serve: stopped");
          resolve(0);
        })
        .catch((e: unknown) => {
          note(`sbert-node serve: error while shutting down: ${(e as Error).message}`);
          resolve(1);
        });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}
