import { lstat, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { loadDataset } from "../../lib/datasets/loadDataset.js";
import { SbertError } from "../../lib/errors.js";
import { parseExportLayout } from "../../lib/hub/datasets.js";
import { sha256Hex, startMockHub, type MockHub } from "../helpers/mockHub.js";
import { tempDir } from "../helpers/tmp.js";

const ENV_KEYS = ["HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT"];
const savedEnv = new Map(ENV_KEYS.map((k) => [k, process.env[k]]));

type Row = { sentence1: string; sentence2: string; similarity_score: number };

function rowsFor(lang: string, split: string, n: number, offset = 0): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    sentence1: `${lang}-${split}-a-${i + offset}`,
    sentence2: `${lang}-${split}-b-${i + offset} è`,
    similarity_score: (i + offset) / 4,
  }));
}

function parquetOf(rows: Row[], gzip = false): Buffer {
  const columnData = [
    { name: "sentence1", data: rows.map((r) => r.sentence1), type: "STRING" as const },
    { name: "sentence2", data: rows.map((r) => r.sentence2), type: "STRING" as const },
    { name: "similarity_score", data: rows.map((r) => r.similarity_score), type: "DOUBLE" as const },
  ];
  return Buffer.from(gzip ? parquetWriteBuffer({ columnData, codec: "GZIP", compressors: { GZIP: (x) => gzipSync(x) } }) : parquetWriteBuffer({ columnData }));
}

async function expectSbertError(p: Promise<unknown>, code: string, ...fragments: (string | RegExp)[]): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SbertError);
  expect((err as SbertError).code).toBe(code);
  for (const f of fragments) expect((err as SbertError).message).toMatch(f);
}

let root: string;
let hub: MockHub;
let n = 0;
const freshCache = (): string => join(root, `cache-${n++}`);

const itTrain = [...rowsFor("it", "train", 5), ...rowsFor("it", "train", 3, 5)];
const itTest = rowsFor("it", "test", 4);

beforeAll(async () => {
  for (const k of ENV_KEYS) delete process.env[k];
  root = await tempDir("sbert-dshub-");
  process.env["HF_HOME"] = join(root, "hf-home");
  hub = await startMockHub([
    {
      // A top-level id, as the old canonical datasets have.
      repoType: "dataset",
      id: "stsb_multi_mt",
      files: { "README.md": "# stsb", "stsb_multi_mt.py": "# loading script" },
      branches: {
        "refs/convert/parquet": {
          "it/train/0000.parquet": parquetOf(itTrain.slice(0, 5)),
          "it/train/0001.parquet": parquetOf(itTrain.slice(5), true),
          "it/test/0000.parquet": parquetOf(itTest),
          "en/train/0000.parquet": parquetOf(rowsFor("en", "train", 2)),
          "en/test/0000.parquet": parquetOf(rowsFor("en", "test", 2)),
        },
      },
    },
    {
      // The 2023 layout, one config: files named {dataset}-{split}[-0000x-of-0000n].parquet.
      repoType: "dataset",
      id: "acme/old-layout",
      files: { "README.md": "x" },
      branches: {
        "refs/convert/parquet": {
          "default/old-layout-train-00000-of-00002.parquet": parquetOf(rowsFor("d", "train", 2)),
          "default/old-layout-train-00001-of-00002.parquet": parquetOf(rowsFor("d", "train", 2, 2)),
          "default/old-layout-validation.parquet": parquetOf(rowsFor("d", "validation", 1)),
        },
      },
    },
    {
      repoType: "dataset",
      id: "acme/partial",
      files: { "README.md": "x" },
      branches: { "refs/convert/parquet": { "default/partial-train/0000.parquet": parquetOf(rowsFor("p", "train", 3)), "default/test/0000.parquet": parquetOf(rowsFor("p", "test", 1)) } },
    },
    {
      repoType: "dataset",
      id: "acme/private-pairs",
      private: true,
      token: "hf_data_reader",
      files: { "README.md": "x" },
      branches: { "refs/convert/parquet": { "default/train/0000.parquet": parquetOf(rowsFor("q", "train", 2)) } },
    },
    { repoType: "dataset", id: "acme/not-converted", files: { "train.csv": "a,b\n1,2\n" } },
  ]);
});

