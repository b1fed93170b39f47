/**
 * A stand-in for the Hugging Face Hub on 127.0.0.1, serving in-memory repos defined by the tests with the
 * routes, headers and error codes the real Hub uses for what this library (and @huggingface/hub) calls:
 *
 *   GET  /api/{models|datasets}/{id}[/revision/{rev}]          repo info: sha, siblings (with ?blobs=true: sizes, lfs)
 *   GET  /api/…/{id}/tree/{rev}[/{path}]?recursive=true          listing, paginated with a Link header (cursor)
 *   POST /api/…/{id}/paths-info/{rev}                            info of given paths (JSON or form body)
 *   GET  /api/datasets/{id}/parquet[/{config}[/{split}[/{n}.parquet]]]   the parquet export listing / redirect
 *   GET|HEAD /[datasets/]{id}/resolve/{rev}/{path}               file: ETag, X-Repo-Commit, Range; LFS files 302 to
 *                                                                /__lfs/{sha256} with X-Linked-Etag / X-Linked-Size
 *   GET  /api/whoami-v2
 *   POST /api/repos/create, /api/…/{id}/branch/{branch}, /api/…/{id}/preupload/{rev},
 *        /api/…/{id}/commit/{rev}[?create_pr=1] (NDJSON), /[datasets/]{id}.git/info/lfs/objects/batch (basic transfer),
 *   PUT  /__lfs/{sha256}                                         LFS upload target
 *
 * Private repos answer 401 without a token and 404 with a wrong one; gated repos 403 with a wrong one.
 * Every request is recorded; downloads can be cut after some bytes to simulate a dropped connection.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type RepoType = "model" | "dataset";
export type MockFiles = Record<string, Buffer | Uint8Array | string>;

export interface MockRepoSpec {
  repoType?: RepoType;
  id: string;
  /** Files of the main branch. */
  files: MockFiles;
  /** Other branches by name, e.g. "refs/convert/parquet". */
  branches?: Record<string, MockFiles>;
  private?: boolean;
  gated?: boolean;
  /** The token that can read a private/gated repo (and write to it). */
  token?: string;
}

export interface RecordedRequest {
  method: string;
  /** Decoded path without the query. */
  path: string;
  /** Raw path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface MockHubOptions {
  /** Entries per page of tree listings. Default 1000. */
  treePageSize?: number;
  /** Files at least this big are LFS (besides binary extensions). Default 10 MiB. */
  lfsThreshold?: number;
  /** Account name whoami returns. Default "mock-user". */
  user?: string;
  /** Tree entries without oid/lfs, as some mirrors list them: clients must HEAD files for their ETag. */
  bareTree?: boolean;
}

export interface MockHub {
  url: string;
  requests: RecordedRequest[];
  clearRequests(): void;
  addRepo(spec: MockRepoSpec): string;
  /** Commits `files` on top of a branch (default main), as a push would; returns the new sha. */
  commitFiles(repoType: RepoType, id: string, files: MockFiles, branch?: string): string;
  /** Files of a revision (branch or sha). */
  files(repoType: RepoType, id: string, revision?: string): Map<string, Buffer>;
  head(repoType: RepoType, id: string, branch?: string): string | undefined;
  /** The next `times` downloads of the repo file `path` send `afterBytes` bytes of the body, then drop the connection. */
  cutDownloads(path: string, opts: { afterBytes: number; times?: number }): void;
  stop(): Promise<void>;
}

interface Commit {
  sha: string;
  parent: string | undefined;
  files: Map<string, Buffer>;
}

interface Repo {
  type: RepoType;
  id: string;
  private: boolean;
  gated: boolean;
  token: string | undefined;
  branches: Map<string, string>;
  commits: Map<string, Commit>;
  prCount: number;
}

const LFS_EXTENSIONS = /\.(safetensors|bin|parquet|pt|pth|onnx|h5|msgpack|model|arrow|zip|gz|tar|npy|pkl)$/i;
const GITATTRIBUTES = "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n*.parquet filter=lfs diff=lfs merge=lfs -text\n";

