/**
 * The huggingface_hub cache layout, so that a cache filled by Python serves Node and back:
 *
 *   {cache}/models--org--name/blobs/{etag}                  file contents, named by ETag (git blob id or LFS sha256)
 *   {cache}/models--org--name/refs/{revision}                the commit sha a branch/tag pointed to
 *   {cache}/models--org--name/snapshots/{sha}/{path}         relative symlink to ../../blobs/{etag}
 *   {cache}/models--org--name/.no_exist/{sha}/{path}         empty marker: the file is not in that commit
 *
 * Blobs are written to `{etag}.incomplete` (resumed with a Range request after an interruption), checked
 * against the size and hash the listing gave, and only then renamed into place.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, lstat, mkdir, open, readFile, rename, rm, stat, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, relative } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";

import { SbertError } from "../errors.js";
import { describeRepo, repoFolderName, type RepoRef } from "./config.js";
import { hubError, hubFetch, isUnreachable, remoteEtag, resolveUrl, type HubContext, type RemoteFile } from "./http.js";
import { insideFolder } from "./paths.js";

const SHA_RE = /^[0-9a-f]{40}$/;

export function isCommitSha(revision: string): boolean {
  return SHA_RE.test(revision);
}

export type LocalState = "present" | "absent" | "unknown";

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** Writes `content` next to `path` and renames it over, so readers never see half a file. */
async function writeAtomically(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` over `items` with at most `limit` running at once. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

export class RepoCache {
  readonly root: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: RepoRef,
    readonly op: string,
  ) {
    this.root = join(cacheDir, repoFolderName(repo));
  }

  snapshotDir(sha: string): string {
    return join(this.root, "snapshots", sha);
  }

  private refPath(revision: string): string {
    return insideFolder(join(this.root, "refs"), revision, `revision '${revision}'`, this.op);
  }

  async readRef(revision: string): Promise<string | undefined> {
    try {
      const sha = (await readFile(this.refPath(revision), "utf8")).trim();
      return isCommitSha(sha) ? sha : undefined;
    } catch (e) {
      if (e instanceof SbertError) throw e;
      return undefined;
    }
  }

  async writeRef(revision: string, sha: string): Promise<void> {
    if (revision === sha) return;
    await writeAtomically(this.refPath(revision), sha);
  }

  /** The commit a revision points to in the cache, if its snapshot folder exists. */
  async localCommit(revision: string): Promise<string | undefined> {
    const sha = isCommitSha(revision) ? revision : await this.readRef(revision);
    if (sha === undefined) return undefined;
    return (await isDir(this.snapshotDir(sha))) ? sha : undefined;
  }

  snapshotFile(sha: string, path: string): string {
    return insideFolder(this.snapshotDir(sha), path, describeRepo(this.repo), this.op);
  }

  private noExistFile(sha: string, path: string): string {
    return insideFolder(join(this.root, ".no_exist", sha), path, describeRepo(this.repo), this.op);
  }

  /** Whether the snapshot has `path`, knows it is not in the commit, or cannot tell. */
  async state(sha: string, path: string): Promise<LocalState> {
    if (await isFile(this.snapshotFile(sha, path))) return "present";
    if (await isFile(this.noExistFile(sha, path))) return "absent";
    return "unknown";
  }

  async markAbsent(sha: string, path: string): Promise<void> {
    const marker = this.noExistFile(sha, path);
    if (await isFile(marker)) return;
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, "");
  }

  private blobPath(etag: string): string {
    return join(this.root, "blobs", etag);
  }

  /** Makes `snapshots/{sha}/{file.path}` point at the file's blob, downloading the blob first if needed. */
  async fetchFile(ctx: HubContext, sha: string, file: RemoteFile): Promise<string> {
    const target = this.snapshotFile(sha, file.path);
    if (await isFile(target)) return target;
    let etag = remoteEtag(file);
    let size = file.size;
    if (etag === undefined) ({ etag, size } = await this.headFile(ctx, sha, file.path));
    const blob = this.blobPath(checkEtag(etag, file.path, this.op));
    await withBlobLock(join(this.cacheDir, ".locks", repoFolderName(this.repo), `${etag}.node.lock`), async () => {
      const have = await sizeOf(blob);
      if (have !== undefined && (size < 0 || have === size)) return;
      await this.downloadBlob(ctx, sha, file.path, blob, etag, size);
    });
    await linkIntoSnapshot(blob, target);
    return target;
  }

  /** ETag and size when the listing had none, from a HEAD on the file as huggingface_hub does. */
  private async headFile(ctx: HubContext, sha: string, path: string): Promise<{ etag: string; size: number }> {
    const res = await hubFetch(ctx, resolveUrl(ctx, sha, path), { method: "HEAD", redirect: "manual", headers: { "accept-encoding": "identity" } });
    if (res.status >= 400) throw await hubError(ctx, res, { revision: sha, file: path });
    const etag = res.headers.get("x-linked-etag") ?? res.headers.get("etag");
    const size = Number(res.headers.get("x-linked-size") ?? res.headers.get("content-length") ?? -1);
    if (!etag) throw new SbertError("ERR_FORMAT", `the Hub sent no ETag for '${path}' of ${describeRepo(this.repo)}`, { op: this.op });
    return { etag: normalizeEtag(etag), size: Number.isFinite(size) ? size : -1 };
  }

  private async downloadBlob(ctx: HubContext, sha: string, path: string, blob: string, etag: string, size: number): Promise<void> {
    await mkdir(dirname(blob), { recursive: true });
    const incomplete = `${blob}.incomplete`;
    const url = resolveUrl(ctx, sha, path);
    const maxAttempts = 3;
    let lastError: unknown;
    let freshRestart = false;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let have = (await sizeOf(incomplete)) ?? 0;
      if (size >= 0 && have > size) {
        await rm(incomplete, { force: true });
        have = 0;
      }
      try {
        if (!(size >= 0 && have === size)) await this.receive(ctx, url, path, sha, incomplete, have);
      } catch (e) {
        if (!isInterruption(e) && !isUnreachable(e)) throw e;
        lastError = e;
        if (attempt < maxAttempts) await sleep(150 * attempt);
        continue;
      }
      const problem = await verifyBlob(incomplete, etag, size);
      if (problem === undefined) {
        await rename(incomplete, blob);
        return;
      }
      await rm(incomplete, { force: true });
      // A resumed file may have joined two different versions; one full download settles it.
      if (have > 0 && !freshRestart) {
        freshRestart = true;
        attempt--;
        continue;
      }
      throw new SbertError("ERR_FORMAT", `download of '${path}' from ${describeRepo(this.repo)} is corrupt: ${problem}`, { op: this.op });
    }
    throw new SbertError(
      "ERR_FILE_NOT_FOUND",
      `download of '${path}' from ${describeRepo(this.repo)} at ${ctx.endpoint} was interrupted ${maxAttempts} times ` +
        `(${(lastError as Error)?.message ?? lastError}); what arrived is kept and the next call resumes it`,
      { op: this.op, cause: lastError },
    );
  }

  /** GETs the file into `incomplete`, appending from byte `have` when the server honours the Range. */
  private async receive(ctx: HubContext, url: string, path: string, sha: string, incomplete: string, have: number): Promise<void> {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (have > 0) headers["range"] = `bytes=${have}-`;
    const res = await hubFetch(ctx, url, { headers });
    if (res.status === 416) {
      // The server says the range is past the end: the partial file is unusable.
      await res.body?.cancel();
      await truncate(incomplete, 0);
      throw markInterruption(new Error("range not satisfiable; restarting"));
    }
    if (!res.ok) throw await hubError(ctx, res, { revision: sha, file: path });
    if (!res.body) throw markInterruption(new Error("empty response body"));
    let append = false;
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== have) {
        await res.body.cancel();
        await truncate(incomplete, 0);
        throw markInterruption(new Error("server answered a different range; restarting"));
      }
      append = true;
    }
    // Chunk by chunk through a file handle, so that every byte read before a dropped connection is on disk for the resume.
    const fh = await open(incomplete, append ? "a" : "w");
    try {
      for await (const chunk of Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>)) await fh.write(chunk as Uint8Array);
    } catch (e) {
      throw markInterruption(e instanceof Error ? e : new Error(String(e)));
    } finally {
      await fh.close();
    }
  }
}

const interruptions = new WeakSet<object>();
function markInterruption(e: Error): Error {
  interruptions.add(e);
  return e;
}
function isInterruption(e: unknown): boolean {
  return typeof e === "object" && e !== null && interruptions.has(e);
}

export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

function checkEtag(etag: string, path: string, op: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(etag)) {
    throw new SbertError("ERR_FORMAT", `the Hub gave '${path}' the ETag ${JSON.stringify(etag)}, which cannot name a cache blob`, { op });
  }
  return etag;
}

/** Undefined when the file has the expected size and, for a sha256 or git-sha1 ETag, the expected hash. */
async function verifyBlob(file: string, etag: string, size: number): Promise<string | undefined> {
  const actual = (await sizeOf(file)) ?? -1;
  if (size >= 0 && actual !== size) return `expected ${size} bytes, got ${actual}`;
  let hash: ReturnType<typeof createHash>;
  if (/^[0-9a-f]{64}$/.test(etag)) {
    hash = createHash("sha256");
  } else if (/^[0-9a-f]{40}$/.test(etag)) {
    // Git names a blob by sha1("blob <size>\0" + content).
    hash = createHash("sha1").update(`blob ${actual}\0`);
  } else {
    return undefined;
  }
  await pipeline(createReadStream(file), hash);
  const digest = hash.digest("hex");
  return digest === etag ? undefined : `content hash ${digest} differs from the ETag ${etag}`;
}

/** A relative symlink as huggingface_hub makes; a copy where the file system refuses symlinks. */
async function linkIntoSnapshot(blob: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await symlink(relative(dirname(target), blob), tmp);
  } catch {
    await copyFile(blob, tmp);
  }
  try {
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

// ---- locking: one download per blob, within this process and across processes sharing the cache ----

const inProcess = new Map<string, Promise<unknown>>();

async function withBlobLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const previous = inProcess.get(lockFile) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    const release = await acquireFileLock(lockFile);
    try {
      return await fn();
    } finally {
      await release();
    }
  });
  inProcess.set(lockFile, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(lockFile) === run) inProcess.delete(lockFile);
  }
}

const LOCK_REFRESH_MS = 5_000;
const LOCK_STALE_MS = 60_000;

/** A lock file holding `pid host`; its owner touches it while working, so an untouched or orphaned one is stale. */
async function acquireFileLock(lockFile: string): Promise<() => Promise<void>> {
  await mkdir(dirname(lockFile), { recursive: true });
  for (;;) {
    try {
      const fh = await open(lockFile, "wx");
      await fh.writeFile(`${process.pid} ${hostname()}\n`);
      await fh.close();
      const timer = setInterval(() => {
        const now = new Date();
        utimes(lockFile, now, now).catch(() => undefined);
      }, LOCK_REFRESH_MS);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await rm(lockFile, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (await lockIsStale(lockFile)) {
      await rm(lockFile, { force: true });
      continue;
    }
    await sleep(100);
  }
}

async function lockIsStale(lockFile: string): Promise<boolean> {
  try {
    const info = await lstat(lockFile);
    if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
    const [pid, host] = (await readFile(lockFile, "utf8")).trim().split(" ");
    if (host !== hostname() || !pid) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ESRCH";
    }
  } catch {
    return false;
  }
}
