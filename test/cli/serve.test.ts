import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, SentenceTransformer } from "../../lib/index.js";
import { seededRandom } from "../../lib/internal/random.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { type CliProcess, assertBuilt, runCli, startCli, within } from "../helpers/cli.js";
import { SENTENCES, maxAbsDiff, tempDir } from "../helpers/tmp.js";

let dir: string;
let model: SentenceTransformer;
let server: CliProcess;
let url: string;

const POOL = [
  ...SENTENCES,
  "The dog runs in the park.",
  "Il sole è caldo oggi a Roma.",
  ...Array.from({ length: 30 }, (_, i) => `${["il gatto", "the city", "una ragazza", "music and books", "la pizza"][i % 5]} ${"molto ".repeat(i % 6)}${i}`),
];
let expected: Map<string, Float32Array>;

interface EmbeddingsResponse {
  object: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

interface ErrorResponse {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function post(body: unknown, headers: Record<string, string> = { "content-type": "application/json" }): Promise<Response> {
  return fetch(`${url}/v1/embeddings`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

function tokens(texts: string[]): number {
  let n = 0;
  for (const t of texts) n += model.tokenize([t]).attentionMask.reduce((a, b) => a + b, 0);
  return n;
}

function unit(v: ArrayLike<number>): Float32Array {
  const norm = Math.hypot(...Array.from(v));
  return Float32Array.from(v, (x) => x / norm);
}

beforeAll(async () => {
  assertBuilt();
  const root = await tempDir("sbert-cli-serve-");
  dir = join(root, "model");
  // Dense + Normalize: a normalizing model, so `dimensions` must re-normalize.
  await makeSentenceTransformerFolder(dir, { pooling: { modes: ["mean"] }, dense: { outFeatures: 24 }, normalize: true });
  model = await SentenceTransformer.load(dir);
  const all = await model.encode(POOL);
  expected = new Map(POOL.map((t, i) => [t, all[i]!]));
  server = startCli([
    "serve",
    dir,
    "--port",
    "0",
    "--model-id",
    "tiny",
    "--max-batch-size",
    "16",
    "--max-wait-ms",
    "20",
    "--max-inputs",
    "64",
    "--body-limit",
    "64kb",
  ]);
  const m = await server.waitForStderr(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  url = m[1]!;
});

afterAll(async () => {
  if (server) {
    server.kill("SIGTERM");
    await within(server.exited, 10_000, "server exit").catch(() => server.kill("SIGKILL"));
  }
  model?.dispose();
});

describe("sbert-node serve", () => {
  test("100 concurrent requests (strings and arrays) get model.encode's embeddings, in order, with token usage; they are batched", async () => {
    const random = seededRandom(5);
    const requests = Array.from({ length: 100 }, (_, i) => {
      const pick = (): string => POOL[Math.floor(random() * POOL.length)]!;
      return i % 3 === 0 ? pick() : Array.from({ length: 1 + Math.floor(random() * 8) }, pick);
    });
    const responses = await within(
      Promise.all(requests.map(async (input) => {
        const res = await post({ input, model: "whatever" });
        return { status: res.status, body: (await res.json()) as EmbeddingsResponse };
      })),
      60_000,
      "100 requests",
    );
    let total = 0;
    responses.forEach(({ status, body }, i) => {
      expect(status).toBe(200);
      const texts = typeof requests[i] === "string" ? [requests[i] as string] : (requests[i] as string[]);
      total += texts.length;
      expect(body.object).toBe("list");
      expect(body.model).toBe("tiny");
      expect(body.data.map((d) => d.index)).toEqual(texts.map((_, k) => k));
      body.data.forEach((d, k) => {
        expect(d.object).toBe("embedding");
        expect(maxAbsDiff(d.embedding as number[], expected.get(texts[k]!)!)).toBeLessThanOrEqual(1e-5);
      });
      expect(body.usage.prompt_tokens).toBe(tokens(texts));
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens);
    });
    const health = (await (await fetch(`${url}/health`)).json()) as { batching: Record<string, number> };
    expect(health.batching["texts"]).toBeGreaterThanOrEqual(total);
    expect(health.batching["largest_batch"]).toBeLessThanOrEqual(16);
    // Requests were merged: far fewer forward passes than requests.
    expect(health.batching["batches"]).toBeLessThan(health.batching["requests"]! / 2);
  });

  test("usage counts the model's tokens, [CLS] and [SEP] included", async () => {
    const body = (await (await post({ input: "ciao" })).json()) as EmbeddingsResponse;
    expect(body.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  test("encoding_format base64: little-endian float32 bytes equal to the float embedding", async () => {
    const input = [POOL[2]!, POOL[9]!];
    const [b64, flt] = await Promise.all([post({ input, encoding_format: "base64" }), post({ input, encoding_format: "float" })]);
    const a = (await b64.json()) as EmbeddingsResponse;
    const f = (await flt.json()) as EmbeddingsResponse;
    a.data.forEach((d, k) => {
      const bytes = Buffer.from(d.embedding as string, "base64");
      expect(bytes.length).toBe(24 * 4);
      const values = Array.from({ length: 24 }, (_, j) => bytes.readFloatLE(j * 4));
      expect(maxAbsDiff(values, expected.get(input[k]!)!)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(values, f.data[k]!.embedding as number[])).toBeLessThanOrEqual(1e-6);
    });
  });

  test("dimensions keeps the first values and re-normalizes (the model normalizes)", async () => {
    const res = await post({ input: [POOL[0]!, POOL[5]!], dimensions: 8 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as EmbeddingsResponse;
    body.data.forEach((d, k) => {
      const e = d.embedding as number[];
      expect(e).toHaveLength(8);
      expect(Math.hypot(...e)).toBeCloseTo(1, 5);
      expect(maxAbsDiff(e, unit(expected.get([POOL[0]!, POOL[5]!][k]!)!.subarray(0, 8)))).toBeLessThanOrEqual(1e-5);
    });
    const full = (await (await post({ input: POOL[0]!, dimensions: 24 })).json()) as EmbeddingsResponse;
    expect(maxAbsDiff(full.data[0]!.embedding as number[], expected.get(POOL[0]!)!)).toBeLessThanOrEqual(1e-5);
  });

  test.each([
    ["an empty array", { input: [] }, "input", /'input' must not be an empty array/],
    ["an empty string", { input: "" }, "input", /'input' must not be an empty string/],
    ["a non-string entry", { input: ["ok", 5] }, "input[1]", /'input\[1\]' is a token array/],
    ["a null entry", { input: ["ok", null] }, "input[1]", /'input\[1\]' must be a string, got null/],
    ["a number input", { input: 42 }, "input", /'input' must be a string or an array of strings/],
    ["no input", { model: "tiny" }, "input", /'input' is required/],
    ["too many inputs", { input: Array.from({ length: 65 }, () => "a") }, "input", /'input' has 65 entries; at most 64/],
    ["dimensions 0", { input: "a", dimensions: 0 }, "dimensions", /'dimensions' must be >= 1/],
    ["dimensions above the model's", { input: "a", dimensions: 25 }, "dimensions", /'dimensions' must be between 1 and 24/],
    ["dimensions as a string", { input: "a", dimensions: "8" }, "dimensions", /'dimensions' must be an integer/],
    ["an unknown encoding_format", { input: "a", encoding_format: "hex" }, "encoding_format", /'encoding_format' must be one of: float, base64/],
  ])("400 for %s, with an OpenAI-style error naming the field", async (_what, body, param, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const err = (await res.json()) as ErrorResponse;
    expect(err.error.type).toBe("invalid_request_error");
    expect(err.error.param).toBe(param);
    expect(err.error.message).toMatch(message);
  });

  test("400 for invalid JSON, 413 for a body over --body-limit, 415 for other content types", async () => {
    const bad = await post("{not json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorResponse).error.code).toBe("invalid_json");

    const big = await post({ input: "parola ".repeat(12_000) });
    expect(big.status).toBe(413);
    const bigErr = (await big.json()) as ErrorResponse;
    expect(bigErr.error).toMatchObject({ type: "invalid_request_error", code: "request_too_large", param: null });
    expect(bigErr.error.message).toMatch(/larger than the limit of 65536 bytes/);

    const text = await post("hello", { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expect(((await text.json()) as ErrorResponse).error.message).toMatch(/unsupported content type 'text\/plain'/);
    const form = await post("input=a", { "content-type": "application/x-www-form-urlencoded" });
    expect(form.status).toBe(415);
  });

  test("/health, /v1/models, unknown routes", async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const h = (await health.json()) as { status: string; model: Record<string, unknown>; batching: Record<string, number> };
    expect(h.status).toBe("ok");
    expect(h.model).toMatchObject({ id: "tiny", embedding_dimension: 24, max_seq_length: 64, device: "cpu", normalized: true });
    expect(h.batching).toMatchObject({ max_batch_size: 16, max_wait_ms: 20, max_inputs: 64 });

    const models = (await (await fetch(`${url}/v1/models`)).json()) as { object: string; data: { id: string; object: string }[] };
    expect(models.object).toBe("list");
    expect(models.data.map((m) => [m.id, m.object])).toEqual([["tiny", "model"]]);
    expect((await fetch(`${url}/v1/models/tiny`)).status).toBe(200);
    expect((await fetch(`${url}/v1/models/other`)).status).toBe(404);
    const nope = await fetch(`${url}/v2/nothing`);
    expect(nope.status).toBe(404);
    expect(((await nope.json()) as ErrorResponse).error.code).toBe("not_found");
  });
});

describe("sbert-node serve limits", () => {
  test("--api-key (or SBERT_NODE_API_KEY), --max-input-length and --max-queue reach the server; bad combinations are usage errors", async () => {
    const p = startCli(["serve", dir, "--port", "0", "--max-input-length", "10", "--max-inputs", "8", "--max-queue", "8"], { env: { ...process.env, SBERT_NODE_API_KEY: "k3y" } });
    try {
      const base = (await p.waitForStderr(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
      const embed = (input: unknown, key?: string) =>
        fetch(`${base}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ input }) });
      expect((await embed("ciao")).status).toBe(401);
      expect((await embed("ciao", "k3y")).status).toBe(200);
      const long = await embed("x".repeat(11), "k3y");
      expect(long.status).toBe(400);
      expect(((await long.json()) as ErrorResponse).error.code).toBe("input_too_long");
      const h = (await (await fetch(`${base}/health`)).json()) as { batching: Record<string, number> };
      expect(h.batching).toMatchObject({ max_inputs: 8, max_queued_texts: 8, max_input_length: 10 });
      const metrics = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer k3y" } });
      expect(await metrics.text()).toContain('sbert_http_requests_total{route="/v1/embeddings",status="401"} 1\n');
      p.kill("SIGTERM");
      expect((await within(p.exited, 15_000, "server exit")).code).toBe(0);
    } finally {
      p.kill("SIGKILL");
    }
    for (const [args, message] of [
      [["--max-inputs", "16", "--max-queue", "8"], /--max-queue \(8\) must be at least --max-inputs \(16\)/],
      [["--headers-timeout", "20", "--request-timeout", "10"], /--request-timeout \(10\) must be at least --headers-timeout \(20\)/],
    ] as const) {
      const r = await runCli(["serve", dir, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe("sbert-node serve shutdown", () => {
  test("SIGTERM while requests are in flight: they complete, new ones are refused, the process exits 0", async () => {
    // Batches of 2 long texts make the work take a while, so requests are still running at SIGTERM.
    const p = startCli(["serve", dir, "--port", "0", "--max-batch-size", "2", "--max-wait-ms", "0"]);
    const base = (await p.waitForStderr(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
    try {
      const random = seededRandom(9);
      const long = (): string => Array.from({ length: 60 }, () => POOL[Math.floor(random() * 10)]!.split(" ")[0]!).join(" ");
      const inputs = Array.from({ length: 8 }, () => Array.from({ length: 64 }, long));
      const pending = inputs.map((input) =>
        fetch(`${base}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input }) }).then(
          async (r) => ({ status: r.status, body: (await r.json()) as EmbeddingsResponse }),
        ),
      );
      // Wait until the server is working on all of them (a request that arrives after SIGTERM gets 503).
      let inFlight = 0;
      for (let i = 0; i < 500 && inFlight < 8; i++) {
        const h = (await (await fetch(`${base}/health`)).json()) as { batching: Record<string, number> };
        inFlight = h.batching["in_flight_requests"]!;
        if (inFlight < 8) await new Promise((r) => setTimeout(r, 5));
      }
      expect(inFlight).toBe(8);
      const signalled = Date.now();
      p.kill("SIGTERM");
      const busy = await p.waitForStderr(/SIGTERM: shutting down after (\d+) request\(s\) in progress/, 10_000);
      expect(Number(busy[1])).toBeGreaterThanOrEqual(1);
      const late = await fetch(`${base}/health`).then(
        (r) => r.status,
        () => "refused",
      );
      expect([503, "refused"]).toContain(late);

      const results = await within(Promise.all(pending), 60_000, "in-flight requests");
      const { code } = await within(p.exited, 15_000, "server exit");
      expect(code, p.stderr()).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(20_000);
      expect(p.stderr()).toMatch(/sbert-node serve: stopped/);
      const expectedRows = await model.encode(inputs[3]!);
      for (const { status, body } of results) {
        expect(status).toBe(200);
        expect(body.data).toHaveLength(64);
      }
      results[3]!.body.data.forEach((d, k) => expect(maxAbsDiff(d.embedding as number[], expectedRows[k]!)).toBeLessThanOrEqual(1e-5));
    } finally {
      p.kill("SIGKILL");
    }
  });
});

describe("sbert-node serve --model NAME=PATH", () => {
  test("serves an embedding model and a cross-encoder (detected from its folder) side by side; bad --model values are usage errors", async () => {
    const ceDir = join(await tempDir("sbert-cli-serve-ce-"), "ce");
    await makeCrossEncoderFolder(ceDir, { bert: { seed: 9 } });
    const reranker = await CrossEncoder.load(ceDir);
    const p = startCli(["serve", "--model", `embed=${dir}`, "--model", `rerank=${ceDir}`, "--port", "0"]);
    try {
      const m = await p.waitForStderr(/listening on (http:\/\/127\.0\.0\.1:\d+) \(model embed, dim 24, cpu; reranker rerank, 1 label, cpu, batches of 64\)/, 60_000);
      const base = m[1]!;
      const res = await fetch(`${base}/v1/rerank`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "rerank", query: "il gatto", documents: POOL.slice(0, 6), top_n: 4 }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: string; results: { index: number; relevance_score: number }[] };
      const ranked = await reranker.rank("il gatto", POOL.slice(0, 6), { topK: 4 });
      expect(body.model).toBe("rerank");
      expect(body.results.map((r) => r.index)).toEqual(ranked.map((r) => r.corpusId));
      body.results.forEach((r, i) => expect(Math.abs(r.relevance_score - ranked[i]!.score)).toBeLessThanOrEqual(1e-6));
      const embedded = (await (
        await fetch(`${base}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "embed", input: POOL[0] }) })
      ).json()) as EmbeddingsResponse;
      expect(maxAbsDiff(embedded.data[0]!.embedding as number[], expected.get(POOL[0]!)!)).toBeLessThanOrEqual(1e-5);
      p.kill("SIGTERM");
      expect((await within(p.exited, 15_000, "server exit")).code).toBe(0);
    } finally {
      p.kill("SIGKILL");
      reranker.dispose();
    }
    for (const [args, message] of [
      [["--model", "nameonly"], /--model must be NAME=PATH, got 'nameonly'/],
      [["--model", `a=${dir}`, "--model", `a=${ceDir}`], /the model name 'a' is given twice/],
      [[], /missing MODEL \(or --model NAME=PATH\)/],
    ] as const) {
      const r = await runCli(["serve", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
