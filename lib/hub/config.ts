/**
 * Where the Hub is and who we are to it: endpoint, token, cache folder and offline mode, read from options
 * first and then from the environment variables huggingface_hub reads, so that both share one setup.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

export type RepoType = "model" | "dataset";

export interface RepoRef {
  type: RepoType;
  /** "org/name", or "name" for the old top-level repos. */
  id: string;
}

export const DEFAULT_ENDPOINT = "https://huggingface.co";

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/** huggingface_hub's reading of boolean variables. */
export function envFlag(name: string): boolean {
  const v = env(name);
  return v !== undefined && ["1", "ON", "YES", "TRUE"].includes(v.toUpperCase());
}

export function hubEndpoint(explicit?: string): string {
  const url = explicit ?? env("HF_ENDPOINT") ?? DEFAULT_ENDPOINT;
  return url.replace(/\/+$/, "");
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(): string {
  const home = env("HF_HOME");
  if (home !== undefined) return expandHome(home);
  return join(expandHome(env("XDG_CACHE_HOME") ?? "~/.cache"), "huggingface");
}

/** The hub cache: `cacheFolder`, else `HF_HUB_CACHE` (or the older `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`. */
export function hubCacheDir(opts: { cacheFolder?: string } = {}): string {
  if (opts.cacheFolder !== undefined) {
    if (typeof opts.cacheFolder !== "string" || opts.cacheFolder === "") throw new TypeError("cacheFolder must be a non-empty string");
    return expandHome(opts.cacheFolder);
  }
  const dir = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE");
  return dir !== undefined ? expandHome(dir) : join(hfHome(), "hub");
}

/** `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`, which huggingface_hub also honours). */
export function isOffline(): boolean {
  return envFlag("HF_HUB_OFFLINE") || envFlag("TRANSFORMERS_OFFLINE");
}

/**
 * The token to send: `explicit`, else `HF_TOKEN` / `HUGGING_FACE_HUB_TOKEN`, else the file `huggingface-cli login`
 * writes (`HF_TOKEN_PATH`, default `$HF_HOME/token`).
 */
export async function hubToken(explicit?: string): Promise<string | undefined> {
  if (explicit !== undefined) {
    if (typeof explicit !== "string") throw new TypeError("token must be a string");
    return explicit === "" ? undefined : explicit;
  }
  const fromEnv = env("HF_TOKEN") ?? env("HUGGING_FACE_HUB_TOKEN");
  if (fromEnv !== undefined) return fromEnv.trim();
  try {
    const saved = (await readFile(expandHome(env("HF_TOKEN_PATH") ?? join(hfHome(), "token")), "utf8")).trim();
    return saved === "" ? undefined : saved;
  } catch {
    return undefined;
  }
}

/** `models--org--name` / `datasets--org--name`, as huggingface_hub names a repo's cache folder. */
export function repoFolderName(repo: RepoRef): string {
  return `${repo.type}s--${repo.id.split("/").join("--")}`;
}

/** URL prefix of a repo's web routes (`resolve/…`): none for models. */
export function repoUrlPrefix(repo: RepoRef): string {
  return repo.type === "model" ? "" : `${repo.type}s/`;
}

const ID_PART = /^[A-Za-z0-9_.-]{1,96}$/;

/** The Hub's rule for repo ids (huggingface_hub's validate_repo_id); it also keeps ids safe to use in cache paths. */
export function isValidRepoId(id: string): boolean {
  const parts = id.split("/");
  if (parts.length > 2) return false;
  return parts.every((p) => ID_PART.test(p) && !/^[-.]|[-.]$/.test(p)) && !id.includes("--") && !id.includes("..");
}

export function describeRepo(repo: RepoRef): string {
  return `${repo.type} '${repo.id}'`;
}
