#!/usr/bin/env node
// Builds the addon with cmake-js into build/Release/sbert_node.node. Used by `npm run build:native` and by the
// package's install step (the package ships no prebuilt binary: see README, "Using it in your project").
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const { checkBuildPrerequisites, formatBuildProblem } = require("./build-prerequisites.cjs");

const root = path.resolve(__dirname, "..");
// Installed as a dependency (node_modules/sbert-node), or this repository.
const installed = root.split(path.sep).includes("node_modules");

const prerequisites = checkBuildPrerequisites();
if (prerequisites.blocking) {
  console.error(`\n${formatBuildProblem(prerequisites, { installed, failed: false })}\n`);
  process.exit(1);
}

const cmakeJs = require.resolve("cmake-js/bin/cmake-js");

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
// A configured build without its stamp (a rebuild interrupted before it wrote one) may hold another libtorch.
const configured = fs.existsSync(path.join(buildDir, "CMakeCache.txt"));
const command = configured && previous !== wanted ? "rebuild" : "compile";
const args = [cmakeJs, command, "--out", path.join("build", "cmake"), "--CDCMAKE_BUILD_TYPE=Release"];
if (process.env.SBERT_NODE_PARALLEL) args.push("--parallel", process.env.SBERT_NODE_PARALLEL);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (r.status === 0) {
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(stamp, wanted);
}
if (r.status !== 0) {
  console.error(`\n${formatBuildProblem(prerequisites, { installed, failed: true })}\n`);
  process.exit(r.status || 1);
}
