// What building the addon from source needs (cmake, a C++ compiler, make or ninja, libtorch), looked for before
// cmake-js starts, so that a missing piece is named with its fix instead of surfacing as a CMake or compiler
// error. Plain Node, no dependencies.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const CMAKE_MIN = [3, 18]; // CMakeLists.txt's cmake_minimum_required

function onPath(name, env) {
  for (const dir of (env.PATH || "").split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function cmakeVersion(cmake) {
  const r = spawnSync(cmake, ["--version"], { encoding: "utf8" });
  const m = /cmake version (\d+)\.(\d+)/.exec(r.stdout || "");
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** TorchConfig.cmake folders CMake's find_package(Torch) searches without hints (system and PATH prefixes). */
function systemTorchDirs(env) {
  const dirs = [];
  if (env.Torch_DIR) dirs.push(env.Torch_DIR);
  const prefixes = (env.CMAKE_PREFIX_PATH || "").split(path.delimiter).filter(Boolean);
  for (const dir of (env.PATH || "").split(path.delimiter)) if (dir) prefixes.push(path.dirname(dir));
  prefixes.push("/usr", "/usr/local");
  for (const prefix of prefixes) {
    dirs.push(prefix, path.join(prefix, "share/cmake/Torch"), path.join(prefix, "lib/cmake/Torch"), path.join(prefix, "lib64/cmake/Torch"));
    let entries = [];
    try {
      entries = fs.readdirSync(path.join(prefix, "lib"), { withFileTypes: true });
    } catch {
      // no lib/
    }
    // Debian's multiarch layout: lib/x86_64-linux-gnu/cmake/Torch.
    for (const e of entries) if (e.isDirectory() && e.name.endsWith("-linux-gnu")) dirs.push(path.join(prefix, "lib", e.name, "cmake/Torch"));
  }
  return dirs;
}

/**
 * Where libtorch comes from, in CMakeLists.txt's order: LIBTORCH, then python3's torch, then the system
 * (LIBTORCH=system: the system's alone). `{from}` when found, `{invalid}` when LIBTORCH points at no libtorch, `{}`
 * when none was found.
 */
function findLibtorch(env) {
  const system = () => systemTorchDirs(env).find((d) => isFile(path.join(d, "TorchConfig.cmake")));
  if (env.LIBTORCH === "system") {
    const dir = system();
    return dir ? { from: `the system (${dir})` } : {};
  }
  if (env.LIBTORCH) {
    const config = path.join(env.LIBTORCH, "share/cmake/Torch/TorchConfig.cmake");
    return isFile(config) ? { from: `LIBTORCH=${env.LIBTORCH}` } : { invalid: `LIBTORCH=${env.LIBTORCH} holds no share/cmake/Torch/TorchConfig.cmake` };
  }
  const python = onPath("python3", env) || onPath("python", env);
  if (python) {
    const r = spawnSync(python, ["-c", "import torch.utils; print(torch.utils.cmake_prefix_path)"], { encoding: "utf8", env });
    const prefix = (r.stdout || "").trim();
    if (r.status === 0 && prefix && isFile(path.join(prefix, "Torch/TorchConfig.cmake"))) return { from: `the torch of ${python}` };
  }
  const dir = system();
  return dir ? { from: `the system (${dir})` } : {};
}

/**
 * Looks for each prerequisite. `missing` lists what is absent; `blocking` is true when the build cannot start
 * (no cmake, compiler or build tool, a LIBTORCH that is not a libtorch). A libtorch not found by these probes
 * does not block: CMake searches a few more places and decides.
 */
function checkBuildPrerequisites(env = process.env) {
  const missing = [];
  let blocking = false;
  const cmake = onPath("cmake", env);
  const version = cmake && cmakeVersion(cmake);
  if (!cmake) {
    missing.push({ what: "cmake", detail: `cmake ${CMAKE_MIN.join(".")} or newer: none on PATH` });
    blocking = true;
  } else if (version && (version[0] < CMAKE_MIN[0] || (version[0] === CMAKE_MIN[0] && version[1] < CMAKE_MIN[1]))) {
    missing.push({ what: "cmake", detail: `cmake ${CMAKE_MIN.join(".")} or newer: ${cmake} is ${version.join(".")}` });
    blocking = true;
  }
  // cmake-js drives the build with g++ or clang++, and with ninja or make.
  if (!onPath("g++", env) && !onPath("clang++", env)) {
    missing.push({ what: "compiler", detail: "a C++17 compiler: neither g++ nor clang++ on PATH" });
    blocking = true;
  }
  if (!onPath("ninja", env) && !onPath("make", env)) {
    missing.push({ what: "make", detail: "a build tool: neither make nor ninja on PATH" });
    blocking = true;
  }
  const libtorch = findLibtorch(env);
  if (libtorch.invalid) {
    missing.push({ what: "libtorch", detail: libtorch.invalid });
    blocking = true;
  } else if (!libtorch.from) {
    const looked = env.LIBTORCH === "system" ? "LIBTORCH=system" : "LIBTORCH is unset, python3 has no torch,";
    missing.push({ what: "libtorch", detail: `libtorch: ${looked} and no system libtorch (TorchConfig.cmake) was found` });
  }
  return { missing, blocking, libtorch: libtorch.from };
}

/** The message shown when the addon cannot be built: what is missing, then possible solutions. */
function formatBuildProblem({ missing, libtorch }, { installed, failed }) {
  const rebuild = installed ? "npm rebuild sbert-node" : "npm run build:native";
  const lines = [];
  if (failed) {
    lines.push(`sbert-node: building the native addon failed${libtorch ? ` (libtorch from ${libtorch})` : ""}; the messages above say where.`);
  } else {
    lines.push("sbert-node: the native addon cannot be built here.");
  }
  lines.push("sbert-node ships no prebuilt binary: it compiles against the libtorch found on this machine, with cmake and a C++17 compiler.");
  if (missing.length) {
    lines.push("Missing:");
    for (const m of missing) lines.push(`  - ${m.detail}`);
  }
  const kinds = new Set(missing.map((m) => m.what));
  lines.push("Possible solutions:");
  if (kinds.has("cmake") || kinds.has("compiler") || kinds.has("make")) {
    lines.push("  - Debian/Ubuntu: sudo apt-get install cmake g++ make");
    lines.push("  - Fedora/RHEL: sudo dnf install cmake gcc-c++ make");
  }
  if (kinds.has("libtorch") || failed) {
    lines.push("  - libtorch, one of:");
    lines.push("      Debian/Ubuntu: sudo apt-get install libtorch-dev libopenblas0-pthread");
    lines.push("      pip install torch (the torch of python3 is used when LIBTORCH is unset)");
    lines.push("      an unpacked libtorch from pytorch.org (CPU or CUDA): export LIBTORCH=/path/to/libtorch");
  }
  lines.push(`  - then build again: ${rebuild}`);
  return lines.join("\n");
}

module.exports = { checkBuildPrerequisites, findLibtorch, formatBuildProblem };
