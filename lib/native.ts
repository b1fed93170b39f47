import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { NativeAddon } from "../types/native.js";
import { SbertError, type SbertErrorCode } from "./errors.js";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

let addon: NativeAddon | undefined;

/** The compiled addon (build/Release, built from source on install), loaded on first use. */
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
        "  - build it (npm install does, unless install scripts were skipped or sbert-node's was denied): npm rebuild sbert-node\n" +
        "    in your project (under --strict-allow-scripts first: npm install-scripts approve sbert-node), npm run build:native in a clone\n" +
        "  - it needs libtorch: sudo apt-get install libtorch-dev libopenblas0-pthread, pip install torch, or LIBTORCH=/path/to/libtorch\n" +
        "  - the libtorch it was built against moved or was removed (it is found at the path it had at build time): build it again",
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
