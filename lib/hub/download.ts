/**
 * Model ids → local folders: a Hub model is downloaded into the huggingface_hub cache (only the files a
 * sentence-transformers model loads) and its snapshot folder is returned.
 */
import { readFile, stat } from "node:fs/promises";
import { posix } from "node:path";

import { SbertError } from "../errors.js";
import { RepoCache, isCommitSha, mapLimit, type LocalState } from "./cache.js";
import { describeRepo, hubCacheDir as cacheDirFromEnv, hubEndpoint, hubToken, isOffline, isValidRepoId, type RepoRef } from "./config.js";
import { isUnreachable, listFiles, resolveRevision, type HubContext, type RemoteFile } from "./http.js";
import { safeRelativePath } from "./paths.js";

export interface HubOptions {
  /** Branch, tag or commit sha. Default "main". */
  revision?: string;
  /** Hub token; default HF_TOKEN / HUGGING_FACE_HUB_TOKEN / the saved login token. */
  token?: string;
  /** Cache folder; default HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheFolder?: string;
  /** Use only the cache (as HF_HUB_OFFLINE=1 does). */
  localFilesOnly?: boolean;
  /** Hub URL; default HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
}

const OP = "resolveModelFolder";

/** cacheFolder ?? HF_HUB_CACHE ?? $HF_HOME/hub ?? ~/.cache/huggingface/hub. */
export function hubCacheDir(opts: { cacheFolder?: string } = {}): string {
  return cacheDirFromEnv(opts);
}

/** Organisation-less models of transformers' early days, which sentence-transformers does not prefix. */
const LEGACY_TOP_LEVEL_MODELS = new Set(
  (
    "albert-base-v1 albert-base-v2 albert-large-v1 albert-large-v2 albert-xlarge-v1 albert-xlarge-v2 albert-xxlarge-v1 albert-xxlarge-v2 " +
    "bert-base-cased-finetuned-mrpc bert-base-cased bert-base-chinese bert-base-german-cased bert-base-german-dbmdz-cased " +
    "bert-base-german-dbmdz-uncased bert-base-multilingual-cased bert-base-multilingual-uncased bert-base-uncased " +
    "bert-large-cased-whole-word-masking-finetuned-squad bert-large-cased-whole-word-masking bert-large-cased " +
    "bert-large-uncased-whole-word-masking-finetuned-squad bert-large-uncased-whole-word-masking bert-large-uncased camembert-base ctrl " +
    "distilbert-base-cased-distilled-squad distilbert-base-cased distilbert-base-german-cased distilbert-base-multilingual-cased " +
    "distilbert-base-uncased-distilled-squad distilbert-base-uncased-finetuned-sst-2-english distilbert-base-uncased distilgpt2 " +
    "distilroberta-base gpt2-large gpt2-medium gpt2-xl gpt2 openai-gpt roberta-base-openai-detector roberta-base roberta-large-mnli " +
    "roberta-large-openai-detector roberta-large t5-11b t5-3b t5-base t5-large t5-small transfo-xl-wt103 xlm-clm-ende-1024 " +
    "xlm-clm-enfr-1024 xlm-mlm-100-1280 xlm-mlm-17-1280 xlm-mlm-en-2048 xlm-mlm-ende-1024 xlm-mlm-enfr-1024 xlm-mlm-enro-1024 " +
    "xlm-mlm-tlm-xnli15-1024 xlm-mlm-xnli15-1024 xlm-roberta-base xlm-roberta-large-finetuned-conll02-dutch " +
    "xlm-roberta-large-finetuned-conll02-spanish xlm-roberta-large-finetuned-conll03-english xlm-roberta-large-finetuned-conll03-german " +
    "xlm-roberta-large xlnet-base-cased xlnet-large-cased"
  ).split(" "),
);

/** sentence-transformers' reading of a name that is not a local folder: "name" alone means "sentence-transformers/name". */
export function modelIdFor(name: string): string {
  if (name.includes("\\") || name.split("/").length > 2) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `no model folder at '${name}' (and it is not a Hub id, which has at most one '/')`, { op: OP });
  }
  const id = !name.includes("/") && !LEGACY_TOP_LEVEL_MODELS.has(name.toLowerCase()) ? `sentence-transformers/${name}` : name;
  if (!isValidRepoId(id)) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `no model folder at '${name}', and '${id}' is not a valid Hub model id`, { op: OP });
  }
  return id;
}

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "added_tokens.json"];
const ROOT_FILES = [
  "modules.json",
  "config_sentence_transformers.json",
  "sentence_bert_config.json",
  "config.json",
  "README.md",
  ...TOKENIZER_FILES,
  // Chat templates: sentence-transformers 6 renders a cross-encoder's pairs through one (CrossEncoder.load refuses a decoder reranker with one).
  "chat_template.jinja",
  "chat_template.json",
];
/** What a module folder named in modules.json may hold besides weights (a Transformer saved in a subfolder has all of it). */
const MODULE_FILES = ["config.json", "sentence_bert_config.json", ...TOKENIZER_FILES];