export function gitBlobOid(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

export function sha256Hex(content: Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

function toBuffer(v: Buffer | Uint8Array | string): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v);
}

function decodeSegments(segs: string[]): string[] {
  return segs.map((s) => decodeURIComponent(s));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startMockHub(repos: MockRepoSpec[] = [], options: MockHubOptions = {}): Promise<MockHub> {
  const treePageSize = options.treePageSize ?? 1000;
  const lfsThreshold = options.lfsThreshold ?? 10 * 1024 * 1024;
  const user = options.user ?? "mock-user";
  const store = new Map<string, Repo>();
  const lfsStore = new Map<string, Buffer>();
  const lfsPaths = new Map<string, Set<string>>();
  const requests: RecordedRequest[] = [];
  const cuts: { path: string; afterBytes: number; times: number }[] = [];
  let base = "";
  let counter = 0;

  const key = (type: RepoType, id: string): string => `${type}:${id}`;
  const prefix = (type: RepoType): string => (type === "model" ? "" : `${type}s/`);
  const isLfs = (path: string, content: Buffer): boolean => LFS_EXTENSIONS.test(path) || content.length >= lfsThreshold;

  function makeCommit(repo: Repo, parent: string | undefined, files: Map<string, Buffer>): string {
    const h = createHash("sha1").update(`${parent ?? ""}\n${counter++}\n`);
    for (const [p, c] of [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${p}\0${gitBlobOid(c)}\n`);
    const sha = h.digest("hex");
    repo.commits.set(sha, { sha, parent, files });
    for (const [p, c] of files) {
      if (isLfs(p, c)) {
        const oid = sha256Hex(c);
        lfsStore.set(oid, c);
        if (!lfsPaths.has(oid)) lfsPaths.set(oid, new Set());
        lfsPaths.get(oid)!.add(p);
      }
    }
    return sha;
  }

  function filesOf(spec: MockFiles): Map<string, Buffer> {
    return new Map(Object.entries(spec).map(([p, c]) => [p, toBuffer(c)]));
  }

  function addRepo(spec: MockRepoSpec): string {
    const type = spec.repoType ?? "model";
    const repo: Repo = {
      type,
      id: spec.id,
      private: spec.private ?? false,
      gated: spec.gated ?? false,
      token: spec.token,
      branches: new Map(),
      commits: new Map(),
      prCount: 0,
    };
    const sha = makeCommit(repo, undefined, filesOf(spec.files));
    repo.branches.set("main", sha);
    for (const [name, files] of Object.entries(spec.branches ?? {})) repo.branches.set(name, makeCommit(repo, undefined, filesOf(files)));
    store.set(key(type, spec.id), repo);
    return sha;
  }

  function resolveRev(repo: Repo, rev: string): Commit | undefined {
    const sha = repo.branches.get(rev) ?? (repo.commits.has(rev) ? rev : undefined);
    return sha === undefined ? undefined : repo.commits.get(sha);
  }

  // ------------------------------------------------------------------ responses

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
      "content-type": typeof body === "string" ? "text/plain" : "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  function fail(res: ServerResponse, status: number, code: string | undefined, message: string): void {
    send(res, status, { error: message }, code ? { "x-error-code": code } : {});
  }

  function bearer(req: IncomingMessage): string | undefined {
    const h = req.headers.authorization;
    return h?.startsWith("Bearer ") ? h.slice(7) : undefined;
  }

  /** Sends an answer and returns false when the request may not read the repo. */
  function checkRead(req: IncomingMessage, res: ServerResponse, repo: Repo): boolean {
    if (!repo.private && !repo.gated) return true;
    const token = bearer(req);
    if (token !== undefined && token === repo.token) return true;
    if (token === undefined) fail(res, 401, "RepoNotFound", "Invalid username or password.");
    else if (repo.gated) fail(res, 403, "GatedRepo", `Access to ${repo.type} ${repo.id} is restricted. You must have access to it and be authenticated to access it.`);
    else fail(res, 404, "RepoNotFound", "Repository not found");
    return false;
  }

  function checkWrite(req: IncomingMessage, res: ServerResponse, repo: Repo | undefined): boolean {
    const token = bearer(req);
    if (token === undefined || !token.startsWith("hf_")) {
      fail(res, 401, undefined, "Invalid credentials in Authorization header");
      return false;
    }
    if (repo?.token !== undefined && repo.token !== token) {
      fail(res, 403, undefined, "You don't have the rights to write to this repo");
      return false;
    }
    return true;
  }

  function serveContent(req: IncomingMessage, res: ServerResponse, content: Buffer, headers: Record<string, string>, cutPaths: Iterable<string>): void {
    let start = 0;
    let end = content.length - 1;
    let status = 200;
    const range = req.headers.range;
    const extra: Record<string, string> = {};
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!m) return fail(res, 416, undefined, "bad range");
      if (m[1] === "") {
        start = Math.max(0, content.length - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== "") end = Math.min(end, Number(m[2]));
      }
      if (start >= content.length || start > end) {
        res.writeHead(416, { "content-range": `bytes */${content.length}`, "content-length": "0", ...headers });
        return void res.end();
      }
      status = 206;
      extra["content-range"] = `bytes ${start}-${end}/${content.length}`;
    }
    const body = content.subarray(start, end + 1);
    res.writeHead(status, {
      "content-type": "application/octet-stream",
      "content-length": String(body.length),
      "accept-ranges": "bytes",
      ...headers,
      ...extra,
    });
    if (req.method === "HEAD") return void res.end();
    const paths = new Set(cutPaths);
    const cut = cuts.find((c) => c.times > 0 && paths.has(c.path));
    if (cut) {
      cut.times--;
      // Give the client time to read what was sent before the connection drops.
      res.write(body.subarray(0, Math.min(cut.afterBytes, body.length)), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body);
  }

  function treeEntry(path: string, content: Buffer | undefined): Record<string, unknown> {
    if (options.bareTree) return content === undefined ? { type: "directory", path } : { type: "file", path, size: content.length };
    if (content === undefined) return { type: "directory", oid: createHash("sha1").update(`dir:${path}`).digest("hex"), size: 0, path };
    const entry: Record<string, unknown> = { type: "file", oid: gitBlobOid(content), size: content.length, path };
    if (isLfs(path, content)) entry["lfs"] = { oid: sha256Hex(content), size: content.length, pointerSize: 134 };
    return entry;
  }

  function dirsOf(files: Map<string, Buffer>): Set<string> {
    const dirs = new Set<string>();
    for (const p of files.keys()) {
      const parts = p.split("/");
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    return dirs;
  }

  function repoInfo(repo: Repo, commit: Commit, withBlobs: boolean): Record<string, unknown> {
    return {
      _id: createHash("sha1").update(repo.id).digest("hex").slice(0, 24),
      id: repo.id,
      ...(repo.type === "model" && { modelId: repo.id }),
      private: repo.private,
      gated: repo.gated ? "auto" : false,
      sha: commit.sha,
      lastModified: new Date(0).toISOString(),
      siblings: [...commit.files.entries()].map(([p, c]) => {
        if (!withBlobs) return { rfilename: p };
        const lfs = isLfs(p, c) ? { lfs: { sha256: sha256Hex(c), size: c.length, pointerSize: 134 } } : {};
        return { rfilename: p, size: c.length, blobId: gitBlobOid(c), ...lfs };
      }),
    };
  }

  /** The export's `{config}/{split}/{n}.parquet` layout as config → split → paths. */
  function exportLayout(repo: Repo): Map<string, Map<string, string[]>> | undefined {
    const commit = resolveRev(repo, "refs/convert/parquet");
    if (!commit) return undefined;
    const out = new Map<string, Map<string, string[]>>();
    for (const p of [...commit.files.keys()].sort()) {
      const parts = p.split("/");
      if (parts.length !== 3 || !p.endsWith(".parquet")) continue;
      const [config, split] = parts as [string, string, string];
      if (!out.has(config)) out.set(config, new Map());
      const splits = out.get(config)!;
      if (!splits.has(split)) splits.set(split, []);
      splits.get(split)!.push(p);
    }
    return out;
  }

  // ------------------------------------------------------------------ routes

  /** Finds the repo named at the start of `segs` (one or two segments); `rest` is what follows. */
  function findRepo(type: RepoType, segs: string[]): { repo: Repo | undefined; id: string; rest: string[] } {
    const dec = decodeSegments(segs);
    if (dec.length >= 2 && store.has(key(type, `${dec[0]}/${dec[1]}`))) return { repo: store.get(key(type, `${dec[0]}/${dec[1]}`)), id: `${dec[0]}/${dec[1]}`, rest: segs.slice(2) };
    if (dec.length >= 1 && store.has(key(type, dec[0]!))) return { repo: store.get(key(type, dec[0]!)), id: dec[0]!, rest: segs.slice(1) };
    const actions = ["revision", "tree", "paths-info", "preupload", "commit", "branch", "parquet", "resolve", "info"];
    const oneSeg = dec.length < 2 || actions.includes(dec[1]!);
    return { repo: undefined, id: oneSeg ? (dec[0] ?? "") : `${dec[0]}/${dec[1]}`, rest: segs.slice(oneSeg ? 1 : 2) };
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, segs: string[], url: URL): Promise<void> {
    const method = req.method ?? "GET";
    if (segs[0] === "whoami-v2") {
      if (!bearer(req)) return fail(res, 401, undefined, "Invalid credentials in Authorization header");
      return send(res, 200, { type: "user", id: "0", name: user, fullname: user, orgs: [], auth: { type: "access_token" } });
    }
    if (segs[0] === "repos" && segs[1] === "create" && method === "POST") {
      if (!checkWrite(req, res, undefined)) return;
      const body = JSON.parse((await readBody(req)).toString("utf8")) as { name: string; organization?: string; type?: RepoType; visibility?: string; private?: boolean };
      const type = body.type ?? "model";
      const id = body.organization ? `${body.organization}/${body.name}` : body.name;
      const repoUrl = `${base}/${prefix(type)}${id}`;
      if (store.has(key(type, id))) return send(res, 409, { error: `You already created this ${type} repo`, url: repoUrl });
      const isPrivate = body.visibility === "private" || body.private === true;
      addRepo({ repoType: type, id, files: { ".gitattributes": GITATTRIBUTES }, private: isPrivate, ...(isPrivate && { token: bearer(req)! }) });
      return send(res, 200, { url: repoUrl, name: id, id: randomBytes(12).toString("hex") });
    }
    const type: RepoType | undefined = segs[0] === "models" ? "model" : segs[0] === "datasets" ? "dataset" : undefined;
    if (!type) return fail(res, 404, undefined, "Not found");
    const { repo, id, rest } = findRepo(type, segs.slice(1));
    if (!repo) return fail(res, 404, "RepoNotFound", `Repository not found: ${id}`);
    const action = rest[0];

    if (method === "GET" && (action === undefined || action === "revision")) {
      if (!checkRead(req, res, repo)) return;
      const rev = action === undefined ? "main" : decodeSegments(rest.slice(1)).join("/");
      const commit = resolveRev(repo, rev);
      if (!commit) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
      return send(res, 200, repoInfo(repo, commit, ["true", "1", "True"].includes(url.searchParams.get("blobs") ?? "")));
    }

    if (method === "GET" && action === "tree") {
      if (!checkRead(req, res, repo)) return;
      const rev = decodeURIComponent(rest[1] ?? "main");
      const commit = resolveRev(repo, rev);
      if (!commit) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
      const dir = decodeSegments(rest.slice(2)).join("/");
      const recursive = ["true", "1", "True"].includes(url.searchParams.get("recursive") ?? "");
      const dirs = dirsOf(commit.files);
      if (dir !== "" && !dirs.has(dir)) return fail(res, 404, "EntryNotFound", `${dir} does not exist on "${rev}"`);
      const under = (p: string): boolean => dir === "" || p.startsWith(`${dir}/`);
      const depthOk = (p: string): boolean => recursive || !p.slice(dir === "" ? 0 : dir.length + 1).includes("/");
      const entries = [
        ...[...dirs].filter((d) => under(d) && depthOk(d)).sort().map((d) => treeEntry(d, undefined)),
        ...[...commit.files.entries()].filter(([p]) => under(p) && depthOk(p)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, c]) => treeEntry(p, c)),
      ];
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const page = entries.slice(cursor, cursor + treePageSize);
      const headers: Record<string, string> = {};
      if (cursor + treePageSize < entries.length) {
        const next = new URL(url.href);
        next.searchParams.set("cursor", String(cursor + treePageSize));
        headers["link"] = `<${base}${next.pathname}${next.search}>; rel="next"`;
      }
      return send(res, 200, page, headers);
    }

    if (method === "POST" && action === "paths-info") {
      if (!checkRead(req, res, repo)) return;
      const rev = decodeURIComponent(rest[1] ?? "main");
      const commit = resolveRev(repo, rev);
      if (!commit) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
      const raw = (await readBody(req)).toString("utf8");
      let paths: string[];
      if ((req.headers["content-type"] ?? "").includes("application/json")) paths = (JSON.parse(raw) as { paths: string[] }).paths;
      else paths = new URLSearchParams(raw).getAll("paths");
      const dirs = dirsOf(commit.files);
      const out = paths.flatMap((p) => (commit.files.has(p) ? [treeEntry(p, commit.files.get(p))] : dirs.has(p) ? [treeEntry(p, undefined)] : []));
      return send(res, 200, out);
    }

    if (method === "GET" && action === "parquet" && type === "dataset") {
      if (!checkRead(req, res, repo)) return;
      const layout = exportLayout(repo);
      if (!layout) return fail(res, 404, undefined, "The dataset has no parquet export");
      const [config, split, file] = decodeSegments(rest.slice(1));
      const urlsOf = (c: string, s: string): string[] => layout.get(c)!.get(s)!.map((_, i) => `${base}/api/datasets/${repo.id}/parquet/${c}/${s}/${i}.parquet`);
      if (config === undefined) {
        const all: Record<string, Record<string, string[]>> = {};
        for (const [c, splits] of layout) all[c] = Object.fromEntries([...splits.keys()].map((s) => [s, urlsOf(c, s)]));
        return send(res, 200, all);
      }
      if (!layout.has(config)) return fail(res, 404, undefined, `config ${config} not found`);
      if (split === undefined) return send(res, 200, Object.fromEntries([...layout.get(config)!.keys()].map((s) => [s, urlsOf(config, s)])));
      if (!layout.get(config)!.has(split)) return fail(res, 404, undefined, `split ${split} not found`);
      if (file === undefined) return send(res, 200, urlsOf(config, split));
      const n = Number(/^(\d+)\.parquet$/.exec(file)?.[1] ?? NaN);
      const target = layout.get(config)!.get(split)![n];
      if (target === undefined) return fail(res, 404, undefined, `file ${file} not found`);
      res.writeHead(302, { location: `${base}/datasets/${repo.id}/resolve/${encodeURIComponent("refs/convert/parquet")}/${target}`, "content-length": "0" });
      return void res.end();
    }

    if (method === "POST" && action === "branch") {
      if (!checkWrite(req, res, repo)) return;
      const branch = decodeSegments(rest.slice(1)).join("/");
      const body = JSON.parse((await readBody(req)).toString("utf8") || "{}") as { startingPoint?: string; overwrite?: boolean; emptyBranch?: boolean };
      if (repo.branches.has(branch) && !body.overwrite) return fail(res, 409, undefined, `Reference already exists: refs/heads/${branch}`);
      const from = resolveRev(repo, body.startingPoint ?? "main");
      if (!from) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${body.startingPoint}`);
      repo.branches.set(branch, body.emptyBranch ? makeCommit(repo, undefined, new Map()) : from.sha);
      return send(res, 200, {});
    }

    if (method === "POST" && action === "preupload") {
      if (!checkWrite(req, res, repo)) return;
      const rev = decodeURIComponent(rest[1] ?? "main");
      if (!resolveRev(repo, rev) && url.searchParams.get("create_pr") !== "1") return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
      const body = JSON.parse((await readBody(req)).toString("utf8")) as { files: { path: string; size: number; sample: string }[] };
      return send(res, 200, {
        files: body.files.map((f) => {
          const sample = Buffer.from(f.sample, "base64");
          const lfs = LFS_EXTENSIONS.test(f.path) || f.size >= lfsThreshold || sample.includes(0);
          return { path: f.path, uploadMode: lfs ? "lfs" : "regular", shouldIgnore: false };
        }),
        commitOid: resolveRev(repo, rev)?.sha,
      });
    }

    if (method === "POST" && action === "commit") {
      if (!checkWrite(req, res, repo)) return;
      const rev = decodeURIComponent(rest[1] ?? "main");
      const createPr = url.searchParams.get("create_pr") === "1";
      const parentCommit = resolveRev(repo, rev);
      if (!parentCommit) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
      const lines = (await readBody(req)).toString("utf8").split("\n").filter((l) => l.trim() !== "");
      const files = new Map(parentCommit.files);
      for (const line of lines) {
        const { key: k, value } = JSON.parse(line) as { key: string; value: Record<string, unknown> };
        const path = value["path"] as string | undefined;
        if (k !== "header" && (typeof path !== "string" || path === "" || path.startsWith("/") || path.split("/").some((p) => p === ".." || p === "."))) {
          return fail(res, 422, undefined, `Invalid path: ${String(path)}`);
        }
        if (k === "file") files.set(path!, Buffer.from(value["content"] as string, (value["encoding"] as BufferEncoding | undefined) ?? "utf8"));
        else if (k === "lfsFile") {
          const content = lfsStore.get(value["oid"] as string);
          if (!content) return fail(res, 422, undefined, `LFS object ${String(value["oid"])} was not uploaded`);
          files.set(path!, content);
        } else if (k === "deletedFile") files.delete(path!);
        else if (k === "deletedFolder") for (const p of [...files.keys()]) if (p.startsWith(`${path}/`)) files.delete(p);
      }
      const sha = makeCommit(repo, parentCommit.sha, files);
      const repoUrl = `${base}/${prefix(repo.type)}${repo.id}`;
      if (createPr) {
        const n = ++repo.prCount;
        repo.branches.set(`refs/pr/${n}`, sha);
        return send(res, 200, { success: true, commitOid: sha, commitUrl: `${repoUrl}/commit/${sha}`, pullRequestUrl: `${repoUrl}/discussions/${n}`, hookOutput: "" });
      }
      repo.branches.set(rev, sha);
      return send(res, 200, { success: true, commitOid: sha, commitUrl: `${repoUrl}/commit/${sha}`, hookOutput: "" });
    }

    return fail(res, 404, undefined, `no route for ${method} ${url.pathname}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", base);
    const segs = url.pathname.split("/").slice(1);
    requests.push({ method: req.method ?? "GET", path: decodeSegments(segs).map((s) => `/${s}`).join(""), url: req.url ?? "/", headers: req.headers });
    if (segs[0] === "api") return handleApi(req, res, segs.slice(1), url);

    if (segs[0] === "__lfs") {
      const oid = segs[1] ?? "";
      if (req.method === "PUT") {
        const body = await readBody(req);
        if (sha256Hex(body) !== oid) return fail(res, 400, undefined, "content does not match the oid");
        lfsStore.set(oid, body);
        return send(res, 200, {});
      }
      const content = lfsStore.get(oid);
      if (!content) return fail(res, 404, undefined, "no such object");
      return serveContent(req, res, content, { etag: `"${oid}"` }, lfsPaths.get(oid) ?? []);
    }

    let type: RepoType = "model";
    let rest = segs;
    if (segs[0] === "datasets") {
      type = "dataset";
      rest = segs.slice(1);
    }
    const gitAt = rest.findIndex((s) => s.endsWith(".git"));
    if (gitAt >= 0 && gitAt <= 1 && rest.slice(gitAt + 1).join("/") === "info/lfs/objects/batch" && req.method === "POST") {
      const idSegs = rest.slice(0, gitAt + 1);
      idSegs[gitAt] = idSegs[gitAt]!.slice(0, -4);
      const { repo, id } = findRepo(type, idSegs);
      if (!repo) return fail(res, 404, "RepoNotFound", `Repository not found: ${id}`);
      if (!checkWrite(req, res, repo)) return;
      const body = JSON.parse((await readBody(req)).toString("utf8")) as { objects: { oid: string; size: number }[] };
      const objects = body.objects.map((o) =>
        lfsStore.has(o.oid)
          ? { oid: o.oid, size: o.size }
          : { oid: o.oid, size: o.size, authenticated: true, actions: { upload: { href: `${base}/__lfs/${o.oid}`, header: {} } } },
      );
      return send(res, 200, { transfer: "basic", objects }, { "content-type": "application/vnd.git-lfs+json" });
    }

    const { repo, id, rest: after } = findRepo(type, rest);
    if (after[0] !== "resolve" || (req.method !== "GET" && req.method !== "HEAD")) return fail(res, 404, undefined, `no route for ${req.method} ${url.pathname}`);
    if (!repo) return fail(res, 404, "RepoNotFound", `Repository not found: ${id}`);
    if (!checkRead(req, res, repo)) return;
    const rev = decodeURIComponent(after[1] ?? "");
    const commit = resolveRev(repo, rev);
    if (!commit) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
    const path = decodeSegments(after.slice(2)).join("/");
    const content = commit.files.get(path);
    if (content === undefined) return fail(res, 404, "EntryNotFound", `Entry not found: ${path}`);
    const headers: Record<string, string> = { "x-repo-commit": commit.sha, etag: `"${gitBlobOid(content)}"` };
    if (isLfs(path, content)) {
      const oid = sha256Hex(content);
      res.writeHead(302, {
        ...headers,
        location: `${base}/__lfs/${oid}`,
        "x-linked-etag": `"${oid}"`,
        "x-linked-size": String(content.length),
        "content-length": "0",
      });
      return void res.end();
    }
    return serveContent(req, res, content, headers, [path]);
  }

  for (const spec of repos) addRepo(spec);

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: String(e) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const getRepo = (type: RepoType, id: string): Repo => {
    const repo = store.get(key(type, id));
    if (!repo) throw new Error(`mock hub: no ${type} ${id}`);
    return repo;
  };

  return {
    url: base,
    requests,
    clearRequests: () => void requests.splice(0),
    addRepo,
    commitFiles(type, id, files, branch = "main") {
      const repo = getRepo(type, id);
      // A new branch starts from main.
      const parent = resolveRev(repo, branch) ?? resolveRev(repo, "main");
      const merged = new Map(parent?.files ?? []);
      for (const [p, c] of Object.entries(files)) merged.set(p, toBuffer(c));
      const sha = makeCommit(repo, parent?.sha, merged);
      repo.branches.set(branch, sha);
      return sha;
    },
    files(type, id, revision = "main") {
      const commit = resolveRev(getRepo(type, id), revision);
      if (!commit) throw new Error(`mock hub: no revision ${revision} in ${type} ${id}`);
      return new Map(commit.files);
    },
    head: (type, id, branch = "main") => getRepo(type, id).branches.get(branch),
    cutDownloads(path, { afterBytes, times = 1 }) {
      cuts.push({ path, afterBytes, times });
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
