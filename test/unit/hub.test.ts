import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { SbertError } from "../../lib/errors.js";
import { hubCacheDir, resolveModelFolder } from "../../lib/hub/download.js";
import { pushFolderToHub } from "../../lib/hub/push.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { gitBlobOid, sha256Hex, startMockHub, type MockFiles, type MockHub } from "../helpers/mockHub.js";
import { tempDir } from "../helpers/tmp.js";

const ENV_KEYS = [
  "HF_HOME",
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "HF_TOKEN",
  "HUGGING_FACE_HUB_TOKEN",
  "HF_TOKEN_PATH",
  "HF_HUB_OFFLINE",
  "TRANSFORMERS_OFFLINE",
  "HF_ENDPOINT",
  "SENTENCE_TRANSFORMERS_HOME",
  "XDG_CACHE_HOME",
];
const savedEnv = new Map(ENV_KEYS.map((k) => [k, process.env[k]]));

let root: string;
let hub: MockHub;
let modelFiles: MockFiles;
let shardedFiles: MockFiles;
let cacheCounter = 0;

/** A fresh, empty cache folder. */
function freshCache(): string {
  return join(root, `cache-${cacheCounter++}`);
}

async function readFolder(dir: string): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = join(e.parentPath, e.name);
    if ((await stat(full)).isFile()) out[relative(dir, full).split(sep).join("/")] = await readFile(full);
  }
  return out;
}

function resolveRequests(): string[] {
  return hub.requests.filter((r) => r.path.includes("/resolve/")).map((r) => r.path.replace(/^.*\/resolve\/[^/]+\//, ""));
}

async function expectSbertError(p: Promise<unknown>, code: string, ...fragments: (string | RegExp)[]): Promise<SbertError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SbertError);
  const e = err as SbertError;
  expect(e.code).toBe(code);
  for (const f of fragments) expect(e.message).toMatch(f);
  return e;
}

beforeAll(async () => {
  for (const k of ENV_KEYS) delete process.env[k];
  root = await tempDir("sbert-hub-");
  // Nothing may touch ~/.cache: HF_HOME points into the temp folder too.
  process.env["HF_HOME"] = join(root, "hf-home");

  const st = join(root, "st-model");
  await makeSentenceTransformerFolder(st, { dense: { outFeatures: 6 }, normalize: true });
  modelFiles = {
    ...(await readFolder(st)),
    // Files a sentence-transformers model does not need: never downloaded.
    "pytorch_model.bin": randomBytes(300),
    "onnx/model.onnx": randomBytes(200),
    "openvino/openvino_model.xml": "<xml/>",
    "1_Pooling/notes.txt": "not needed",
  };
  const sharded = join(root, "sharded-model");
  await makeSentenceTransformerFolder(sharded, { bert: { sharded: true } });
  shardedFiles = { ...(await readFolder(sharded)), "pytorch_model.bin": randomBytes(100) };

  hub = await startMockHub(
    [
      { id: "sentence-transformers/tiny-st", files: modelFiles },
      { id: "acme/sharded", files: shardedFiles },
      { id: "acme/private-model", files: modelFiles, private: true, token: "hf_reader_secret" },
      { id: "acme/big", files: { "config.json": "{}", "model.safetensors": randomBytes(300_000) } },
      { id: "evil/tree-escape", files: { "config.json": "{}", "../../escape.txt": "gotcha" } },
      {
        id: "evil/modules-escape",
        files: { "modules.json": JSON.stringify([{ idx: 0, name: "0", path: "../../../outside", type: "sentence_transformers.models.Transformer" }]), "config.json": "{}" },
      },
      {
        id: "evil/shard-escape",
        files: { "config.json": "{}", "model.safetensors.index.json": JSON.stringify({ weight_map: { "a.weight": "../../../x.safetensors" } }) },
      },
      { id: "acme/not-a-model", files: { "data.csv": "a,b\n1,2\n" } },
    ],
    // Small pages, so every listing goes through the Link-header pagination.
    { treePageSize: 4 },
  );
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
  delete process.env["HF_ENDPOINT"];
  delete process.env["HF_HUB_CACHE"];
});