/** How the file walk sees a repo: from the Hub listing (and downloads), or from the cache alone. */
interface FileSource {
  state(path: string): Promise<LocalState>;
  /** Makes the file available in the snapshot. */
  ensure(paths: string[]): Promise<void>;
  readJson(path: string): Promise<unknown>;
}

class Incomplete extends Error {}

/**
 * Walks the files a model needs: fixed names at the root and in each module folder, and per folder the first
 * weights found of model.safetensors, model.safetensors.index.json (+ its shards), pytorch_model.bin.
 * Returns the paths found absent. Throws Incomplete when the source cannot tell about a file.
 */
async function walkModelFiles(src: FileSource, op: string, repoName: string): Promise<string[]> {
  const absent: string[] = [];
  const pick = async (paths: string[]): Promise<string[]> => {
    const states = await Promise.all(paths.map((p) => src.state(p)));
    if (states.includes("unknown")) throw new Incomplete();
    paths.forEach((p, i) => {
      if (states[i] === "absent") absent.push(p);
    });
    const present = paths.filter((_, i) => states[i] === "present");
    await src.ensure(present);
    return present;
  };

  const root = await pick(ROOT_FILES);
  if (!root.includes("modules.json") && !root.includes("config.json")) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `${repoName} has neither modules.json nor config.json: it is not a sentence-transformers or transformers model`, { op });
  }

  const folders = [""];
  if (root.includes("modules.json")) {
    const modules = await src.readJson("modules.json");
    if (!Array.isArray(modules)) throw new SbertError("ERR_FORMAT", `${repoName}: modules.json must hold a list`, { op });
    for (const m of modules) {
      const p = (m as { path?: unknown } | null)?.path;
      if (typeof p !== "string") continue;
      const norm = p === "" ? "" : posix.normalize(p).replace(/\/+$/, "");
      if (norm === "" || norm === ".") continue;
      const folder = safeRelativePath(norm, `${repoName}: modules.json`, op);
      if (!folders.includes(folder)) folders.push(folder);
    }
  }

  for (const folder of folders) {
    const at = (name: string): string => (folder === "" ? name : `${folder}/${name}`);
    if (folder !== "") await pick(MODULE_FILES.map(at));
    if ((await pick([at("model.safetensors")])).length > 0) continue;
    if ((await pick([at("model.safetensors.index.json")])).length > 0) {
      const index = (await src.readJson(at("model.safetensors.index.json"))) as { weight_map?: unknown } | null;
      const map = index?.weight_map;
      if (typeof map !== "object" || map === null || Array.isArray(map)) {
        throw new SbertError("ERR_FORMAT", `${repoName}: ${at("model.safetensors.index.json")} has no "weight_map" object`, { op });
      }
      const shards = [...new Set(Object.values(map as Record<string, unknown>))].map((s) => {
        if (typeof s !== "string") throw new SbertError("ERR_FORMAT", `${repoName}: ${at("model.safetensors.index.json")} names a shard that is not a string`, { op });
        return safeRelativePath(at(s), `${repoName}: ${at("model.safetensors.index.json")}`, op);
      });
      const found = await pick(shards);
      if (found.length !== shards.length) {
        const missing = shards.filter((s) => !found.includes(s));
        throw new SbertError("ERR_FILE_NOT_FOUND", `${repoName}: shards named in ${at("model.safetensors.index.json")} are missing: ${missing.join(", ")}`, { op });
      }
      continue;
    }
    await pick([at("pytorch_model.bin")]);
  }
  return absent;
}

async function readSnapshotJson(cache: RepoCache, sha: string, path: string, op: string): Promise<unknown> {
  const file = cache.snapshotFile(sha, path);
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new SbertError("ERR_FORMAT", `${file} is not valid JSON: ${(e as Error).message}`, { op, cause: e });
  }
}

/** True when the cache alone shows every file the model needs as present or known-absent. */
async function snapshotComplete(cache: RepoCache, sha: string, repoName: string): Promise<boolean> {
  try {
    await walkModelFiles(
      {
        state: (p) => cache.state(sha, p),
        ensure: async () => undefined,
        readJson: (p) => readSnapshotJson(cache, sha, p, OP),
      },
      OP,
      repoName,
    );
    return true;
  } catch (e) {
    if (e instanceof Incomplete) return false;
    throw e;
  }
}

