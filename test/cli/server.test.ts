// The server's parts in process: the micro-batcher with a fake encoder, and createServer through Fastify's
// inject (no sockets).
import { connect } from "node:net";
import { join } from "node:path";

import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, SentenceTransformer } from "../../lib/index.js";
import { MicroBatcher, QueueFullError, createServer, type EmbeddingServer } from "../../lib/server/index.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

/** A fake encoder: text "t<k>" → [k, batch number]; records each batch. */
function fakeEncoder(delayMs = 0, failOn?: string) {
  const batches: string[][] = [];
  const encode = async (texts: string[]): Promise<Float32Array[]> => {
    batches.push(texts);
    const n = batches.length;
    await new Promise((r) => setTimeout(r, delayMs));
    if (failOn !== undefined && texts.includes(failOn)) throw new Error(`cannot encode ${failOn}`);
    return texts.map((t) => Float32Array.of(Number(t.slice(1)), n));
  };
  return { encode, batches };
}

const texts = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `t${from + i}`);

/** An encoder that holds every batch until `release()`. */
function gatedEncoder() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const batches: string[][] = [];
  const encode = async (t: string[]): Promise<Float32Array[]> => {
    batches.push(t);
    await gate;
    return t.map((x) => Float32Array.of(Number(x.slice(1))));
  };
  return { encode, batches, release };
}

