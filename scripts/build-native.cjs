#!/usr/bin/env node
// Builds the addon with cmake-js into build/Release/sbert_node.node. Used by `npm run build:native`, by the
// package's install step (when no prebuild loads) and by binding.gyp (for prebuildify).
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const fs = require("node:fs");

// libtorch is chosen when CMake configures; a different LIBTORCH than last time needs a fresh configure.
const buildDir = path.join(root, "build", "cmake");
const stamp = path.join(buildDir, ".sbert-libtorch");
const wanted = process.env.LIBTORCH || "";
let previous;
try {
  previous = fs.readFileSync(stamp, "utf8");
} catch {
  previous = undefined;
}
const command = previous !== undefined && previous !== wanted ? "rebuild" : "compile";
const args = [cmakeJs, command, "--out", path.join("build", "cmake"), "--CDCMAKE_BUILD_TYPE=Release"];
if (process.env.SBERT_NODE_PARALLEL) args.push("--parallel", process.env.SBERT_NODE_PARALLEL);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (r.status === 0) {
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(stamp, wanted);
}
if (r.status !== 0) {
  console.error(
    "\nsbert-node: building the native addon failed. It needs cmake, a C++17 compiler and libtorch:\n" +
      "  sudo apt-get install cmake g++ libtorch-dev libopenblas0-pthread\n" +
      "or set LIBTORCH=/path/to/libtorch (a libtorch download from pytorch.org), then try again.",
  );
  process.exit(r.status ?? 1);
}