describe("hubCacheDir", () => {
  it("takes cacheFolder, then HF_HUB_CACHE, then $HF_HOME/hub", () => {
    expect(hubCacheDir({ cacheFolder: "/x/y" })).toBe("/x/y");
    process.env["HF_HUB_CACHE"] = "/from/env";
    expect(hubCacheDir()).toBe("/from/env");
    expect(hubCacheDir({ cacheFolder: "/opt" })).toBe("/opt");
    delete process.env["HF_HUB_CACHE"];
    expect(hubCacheDir()).toBe(join(root, "hf-home", "hub"));
  });
});

describe("resolveModelFolder: download into the huggingface_hub cache", () => {
  it("returns a local folder as is, without any request", async () => {
    const dir = join(root, "st-model");
    expect(await resolveModelFolder(dir, { endpoint: hub.url, cacheFolder: freshCache() })).toBe(dir);
    expect(hub.requests).toHaveLength(0);
  });

  it("downloads only the model's files into blobs/refs/snapshots, with relative symlinks", async () => {
    const cache = freshCache();
    const folder = await resolveModelFolder("sentence-transformers/tiny-st", { endpoint: hub.url, cacheFolder: cache });
    const sha = hub.head("model", "sentence-transformers/tiny-st")!;
    const repoDir = join(cache, "models--sentence-transformers--tiny-st");
    expect(folder).toBe(join(repoDir, "snapshots", sha));
    expect((await readFile(join(repoDir, "refs", "main"), "utf8")).trim()).toBe(sha);

    const got = await readFolder(folder);
    const expected = Object.keys(modelFiles).filter((p) => !["pytorch_model.bin", "onnx/model.onnx", "openvino/openvino_model.xml", "1_Pooling/notes.txt"].includes(p));
    expect(Object.keys(got).sort()).toEqual(expected.sort());
    for (const p of expected) expect(got[p]!.equals(Buffer.from(modelFiles[p] as Buffer))).toBe(true);
    // Not requested at all, not only not kept.
    expect(resolveRequests().sort()).toEqual(expected.sort());

    // Blobs named by ETag: git blob id for regular files, sha256 for LFS files; snapshot entries link to them.
    const config = Buffer.from(modelFiles["config.json"] as Buffer);
    expect((await lstat(join(folder, "config.json"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(folder, "config.json"))).toBe(`../../blobs/${gitBlobOid(config)}`);
    const weights = Buffer.from(modelFiles["model.safetensors"] as Buffer);
    expect(await readlink(join(folder, "model.safetensors"))).toBe(`../../blobs/${sha256Hex(weights)}`);
    const pooling = Buffer.from(modelFiles["1_Pooling/config.json"] as Buffer);
    expect(await readlink(join(folder, "1_Pooling", "config.json"))).toBe(`../../../blobs/${gitBlobOid(pooling)}`);
    expect((await readFile(join(repoDir, "blobs", sha256Hex(weights)))).equals(weights)).toBe(true);
    // No leftovers of the download.
    expect((await readdir(join(repoDir, "blobs"))).filter((f) => f.includes("incomplete"))).toEqual([]);
    // Files the commit lacks are recorded as huggingface_hub does.
    expect((await stat(join(repoDir, ".no_exist", sha, "tokenizer.json"))).isFile()).toBe(true);
  });

  it("serves a second resolve from the cache without any request", async () => {
    const cache = freshCache();
    const first = await resolveModelFolder("sentence-transformers/tiny-st", { endpoint: hub.url, cacheFolder: cache });
    hub.clearRequests();
    const second = await resolveModelFolder("sentence-transformers/tiny-st", { endpoint: hub.url, cacheFolder: cache });
    expect(second).toBe(first);
    expect(hub.requests).toEqual([]);
  });

  it("resolves a plain name to sentence-transformers/<name>", async () => {
    const cache = freshCache();
    const folder = await resolveModelFolder("tiny-st", { endpoint: hub.url, cacheFolder: cache });
    expect(folder).toContain(join("models--sentence-transformers--tiny-st", "snapshots"));
    expect(hub.requests[0]!.path).toBe("/api/models/sentence-transformers/tiny-st/revision/main");
  });

  it("takes HF_ENDPOINT and HF_HUB_CACHE from the environment", async () => {
    process.env["HF_ENDPOINT"] = hub.url;
    const cache = freshCache();
    process.env["HF_HUB_CACHE"] = cache;
    const folder = await resolveModelFolder("acme/big");
    expect(folder.startsWith(join(cache, "models--acme--big", "snapshots"))).toBe(true);
  });

  it("downloads every shard of a sharded checkpoint and skips pytorch_model.bin", async () => {
    const folder = await resolveModelFolder("acme/sharded", { endpoint: hub.url, cacheFolder: freshCache() });
    const files = Object.keys(await readFolder(folder));
    expect(files).toContain("model.safetensors.index.json");
    expect(files).toContain("model-00001-of-00002.safetensors");
    expect(files).toContain("model-00002-of-00002.safetensors");
    expect(files).not.toContain("pytorch_model.bin");
  });

  it("resolves a revision given as a commit sha, and a branch", async () => {
    const oldSha = hub.head("model", "acme/big")!;
    const newSha = hub.commitFiles("model", "acme/big", { "config.json": '{"v": 2}' }, "dev");
    const cache = freshCache();
    const atDev = await resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache, revision: "dev" });
    expect(atDev).toBe(join(cache, "models--acme--big", "snapshots", newSha));
    expect(await readFile(join(atDev, "config.json"), "utf8")).toBe('{"v": 2}');
    expect((await readFile(join(cache, "models--acme--big", "refs", "dev"), "utf8")).trim()).toBe(newSha);
    const atOld = await resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache, revision: oldSha });
    expect(await readFile(join(atOld, "config.json"), "utf8")).toBe("{}");
    // Both snapshots share the unchanged weights blob.
    expect(await readlink(join(atDev, "model.safetensors"))).toBe(await readlink(join(atOld, "model.safetensors")));
  });

  it("serves from the cache only with HF_HUB_OFFLINE=1 or localFilesOnly, and says clearly when the model is missing", async () => {
    const cache = freshCache();
    const online = await resolveModelFolder("sentence-transformers/tiny-st", { endpoint: hub.url, cacheFolder: cache });
    hub.clearRequests();

    process.env["HF_HUB_OFFLINE"] = "1";
    expect(await resolveModelFolder("sentence-transformers/tiny-st", { endpoint: hub.url, cacheFolder: cache })).toBe(online);
    await expectSbertError(resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache }), "ERR_FILE_NOT_FOUND", /acme\/big/, /not in the cache/, /HF_HUB_OFFLINE/);
    delete process.env["HF_HUB_OFFLINE"];

    expect(await resolveModelFolder("tiny-st", { endpoint: hub.url, cacheFolder: cache, localFilesOnly: true })).toBe(online);
    await expectSbertError(resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache, localFilesOnly: true }), "ERR_FILE_NOT_FOUND", /not in the cache/, /localFilesOnly/);
    await expectSbertError(
      resolveModelFolder("tiny-st", { endpoint: hub.url, cacheFolder: cache, localFilesOnly: true, revision: "other-branch" }),
      "ERR_FILE_NOT_FOUND",
      /revision 'other-branch'/,
    );
    expect(hub.requests).toEqual([]);
  });

  /** The layout huggingface_hub writes (no .no_exist markers): what a Python-filled cache looks like. */
  async function pythonStyleCache(): Promise<{ cache: string; snapshot: string }> {
    const cache = freshCache();
    const sha = hub.head("model", "sentence-transformers/tiny-st")!;
    const repoDir = join(cache, "models--sentence-transformers--tiny-st");
    const snapshot = join(repoDir, "snapshots", sha);
    await mkdir(join(repoDir, "refs"), { recursive: true });
    await writeFile(join(repoDir, "refs", "main"), sha);
    for (const [p, content] of Object.entries(modelFiles)) {
      if (p.includes("onnx") || p.includes("openvino") || p === "pytorch_model.bin" || p.endsWith("notes.txt")) continue;
      const buf = Buffer.from(content as Buffer);
      const etag = p.endsWith(".safetensors") ? sha256Hex(buf) : gitBlobOid(buf);
      await mkdir(join(repoDir, "blobs"), { recursive: true });
      await writeFile(join(repoDir, "blobs", etag), buf);
      const target = join(snapshot, ...p.split("/"));
      await mkdir(join(target, ".."), { recursive: true });
      await symlink(relative(join(target, ".."), join(repoDir, "blobs", etag)), target);
    }
    return { cache, snapshot };
  }

  it("uses a cache filled by huggingface_hub without downloading any file again", async () => {
    const { cache, snapshot } = await pythonStyleCache();
    expect(await resolveModelFolder("tiny-st", { endpoint: hub.url, cacheFolder: cache })).toBe(snapshot);
    // Only the revision and the listing, to learn which missing files are truly absent.
    expect(resolveRequests()).toEqual([]);
    expect(hub.requests.every((r) => r.path.startsWith("/api/models/sentence-transformers/tiny-st/"))).toBe(true);
    hub.clearRequests();
    await resolveModelFolder("tiny-st", { endpoint: hub.url, cacheFolder: cache });
    expect(hub.requests).toEqual([]);
  });

  it("asks for ETags with HEAD when the listing has no blob ids", async () => {
    const bare = await startMockHub([{ id: "acme/big", files: Object.fromEntries(hub.files("model", "acme/big")) }], { bareTree: true });
    try {
      const folder = await resolveModelFolder("acme/big", { endpoint: bare.url, cacheFolder: freshCache() });
      const weights = hub.files("model", "acme/big").get("model.safetensors")!;
      expect(await readlink(join(folder, "model.safetensors"))).toBe(`../../blobs/${sha256Hex(weights)}`);
      expect(await readlink(join(folder, "config.json"))).toBe(`../../blobs/${gitBlobOid(Buffer.from("{}"))}`);
      expect(bare.requests.filter((r) => r.method === "HEAD").map((r) => r.path.split("/").pop()).sort()).toEqual(["config.json", "model.safetensors"]);
    } finally {
      await bare.stop();
    }
  });

  it("falls back to the cached snapshot when the Hub cannot be reached", async () => {
    const { cache, snapshot } = await pythonStyleCache();
    const dead = await startMockHub();
    const deadUrl = dead.url;
    await dead.stop();
    expect(await resolveModelFolder("tiny-st", { endpoint: deadUrl, cacheFolder: cache })).toBe(snapshot);
    await expectSbertError(resolveModelFolder("acme/big", { endpoint: deadUrl, cacheFolder: cache }), "ERR_FILE_NOT_FOUND", /cannot reach/, /HF_HUB_OFFLINE/);
  });
});

