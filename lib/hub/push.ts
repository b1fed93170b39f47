/**
 * Uploading a folder (a saved model) to the Hub as one commit, through @huggingface/hub: it asks the Hub
 * which files go through LFS, uploads those (xet or plain LFS, whichever the Hub offers), then commits.
 */
import { openAsBlob } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createBranch, createRepo, HubApiError, uploadFiles, whoAmI } from "@huggingface/hub";

import { SbertError } from "../errors.js";
import { hubEndpoint, hubToken, isValidRepoId } from "./config.js";

export interface PushOptions {
  token?: string;
  /** Create the repo private. Ignored when it exists. */
  private?: boolean;
  commitMessage?: string;
  /** Branch to push to (created from the default branch if missing). Default "main". */
  revision?: string;
  /** Open a pull request with the commit instead of pushing to the branch. */
  createPr?: boolean;
  /** Accept a repo that exists already. Default true. */
  existOk?: boolean;
  endpoint?: string;
}

export interface PushResult {
  commitUrl: string;
  commitOid: string;
  /** Set when `createPr` opened a pull request. */
  pullRequestUrl?: string;
}

const OP = "pushFolderToHub";

/** Folders upload_folder skips too: git metadata and huggingface_hub's own upload cache. */
function ignored(rel: string): boolean {
  const parts = rel.split("/");
  if (parts.includes(".git")) return true;
  for (let i = 0; i + 1 < parts.length; i++) if (parts[i] === ".cache" && parts[i + 1] === "huggingface") return true;
  return false;
}

async function listFolder(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(rel === "" ? folder : join(folder, rel), { withFileTypes: true });
    for (const e of entries) {
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (ignored(child)) continue;
      // Follow symlinks (a model folder may link into a cache), as upload_folder does.
      const info = e.isSymbolicLink() ? await stat(join(folder, child)) : e;
      if (info.isDirectory()) await walk(child);
      else if (info.isFile()) out.push(child);
    }
  };
  await walk("");
  return out.sort();
}

function apiFailure(e: unknown, repoId: string, endpoint: string, doing: string): unknown {
  if (!(e instanceof HubApiError)) return e;
  const where = `model '${repoId}' at ${endpoint}`;
  if (e.statusCode === 401 || e.statusCode === 403) {
    return new SbertError(
      "ERR_INPUT",
      `${doing} ${where} was refused (HTTP ${e.statusCode}: ${e.message}); pass \`token\` or set HF_TOKEN to a token with write access to it`,
      { op: OP, cause: e },
    );
  }
  if (e.statusCode === 404) return new SbertError("ERR_FILE_NOT_FOUND", `${doing} ${where} failed, not found (HTTP 404: ${e.message})`, { op: OP, cause: e });
  return new SbertError("ERR_INPUT", `${doing} ${where} failed (HTTP ${e.statusCode}: ${e.message})`, { op: OP, cause: e });
}

/** Creates the repo if needed (existOk default true) and uploads every file of `folder` in ONE commit; returns the commit url/sha. */
export async function pushFolderToHub(folder: string, repoId: string, opts: PushOptions = {}): Promise<PushResult> {
  if (typeof folder !== "string" || folder === "") throw new TypeError(`${OP}: folder must be a non-empty string`);
  if (typeof repoId !== "string" || repoId === "") throw new TypeError(`${OP}: repoId must be a non-empty string`);
  if (typeof opts !== "object" || opts === null) throw new TypeError(`${OP}: options must be an object`);
  for (const key of ["token", "commitMessage", "revision", "endpoint"] as const) {
    const v = opts[key];
    if (v !== undefined && (typeof v !== "string" || v === "")) throw new TypeError(`${OP}: ${key} must be a non-empty string`);
  }
  for (const key of ["private", "createPr", "existOk"] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== "boolean") throw new TypeError(`${OP}: ${key} must be a boolean`);
  }
  try {
    if (!(await stat(folder)).isDirectory()) throw new Error("not a folder");
  } catch {
    throw new SbertError("ERR_FILE_NOT_FOUND", `no folder at ${folder} to push`, { op: OP });
  }
  const paths = await listFolder(folder);
  if (paths.length === 0) throw new SbertError("ERR_INPUT", `${folder} has no files to push`, { op: OP });

  const accessToken = await hubToken(opts.token);
  if (accessToken === undefined) throw new SbertError("ERR_INPUT", "pushing to the Hub needs a token with write access: pass `token` or set HF_TOKEN", { op: OP });
  if (!accessToken.startsWith("hf_")) throw new SbertError("ERR_INPUT", "the Hub token must start with 'hf_' (check `token` / HF_TOKEN)", { op: OP });
  const hubUrl = hubEndpoint(opts.endpoint);

  let fullId = repoId;
  if (!repoId.includes("/")) {
    // As huggingface_hub does for a bare name: the repo goes under the token's user.
    try {
      fullId = `${(await whoAmI({ accessToken, hubUrl })).name}/${repoId}`;
    } catch (e) {
      throw apiFailure(e, repoId, hubUrl, "finding the account of the token for");
    }
  }
  if (!isValidRepoId(fullId)) throw new RangeError(`${OP}: repoId '${repoId}' is not a valid Hub repo id ("org/name")`);
  const repo = { type: "model" as const, name: fullId };

  try {
    await createRepo({ repo, accessToken, hubUrl, ...(opts.private !== undefined && { visibility: opts.private ? "private" : "public" }) });
  } catch (e) {
    if (!(e instanceof HubApiError && e.statusCode === 409)) throw apiFailure(e, fullId, hubUrl, "creating");
    if (opts.existOk === false) throw new SbertError("ERR_INPUT", `model '${fullId}' already exists at ${hubUrl} (existOk is false)`, { op: OP, cause: e });
  }

  const revision = opts.revision;
  if (revision !== undefined && revision !== "main") {
    try {
      await createBranch({ repo, branch: revision, accessToken, hubUrl });
    } catch (e) {
      if (!(e instanceof HubApiError && e.statusCode === 409)) throw apiFailure(e, fullId, hubUrl, `creating branch '${revision}' of`);
    }
  }

  const files = await Promise.all(paths.map(async (path) => ({ path, content: await openAsBlob(join(folder, ...path.split("/"))) })));
  let out;
  try {
    out = await uploadFiles({
      repo,
      accessToken,
      hubUrl,
      files,
      commitTitle: opts.commitMessage ?? "Add new SentenceTransformer model",
      ...(revision !== undefined && { branch: revision }),
      ...(opts.createPr === true && { isPullRequest: true }),
    });
  } catch (e) {
    throw apiFailure(e, fullId, hubUrl, "committing to");
  }
  if (!out) throw new SbertError("ERR_FORMAT", `the Hub answered no commit for ${fullId}`, { op: OP });
  return { commitUrl: out.commit.url, commitOid: out.commit.oid, ...(out.pullRequestUrl && { pullRequestUrl: out.pullRequestUrl }) };
}

/** Saves a model into a temporary folder with `save`, pushes that folder (see pushFolderToHub) and removes it. */
export async function pushSavedFolder(save: (folder: string) => Promise<void>, repoId: string, opts: PushOptions = {}): Promise<PushResult> {
  const dir = await mkdtemp(join(tmpdir(), "sbert-push-"));
  try {
    const folder = join(dir, "model");
    await save(folder);
    return await pushFolderToHub(folder, repoId, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