/** A snapshot served offline must at least have a model config; other missing files are reported by the loaders. */
async function checkUsableOffline(cache: RepoCache, sha: string, repoName: string): Promise<string> {
  const states = await Promise.all(["modules.json", "config.json"].map((p) => cache.state(sha, p)));
  if (!states.includes("present")) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `the cached snapshot ${cache.snapshotDir(sha)} of ${repoName} has neither modules.json nor config.json`, { op: OP });
  }
  return cache.snapshotDir(sha);
}

function checkOptions(opts: HubOptions): void {
  if (typeof opts !== "object" || opts === null) throw new TypeError(`${OP}: options must be an object`);
  for (const key of ["revision", "token", "cacheFolder", "endpoint"] as const) {
    const v = opts[key];
    if (v !== undefined && (typeof v !== "string" || v === "")) throw new TypeError(`${OP}: ${key} must be a non-empty string`);
  }
  if (opts.localFilesOnly !== undefined && typeof opts.localFilesOnly !== "boolean") throw new TypeError(`${OP}: localFilesOnly must be a boolean`);
}

/**
 * A local folder as is; otherwise a Hub model id downloaded (only the files a sentence-transformers model
 * needs) into the HF cache, returning the snapshot folder path. Plain names without an org
 * ("all-MiniLM-L6-v2") resolve as sbert does ("sentence-transformers/all-MiniLM-L6-v2").
 *
 * A model whose needed files are all in the cache is served without contacting the Hub (pin `revision` to a
 * commit sha to be exact about what you get). With `localFilesOnly` or HF_HUB_OFFLINE=1 only the cache is
 * read; when the Hub cannot be reached, a cached snapshot is used too.
 */
export async function resolveModelFolder(idOrPath: string, opts: HubOptions = {}): Promise<string> {
  if (typeof idOrPath !== "string" || idOrPath === "") throw new TypeError(`${OP}: idOrPath must be a non-empty string`);
  checkOptions(opts);
  try {
    const info = await stat(idOrPath);
    if (info.isDirectory()) return idOrPath;
    throw new SbertError("ERR_FILE_NOT_FOUND", `'${idOrPath}' is a file; a model is a folder (or a Hub model id)`, { op: OP });
  } catch (e) {
    if (e instanceof SbertError) throw e;
  }

  const repo: RepoRef = { type: "model", id: modelIdFor(idOrPath) };
  const repoName = describeRepo(repo);
  const revision = opts.revision ?? "main";
  const cacheDir = opts.cacheFolder !== undefined ? hubCacheDir(opts) : (process.env["SENTENCE_TRANSFORMERS_HOME"] || hubCacheDir());
  const cache = new RepoCache(cacheDir, repo, OP);
  const offline = opts.localFilesOnly === true || isOffline();

  const cachedSha = await cache.localCommit(revision);
  if (offline) {
    if (cachedSha === undefined) {
      const why = opts.localFilesOnly ? "localFilesOnly is set" : "HF_HUB_OFFLINE is set";
      throw new SbertError(
        "ERR_FILE_NOT_FOUND",
        `${repoName} (revision '${revision}') is not in the cache at ${cacheDir}, and ${why}: download it once online (or point cacheFolder at a cache that has it)`,
        { op: OP },
      );
    }
    return checkUsableOffline(cache, cachedSha, repoName);
  }
  if (cachedSha !== undefined && (await snapshotComplete(cache, cachedSha, repoName))) return cache.snapshotDir(cachedSha);

  const ctx: HubContext = { endpoint: hubEndpoint(opts.endpoint), token: await hubToken(opts.token), repo, op: OP };
  let sha: string;
  let listing: Map<string, RemoteFile>;
  try {
    sha = await resolveRevision(ctx, revision);
    if (isCommitSha(revision) && revision !== sha) {
      throw new SbertError("ERR_FORMAT", `the Hub resolved commit ${revision} of ${repoName} to ${sha}`, { op: OP });
    }
    listing = await listFiles(ctx, sha);
  } catch (e) {
    if (isUnreachable(e) && cachedSha !== undefined) return checkUsableOffline(cache, cachedSha, repoName);
    throw e;
  }

  const absent = await walkModelFiles(
    {
      state: async (p) => (listing.has(p) ? "present" : "absent"),
      ensure: (paths) => mapLimit(paths, 4, async (p) => void (await cache.fetchFile(ctx, sha, listing.get(p)!))),
      readJson: (p) => readSnapshotJson(cache, sha, p, OP),
    },
    OP,
    repoName,
  );
  // Recorded as huggingface_hub does, so the next call knows these files are not in this commit.
  for (const p of absent) await cache.markAbsent(sha, p);
  await cache.writeRef(revision, sha);
  return cache.snapshotDir(sha);
}
