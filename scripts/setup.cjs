#!/usr/bin/env node
// Gets a fresh Debian/Ubuntu machine ready for `npm run demo` and `npm test`: system packages (apt, when this
// process may use it), npm dependencies, the native addon and the compiled TypeScript. Each step is skipped
// when its result is already there and up to date. Plain Node, no dependencies: it runs before `npm ci`.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
// Tests and benchmarks compare against an independent PyTorch reference (Debian python3-torch).
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
  if (forTests && !succeeds("/usr/bin/python3", ["-c", "import torch, numpy, scipy"])) {
    // The tests compare against an independent PyTorch/scipy reference.
    missing.push("python3-torch", "python3-numpy", "python3-scipy");
  }
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

systemPackages();
npmDependencies();
nativeAddon();
typescript();
