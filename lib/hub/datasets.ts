/**
 * Hub datasets through the parquet export the Hub keeps for every public dataset on the branch
 * `refs/convert/parquet`. Its layout has changed over time; all of these are read:
 *
 *   {config}/{split}/0000.parquet                     today (one folder per split, shards numbered)
 *   {config}/partial-{split}/0000.parquet             today, for splits converted only in part (big datasets)
 *   {config}/{name}-{split}.parquet                   2023
 *   {config}/{name}-{split}-00000-of-00003.parquet    2023, sharded
 *
 * Files are cached like any repo file (datasets--org--name/…, snapshot of the export's commit).
 */
import { readdir } from "node:fs/promises";
import { sep } from "node:path";

import { SbertError } from "../errors.js";
import { RepoCache, mapLimit } from "./cache.js";
import { describeRepo, envFlag, hubCacheDir, hubEndpoint, hubToken, isOffline, isValidRepoId, type RepoRef } from "./config.js";
import { hubErrorCode, isUnreachable, listFiles, resolveRevision, type HubContext, type RemoteFile } from "./http.js";

export const PARQUET_EXPORT_REVISION = "refs/convert/parquet";

export interface ParquetExportOptions {
  /** Config (subset) name; needed when the dataset has several and none is "default". */
  name?: string;
  /** Splits to download; default all splits of the config. */
  splits?: string[];
  /** Revision of the export branch: `refs/convert/parquet` (default) or one of its commit shas. */
  revision?: string;
  token?: string;
  cacheFolder?: string;
  endpoint?: string;
  localFilesOnly?: boolean;
  op?: string;
}

export interface ParquetExport {
  id: string;
  config: string;
  configs: string[];
  /** Every split of the config, in the export's order. */
  availableSplits: string[];
  /** Local parquet files per downloaded split, shard order. */
  splits: Record<string, string[]>;
  snapshot: string;
}

type Layout = Map<string, Map<string, { full: string[]; partial: string[]; legacy: string[] }>>;

const SPLIT_ORDER = ["train", "validation", "test"];

/** train, validation, test first (the order datasets shows them in), then the others by name. */
export function orderSplits(names: Iterable<string>): string[] {
  const rank = (s: string): number => (SPLIT_ORDER.includes(s) ? SPLIT_ORDER.indexOf(s) : SPLIT_ORDER.length);
  return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** config → split → files, from the paths of the export branch. */
export function parseExportLayout(paths: Iterable<string>): Map<string, Map<string, string[]>> {
  const layout: Layout = new Map();
  for (const path of paths) {
    if (!path.endsWith(".parquet")) continue;
    const parts = path.split("/");
    let config: string;
    let split: string;
    let kind: "full" | "partial" | "legacy" = "full";
    if (parts.length === 3) {
      config = parts[0]!;
      split = parts[1]!;
      if (split.startsWith("partial-")) {
        kind = "partial";
        split = split.slice("partial-".length);
      }
    } else if (parts.length === 2) {
      config = parts[0]!;
      // Split names cannot contain '-', so the split is what follows the last one.
      const base = parts[1]!.slice(0, -".parquet".length).replace(/-\d{5}-of-\d{5}$/, "");
      const dash = base.lastIndexOf("-");
      if (dash < 0) continue;
      split = base.slice(dash + 1);
      kind = "legacy";
    } else {
      continue;
    }
    if (!config || !split) continue;
    let splits = layout.get(config);
    if (!splits) layout.set(config, (splits = new Map()));
    let entry = splits.get(split);
    if (!entry) splits.set(split, (entry = { full: [], partial: [], legacy: [] }));
    entry[kind].push(path);
  }
  const out = new Map<string, Map<string, string[]>>();
  for (const [config, splits] of layout) {
    const m = new Map<string, string[]>();
    for (const split of orderSplits(splits.keys())) {
      const { full, partial, legacy } = splits.get(split)!;
      // One era per split; a complete conversion over a partial one.
      m.set(split, [full, partial, legacy].find((l) => l.length > 0)!.sort());
    }
    out.set(config, m);
  }
  return out;
}

async function snapshotPaths(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => e.split(sep).join("/"));
}