describe("resolveModelFolder: errors", () => {
  it("says a private repo needs a token, and downloads it with one (option or HF_TOKEN)", async () => {
    const cache = freshCache();
    await expectSbertError(resolveModelFolder("acme/private-model", { endpoint: hub.url, cacheFolder: cache }), "ERR_INPUT", /acme\/private-model/, /private or gated/, /HF_TOKEN/);
    await expectSbertError(resolveModelFolder("acme/private-model", { endpoint: hub.url, cacheFolder: cache, token: "hf_wrong" }), "ERR_FILE_NOT_FOUND", /not found/);

    const folder = await resolveModelFolder("acme/private-model", { endpoint: hub.url, cacheFolder: cache, token: "hf_reader_secret" });
    expect((await readFile(join(folder, "modules.json"))).equals(Buffer.from(modelFiles["modules.json"] as Buffer))).toBe(true);
    expect(hub.requests.filter((r) => r.path.includes("/resolve/")).every((r) => r.headers.authorization === "Bearer hf_reader_secret")).toBe(true);

    process.env["HF_TOKEN"] = "hf_reader_secret";
    const again = await resolveModelFolder("acme/private-model", { endpoint: hub.url, cacheFolder: freshCache() });
    expect(Object.keys(await readFolder(again))).toContain("model.safetensors");
  });

  it("names the id and the endpoint for an unknown repo", async () => {
    await expectSbertError(
      resolveModelFolder("acme/does-not-exist", { endpoint: hub.url, cacheFolder: freshCache() }),
      "ERR_FILE_NOT_FOUND",
      "acme/does-not-exist",
      hub.url,
    );
    await expectSbertError(resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: freshCache(), revision: "nope" }), "ERR_FILE_NOT_FOUND", /revision 'nope' not found/);
    await expectSbertError(resolveModelFolder("./no/such/folder/here", { endpoint: hub.url }), "ERR_FILE_NOT_FOUND", /no model folder/);
    await expectSbertError(resolveModelFolder("acme/not-a-model", { endpoint: hub.url, cacheFolder: freshCache() }), "ERR_FILE_NOT_FOUND", /neither modules.json nor config.json/);
  });

  it("rejects a tree listing path that would escape the cache", async () => {
    const cache = freshCache();
    // The listing's folder entry ".." is refused before its file "../../escape.txt".
    await expectSbertError(resolveModelFolder("evil/tree-escape", { endpoint: hub.url, cacheFolder: cache }), "ERR_FORMAT", /evil\/tree-escape/, /goes up with '\.\.'/);
    await expect(stat(join(cache, "escape.txt"))).rejects.toThrow();
    expect(resolveRequests()).toEqual([]);
  });

  it("rejects module and shard paths that would escape the snapshot", async () => {
    const cache = freshCache();
    await expectSbertError(resolveModelFolder("evil/modules-escape", { endpoint: hub.url, cacheFolder: cache }), "ERR_FORMAT", /modules\.json/, /outside/);
    await expectSbertError(resolveModelFolder("evil/shard-escape", { endpoint: hub.url, cacheFolder: cache }), "ERR_FORMAT", /x\.safetensors/);
    expect(resolveRequests().filter((p) => p.includes(".."))).toEqual([]);
  });

  it("validates its arguments", async () => {
    await expect(resolveModelFolder("", {})).rejects.toThrow(TypeError);
    await expect(resolveModelFolder("x", { revision: 3 as unknown as string })).rejects.toThrow(/revision/);
    await expect(resolveModelFolder("x", { localFilesOnly: "yes" as unknown as boolean })).rejects.toThrow(/localFilesOnly/);
  });
});

