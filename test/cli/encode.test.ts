import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, util } from "../../lib/index.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { assertBuilt, parseNpy, runCli } from "../helpers/cli.js";
import { runPython } from "../helpers/python.js";
import { SENTENCES, maxAbsDiffAll, tempDir } from "../helpers/tmp.js";

let root: string;
let plainDir: string;
let normDir: string;
let model: SentenceTransformer;
let normModel: SentenceTransformer;

// 30 texts of varied length, an empty line among them (it is a text too: output rows follow input lines).
const TEXTS = [
  ...SENTENCES,
  "",
  "The dog runs in the park with the children.",
  "Il sole è caldo oggi a Roma.",
  ...Array.from({ length: 19 }, (_, i) => `${["il gatto", "the city", "una ragazza", "music and books"][i % 4]} ${"molto ".repeat(i % 7)}numero ${i}`),
];
const INPUT = `${TEXTS.join("\n")}\n`;

interface Row {
  index: number;
  embedding: number[];
}

function parseJsonl(text: string): Row[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Row);
}

function rowsOf(rows: Row[]): Float32Array[] {
  return rows.map((r) => Float32Array.from(r.embedding));
}

beforeAll(async () => {
  assertBuilt();
  root = await tempDir("sbert-cli-encode-");
  plainDir = join(root, "plain");
  normDir = join(root, "norm");
  await makeSentenceTransformerFolder(plainDir, { pooling: { modes: ["mean"] }, prompts: { query: "query: ", document: "" } });
  await makeSentenceTransformerFolder(normDir, { pooling: { modes: ["mean"] }, dense: { outFeatures: 24 }, normalize: true });
  model = await SentenceTransformer.load(plainDir);
  normModel = await SentenceTransformer.load(normDir);
  await writeFile(join(root, "texts.txt"), INPUT);
});

afterAll(() => {
  model?.dispose();
  normModel?.dispose();
});