function pickConfig(layout: Map<string, Map<string, string[]>>, name: string | undefined, repoName: string, op: string): string {
  const configs = [...layout.keys()];
  if (configs.length === 0) throw new SbertError("ERR_FILE_NOT_FOUND", `the parquet export of ${repoName} holds no parquet files`, { op });
  if (name !== undefined) {
    if (!layout.has(name)) {
      throw new SbertError("ERR_INPUT", `${repoName} has no config '${name}'; available configs: ${configs.join(", ")}`, { op });
    }
    return name;
  }
  if (configs.length === 1) return configs[0]!;
  if (layout.has("default")) return "default";
  throw new SbertError("ERR_INPUT", `${repoName} has several configs, pass \`name\` to pick one of: ${configs.join(", ")}`, { op });
}

/** Downloads (or finds in the cache) the parquet files of one config of a Hub dataset. */
export async function downloadParquetExport(id: string, opts: ParquetExportOptions = {}): Promise<ParquetExport> {
  const op = opts.op ?? "loadDataset";
  if (!isValidRepoId(id)) {
    throw new SbertError("ERR_FILE_NOT_FOUND", `no local file or folder at '${id}', and it is not a valid Hub dataset id`, { op });
  }
  const repo: RepoRef = { type: "dataset", id };
  const repoName = describeRepo(repo);
  const revision = opts.revision ?? PARQUET_EXPORT_REVISION;
  const cacheDir = hubCacheDir({ cacheFolder: opts.cacheFolder });
  const cache = new RepoCache(cacheDir, repo, op);
  const offline = opts.localFilesOnly === true || isOffline() || envFlag("HF_DATASETS_OFFLINE");

  const fromCache = async (): Promise<{ sha: string; paths: string[] }> => {
    const sha = await cache.localCommit(revision);
    if (sha === undefined) {
      throw new SbertError(
        "ERR_FILE_NOT_FOUND",
        `${repoName} (revision '${revision}') is not in the cache at ${cacheDir}, and offline mode is on: load it once online first`,
        { op },
      );
    }
    return { sha, paths: await snapshotPaths(cache.snapshotDir(sha)) };
  };

  let sha: string;
  let listing: Map<string, RemoteFile> | undefined;
  let ctx: HubContext | undefined;
  if (offline) {
    ({ sha } = await fromCache());
  } else {
    ctx = { endpoint: hubEndpoint(opts.endpoint), token: await hubToken(opts.token), repo, op };
    try {
      sha = await resolveRevision(ctx, revision);
      listing = await listFiles(ctx, sha);
    } catch (e) {
      if (isUnreachable(e) && (await cache.localCommit(revision)) !== undefined) {
        ({ sha } = await fromCache());
      } else if (hubErrorCode(e) === "RevisionNotFound" && revision === PARQUET_EXPORT_REVISION) {
        throw new SbertError(
          "ERR_FILE_NOT_FOUND",
          `${repoName} at ${ctx.endpoint} has no parquet export (branch ${PARQUET_EXPORT_REVISION}); the Hub converts public datasets ` +
            `(and those of paying accounts) only: download its data files and pass their local path instead`,
          { op, cause: e },
        );
      } else {
        throw e;
      }
    }
  }

  const paths = listing ? [...listing.keys()] : await snapshotPaths(cache.snapshotDir(sha));
  const layout = parseExportLayout(paths);
  const config = pickConfig(layout, opts.name, repoName, op);
  const splitFiles = layout.get(config)!;
  const availableSplits = [...splitFiles.keys()];
  const wanted = opts.splits ?? availableSplits;
  for (const s of wanted) {
    if (!splitFiles.has(s)) {
      throw new SbertError("ERR_INPUT", `${repoName} (config '${config}') has no split '${s}'; available splits: ${availableSplits.join(", ")}`, { op });
    }
  }

  const splits: Record<string, string[]> = {};
  for (const s of wanted) {
    const files = splitFiles.get(s)!;
    if (listing && ctx) {
      const c = ctx;
      const l = listing;
      const local: string[] = new Array(files.length);
      await mapLimit(files.map((p, i) => [p, i] as const), 4, async ([p, i]) => {
        local[i] = await cache.fetchFile(c, sha, l.get(p)!);
      });
      splits[s] = local;
    } else {
      splits[s] = files.map((p) => cache.snapshotFile(sha, p));
    }
  }
  if (listing) await cache.writeRef(revision, sha);
  return { id, config, configs: [...layout.keys()], availableSplits, splits, snapshot: cache.snapshotDir(sha) };
}
