import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { parquetWriteBuffer } from "hyparquet-writer";
import { beforeAll, describe, expect, it } from "vitest";

import { Dataset } from "../../lib/datasets/Dataset.js";
import { loadDataset } from "../../lib/datasets/loadDataset.js";
import { SbertError } from "../../lib/errors.js";
import { tempDir } from "../helpers/tmp.js";

async function expectSbertError(p: Promise<unknown>, code: string, ...fragments: (string | RegExp)[]): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SbertError);
  expect((err as SbertError).code).toBe(code);
  for (const f of fragments) expect((err as SbertError).message).toMatch(f);
}

type Pair = { s1: string; s2: string; score: number };
const PAIRS: Pair[] = Array.from({ length: 10 }, (_, i) => ({ s1: `a${i}`, s2: `b${i}`, score: i / 10 }));

describe("Dataset", () => {
  it("keeps rows and column order, and hands out copies", () => {
    const ds = new Dataset(PAIRS);
    expect(ds.length).toBe(10);
    expect(ds.columnNames).toEqual(["s1", "s2", "score"]);
    expect(ds.row(3)).toEqual({ s1: "a3", s2: "b3", score: 0.3 });
    expect(ds.row(-1)).toEqual(PAIRS[9]);
    expect(ds.rows(2, 4)).toEqual([PAIRS[2], PAIRS[3]]);
    expect([...ds].map((r) => r.s1)).toEqual(PAIRS.map((r) => r.s1));
    expect(ds.column("score")).toEqual(PAIRS.map((r) => r.score));
    const r = ds.row(0);
    r.s1 = "changed";
    expect(ds.row(0).s1).toBe("a0");
    expect(String(ds)).toBe("Dataset({ features: ['s1', 's2', 'score'], num_rows: 10 })");
  });

  it("names the missing column and lists the others", () => {
    const ds = new Dataset(PAIRS);
    expect(() => ds.column("label" as keyof Pair)).toThrow(RangeError);
    expect(() => ds.column("label" as keyof Pair)).toThrow(/"label".*s1, s2, score/);
    expect(() => ds.row(10)).toThrow(/index 10 is out of range for 10 rows/);
    expect(() => ds.row(1.5)).toThrow(RangeError);
  });

  it("builds from columns", () => {
    const ds = Dataset.fromColumns({ text: ["x", "y"], label: [0, 1] });
    expect(ds.rows()).toEqual([
      { text: "x", label: 0 },
      { text: "y", label: 1 },
    ]);
    expect(() => Dataset.fromColumns({ a: [1], b: [1, 2] })).toThrow(/'b' has 2 values/);
  });

  it("maps, filters and selects into new datasets", () => {
    const ds = new Dataset(PAIRS);
    const mapped = ds.map((r, i) => ({ ...r, idx: i, len: r.s1.length }));
    expect(mapped.columnNames).toEqual(["s1", "s2", "score", "idx", "len"]);
    expect(mapped.row(7)).toEqual({ s1: "a7", s2: "b7", score: 0.7, idx: 7, len: 2 });
    const high = ds.filter((r) => r.score >= 0.75);
    expect(high.column("s1")).toEqual(["a8", "a9"]);
    const none = ds.filter(() => false);
    expect(none.length).toBe(0);
    expect(none.columnNames).toEqual(["s1", "s2", "score"]);
    expect(ds.select([4, 1, 1]).column("s1")).toEqual(["a4", "a1", "a1"]);
    expect(() => ds.select([11])).toThrow(/out of range/);
    expect(ds.length).toBe(10);
  });

  it("shuffles deterministically for a seed", () => {
    const ds = new Dataset(PAIRS);
    const a = ds.shuffle(42).column("s1");
    const b = ds.shuffle(42).column("s1");
    const c = ds.shuffle(7).column("s1");
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect([...a].sort()).toEqual(PAIRS.map((r) => r.s1).sort());
    expect(a).not.toEqual(PAIRS.map((r) => r.s1));
    // Pinned, so a change of generator shows up here.
    expect(a).toEqual(["a2", "a1", "a8", "a7", "a3", "a6", "a9", "a5", "a0", "a4"]);
    expect(() => ds.shuffle(-1)).toThrow(RangeError);
    expect(ds.shuffle().length).toBe(10);
  });

  it("splits into train and test", () => {
    const ds = new Dataset(PAIRS);
    const { train, test } = ds.trainTestSplit({ testSize: 0.25, seed: 1 });
    expect(test.length).toBe(3); // ceil(0.25 * 10)
    expect(train.length).toBe(7);
    expect([...train.column("s1"), ...test.column("s1")].sort()).toEqual(PAIRS.map((r) => r.s1).sort());
    expect(ds.trainTestSplit({ testSize: 0.25, seed: 1 }).test.column("s1")).toEqual(test.column("s1"));
    const fixed = ds.trainTestSplit({ testSize: 2, shuffle: false });
    expect(fixed.train.column("s1")).toEqual(PAIRS.slice(0, 8).map((r) => r.s1));
    expect(fixed.test.column("s1")).toEqual(["a8", "a9"]);
    expect(ds.trainTestSplit({ trainSize: 0.5, testSize: 0.2, seed: 3 }).train.length).toBe(5);
    expect(() => ds.trainTestSplit({ testSize: 11 })).toThrow(RangeError);
    expect(() => ds.trainTestSplit({ testSize: 0.5, trainSize: 0.6 })).toThrow(/exceed/);
    expect(() => new Dataset(PAIRS.slice(0, 1)).trainTestSplit({ testSize: 0.5 })).toThrow(/empty train/);
  });

  it("selects, removes and renames columns", () => {
    const ds = new Dataset(PAIRS);
    expect(ds.selectColumns(["score", "s1"]).columnNames).toEqual(["score", "s1"]);
    expect(ds.removeColumns("s2").row(0)).toEqual({ s1: "a0", score: 0 });
    const renamed = ds.renameColumn("score", "label");
    expect(renamed.columnNames).toEqual(["s1", "s2", "label"]);
    expect(renamed.column("label")).toEqual(PAIRS.map((r) => r.score));
    expect(() => ds.renameColumn("score", "s1")).toThrow(/already a column 's1'/);
    expect(() => ds.selectColumns(["nope" as keyof Pair])).toThrow(/"nope"/);
  });
});