describe("sbert-node encode", () => {
  test("lines file → JSONL on stdout: one row per line, in input order, equal to model.encode", async () => {
    const r = await runCli(["encode", plainDir, "--input", join(root, "texts.txt")]);
    expect(r.stderr).toMatch(/30 texts/);
    expect(r.code).toBe(0);
    const rows = parseJsonl(r.out);
    expect(rows.map((x) => x.index)).toEqual(TEXTS.map((_, i) => i));
    const expected = await model.encode(TEXTS);
    expect(rows[0]!.embedding).toHaveLength(32);
    expect(maxAbsDiffAll(rowsOf(rows), expected)).toBeLessThanOrEqual(1e-6);
    // The rows really are distinct texts (an order mix-up would show).
    expect(maxAbsDiffAll([rowsOf(rows)[1]!], [expected[2]!])).toBeGreaterThan(1e-3);
  });

  test("small chunks and batches across chunk boundaries keep the order and the values", async () => {
    const r = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "--chunk-size", "7", "--batch-size", "3", "-q"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const rows = parseJsonl(r.out);
    expect(rows.map((x) => x.index)).toEqual(TEXTS.map((_, i) => i));
    expect(maxAbsDiffAll(rowsOf(rows), await model.encode(TEXTS))).toBeLessThanOrEqual(1e-5);
  });

  test(".npy output (float32): header and data as written here, read back equal by numpy's np.load", async () => {
    const out = join(root, "emb.npy");
    const r = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "-o", out]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("");
    const npy = parseNpy(await readFile(out));
    expect(npy.descr).toBe("<f4");
    expect(npy.shape).toEqual([TEXTS.length, 32]);
    const expected = await model.encode(TEXTS);
    const rows = TEXTS.map((_, i) => (npy.data as Float32Array).subarray(i * 32, (i + 1) * 32));
    expect(maxAbsDiffAll(rows, expected)).toBeLessThanOrEqual(1e-6);

    const script = join(root, "load_npy.py");
    await writeFile(
      script,
      "import json, sys\nimport numpy as np\na = np.load(sys.argv[1])\nprint(json.dumps({'dtype': str(a.dtype), 'shape': list(a.shape), 'c': bool(a.flags['C_CONTIGUOUS']), 'data': a.astype(float).tolist()}))\n",
    );
    const py = await runPython<{ dtype: string; shape: number[]; c: boolean; data: number[][] }>(script, null, [out]);
    expect(py.dtype).toBe("float32");
    expect(py.shape).toEqual([TEXTS.length, 32]);
    expect(maxAbsDiffAll(py.data, expected)).toBeLessThanOrEqual(1e-6);
  });

  test("int8 precision: quantized over the whole input as model.encode(all, {precision}): npy via numpy, and JSONL", async () => {
    const expected = (await model.encode(TEXTS, { precision: "int8" })) as Int8Array[];
    const out = join(root, "emb-int8.npy");
    const r = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "-o", out, "--precision", "int8"]);
    expect(r.code).toBe(0);
    const npy = parseNpy(await readFile(out));
    expect(npy.descr).toBe("|i1");
    expect(npy.shape).toEqual([TEXTS.length, 32]);
    expect(Array.from(npy.data)).toEqual(expected.flatMap((e) => Array.from(e)));

    const script = join(root, "load_npy_int.py");
    await writeFile(script, "import json, sys\nimport numpy as np\na = np.load(sys.argv[1])\nprint(json.dumps({'dtype': str(a.dtype), 'data': a.tolist()}))\n");
    const py = await runPython<{ dtype: string; data: number[][] }>(script, null, [out]);
    expect(py.dtype).toBe("int8");
    expect(py.data).toEqual(expected.map((e) => Array.from(e)));

    const j = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "--precision", "int8"]);
    expect(j.code).toBe(0);
    expect(parseJsonl(j.out).map((x) => x.embedding)).toEqual(expected.map((e) => Array.from(e)));

    // Chunks of 5: the ranges still span the whole input (per-chunk ranges would move most values by many
    // steps); only rounding of float noise from the other batch shapes may move a value by one step.
    const c = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "--precision", "int8", "--chunk-size", "5"]);
    expect(c.code).toBe(0);
    const chunked = parseJsonl(c.out).flatMap((x) => x.embedding);
    const flat = expected.flatMap((e) => Array.from(e));
    const diffs = chunked.map((v, i) => Math.abs(v - flat[i]!));
    expect(Math.max(...diffs)).toBeLessThanOrEqual(1);
    expect(diffs.filter((d) => d > 0).length).toBeLessThan(flat.length / 20);
  });

  test("ubinary precision packs bits: (N, D/8) uint8 equal to quantizeEmbeddings", async () => {
    const out = join(root, "emb-ubin.npy");
    const r = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "-o", out, "--precision", "ubinary"]);
    expect(r.code).toBe(0);
    const npy = parseNpy(await readFile(out));
    expect(npy.descr).toBe("|u1");
    expect(npy.shape).toEqual([TEXTS.length, 4]);
    const expected = util.quantizeEmbeddings(await model.encode(TEXTS), "ubinary");
    expect(Array.from(npy.data)).toEqual(expected.flatMap((e) => Array.from(e)));
  });

  test("--prompt and --prompt-name put the prompt before every text, as model.encode does", async () => {
    const expected = await model.encode(TEXTS, { prompt: "query: " });
    const a = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "--prompt", "query: "]);
    const b = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "--prompt-name", "query"]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(maxAbsDiffAll(rowsOf(parseJsonl(a.out)), expected)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiffAll(rowsOf(parseJsonl(b.out)), expected)).toBeLessThanOrEqual(1e-6);
    // Without the prompt the embeddings differ.
    expect(maxAbsDiffAll(rowsOf(parseJsonl(a.out)), await model.encode(TEXTS))).toBeGreaterThan(1e-3);

    const bad = await runCli(["encode", plainDir, "-i", join(root, "texts.txt"), "--prompt-name", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--prompt-name 'nope'.*query, document/);
  });

  test("--processes 2: worker processes give the output of a run without them (JSONL, --prompt-name; int8 .npy)", async () => {
    const args = ["encode", plainDir, "-i", join(root, "texts.txt"), "--prompt-name", "query", "--chunk-size", "11", "--batch-size", "4"];
    const [alone, pooled] = await Promise.all([runCli(args), runCli([...args, "--processes", "2"])]);
    expect(pooled.code).toBe(0);
    expect(pooled.stderr).toMatch(/30 texts .*, 2 processes\)/);
    const rows = parseJsonl(pooled.out);
    expect(rows.map((x) => x.index)).toEqual(TEXTS.map((_, i) => i));
    expect(maxAbsDiffAll(rowsOf(rows), rowsOf(parseJsonl(alone.out)))).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiffAll(rowsOf(rows), await model.encode(TEXTS, { promptName: "query" }))).toBeLessThanOrEqual(1e-6);
    const identical = pooled.out === alone.out;

    const npyArgs = (out: string): string[] => ["encode", normDir, "-i", join(root, "texts.txt"), "-o", out, "--precision", "int8", "-q"];
    const [a, b] = await Promise.all([runCli(npyArgs(join(root, "alone.npy"))), runCli([...npyArgs(join(root, "pooled.npy")), "--processes", "2", "--threads", "1"])]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const npyAlone = parseNpy(await readFile(join(root, "alone.npy")));
    const npyPooled = parseNpy(await readFile(join(root, "pooled.npy")));
    expect(npyPooled.descr).toBe("|i1");
    expect(npyPooled.shape).toEqual([TEXTS.length, 24]);
    // Bit-equal floats give the same bytes; floats within 1e-6 may move a code by one step.
    if (identical) expect(Buffer.from(npyPooled.data.buffer)).toEqual(Buffer.from(npyAlone.data.buffer));
    else expect(maxAbsDiffAll([npyPooled.data], [npyAlone.data])).toBeLessThanOrEqual(1);
  });

  test("stdin → stdout with JSONL input (--text-field), --normalize and --truncate-dim", async () => {
    const input = TEXTS.map((t, i) => JSON.stringify({ id: i, body: t })).join("\n");
    const r = await runCli(["encode", normDir, "--input-format", "jsonl", "--text-field", "body", "--truncate-dim", "8", "--normalize"], { input });
    expect(r.code).toBe(0);
    const rows = parseJsonl(r.out);
    expect(rows.map((x) => x.index)).toEqual(TEXTS.map((_, i) => i));
    expect(rows[0]!.embedding).toHaveLength(8);
    const expected = await normModel.encode(TEXTS, { truncateDim: 8, normalizeEmbeddings: true });
    expect(maxAbsDiffAll(rowsOf(rows), expected)).toBeLessThanOrEqual(1e-6);
    const norm = Math.hypot(...rows[3]!.embedding);
    expect(norm).toBeCloseTo(1, 5);
  });

  test("empty input gives empty JSONL and an (0, D) .npy", async () => {
    const r = await runCli(["encode", plainDir, "-q"], { input: "" });
    expect(r.code).toBe(0);
    expect(r.out).toBe("");
    const out = join(root, "empty.npy");
    const n = await runCli(["encode", plainDir, "-o", out, "-q"], { input: "" });
    expect(n.code).toBe(0);
    expect(parseNpy(await readFile(out)).shape).toEqual([0, 32]);
  });

  test("a bad JSONL line is an error naming the line, exit 1, and no half-written output file remains", async () => {
    const dir = await tempDir("sbert-cli-encode-bad-");
    const input = '{"text": "ciao"}\n{"txt": "oops"}\n';
    const r = await runCli(["encode", plainDir, "--input-format", "jsonl", "-o", join(dir, "out.jsonl")], { input });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stdin line 2: no "text" field/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(dir)).toEqual([]);
  });

  test("runtime errors exit 1 without a stack (with one under --verbose); usage errors exit 2", async () => {
    const missing = await runCli(["encode", join(root, "no-such-model")], { input: "ciao\n" });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^sbert-node encode: error: .*no-such-model/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const verbose = await runCli(["encode", join(root, "no-such-model"), "--verbose"], { input: "ciao\n" });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);

    for (const [args, message] of [
      [["--batch-size", "0"], /--batch-size must be a positive integer, got '0'/],
      [["--precision", "int4"], /--precision must be one of float32, int8, uint8, binary, ubinary/],
      [["--format", "csv"], /--format must be one of jsonl, npy/],
      [["--prompt", "a", "--prompt-name", "query"], /not both/],
      [["--nope"], /Unknown option '--nope'/],
    ] as const) {
      const r = await runCli(["encode", plainDir, ...args], { input: "ciao\n" });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/Run 'sbert-node encode --help'/);
    }
    const noModel = await runCli(["encode"]);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/missing MODEL/);
  });
});
