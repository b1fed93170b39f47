#!/usr/bin/env node
// Gets a fresh Debian/Ubuntu machine ready for `npm run demo` and `npm test`: system packages (apt, when this
// process may use it), npm dependencies, the native addon and the compiled TypeScript. Each step is skipped
// when its result is already there and up to date. Plain Node, no dependencies: it runs before `npm ci`.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
// Tests and benchmarks compare against sentence-transformers and transformers themselves, in a Python virtual
// environment made here (scripts/python-env.json).
const forTests = process.argv.includes("--test") || process.argv.includes("--bench");
const log = (msg) => console.error(`[setup] ${msg}`);

function run(cmd, args, options = {}, hint = undefined) {
  log(`$ ${[cmd, ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", ...options });
  if (r.status !== 0) {
    log(`failed: ${cmd} ${args.join(" ")} (exit ${r.status ?? r.signal})`);
    if (hint) log(hint);
    process.exit(r.status || 1);
  }
}

function succeeds(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return r.status === 0;
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
}

function newestUnder(dir, exts) {
  let newest = -1;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestUnder(p, exts));
    else if (exts.some((e) => entry.name.endsWith(e))) newest = Math.max(newest, mtime(p));
  }
  return newest;
}

// ---- system packages ----

let aptUpdated = false;
function aptInstall(packages, why) {
  const hasApt = succeeds("sh", ["-c", "command -v apt-get"]);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const sudo = !isRoot && hasApt && succeeds("sudo", ["-n", "true"]);
  if (!hasApt || (!isRoot && !sudo)) {
    log(`${why}, and this process cannot install system packages here.`);
    log(`Install them, then run the command again:\n\n    sudo apt-get install ${packages.join(" ")}\n`);
    if (packages.includes("libtorch-dev")) {
      log("Or, without apt: download libtorch from https://pytorch.org, unpack it and export LIBTORCH=/path/to/libtorch.");
    }
    process.exit(1);
  }
  const cmd = sudo ? "sudo" : "apt-get";
  const pre = sudo ? ["-n", "apt-get"] : [];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  log(`${why}: installing ${packages.join(" ")} with apt-get`);
  if (!aptUpdated) {
    run(cmd, [...pre, "update"], { env });
    aptUpdated = true;
  }
  run(cmd, [...pre, "install", "-y", "--no-install-recommends", ...packages], { env });
}

function dpkgInstalled(pkg) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

// Which libtorch the addon is built against: LIBTORCH when set (a libtorch folder, or `system` for Debian's
// libtorch-dev); otherwise the torch wheel of the Python environment made here (scripts/python-env.json's "libtorch":
// libtorch 2.13 with MKL and oneDNN, ahead of Debian's 1.13 with OpenBLAS in bench/README.md's measurements).
function libtorchChoice() {
  const env = process.env.LIBTORCH;
  if (env === "system") return "system";
  if (env) {
    if (!fs.existsSync(path.join(env, "share/cmake/Torch/TorchConfig.cmake"))) {
      log(`LIBTORCH=${env} holds no share/cmake/Torch/TorchConfig.cmake: point it at an unpacked libtorch folder, or set LIBTORCH=system.`);
      process.exit(1);
    }
    return "LIBTORCH";
  }
  return "wheel";
}

function systemPackages(choice) {
  const missing = [];
  if (!succeeds("cmake", ["--version"])) missing.push("cmake");
  if (!succeeds("c++", ["--version"]) && !succeeds("g++", ["--version"])) missing.push("g++");
  if (!succeeds("make", ["--version"])) missing.push("make");
  if (choice === "system") {
    const configs = ["/usr/lib/x86_64-linux-gnu/cmake/Torch", "/usr/lib/aarch64-linux-gnu/cmake/Torch", "/usr/lib/cmake/Torch", "/usr/local/lib/cmake/Torch"];
    if (!configs.some((d) => fs.existsSync(path.join(d, "TorchConfig.cmake")))) missing.push("libtorch-dev");
    // Debian's default BLAS is the slow reference one; libtorch-dev works with it, but OpenBLAS is many times faster.
    if (succeeds("sh", ["-c", "command -v dpkg-query"]) && !dpkgInstalled("libopenblas0-pthread")) missing.push("libopenblas0-pthread");
  }
  if ((choice === "wheel" || forTests) && !succeeds("python3", ["-c", "import venv, ensurepip"])) missing.push("python3-venv");
  if (missing.length) aptInstall(missing, `missing system packages (${missing.join(", ")})`);
  glooHeaders();
}

// Distributed training's process group (c10d's Gloo) needs Gloo's headers, which libtorch does not ship; without
// them the addon builds without distributed training. Installed when apt can, else only mentioned.
function glooHeaders() {
  if (fs.existsSync("/usr/include/gloo/context.h") || !succeeds("sh", ["-c", "command -v dpkg-query"]) || dpkgInstalled("libgloo-dev")) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (succeeds("sh", ["-c", "command -v apt-get"]) && (isRoot || succeeds("sudo", ["-n", "true"]))) {
    aptInstall(["libgloo-dev"], "distributed training needs Gloo's headers");
  } else {
    log("note: distributed training (--nproc-per-node) needs Gloo's headers: sudo apt-get install libgloo-dev, then npm run build:native");
  }
}

// ---- npm, addon, TypeScript ----

function npmDependencies() {
  const marker = path.join(root, "node_modules", ".package-lock.json");
  if (mtime(marker) >= Math.max(mtime(path.join(root, "package-lock.json")), mtime(path.join(root, "package.json")))) return;
  // The addon is built below with progress shown; skip the install-time build.
  run(process.platform === "win32" ? "npm.cmd" : "npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
}

function nativeAddon() {
  const built = mtime(path.join(root, "build", "Release", "sbert_node.node"));
  const sources = Math.max(newestUnder(path.join(root, "native"), [".cc", ".h"]), mtime(path.join(root, "CMakeLists.txt")));
  let builtWith;
  try {
    builtWith = fs.readFileSync(path.join(root, "build", "cmake", ".sbert-libtorch"), "utf8");
  } catch {
    builtWith = undefined;
  }
  if (built >= sources && builtWith === (process.env.LIBTORCH || "")) return;
  run(process.execPath, [path.join(root, "scripts", "build-native.cjs")]);
}

function typescript() {
  const built = mtime(path.join(root, "dist", "index.js"));
  const sources = Math.max(newestUnder(path.join(root, "lib"), [".ts"]), newestUnder(path.join(root, "types"), [".ts"]), mtime(path.join(root, "tsconfig.json")));
  if (built >= sources) return;
  run(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"]);
}

// ---- the Python reference environment (tests and benchmarks) ----

// Local package indexes pip is configured with (file:// URLs): used as the only index, so that pip does not spend
// minutes retrying an unreachable default one first.
function localIndexes() {
  const r = spawnSync("python3", ["-m", "pip", "config", "list"], { encoding: "utf8" });
  if (r.status !== 0) return [];
  const urls = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^[\w:.-]*\.(extra-index-url|index-url|find-links)='(.*)'$/.exec(line.trim());
    if (!m) continue;
    for (const url of m[2].split(/\s+/)) if (url.startsWith("file://") || (m[1] === "find-links" && url.startsWith("/"))) urls.push([m[1], url]);
  }
  return urls;
}

// One virtual environment, under the user's cache folder, per scripts/python-env.json: its "libtorch" package first
// (what the addon builds against), the reference packages of tests and benchmarks when `full`. Returns its python.
function pythonEnvironment(full) {
  const spec = fs.readFileSync(path.join(root, "scripts", "python-env.json"), "utf8");
  const { libtorch, packages } = JSON.parse(spec);
  const hash = require("node:crypto").createHash("sha256").update(packages.join("\n")).digest("hex").slice(0, 12);
  const cache = process.env.XDG_CACHE_HOME || path.join(require("node:os").homedir(), ".cache");
  const dir = path.join(cache, "sbert-node", `python-${hash}`);
  const python = path.join(dir, "bin", "python");
  const complete = path.join(dir, ".complete");
  const torchDone = path.join(dir, ".complete-libtorch");
  if (fs.existsSync(complete) || (!full && fs.existsSync(torchDone))) return python;
  if (!fs.existsSync(torchDone)) {
    fs.rmSync(dir, { recursive: true, force: true });
    log(`making the Python environment (${libtorch}${full ? ", " + packages.slice(1, 3).join(", ") + ", ..." : ""}) in ${dir}`);
    run("python3", ["-m", "venv", dir]);
  }
  const indexes = localIndexes();
  const args = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input"];
  const local = indexes.filter(([kind]) => kind !== "find-links");
  if (local.length > 0) {
    args.push("--index-url", local[0][1]);
    for (const [, url] of local.slice(1)) args.push("--extra-index-url", url);
  } else {
    // torch's CPU wheels (PyPI's Linux wheel pulls in CUDA libraries); everything else still comes from PyPI.
    args.push("--extra-index-url", "https://download.pytorch.org/whl/cpu");
  }
  for (const [kind, url] of indexes) if (kind === "find-links") args.push("--find-links", url);
  if (!fs.existsSync(torchDone)) {
    run(python, [...args, libtorch], {}, "Without a torch wheel, LIBTORCH=system builds against Debian's libtorch-dev, or LIBTORCH=/path/to/libtorch against a download.");
    fs.writeFileSync(torchDone, libtorch);
  }
  if (full) {
    run(python, [...args, ...packages]);
    fs.writeFileSync(complete, spec);
  }
  return python;
}

// The libtorch folder inside the environment's torch wheel.
function wheelLibtorch(python) {
  const r = spawnSync(python, ["-c", "import os, torch; print(os.path.dirname(torch.__file__))"], { encoding: "utf8" });
  const dir = (r.stdout || "").trim();
  if (r.status !== 0 || !fs.existsSync(path.join(dir, "share/cmake/Torch/TorchConfig.cmake"))) {
    log(`the torch of ${python} holds no libtorch (share/cmake/Torch/TorchConfig.cmake); set LIBTORCH=system to use Debian's.`);
    process.exit(1);
  }
  return dir;
}

function recordPython(python) {
  const record = path.join(root, "build", "python.json");
  fs.mkdirSync(path.dirname(record), { recursive: true });
  fs.writeFileSync(record, JSON.stringify({ python }) + "\n");
}

const choice = libtorchChoice();
systemPackages(choice);
npmDependencies();
let python;
if (choice === "wheel" || (forTests && !process.env.SBERT_TEST_PYTHON)) python = pythonEnvironment(forTests);
if (choice === "wheel") process.env.LIBTORCH = wheelLibtorch(python);
nativeAddon();
typescript();
if (forTests) recordPython(process.env.SBERT_TEST_PYTHON || python);