describe("loadDataset: local files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir("sbert-datasets-");
  });

  it("reads CSV with pandas-like typing", async () => {
    const file = join(dir, "typed.csv");
    await writeFile(
      file,
      ["id,score,text,flag,mixed,empty,id", '1,0.5,"hello, world",True,1,,x', '2,1e3,"multi\nline",false,a,,y', "3,-2,NA,TRUE,2.5,,z", ""].join("\n"),
    );
    const ds = await loadDataset(file, { split: "train" });
    expect(ds.columnNames).toEqual(["id", "score", "text", "flag", "mixed", "empty", "id.1"]);
    expect(ds.rows()).toEqual([
      { id: 1, score: 0.5, text: "hello, world", flag: true, mixed: "1", empty: null, "id.1": "x" },
      { id: 2, score: 1000, text: "multi\nline", flag: false, mixed: "a", empty: null, "id.1": "y" },
      { id: 3, score: -2, text: null, flag: true, mixed: "2.5", empty: null, "id.1": "z" },
    ]);
  });

  it("reads TSV, JSONL, JSON lists, {data: [...]} and column objects", async () => {
    await writeFile(join(dir, "p.tsv"), "a\tb\nx,1\t2\n");
    expect((await loadDataset(join(dir, "p.tsv"), { split: "train" })).rows()).toEqual([{ a: "x,1", b: 2 }]);

    await writeFile(join(dir, "p.jsonl"), '{"a": 1, "b": "x"}\n\n{"a": 2, "c": [1, 2]}\n');
    const jl = await loadDataset(join(dir, "p.jsonl"), { split: "train" });
    expect(jl.columnNames).toEqual(["a", "b", "c"]);
    expect(jl.rows()).toEqual([
      { a: 1, b: "x", c: null },
      { a: 2, b: null, c: [1, 2] },
    ]);

    const rows = [
      { q: "hi", n: 1 },
      { q: "yo", n: 2 },
    ];
    await writeFile(join(dir, "list.json"), JSON.stringify(rows));
    await writeFile(join(dir, "data.json"), JSON.stringify({ version: 1, data: rows }));
    await writeFile(join(dir, "cols.json"), JSON.stringify({ q: ["hi", "yo"], n: [1, 2] }));
    for (const f of ["list.json", "data.json", "cols.json"]) expect((await loadDataset(join(dir, f), { split: "train" })).rows()).toEqual(rows);

    await mkdir(join(dir, "gz"), { recursive: true });
    await writeFile(join(dir, "gz", "p.csv.gz"), gzipSync("a,b\n1,2\n"));
    expect((await loadDataset(join(dir, "gz", "p.csv.gz"), { split: "train" })).rows()).toEqual([{ a: 1, b: 2 }]);
  });

  it("reads parquet equal to what was written (snappy and gzip)", async () => {
    const columnData = [
      { name: "sentence1", data: ["Una ragazza", "Un uomo", "perché è"], type: "STRING" as const },
      { name: "score", data: [4.5, 0.25, 3], type: "DOUBLE" as const },
      { name: "label", data: [1n, 0n, 2n], type: "INT64" as const },
      { name: "ok", data: [true, false, true], type: "BOOLEAN" as const },
    ];
    const expected = [
      { sentence1: "Una ragazza", score: 4.5, label: 1, ok: true },
      { sentence1: "Un uomo", score: 0.25, label: 0, ok: false },
      { sentence1: "perché è", score: 3, label: 2, ok: true },
    ];
    await writeFile(join(dir, "snappy.parquet"), Buffer.from(parquetWriteBuffer({ columnData })));
    await writeFile(join(dir, "gzip.parquet"), Buffer.from(parquetWriteBuffer({ columnData, codec: "GZIP", compressors: { GZIP: (x) => gzipSync(x) } })));
    for (const f of ["snappy.parquet", "gzip.parquet"]) {
      const ds = await loadDataset(join(dir, f), { split: "train" });
      expect(ds.columnNames).toEqual(["sentence1", "score", "label", "ok"]);
      expect(ds.rows()).toEqual(expected);
    }
    const viaBuilder = await loadDataset("parquet", { dataFiles: { train: join(dir, "snappy.parquet") }, split: "train" });
    expect(viaBuilder.rows()).toEqual(expected);
  });

  it("takes data files by builder name, with globs, and slices splits", async () => {
    const sub = join(dir, "builder");
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, "train-0.csv"), "t,n\na,1\nb,2\n");
    await writeFile(join(sub, "train-1.csv"), "t,n\nc,3\nd,4\n");
    await writeFile(join(sub, "eval.csv"), "t,n\ne,5\n");
    const all = await loadDataset("csv", { dataFiles: { train: join(sub, "train-*.csv"), test: join(sub, "eval.csv") } });
    expect(Object.keys(all)).toEqual(["train", "test"]);
    expect(all["train"]!.column("t")).toEqual(["a", "b", "c", "d"]);
    expect((await loadDataset("csv", { dataFiles: join(sub, "eval.csv") }))["train"]!.column("n")).toEqual([5]);
    const pick = (split: string): Promise<Dataset> => loadDataset("csv", { dataFiles: { train: join(sub, "train-*.csv"), test: join(sub, "eval.csv") }, split });
    expect((await pick("train[:2]")).column("t")).toEqual(["a", "b"]);
    expect((await pick("train[-1:]")).column("t")).toEqual(["d"]);
    expect((await pick("train[50%:]")).column("t")).toEqual(["c", "d"]);
    expect((await pick("test+train[:1]")).column("t")).toEqual(["e", "a"]);
  });

  it("finds splits in a folder by file name", async () => {
    const folder = join(dir, "stsb");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "train.csv"), "s,score\nx,1\n");
    await writeFile(join(folder, "dev.csv"), "s,score\ny,2\n");
    await writeFile(join(folder, "test.csv"), "s,score\nz,3\n");
    await writeFile(join(folder, "README.md"), "# not data");
    const splits = await loadDataset(folder);
    expect(Object.keys(splits)).toEqual(["train", "validation", "test"]);
    expect(splits["validation"]!.rows()).toEqual([{ s: "y", score: 2 }]);

    const plain = join(dir, "plain");
    await mkdir(plain, { recursive: true });
    await writeFile(join(plain, "a.jsonl"), '{"x": 1}\n');
    await writeFile(join(plain, "b.jsonl"), '{"x": 2}\n');
    expect((await loadDataset(plain, { split: "train" })).column("x")).toEqual([1, 2]);
  });

  it("reports malformed CSV with the file and line, and missing splits with the ones there are", async () => {
    const bad = join(dir, "bad.csv");
    await writeFile(bad, 'a,b\n1,2\n3,"unclosed\n4,5\n');
    await expectSbertError(loadDataset(bad), "ERR_FORMAT", bad, /line \d+/, /malformed CSV/);
    const wide = join(dir, "wide.csv");
    await writeFile(wide, "a,b\n1,2\n3,4,5\n");
    await expectSbertError(loadDataset(wide), "ERR_FORMAT", wide, /line 3/, /3 fields, but the header has 2/);
    const badJsonl = join(dir, "bad.jsonl");
    await writeFile(badJsonl, '{"a": 1}\n{"a": \n');
    await expectSbertError(loadDataset(badJsonl), "ERR_FORMAT", badJsonl, /line 2/);
    await expectSbertError(loadDataset(join(dir, "stsb"), { split: "dev" }), "ERR_INPUT", /no split 'dev'/, /train, validation, test/);
    await expectSbertError(loadDataset(join(dir, "missing.csv")), "ERR_FILE_NOT_FOUND", /missing\.csv/);
    await expectSbertError(loadDataset("csv", { dataFiles: join(dir, "nothing-*.csv") }), "ERR_FILE_NOT_FOUND", /no data file matches/);
    await expect(loadDataset("csv")).rejects.toThrow(/needs dataFiles/);
    await expect(loadDataset(join(dir, "stsb"), { split: "train[" })).rejects.toThrow(RangeError);
  });
});
