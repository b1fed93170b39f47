/**
 * `sbert-node serve MODEL` or `--model NAME=PATH ...`: the embeddings and reranking server. SIGTERM/SIGINT stop
 * accepting connections, let requests in progress finish, dispose the models and exit 0.
 */
import { type CommandSpec, UsageError, flag, intFlag, parseByteSize, parseCommand, positionals, str } from "./args.js";
import { setNumThreads } from "../backend.js";
import type { ServedModel } from "../server/index.js";
import { DEVICE_OPTION, THREADS_OPTION, loadServedModel, note } from "./common.js";

export const serveSpec: CommandSpec = {
  name: "serve",
  summary: "Serve embedding models, rerankers and sparse encoders over HTTP (OpenAI embeddings, Cohere/Jina rerank, TEI routes).",
  usage: "[MODEL] [--model NAME=PATH ...] [options]",
  description: [
    "MODEL (served as --model-id) and each --model NAME=PATH is a folder or Hub id: a cross-encoder",
    "(config_sentence_transformers.json model_type CrossEncoder, or a *ForSequenceClassification folder) is",
    "served as a reranker, a SparseEncoder folder (model_type SparseEncoder) as a sparse encoder, anything else",
    "as an embedding model. A request's `model` picks among the models of",
    "the kind its route needs; without it, or when the server has one model of that kind, the first answers.",
    "Embeddings: {input: string | string[], model?, encoding_format?: float | base64, dimensions?, user?}.",
    "`dimensions` keeps the first N values and re-normalizes them when the model normalizes (a Normalize",
    "module, or --normalize). Rerank (Cohere/Jina): {query, documents: (string | {text})[], model?, top_n?,",
    "return_documents?} -> {model, results: [{index, relevance_score, document?: {text}}]}, best first, scores",
    "after the model's activation (sigmoid by default). TEI: /embed {inputs, normalize? (true)} -> number[][];",
    "/rerank {query, texts, raw_scores?, return_text?} -> [{index, score, text?}]; /embed_sparse {inputs} ->",
    "[{index, value}][] (non-zero dimensions); texts longer than the",
    "model's max length are truncated (TEI's truncate: true); errors use the OpenAI error body.",
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
    "model-id": { type: "string", value: "NAME", help: "Name of MODEL in requests and responses (default: MODEL as given)." },
    model: { type: "string", value: "NAME=PATH", multiple: true, help: "Another model to serve under NAME (repeat for more)." },
    normalize: { type: "boolean", help: "Return unit-length embeddings." },
    "shutdown-timeout": { type: "string", value: "S", help: "Seconds to wait for requests in progress at shutdown (default 30)." },
    device: DEVICE_OPTION,
    threads: THREADS_OPTION,
  },
  examples: [
    "sbert-node serve ./my-model --port 8080",
    "sbert-node serve --model embed=./bi-encoder --model rerank=./cross-encoder",
    "curl -s localhost:8080/v1/rerank -H 'content-type: application/json' -d '{\"query\": \"q\", \"documents\": [\"a\", \"b\"]}'",
    "curl -s localhost:8080/v1/embeddings -H 'content-type: application/json' -d '{\"input\": [\"hello\", \"world\"]}'",
  ],
};

export async function serveCommand(argv: string[]): Promise<number> {
  const cmd = "serve";
  const parsed = parseCommand(serveSpec, argv);
  const [positional] = positionals(parsed, ["MODEL"], cmd, 1);
  const v = parsed.values;
  const specs: [string, string][] = positional === undefined ? [] : [[str(v, "model-id") ?? positional, positional]];
  for (const raw of (v["model"] as string[] | undefined) ?? []) {
    const eq = raw.indexOf("=");
    if (eq <= 0 || eq === raw.length - 1) throw new UsageError(`--model must be NAME=PATH, got '${raw}'`, cmd);
    specs.push([raw.slice(0, eq), raw.slice(eq + 1)]);
  }
  if (specs.length === 0) throw new UsageError("missing MODEL (or --model NAME=PATH)", cmd);
  const names = specs.map(([name]) => name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`the model name '${twice}' is given twice`, cmd);
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

  if (threads !== undefined) setNumThreads(threads);
  const models: Record<string, ServedModel> = {};
  const disposeAll = (): void => Object.values(models).forEach((m) => m.dispose());
  try {
    for (const [name, path] of specs) models[name] = await loadServedModel(path, { device: str(v, "device") });
  } catch (e) {
    disposeAll();
    throw e;
  }
  const { createServer } = await import("../server/index.js");
  const server = createServer(models, {
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
    disposeAll();
    throw e;
  }
  const described = Object.entries(models).map(([name, m]) =>
    "numLabels" in m ? `reranker ${name}, ${m.numLabels} label${m.numLabels === 1 ? "" : "s"}, ${m.device}` : `model ${name}, dim ${m.getSentenceEmbeddingDimension()}, ${m.device}`,
  );
  note(`sbert-node serve: listening on ${address} (${described.join("; ")}, batches of ${maxBatchSize})`);

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
          disposeAll();
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