afterAll(async () => {
  await hub?.stop();
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

beforeEach(() => hub.clearRequests());
afterEach(() => {
  delete process.env["HF_HUB_OFFLINE"];
  delete process.env["HF_TOKEN"];
});

describe("loadDataset: Hub datasets through the parquet export", () => {
  it("loads stsb_multi_mt / it / train equal to the parquet written, shards in order, cached as huggingface_hub does", async () => {
    const cache = freshCache();
    const ds = await loadDataset("stsb_multi_mt", { name: "it", split: "train", endpoint: hub.url, cacheFolder: cache });
    expect(ds.columnNames).toEqual(["sentence1", "sentence2", "similarity_score"]);
    expect(ds.rows()).toEqual(itTrain);
    const sha = hub.head("dataset", "stsb_multi_mt", "refs/convert/parquet")!;
    // Only the requested split was fetched, at the export's commit.
    expect(hub.requests.filter((r) => r.path.includes("/resolve/")).map((r) => r.path.split("/resolve/")[1]).sort()).toEqual([
      `${sha}/it/train/0000.parquet`,
      `${sha}/it/train/0001.parquet`,
    ]);

    const repoDir = join(cache, "datasets--stsb_multi_mt");
    expect((await readFile(join(repoDir, "refs", "refs", "convert", "parquet"), "utf8")).trim()).toBe(sha);
    const shard = join(repoDir, "snapshots", sha, "it", "train", "0000.parquet");
    expect((await lstat(shard)).isSymbolicLink()).toBe(true);
    const content = hub.files("dataset", "stsb_multi_mt", "refs/convert/parquet").get("it/train/0000.parquet")!;
    expect(await readlink(shard)).toBe(`../../../../blobs/${sha256Hex(content)}`);
  });

  it("returns every split without `split`, and reads from the cache offline", async () => {
    const cache = freshCache();
    const all = await loadDataset("stsb_multi_mt", { name: "it", endpoint: hub.url, cacheFolder: cache });
    expect(Object.keys(all)).toEqual(["train", "test"]);
    expect(all["test"]!.rows()).toEqual(itTest);

    hub.clearRequests();
    process.env["HF_HUB_OFFLINE"] = "1";
    const offline = await loadDataset("stsb_multi_mt", { name: "it", split: "test[:2]", endpoint: hub.url, cacheFolder: cache });
    expect(offline.rows()).toEqual(itTest.slice(0, 2));
    expect(hub.requests).toEqual([]);
    await expectSbertError(loadDataset("acme/old-layout", { endpoint: hub.url, cacheFolder: cache }), "ERR_FILE_NOT_FOUND", /not in the cache/);
  });

  it("reads the older export layouts and partial splits", async () => {
    const old = await loadDataset("acme/old-layout", { endpoint: hub.url, cacheFolder: freshCache() });
    expect(Object.keys(old).sort()).toEqual(["train", "validation"]);
    expect(old["train"]!.rows()).toEqual([...rowsFor("d", "train", 2), ...rowsFor("d", "train", 2, 2)]);
    const partial = await loadDataset("acme/partial", { split: "train", endpoint: hub.url, cacheFolder: freshCache() });
    expect(partial.rows()).toEqual(rowsFor("p", "train", 3));
    const layout = parseExportLayout(["c/x-train.parquet", "c/train/0001.parquet", "c/train/0000.parquet", "c/partial-train/0000.parquet", "c/README.md", "c/dev/0000.parquet", "c/test/0000.parquet"]);
    expect(layout.get("c")!.get("train")).toEqual(["c/train/0000.parquet", "c/train/0001.parquet"]);
    expect([...layout.get("c")!.keys()]).toEqual(["train", "test", "dev"]);
  });

  it("lists the splits or configs there are when asked for one that is not", async () => {
    await expectSbertError(loadDataset("stsb_multi_mt", { name: "it", split: "validation", endpoint: hub.url, cacheFolder: freshCache() }), "ERR_INPUT", /no split 'validation'/, /train, test/);
    await expectSbertError(loadDataset("stsb_multi_mt", { split: "train", endpoint: hub.url, cacheFolder: freshCache() }), "ERR_INPUT", /pass `name`/, /it, en|en, it/);
    await expectSbertError(loadDataset("stsb_multi_mt", { name: "fr", endpoint: hub.url, cacheFolder: freshCache() }), "ERR_INPUT", /no config 'fr'/);
  });

  it("explains a missing export, a missing dataset and a private one", async () => {
    await expectSbertError(loadDataset("acme/not-converted", { endpoint: hub.url, cacheFolder: freshCache() }), "ERR_FILE_NOT_FOUND", /no parquet export/, /local path/);
    await expectSbertError(loadDataset("acme/nothing-here", { endpoint: hub.url, cacheFolder: freshCache() }), "ERR_FILE_NOT_FOUND", /acme\/nothing-here/, hub.url);
    await expectSbertError(loadDataset("acme/private-pairs", { endpoint: hub.url, cacheFolder: freshCache() }), "ERR_INPUT", /HF_TOKEN/);
    const ok = await loadDataset("acme/private-pairs", { split: "train", endpoint: hub.url, cacheFolder: freshCache(), token: "hf_data_reader" });
    expect(ok.rows()).toEqual(rowsFor("q", "train", 2));
  });

  it("mock: the parquet listing API points at the same files", async () => {
    const res = await fetch(`${hub.url}/api/datasets/stsb_multi_mt/parquet/it/train`);
    const urls = (await res.json()) as string[];
    expect(urls).toEqual([0, 1].map((i) => `${hub.url}/api/datasets/stsb_multi_mt/parquet/it/train/${i}.parquet`));
    const second = Buffer.from(await (await fetch(urls[1]!)).arrayBuffer());
    expect(second.equals(hub.files("dataset", "stsb_multi_mt", "refs/convert/parquet").get("it/train/0001.parquet")!)).toBe(true);
  });
});
