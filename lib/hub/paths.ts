/**
 * Paths that come from a server or from repo files (tree listings, modules.json, shard indexes) end up joined
 * to a cache folder: anything that could step outside it is refused.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";

import { SbertError } from "../errors.js";

/** `path` as a clean relative POSIX path, or ERR_FORMAT when it is absolute, has `..`/`.` or empty segments, or odd characters. */
export function safeRelativePath(path: string, source: string, op: string): string {
  const bad = (why: string): SbertError =>
    new SbertError("ERR_FORMAT", `${source}: path ${JSON.stringify(path)} ${why}; refusing it so that no file lands outside the snapshot folder`, { op });
  if (typeof path !== "string" || path === "") throw bad("is empty");
  if (path.includes("\0")) throw bad("contains a NUL character");
  if (path.includes("\\")) throw bad("contains a backslash");
  if (path.startsWith("/") || isAbsolute(path) || /^[A-Za-z]:/.test(path)) throw bad("is absolute");
  const parts = path.split("/");
  for (const part of parts) {
    if (part === "..") throw bad("goes up with '..'");
    if (part === "." || part === "") throw bad("has an empty or '.' segment");
  }
  return parts.join("/");
}

/** Joins a checked relative path to `root`, verifying the result stays inside. */
export function insideFolder(root: string, rel: string, source: string, op: string): string {
  const clean = safeRelativePath(rel, source, op);
  const full = resolve(root, ...clean.split("/"));
  const back = relative(resolve(root), full);
  if (back === "" || back.startsWith(`..${sep}`) || back === ".." || isAbsolute(back)) {
    throw new SbertError("ERR_FORMAT", `${source}: path ${JSON.stringify(rel)} leaves ${root}`, { op });
  }
  return full;
}
