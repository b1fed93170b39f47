import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { NativeAddon } from "../types/native.js";
import { SbertError, type SbertErrorCode } from "./errors.js";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

let addon: NativeAddon | undefined;

/** The compiled addon, loaded on first use (build/Release or a prebuild matching this platform). */
export function native(): NativeAddon {
  if (addon) return addon;
  try {
    const load = require("node-gyp-build") as (dir: string) => NativeAddon;
    addon = load(packageRoot);
  } catch (e) {
    throw new SbertError(
      "ERR_NATIVE",
      `the sbert-node native addon could not be loaded: ${(e as Error).message}\n` +
        "Possible solutions:\n" +
        "  - build it from source: npm run build:native (in the sbert-node folder)\n" +
        "  - it needs libtorch: sudo apt-get install libtorch-dev libopenblas0-pthread, or set LIBTORCH=/path/to/libtorch before building\n" +
        "  - a prebuild for another platform or Node-API version does not load here: rebuild on this machine",
      { op: "native.load", cause: e },
    );
  }
  return addon;
}

function toSbertError(op: string, e: unknown, callSite: Error): unknown {
  if (e instanceof SbertError) return e;
  if (!(e instanceof Error)) return e;
  const code = (e as Error & { sbertCode?: SbertErrorCode }).sbertCode;
  if (code === undefined) return e;
  const err = new SbertError(code, e.message, { op });
  // The stack of the call, not of the native callback that rejected.
  err.stack = `${err.name}: ${err.message}\n${(callSite.stack ?? "").split("\n").slice(1).join("\n")}`;
  return err;
}

/** Runs an asynchronous native call, turning its errors into SbertErrors that name `op` and point at the caller. */
export async function callNative<T>(op: string, fn: (addon: NativeAddon) => Promise<T>): Promise<T> {
  const callSite = new Error();
  try {
    return await fn(native());
  } catch (e) {
    throw toSbertError(op, e, callSite);
  }
}

/** The synchronous twin of callNative. */
export function callNativeSync<T>(op: string, fn: (addon: NativeAddon) => T): T {
  const callSite = new Error();
  try {
    return fn(native());
  } catch (e) {
    throw toSbertError(op, e, callSite);
  }
}