describe("resolveModelFolder: interrupted downloads", () => {
  it("leaves no blob after a dropped connection, and the next call resumes and verifies", async () => {
    const cache = freshCache();
    const weights = hub.files("model", "acme/big").get("model.safetensors")!;
    const oid = sha256Hex(weights);
    const blob = join(cache, "models--acme--big", "blobs", oid);
    hub.cutDownloads("model.safetensors", { afterBytes: 40_000, times: 3 });

    await expectSbertError(resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache }), "ERR_FILE_NOT_FOUND", /interrupted/, /model\.safetensors/);
    await expect(stat(blob)).rejects.toThrow();
    const sha = hub.head("model", "acme/big")!;
    await expect(stat(join(cache, "models--acme--big", "snapshots", sha, "model.safetensors"))).rejects.toThrow();
    await expect(stat(join(cache, "models--acme--big", "refs", "main"))).rejects.toThrow();
    const partial = (await stat(`${blob}.incomplete`)).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(weights.length);

    hub.clearRequests();
    const folder = await resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache });
    expect((await readFile(join(folder, "model.safetensors"))).equals(weights)).toBe(true);
    expect(sha256Hex(await readFile(blob))).toBe(oid);
    await expect(stat(`${blob}.incomplete`)).rejects.toThrow();
    // The resolve request (redirected to the LFS store with the same Range) asks for the rest only.
    const ranged = hub.requests.filter((r) => r.path.includes("/resolve/") && r.headers.range !== undefined);
    expect(ranged.map((r) => r.headers.range)).toEqual([`bytes=${partial}-`]);
  });

  it("throws away a partial file that does not match and downloads it whole", async () => {
    const cache = freshCache();
    const weights = hub.files("model", "acme/big").get("model.safetensors")!;
    const blob = join(cache, "models--acme--big", "blobs", sha256Hex(weights));
    await mkdir(join(blob, ".."), { recursive: true });
    await writeFile(`${blob}.incomplete`, randomBytes(1000));
    const folder = await resolveModelFolder("acme/big", { endpoint: hub.url, cacheFolder: cache });
    expect((await readFile(join(folder, "model.safetensors"))).equals(weights)).toBe(true);
  });
});