/** Resolves once `cond()` holds, checking on each turn of the event loop. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`never happened: ${what}`);
}

describe("MicroBatcher", () => {
  test("concurrent requests share batches of at most maxBatchSize; each gets its rows in order", async () => {
    const fake = fakeEncoder(5);
    const b = new MicroBatcher(fake.encode, { maxBatchSize: 4, maxWaitMs: 20 });
    const requests = [texts(0, 1), texts(100, 3), texts(200, 6), texts(300, 2)];
    const results = await Promise.all(requests.map((r) => b.submit(r)));
    results.forEach((rows, i) => expect(rows.map((r) => r[0])).toEqual(requests[i]!.map((t) => Number(t.slice(1)))));
    expect(fake.batches.map((x) => x.length)).toEqual([4, 4, 4]);
    // A request larger than a batch is spread over consecutive batches.
    expect(results[2]!.map((r) => r[1])).toEqual([2, 2, 2, 2, 3, 3]);
    expect(b.snapshot()).toMatchObject({ requests: 4, texts: 12, batches: 3, largestBatch: 4, queuedTexts: 0, runningBatches: 0 });
  });

  test("a lone request waits at most maxWaitMs for company", async () => {
    const fake = fakeEncoder();
    const b = new MicroBatcher(fake.encode, { maxBatchSize: 64, maxWaitMs: 40 });
    const start = Date.now();
    const first = b.submit(texts(0, 1));
    await new Promise((r) => setTimeout(r, 10));
    const second = b.submit(texts(1, 1));
    await Promise.all([first, second]);
    const waited = Date.now() - start;
    expect(fake.batches).toEqual([["t0", "t1"]]);
    expect(waited).toBeGreaterThanOrEqual(35);
    expect(waited).toBeLessThan(1000);
  });

  test("a failed batch rejects the requests in it, drops their queued texts, and spares the others", async () => {
    const fake = fakeEncoder(5, "t1");
    const b = new MicroBatcher(fake.encode, { maxBatchSize: 2, maxWaitMs: 0 });
    const bad = b.submit(texts(0, 5));
    const good = b.submit(texts(100, 2));
    await expect(bad).rejects.toThrow("cannot encode t1");
    expect((await good).map((r) => r[0])).toEqual([100, 101]);
    // t0,t1 failed; t2..t4 were never encoded.
    expect(fake.batches.flat()).toEqual(["t0", "t1", "t100", "t101"]);
    await b.close();
    await expect(b.submit(["t9"])).rejects.toThrow(/closed/);
  });

  test("an aborted request leaves the queue at once; its batch already running is not waited for", async () => {
    const fake = gatedEncoder();
    const b = new MicroBatcher(fake.encode, { maxBatchSize: 2, maxWaitMs: 0 });
    const abort = new AbortController();
    const cancelled = b.submit(texts(0, 6), abort.signal);
    const other = b.submit(texts(100, 1));
    expect(b.snapshot()).toMatchObject({ queuedTexts: 5, runningBatches: 1 });
    abort.abort(new Error("client gone"));
    await expect(cancelled).rejects.toThrow("client gone");
    expect(b.snapshot()).toMatchObject({ queuedTexts: 1, cancelledTexts: 4 });
    fake.release();
    expect((await other).map((r) => r[0])).toEqual([100]);
    expect(fake.batches).toEqual([["t0", "t1"], ["t100"]]);
    await expect(b.submit(["t1"], AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
  });

  test("a request that does not fit in maxQueuedTexts is refused; an empty queue takes a full-size request", async () => {
    const fake = gatedEncoder();
    const b = new MicroBatcher(fake.encode, { maxBatchSize: 1, maxWaitMs: 0, maxQueuedTexts: 3 });
    const running = b.submit(texts(0, 1));
    const queued = b.submit(texts(10, 3));
    const refused = b.submit(texts(20, 1));
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toThrow("the queue holds 3 texts; the limit is 3");
    fake.release();
    expect((await Promise.all([running, queued])).flat().map((r) => r[0])).toEqual([0, 10, 11, 12]);
    expect(b.snapshot()).toMatchObject({ requests: 2, refusedRequests: 1, texts: 4 });
  });
});

describe("createServer", () => {
  let model: SentenceTransformer;
  beforeAll(async () => {
    const dir = join(await tempDir("sbert-server-"), "model");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] } });
    model = await SentenceTransformer.load(dir);
  });
  afterAll(() => model?.dispose());

  test("inject: embeddings equal model.encode; without a Normalize module `dimensions` only truncates", async () => {
    const server = createServer(model, { modelId: "m", maxBatchSize: 4 });
    try {
      const res = await server.app.inject({ method: "POST", url: "/v1/embeddings", payload: { input: SENTENCES } });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      const body = res.json() as { data: { index: number; embedding: number[] }[]; model: string };
      expect(body.model).toBe("m");
      const expected = await model.encode(SENTENCES);
      body.data.forEach((d, i) => expect(maxAbsDiff(d.embedding, expected[i]!)).toBeLessThanOrEqual(1e-5));

      const cut = (await server.app.inject({ method: "POST", url: "/v1/embeddings", payload: { input: SENTENCES[0], dimensions: 5 } })).json() as typeof body;
      expect(maxAbsDiff(cut.data[0]!.embedding, expected[0]!.subarray(0, 5))).toBeLessThanOrEqual(1e-5);
      expect(Math.hypot(...cut.data[0]!.embedding)).not.toBeCloseTo(1, 2);
      expect(server.stats()).toMatchObject({ requests: 2, inFlightRequests: 0 });
    } finally {
      await server.close();
    }
  });

  test("options are checked", () => {
    expect(() => createServer(model, { maxBatchSize: 0 })).toThrow(/maxBatchSize must be an integer >= 1/);
    expect(() => createServer(model, { maxWaitMs: -1 })).toThrow(/maxWaitMs must be >= 0/);
  });
});

describe("createServer limits", () => {
  let model: SentenceTransformer;
  let server: EmbeddingServer | undefined;
  let url: string;
  beforeAll(async () => {
    const dir = join(await tempDir("sbert-server-limits-"), "model");
    await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] } });
    model = await SentenceTransformer.load(dir);
  });
  afterAll(() => model?.dispose());

  async function start(options: Parameters<typeof createServer>[1]): Promise<EmbeddingServer> {
    server = createServer(model, { port: 0, ...options });
    url = await server.listen();
    return server;
  }
  afterEach(async () => {
    await server?.close();
    server = undefined;
    delete (model as Partial<Record<"encode" | "tokenize", unknown>>).encode;
    delete (model as Partial<Record<"encode" | "tokenize", unknown>>).tokenize;
  });

  /** Holds model.encode until `release()`; counts its calls. */
  function gateModel() {
    const real = SentenceTransformer.prototype.encode;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    model.encode = (async (...args: Parameters<typeof real>) => {
      calls++;
      await gate;
      return real.apply(model, args);
    }) as typeof real;
    return { release, calls: () => calls };
  }

  const post = (body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal });

  test("a client that disconnects has its queued texts dropped, not encoded", async () => {
    const s = await start({ maxBatchSize: 1, maxWaitMs: 0 });
    const gate = gateModel();
    const abort = new AbortController();
    const request = post({ input: SENTENCES.slice(0, 6) }, {}, abort.signal).catch((e: unknown) => e);
    await until(() => s.stats().runningBatches === 1 && s.stats().queuedTexts === 5, "the first text is being encoded");
    abort.abort();
    expect(await request).toBeInstanceOf(Error);
    await until(() => s.stats().queuedTexts === 0, "the queued texts are dropped");
    expect(s.stats().cancelledTexts).toBe(5);
    gate.release();
    await until(() => s.stats().runningBatches === 0 && s.stats().inFlightRequests === 0, "the running batch ends");
    expect(gate.calls()).toBe(1);
    // The server goes on serving.
    expect((await post({ input: "ciao" })).status).toBe(200);
  });

  test("a request that does not fit in the queue gets 503 with Retry-After; the queued ones are answered", async () => {
    const s = await start({ maxBatchSize: 1, maxWaitMs: 0, maxInputs: 4, maxQueuedTexts: 4 });
    const gate = gateModel();
    const first = post({ input: "a" });
    await until(() => s.stats().runningBatches === 1, "the first request is running");
    const second = post({ input: ["b", "c", "d", "e"] });
    await until(() => s.stats().queuedTexts === 4, "the queue is full");
    const refused = await post({ input: "f" });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: "server_overloaded", type: "server_error" });
    gate.release();
    expect([(await first).status, (await second).status]).toEqual([200, 200]);
    expect(() => createServer(model, { maxInputs: 10, maxQueuedTexts: 9 })).toThrow(/maxQueuedTexts must be an integer >= 10/);
  });

  test("a text over maxInputLength is refused with 400 naming it, before anything is tokenized", async () => {
    await start({ maxInputLength: 20 });
    let tokenized = 0;
    const real = SentenceTransformer.prototype.tokenize;
    model.tokenize = ((...args: Parameters<typeof real>) => (tokenized++, real.apply(model, args))) as typeof real;
    const res = await post({ input: ["short", "x".repeat(21)] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: Record<string, unknown> }).error).toMatchObject({
      param: "input[1]",
      code: "input_too_long",
      message: "'input[1]' has 21 characters; at most 20 are allowed per text",
    });
    expect(tokenized).toBe(0);
    expect((await post({ input: "x".repeat(20) })).status).toBe(200);
  });

  test("apiKey: every route but /health needs the bearer key; 401 otherwise", async () => {
    await start({ apiKey: "s3cret-key" });
    const missing = await post({ input: "a" });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    expect((await post({ input: "a" }, { authorization: "Bearer s3cret-kex" })).status).toBe(401);
    expect((await post({ input: "a" }, { authorization: "Bearer s3cret-key-longer" })).status).toBe(401);
    expect((await post({ input: "a" }, { authorization: "s3cret-key" })).status).toBe(401);
    expect((await post({ input: "a" }, { authorization: "Bearer s3cret-key" })).status).toBe(200);
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(() => createServer(model, { apiKey: " " })).toThrow(/apiKey must be a non-empty string/);
  });

  /** Everything the server sends on a raw connection after `request` is written, until it closes the connection. */
  function rawExchange(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const { port } = new URL(url);
      const socket = connect(Number(port), "127.0.0.1", () => socket.write(request));
      let data = "";
      socket.on("data", (d) => (data += d.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
    });
  }

  test("a client that sends its headers or its body too slowly gets 408 and the connection is closed", async () => {
    await start({ headersTimeoutMs: 100, requestTimeoutMs: 200 });
    const partialHeaders = await rawExchange("POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n");
    expect(partialHeaders).toMatch(/^HTTP\/1\.1 408 /);
    const partialBody = await rawExchange('POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"input":');
    expect(partialBody).toMatch(/^HTTP\/1\.1 408 /);
    expect(() => createServer(model, { headersTimeoutMs: 500, requestTimeoutMs: 100 })).toThrow(/requestTimeoutMs must be an integer >= 500/);
  });

  test("/metrics: Prometheus text with requests by route and status, latency histograms, texts and queue depth", async () => {
    await start({});
    await post({ input: SENTENCES.slice(0, 3) });
    await post({ input: "ciao" });
    await post({ input: [] });
    await fetch(`${url}/nowhere`);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    for (const line of text.trimEnd().split("\n")) {
      expect(line).toMatch(/^(# (HELP|TYPE) sbert_\w+ .+|sbert_\w+(\{(\w+="[^"]*",?)+\})? [\d.e+-]+)$/);
    }
    expect(text).toContain('sbert_http_requests_total{route="/v1/embeddings",status="200"} 2\n');
    expect(text).toContain('sbert_http_requests_total{route="/v1/embeddings",status="400"} 1\n');
    expect(text).toContain('sbert_http_requests_total{route="unmatched",status="404"} 1\n');
    expect(text).toContain("# TYPE sbert_http_request_duration_seconds histogram\n");
    expect(text).toContain('sbert_http_request_duration_seconds_bucket{route="/v1/embeddings",le="+Inf"} 3\n');
    expect(text).toContain('sbert_http_request_duration_seconds_count{route="/v1/embeddings"} 3\n');
    expect(text).toContain("sbert_texts_total 4\n");
    expect(text).toContain("sbert_queue_texts 0\n");
    // Buckets are cumulative.
    const buckets = [...text.matchAll(/sbert_http_request_duration_seconds_bucket\{route="\/v1\/embeddings",le="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });
});

describe("rerank and text-embeddings-inference routes", () => {
  let embedder: SentenceTransformer;
  let reranker: CrossEncoder;
  let labels3: CrossEncoder;
  let server: EmbeddingServer;
  const QUERY = "una ragazza e i capelli";
  beforeAll(async () => {
    const root = await tempDir("sbert-server-rerank-");
    await makeSentenceTransformerFolder(join(root, "st"), { pooling: { modes: ["mean"] } });
    await makeCrossEncoderFolder(join(root, "ce"), { bert: { seed: 7 } });
    await makeCrossEncoderFolder(join(root, "ce3"), { numLabels: 3 });
    embedder = await SentenceTransformer.load(join(root, "st"));
    reranker = await CrossEncoder.load(join(root, "ce"));
    labels3 = await CrossEncoder.load(join(root, "ce3"));
    server = createServer({ embed: embedder, rerank: reranker, three: labels3 }, { maxBatchSize: 4, maxWaitMs: 20, maxInputs: 16 });
  });
  afterAll(async () => {
    await server?.close();
    embedder?.dispose();
    reranker?.dispose();
    labels3?.dispose();
  });

  const inject = async (url: string, payload: unknown) => {
    const res = await server.app.inject({ method: "POST", url, payload: payload as Record<string, unknown> });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> & { error: { message: string; param: string | null; code: string } } };
  };

  test("POST /v1/rerank: Cohere's shape, best first, with CrossEncoder.rank's scores; top_n and documents as {text}", async () => {
    const ranked = await reranker.rank(QUERY, SENTENCES);
    expect(new Set(ranked.map((r) => r.score.toFixed(4))).size).toBeGreaterThan(3);
    const res = await inject("/v1/rerank", { model: "rerank", query: QUERY, documents: SENTENCES, return_documents: true });
    expect(res.status).toBe(200);
    const results = res.body["results"] as { index: number; relevance_score: number; document?: { text: string } }[];
    expect(res.body["model"]).toBe("rerank");
    expect(results.map((r) => r.index)).toEqual(ranked.map((r) => r.corpusId));
    results.forEach((r, i) => {
      expect(Math.abs(r.relevance_score - ranked[i]!.score)).toBeLessThanOrEqual(1e-6);
      expect(r.document).toEqual({ text: SENTENCES[r.index] });
    });
    // Without `model` the first reranker answers; objects with `text` are documents too.
    const top = await inject("/v1/rerank", { query: QUERY, documents: SENTENCES.map((text) => ({ text })), top_n: 2 });
    expect(top.body["results"]).toEqual(results.slice(0, 2).map(({ index, relevance_score }) => ({ index, relevance_score })));
  });

  test("POST /rerank (TEI): raw_scores gives the logits, otherwise sigmoid scores; return_text; same numbers as predict", async () => {
    const logits = (await reranker.predict(SENTENCES.map((s): [string, string] => [QUERY, s]), { activationFn: "identity" })) as number[];
    const scores = (await reranker.predict(SENTENCES.map((s): [string, string] => [QUERY, s]))) as number[];
    const raw = await server.app.inject({ method: "POST", url: "/rerank", payload: { query: QUERY, texts: SENTENCES, raw_scores: true, return_text: true } });
    expect(raw.statusCode).toBe(200);
    const rows = raw.json() as { index: number; score: number; text: string }[];
    expect(rows.length).toBe(SENTENCES.length);
    for (const r of rows) {
      expect(Math.abs(r.score - logits[r.index]!)).toBeLessThanOrEqual(1e-6);
      expect(r.text).toBe(SENTENCES[r.index]);
    }
    expect(rows.map((r) => r.score)).toEqual([...rows.map((r) => r.score)].sort((a, b) => b - a));
    const plain = (await server.app.inject({ method: "POST", url: "/rerank", payload: { query: QUERY, texts: SENTENCES } })).json() as { index: number; score: number }[];
    for (const r of plain) expect(Math.abs(r.score - scores[r.index]!)).toBeLessThanOrEqual(1e-6);
    expect(plain.every((r) => !("text" in r))).toBe(true);
  });

  test("POST /embed (TEI): unit-length rows by default, the model's own with normalize false; GET /info", async () => {
    const expected = await embedder.encode(SENTENCES);
    const unit = (await server.app.inject({ method: "POST", url: "/embed", payload: { inputs: SENTENCES } })).json() as number[][];
    unit.forEach((v, i) => {
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      const norm = Math.hypot(...expected[i]!);
      expect(maxAbsDiff(v, expected[i]!.map((x) => x / norm))).toBeLessThanOrEqual(1e-6);
    });
    const raw = (await server.app.inject({ method: "POST", url: "/embed", payload: { inputs: SENTENCES[0], normalize: false } })).json() as number[][];
    expect(raw.length).toBe(1);
    expect(maxAbsDiff(raw[0]!, expected[0]!)).toBeLessThanOrEqual(1e-6);
    const info = (await server.app.inject({ method: "GET", url: "/info" })).json() as Record<string, unknown>;
    expect(info).toMatchObject({ model_id: "embed", model_dtype: "float32", model_type: { embedding: { pooling: "mean" } }, max_client_batch_size: 16 });
    const only = createServer(reranker);
    const ceInfo = (await only.app.inject({ method: "GET", url: "/info" })).json() as Record<string, unknown>;
    expect(ceInfo).toMatchObject({ model_id: "cross-encoder", model_type: { reranker: { id2label: { "0": "LABEL_0" }, label2id: { LABEL_0: 0 } } } });
    const noEmbedder = (await only.app.inject({ method: "POST", url: "/v1/embeddings", payload: { input: "ciao" } })).json() as { error: { message: string } };
    expect(noEmbedder.error.message).toMatch(/this server has no embedding model \(it serves 'cross-encoder'\)/);
    await only.close();
  });

  test("models are picked by kind and name; /v1/models and /health list them all", async () => {
    expect((await inject("/v1/embeddings", { input: "ciao", model: "rerank" })).body.error).toMatchObject({
      param: "model",
      code: "invalid_model",
      message: "'rerank' is a reranker (CrossEncoder); this route needs an embedding model (SentenceTransformer)",
    });
    expect((await inject("/v1/embeddings", { input: "ciao", model: "whatever" })).status).toBe(200);
    const three = await inject("/v1/rerank", { model: "three", query: "q", documents: ["a"] });
    expect(three.status).toBe(400);
    expect(three.body.error.message).toBe("'three' gives 3 scores per pair; reranking needs a model with one");
    const unknown = await inject("/v1/rerank", { model: "nope", query: "q", documents: ["a"] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe("the model 'nope' does not exist; this server has 'rerank', 'three'");
    const list = (await server.app.inject({ method: "GET", url: "/v1/models" })).json() as { data: { id: string }[] };
    expect(list.data.map((m) => m.id)).toEqual(["embed", "rerank", "three"]);
    const health = (await server.app.inject({ method: "GET", url: "/health" })).json() as { models: { id: string; kind: string }[] };
    expect(health.models.map((m) => [m.id, m.kind])).toEqual([
      ["embed", "embedding"],
      ["rerank", "reranker"],
      ["three", "reranker"],
    ]);
  });

  test.each([
    ["/v1/rerank", { documents: ["a"] }, "'query' is required"],
    ["/v1/rerank", { query: "q" }, "'documents' is required"],
    ["/v1/rerank", { query: 3, documents: ["a"] }, "'query' must be a string"],
    ["/v1/rerank", { query: "q", documents: "a" }, "'documents' must be an array"],
    ["/v1/rerank", { query: "q", documents: [] }, "'documents' must not be an empty array"],
    ["/v1/rerank", { query: "", documents: ["a"] }, "'query' must not be an empty string"],
    ["/v1/rerank", { query: "q", documents: ["a", 1] }, "'documents[1]' must be a string (or an object with a string 'text'), got number"],
    ["/v1/rerank", { query: "q", documents: ["a", ""] }, "'documents[1]' must not be an empty string"],
    ["/v1/rerank", { query: "q", documents: Array(17).fill("a") }, "'documents' has 17 entries; at most 16 are allowed per request"],
    ["/v1/rerank", { query: "q", documents: ["a"], top_n: 0 }, "'top_n' must be >= 1"],
    ["/v1/rerank", { query: "q", documents: ["a"], return_documents: "yes" }, "'return_documents' must be a boolean"],
    ["/rerank", { query: "q" }, "'texts' is required"],
    ["/rerank", { query: "q", texts: [null] }, "'texts[0]' must be a string (or an object with a string 'text'), got null"],
    ["/rerank", { query: "q", texts: ["a"], raw_scores: 1 }, "'raw_scores' must be a boolean"],
    ["/embed", {}, "'inputs' is required"],
    ["/embed", { inputs: 5 }, "'inputs' must be a string or an array"],
    ["/embed", { inputs: ["a", true] }, "'inputs[1]' must be a string, got boolean"],
    ["/embed", { inputs: "a", normalize: "no" }, "'normalize' must be a boolean"],
  ])("POST %s %j is a 400: %s", async (url, payload, message) => {
    const res = await inject(url, payload);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(message);
  });

  test("concurrent rerank requests share batches and each gets its own scores", async () => {
    const before = server.stats();
    const queries = ["il cane", "la città", "una ragazza", "la chitarra", "ciao"];
    const documents = SENTENCES.slice(0, 7);
    const expected = await Promise.all(queries.map((q) => reranker.rank(q, documents)));
    const answers = await Promise.all(queries.map((query) => inject("/v1/rerank", { model: "rerank", query, documents })));
    answers.forEach((a, i) => {
      const results = a.body["results"] as { index: number; relevance_score: number }[];
      expect(results.map((r) => r.index)).toEqual(expected[i]!.map((r) => r.corpusId));
      results.forEach((r, j) => expect(Math.abs(r.relevance_score - expected[i]![j]!.score)).toBeLessThanOrEqual(1e-6));
    });
    const after = server.stats();
    expect(after.texts - before.texts).toBe(35);
    // 35 pairs of 7 each in full batches of 4 (one request alone would take 2 batches, 5 alone 10).
    expect(after.batches - before.batches).toBe(9);
  });
});
