import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { CrossEncoder, type RankResult } from "../../lib/crossEncoder/CrossEncoder.js";
import { makeCrossEncoderFolder } from "../fixtures/crossEncoderFolder.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { assertBuilt, runCli } from "../helpers/cli.js";
import { SENTENCES, tempDir } from "../helpers/tmp.js";

const QUERY = "Chi gioca con il cane nel parco?";
// An empty line is a document too: indices are line numbers.
const DOCUMENTS = [
  ...SENTENCES,
  "",
  "The dog runs in the park with the children.",
  "Il sole è caldo oggi a Roma.",
  "due cani giocano nel parco\tcon una palla",
  "A man plays the guitar.",
];

let root: string;
let modelDir: string;
let threeDir: string;
let docsFile: string;
let model: CrossEncoder;
let expected: RankResult[];

interface JsonRow {
  index: number;
  score: number;
  text?: string;
}

/** Printed scores carry nine significant digits: enough to give back the float32 score exactly. */
function sameScore(printed: number, score: number): boolean {
  return Math.fround(printed) === score;
}

beforeAll(async () => {
  assertBuilt();
  root = await tempDir("sbert-cli-rerank-");
  modelDir = join(root, "reranker");
  threeDir = join(root, "three");
  await makeCrossEncoderFolder(modelDir, { numLabels: 1 });
  await makeCrossEncoderFolder(threeDir, { numLabels: 3 });
  docsFile = join(root, "docs.txt");
  await writeFile(docsFile, `${DOCUMENTS.join("\n")}\n`);
  model = await CrossEncoder.load(modelDir);
  expected = await model.rank(QUERY, DOCUMENTS, { returnDocuments: true });
});

afterAll(() => model?.dispose());

describe("sbert-node rerank", () => {
  test("prints index, score and text per line, best first, as CrossEncoder.rank ranks them", async () => {
    const r = await runCli(["rerank", modelDir, "--query", QUERY, "--documents", docsFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = r.out.split("\n");
    expect(rows.pop()).toBe("");
    expect(rows).toHaveLength(DOCUMENTS.length);
    const parsed = rows.map((line) => {
      const [index, score, ...text] = line.split("\t");
      return { index: Number(index), score: Number(score), text: text.join("\t") };
    });
    expect(parsed.map((p) => p.index)).toEqual(expected.map((e) => e.corpusId));
    parsed.forEach((p, i) => {
      expect(sameScore(p.score, expected[i]!.score), `${p.score} vs ${expected[i]!.score}`).toBe(true);
      expect(p.text).toBe(DOCUMENTS[p.index]);
    });
    // The ranking is not the file's order: the scores decide it.
    expect(parsed.map((p) => p.index)).not.toEqual(DOCUMENTS.map((_, i) => i));
    expect(parsed[0]!.score).toBeGreaterThan(parsed[parsed.length - 1]!.score);
  });

  test("--json --top-k --return-documents equals rank(query, documents, {topK, returnDocuments})", async () => {
    const r = await runCli(["rerank", modelDir, "-q", QUERY, "-d", docsFile, "--json", "--top-k", "3", "--return-documents", "--batch-size", "2"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as JsonRow[];
    // The same batches as the command's (--batch-size 2): scores equal to the last bit whatever the BLAS.
    const top = await model.rank(QUERY, DOCUMENTS, { topK: 3, returnDocuments: true, batchSize: 2 });
    expect(rows.map((x) => [x.index, x.text])).toEqual(top.map((t) => [t.corpusId, t.text]));
    rows.forEach((x, i) => expect(sameScore(x.score, top[i]!.score)).toBe(true));
  });

  test("documents from stdin ('-'); JSON rows carry no text unless asked", async () => {
    const r = await runCli(["rerank", modelDir, "--query", QUERY, "--documents", "-", "--json"], { input: `${DOCUMENTS.join("\r\n")}\r\n` });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as JsonRow[];
    expect(rows.map((x) => x.index)).toEqual(expected.map((e) => e.corpusId));
    expect(rows.every((x) => !("text" in x))).toBe(true);
    rows.forEach((x, i) => expect(sameScore(x.score, expected[i]!.score)).toBe(true));
  });

  test("is listed in the top-level help and has its own", async () => {
    const top = await runCli(["--help"]);
    expect(top.out).toMatch(/^\s+rerank\s+Rank documents/m);
    const own = await runCli(["rerank", "--help"]);
    expect(own.code).toBe(0);
    expect(own.out).toMatch(/Usage: sbert-node rerank MODEL --query TEXT --documents FILE\|-/);
    expect(own.out).toMatch(/--top-k K/);
  });
});

describe("sbert-node rerank: bad arguments", () => {
  test("a missing --query or --documents is a usage error (exit 2) naming the flag", async () => {
    const noQuery = await runCli(["rerank", modelDir, "--documents", docsFile]);
    expect(noQuery.code).toBe(2);
    expect(noQuery.stderr).toMatch(/sbert-node rerank: --query is required/);
    expect(noQuery.out).toBe("");
    const noDocs = await runCli(["rerank", modelDir, "--query", QUERY]);
    expect(noDocs.code).toBe(2);
    expect(noDocs.stderr).toMatch(/--documents is required/);
    const noModel = await runCli(["rerank", "--query", QUERY, "--documents", docsFile]);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/missing MODEL/);
  });

  test("bad numbers and unknown flags are usage errors", async () => {
    const zero = await runCli(["rerank", modelDir, "-q", QUERY, "-d", docsFile, "--top-k", "0"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--top-k must be a positive integer, got '0'/);
    const batch = await runCli(["rerank", modelDir, "-q", QUERY, "-d", docsFile, "--batch-size", "x"]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/--batch-size/);
    const unknown = await runCli(["rerank", modelDir, "-q", QUERY, "-d", docsFile, "--topk", "3"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--topk/);
  });

  test("an unreadable or empty documents file is a runtime error (exit 1) naming the file", async () => {
    const missing = join(root, "no-such-file.txt");
    const r = await runCli(["rerank", modelDir, "-q", QUERY, "-d", missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--documents: cannot read ${missing}`);
    expect(r.out).toBe("");
    const folder = join(root, "a-folder");
    await mkdir(folder, { recursive: true });
    const dir = await runCli(["rerank", modelDir, "-q", QUERY, "-d", folder]);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain(`cannot read ${folder}`);
    const empty = join(root, "empty.txt");
    await writeFile(empty, "");
    const none = await runCli(["rerank", modelDir, "-q", QUERY, "-d", empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`${empty} holds no documents`);
  });

  test("a bi-encoder is refused (exit 1), saying what it is", async () => {
    const biEncoder = join(root, "bi-encoder");
    await makeSentenceTransformerFolder(biEncoder, { pooling: { modes: ["mean"] } });
    const r = await runCli(["rerank", biEncoder, "-q", QUERY, "-d", docsFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${biEncoder} is a SentenceTransformer (bi-encoder), not a cross-encoder`);
  });

  test("a model with several labels is refused (exit 1), saying why", async () => {
    const r = await runCli(["rerank", threeDir, "-q", QUERY, "-d", docsFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/one label; this one has 3/);
    const notThere = await runCli(["rerank", join(root, "no-model"), "-q", QUERY, "-d", docsFile], { env: { HF_HUB_OFFLINE: "1" } });
    expect(notThere.code).toBe(1);
    expect(notThere.stderr).toContain("no-model");
  });
});