describe("pushFolderToHub", () => {
  let folder: string;
  beforeAll(async () => {
    folder = join(root, "to-push");
    await makeSentenceTransformerFolder(folder, { dense: { outFeatures: 4 } });
    await writeFile(join(folder, "README.md"), "# pushed\n");
    await mkdir(join(folder, ".git"), { recursive: true });
    await writeFile(join(folder, ".git", "HEAD"), "ref: refs/heads/main\n");
  });

  it("creates the repo, uploads every file in one commit, and a fresh download gives the same bytes", async () => {
    const result = await pushFolderToHub(folder, "me/pushed", { token: "hf_writer", endpoint: hub.url, commitMessage: "first" });
    expect(result.commitOid).toBe(hub.head("model", "me/pushed"));
    expect(result.commitUrl).toBe(`${hub.url}/me/pushed/commit/${result.commitOid}`);
    expect(hub.requests.filter((r) => r.method === "POST" && r.path.endsWith("/commit/main"))).toHaveLength(1);
    // model.safetensors went through LFS (batch + PUT), the JSON files inline.
    expect(hub.requests.some((r) => r.path === "/me/pushed.git/info/lfs/objects/batch")).toBe(true);
    expect(hub.requests.some((r) => r.method === "PUT" && r.path.startsWith("/__lfs/"))).toBe(true);

    const local = await readFolder(folder);
    delete local[".git/HEAD"];
    const remote = hub.files("model", "me/pushed");
    expect([...remote.keys()].sort()).toEqual([".gitattributes", ...Object.keys(local)].sort());
    for (const [p, content] of Object.entries(local)) expect(remote.get(p)!.equals(content)).toBe(true);

    const downloaded = await readFolder(await resolveModelFolder("me/pushed", { endpoint: hub.url, cacheFolder: freshCache() }));
    expect(Object.keys(downloaded).sort()).toEqual(Object.keys(local).sort());
    for (const [p, content] of Object.entries(local)) expect(downloaded[p]!.equals(content)).toBe(true);
  });

  it("pushes to an existing repo, to a new branch, and as a pull request", async () => {
    await writeFile(join(folder, "README.md"), "# second\n");
    const before = hub.head("model", "me/pushed");
    const second = await pushFolderToHub(folder, "me/pushed", { token: "hf_writer", endpoint: hub.url });
    expect(second.commitOid).not.toBe(before);
    expect(hub.files("model", "me/pushed").get("README.md")!.toString()).toBe("# second\n");

    const onBranch = await pushFolderToHub(folder, "me/pushed", { token: "hf_writer", endpoint: hub.url, revision: "experiment" });
    expect(hub.head("model", "me/pushed", "experiment")).toBe(onBranch.commitOid);

    const pr = await pushFolderToHub(folder, "me/pushed", { token: "hf_writer", endpoint: hub.url, createPr: true });
    expect(pr.pullRequestUrl).toBe(`${hub.url}/me/pushed/discussions/1`);
    expect(hub.head("model", "me/pushed", "refs/pr/1")).toBe(pr.commitOid);
    expect(hub.head("model", "me/pushed")).toBe(second.commitOid);
  });

  it("puts a bare name under the token's account and creates private repos", async () => {
    const out = await pushFolderToHub(folder, "bare-name", { token: "hf_writer", endpoint: hub.url, private: true });
    expect(out.commitOid).toBe(hub.head("model", "mock-user/bare-name"));
    await expectSbertError(resolveModelFolder("mock-user/bare-name", { endpoint: hub.url, cacheFolder: freshCache() }), "ERR_INPUT", /HF_TOKEN/);
    const pulled = await resolveModelFolder("mock-user/bare-name", { endpoint: hub.url, cacheFolder: freshCache(), token: "hf_writer" });
    expect(Object.keys(await readFolder(pulled))).toContain("model.safetensors");
  });

  it("fails clearly without a token, on an existing repo with existOk false, and on a missing folder", async () => {
    await expectSbertError(pushFolderToHub(folder, "me/pushed", { endpoint: hub.url }), "ERR_INPUT", /token/, /HF_TOKEN/);
    await expectSbertError(pushFolderToHub(folder, "me/pushed", { endpoint: hub.url, token: "hf_writer", existOk: false }), "ERR_INPUT", /already exists/);
    await expectSbertError(pushFolderToHub(join(root, "nope"), "me/x", { endpoint: hub.url, token: "hf_writer" }), "ERR_FILE_NOT_FOUND", /no folder/);
    await expectSbertError(pushFolderToHub(folder, "acme/private-model", { endpoint: hub.url, token: "hf_writer" }), "ERR_INPUT", /refused/, /HF_TOKEN/);
    await expect(pushFolderToHub(folder, "me/pushed", { createPr: "yes" as unknown as boolean })).rejects.toThrow(TypeError);
  });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});
