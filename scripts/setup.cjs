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

function run(cmd, args, options = {}) {
  log(`$ ${[cmd, ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", ...options });
  if (r.status !== 0) {
    log(`failed: ${cmd} ${args.join(" ")} (exit ${r.status ?? r.signal})`);
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

function libtorchSource() {
  if (process.env.LIBTORCH) {
    if (!fs.existsSync(path.join(process.env.LIBTORCH, "share/cmake/Torch/TorchConfig.cmake"))) {
      log(`LIBTORCH=${process.env.LIBTORCH} holds no share/cmake/Torch/TorchConfig.cmake: point it at an unpacked libtorch folder.`);
      process.exit(1);
    }
    return "LIBTORCH";
  }
  const py = spawnSync("python3", ["-c", "import torch.utils, os; print(os.path.exists(os.path.join(torch.utils.cmake_prefix_path, 'Torch')))"], {
    encoding: "utf8",
  });
  if (py.status === 0 && py.stdout.trim() === "True") return "python";
  const configs = ["/usr/lib/x86_64-linux-gnu/cmake/Torch", "/usr/lib/aarch64-linux-gnu/cmake/Torch", "/usr/lib/cmake/Torch", "/usr/local/lib/cmake/Torch"];
  if (configs.some((d) => fs.existsSync(path.join(d, "TorchConfig.cmake")))) return "system";
  return undefined;
}

function systemPackages() {
  const missing = [];
  if (!succeeds("cmake", ["--version"])) missing.push("cmake");
  if (!succeeds("c++", ["--version"]) && !succeeds("g++", ["--version"])) missing.push("g++");
  if (!succeeds("make", ["--version"])) missing.push("make");
  const source = libtorchSource();
  if (source === undefined) missing.push("libtorch-dev", "libopenblas0-pthread");
  // Debian's default BLAS is the slow reference one; libtorch-dev works with it, but OpenBLAS is many times faster.
  else if (source === "system" && succeeds("sh", ["-c", "command -v dpkg-query"]) && !dpkgInstalled("libopenblas0-pthread")) {
    missing.push("libopenblas0-pthread");
  }
  if (forTests && !succeeds("python3", ["-c", "import venv, ensurepip"])) missing.push("python3-venv");
  if (missing.length) aptInstall(missing, `missing system packages (${missing.join(", ")})`);
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
  if (built >= sources) return;
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

function pythonEnvironment() {
  const record = path.join(root, "build", "python.json");
  if (process.env.SBERT_TEST_PYTHON) {
    fs.mkdirSync(path.dirname(record), { recursive: true });
    fs.writeFileSync(record, JSON.stringify({ python: process.env.SBERT_TEST_PYTHON }) + "\n");
    return;
  }
  const spec = fs.readFileSync(path.join(root, "scripts", "python-env.json"), "utf8");
  const { packages } = JSON.parse(spec);
  const hash = require("node:crypto").createHash("sha256").update(packages.join("\n")).digest("hex").slice(0, 12);
  const cache = process.env.XDG_CACHE_HOME || path.join(require("node:os").homedir(), ".cache");
  const dir = path.join(cache, "sbert-node", `python-${hash}`);
  const python = path.join(dir, "bin", "python");
  if (!fs.existsSync(path.join(dir, ".complete"))) {
    fs.rmSync(dir, { recursive: true, force: true });
    log(`making the Python reference environment (${packages.slice(0, 3).join(", ")}, ...) in ${dir}`);
    run("python3", ["-m", "venv", dir]);
    const indexes = localIndexes();
    const args = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input"];
    const local = indexes.filter(([kind]) => kind !== "find-links");
    if (local.length > 0) {
      args.push("--index-url", local[0][1]);
      for (const [, url] of local.slice(1)) args.push("--extra-index-url", url);
    }
    for (const [kind, url] of indexes) if (kind === "find-links") args.push("--find-links", url);
    run(python, [...args, ...packages]);
    fs.writeFileSync(path.join(dir, ".complete"), spec);
  }
  fs.mkdirSync(path.dirname(record), { recursive: true });
  fs.writeFileSync(record, JSON.stringify({ python }) + "\n");
}

systemPackages();
npmDependencies();
nativeAddon();
typescript();
if (forTests) pythonEnvironment();
