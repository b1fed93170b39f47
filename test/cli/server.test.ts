// The server's parts in process: the micro-batcher with a fake encoder, and createServer through Fastify's
// inject (no sockets).
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { MicroBatcher, createServer } from "../../lib/server/index.js";
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
