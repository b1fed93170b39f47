/**
 * Requests to the Hub API, with HTTP failures turned into SbertErrors that say what to do about them.
 */
import { SbertError } from "../errors.js";
import { describeRepo, repoUrlPrefix, type RepoRef } from "./config.js";
import { safeRelativePath } from "./paths.js";

export interface HubContext {
  endpoint: string;
  token: string | undefined;
  repo: RepoRef;
  op: string;
}

const USER_AGENT = "sbert-node";

/** Errors raised because the Hub could not be reached at all (as opposed to an HTTP error answer). */
const unreachable = new WeakSet<Error>();

export function isUnreachable(e: unknown): boolean {
  return e instanceof Error && unreachable.has(e);
}

export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function apiUrl(ctx: HubContext, ...rest: string[]): string {
  return `${ctx.endpoint}/api/${ctx.repo.type}s/${ctx.repo.id}${rest.map((r) => `/${r}`).join("")}`;
}

export function resolveUrl(ctx: HubContext, revision: string, path: string): string {
  return `${ctx.endpoint}/${repoUrlPrefix(ctx.repo)}${ctx.repo.id}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
}

/** fetch with the token and user agent; a refused connection becomes an ERR_FILE_NOT_FOUND marked as unreachable. */
export async function hubFetch(ctx: HubContext, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (ctx.token !== undefined) headers.set("authorization", `Bearer ${ctx.token}`);
  headers.set("user-agent", USER_AGENT);
  try {
    return await fetch(url, { ...init, headers });
  } catch (e) {
    const err = new SbertError(
      "ERR_FILE_NOT_FOUND",
      `cannot reach the Hub at ${ctx.endpoint} (${describeCause(e)}); to use only what is already cached, set HF_HUB_OFFLINE=1`,
      { op: ctx.op, cause: e },
    );
    unreachable.add(err);
    throw err;
  }
}

function describeCause(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}

async function serverMessage(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 500);
    try {
      const json = JSON.parse(text) as { error?: unknown; message?: unknown };
      const msg = json.error ?? json.message;
      if (typeof msg === "string") return msg;
    } catch {
      // not JSON: use the text itself
    }
    return text.trim();
  } catch {
    return "";
  }
}

const errorCodes = new WeakMap<Error, string>();

/** The Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo…) behind an error from hubError. */
export function hubErrorCode(e: unknown): string | undefined {
  return e instanceof Error ? errorCodes.get(e) : undefined;
}

/**
 * The error for a failed Hub answer. `file` names the file asked for, if any. 401/403 say to pass a token
 * (the Hub answers 401 both for private repos and for ids that do not exist when no token is sent).
 */
export async function hubError(ctx: HubContext, res: Response, what: { revision?: string; file?: string } = {}): Promise<SbertError> {
  const code = res.headers.get("x-error-code") ?? "";
  const err = describeFailure(ctx, res, code, await serverMessage(res), what);
  errorCodes.set(err, code || `HTTP${res.status}`);
  return err;
}

function describeFailure(ctx: HubContext, res: Response, code: string, detail: string, what: { revision?: string; file?: string }): SbertError {
  const where = `${describeRepo(ctx.repo)} at ${ctx.endpoint}`;
  const tail = detail ? ` (server said: ${detail})` : "";
  const op = { op: ctx.op };
  if (res.status === 401) {
    // Without a token the Hub answers 401 for private repos and for ids that do not exist alike.
    const hint =
      ctx.token === undefined
        ? "check the id; if the repository is private or gated, pass `token` or set HF_TOKEN to a token that can read it"
        : "the token was refused: check that `token` / HF_TOKEN is valid and can read this repository";
    return new SbertError("ERR_INPUT", `${where} not found or not accessible (HTTP 401): ${hint}${tail}`, op);
  }
  if (res.status === 403) {
    const hint =
      code === "GatedRepo"
        ? "it is gated: accept its conditions on its Hub page, then pass `token` or set HF_TOKEN to a token of that account"
        : "it may be private or gated: pass `token` or set HF_TOKEN to a token with access to it";
    return new SbertError("ERR_INPUT", `access to ${where} refused (HTTP 403): ${hint}${tail}`, op);
  }
  if (res.status === 404) {
    if (code === "RevisionNotFound") {
      return new SbertError("ERR_FILE_NOT_FOUND", `revision '${what.revision ?? "?"}' not found in ${where}${tail}`, op);
    }
    if (code === "EntryNotFound" || (what.file !== undefined && code !== "RepoNotFound")) {
      return new SbertError("ERR_FILE_NOT_FOUND", `file '${what.file ?? "?"}' not found in ${where}${tail}`, op);
    }
    return new SbertError(
      "ERR_FILE_NOT_FOUND",
      `${where} not found (HTTP 404): check the id; if it is private, pass \`token\` or set HF_TOKEN${tail}`,
      op,
    );
  }
  return new SbertError("ERR_FILE_NOT_FOUND", `${where}: HTTP ${res.status} ${res.statusText}${tail}`, op);
}

export async function getJson(ctx: HubContext, url: string, what: { revision?: string } = {}): Promise<{ json: unknown; res: Response }> {
  const res = await hubFetch(ctx, url, { headers: { accept: "application/json" } });
  if (!res.ok) throw await hubError(ctx, res, what);
  try {
    return { json: await res.json(), res };
  } catch (e) {
    throw new SbertError("ERR_FORMAT", `${url} did not answer JSON: ${(e as Error).message}`, { op: ctx.op, cause: e });
  }
}

/** Resolves a branch, tag or sha to the commit sha the Hub has for it. */
export async function resolveRevision(ctx: HubContext, revision: string): Promise<string> {
  const { json } = await getJson(ctx, apiUrl(ctx, "revision", encodeURIComponent(revision)), { revision });
  const sha = (json as { sha?: unknown } | null)?.sha;
  if (typeof sha !== "string" || !/^[0-9a-f]{40}$/.test(sha)) {
    throw new SbertError("ERR_FORMAT", `the Hub gave no commit sha for revision '${revision}' of ${describeRepo(ctx.repo)}`, { op: ctx.op });
  }
  return sha;
}

export interface RemoteFile {
  path: string;
  size: number;
  /** Git blob id; what the Hub sends as ETag for a regular file. */
  oid: string | undefined;
  /** sha256 of an LFS file; its ETag. */
  lfsSha256: string | undefined;
}

/** The ETag huggingface_hub names the file's blob after. */
export function remoteEtag(f: RemoteFile): string | undefined {
  return f.lfsSha256 ?? f.oid;
}

function nextLink(res: Response): string | undefined {
  const link = res.headers.get("link");
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Every file of a commit (`GET …/tree/{sha}?recursive=true`, following the pagination links). A path that
 * would leave the repo folder rejects the whole listing.
 */
export async function listFiles(ctx: HubContext, sha: string): Promise<Map<string, RemoteFile>> {
  const files = new Map<string, RemoteFile>();
  let url: string | undefined = `${apiUrl(ctx, "tree", encodeURIComponent(sha))}?recursive=true`;
  for (let page = 0; url !== undefined; page++) {
    if (page > 10_000) throw new SbertError("ERR_FORMAT", `tree listing of ${describeRepo(ctx.repo)} does not end`, { op: ctx.op });
    const { json, res } = await getJson(ctx, url, { revision: sha });
    if (!Array.isArray(json)) throw new SbertError("ERR_FORMAT", `tree listing of ${describeRepo(ctx.repo)} is not a list`, { op: ctx.op });
    for (const entry of json as unknown[]) {
      const e = entry as { type?: unknown; path?: unknown; size?: unknown; oid?: unknown; lfs?: { oid?: unknown; sha256?: unknown } | null };
      if (typeof e?.path !== "string") throw new SbertError("ERR_FORMAT", `tree listing of ${describeRepo(ctx.repo)} has an entry without a path`, { op: ctx.op });
      const path = safeRelativePath(e.path, `tree listing of ${describeRepo(ctx.repo)}`, ctx.op);
      if (e.type !== "file") continue;
      const lfs = e.lfs?.oid ?? e.lfs?.sha256;
      files.set(path, {
        path,
        size: typeof e.size === "number" ? e.size : -1,
        oid: typeof e.oid === "string" ? e.oid : undefined,
        lfsSha256: typeof lfs === "string" ? lfs : undefined,
      });
    }
    const next = nextLink(res);
    url = next === undefined ? undefined : new URL(next, url).href;
  }
  return files;
}
