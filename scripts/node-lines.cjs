#!/usr/bin/env node
// Runs the suite's core on each supported Node.js LTS line: the unit tests, the native encode tests and the
// README's example commands (npx ts-node / npx tsx); with `--package`, the npm package test too, on the first
// line (the oldest supported: it compiles the addon, minutes, and the Node-API build is the same on each). The Node
// binaries come from the npm registry's node-<platform>-<arch> packages and are kept under
// ~/.cache/sbert-node/node/. The addon is Node-API, so the build in build/Release loads on every line.
//
//   node scripts/node-lines.cjs [--package] [--lines 22,24] [vitest file filters...]
//
// Ends with one line `N passed, N failed` summing every run.
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
// Exact versions, so that a run is repeatable and, once cached, offline; raise them as the lines move on.
const LINES = { 22: "22.23.5", 24: "24.22.3" };
const CORE = ["test/unit", "test/package/installDiagnostics.test.ts", "test/native/encode.test.ts", "test/examples"];
const log = (msg) => console.error(`[node-lines] ${msg}`);

function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "sbert-node", "node");
}

function versionOf(node) {
  const r = spawnSync(node, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Path of a `node` binary of this exact version, fetched from the npm registry on first use. */
function ensureNode(version) {
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = path.join(cacheDir(), `${pkg}-${version}`);
  const node = path.join(dir, "bin", "node");
  if (versionOf(node) === `v${version}`) return node;

  fs.mkdirSync(cacheDir(), { recursive: true });
  const work = fs.mkdtempSync(path.join(cacheDir(), `.${pkg}-${version}-`));
  try {
    log(`fetching ${pkg}@${version} from the npm registry`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const packed = spawnSync(npm, ["pack", `${pkg}@${version}`, "--prefer-offline", "--json", "--pack-destination", work], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (packed.status !== 0) throw new Error(`npm pack ${pkg}@${version} failed (exit ${packed.status})`);
    const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")));
    const unpacked = path.join(work, "unpacked");
    fs.mkdirSync(unpacked);
    const tar = spawnSync("tar", ["-xzf", path.join(work, filename), "-C", unpacked, "--strip-components=1"], { stdio: "inherit" });
    if (tar.status !== 0) throw new Error(`unpacking ${filename} failed`);
    if (versionOf(path.join(unpacked, "bin", "node")) !== `v${version}`) throw new Error(`${pkg}@${version} holds no working bin/node`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(unpacked, dir); // whole or not at all: a half-unpacked copy is never taken for a good one
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return node;
}

/** Runs vitest under `node`, echoing its output; resolves to its `N passed, N failed` counts. */
function vitest(node, args) {
  return new Promise((resolve) => {
    const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH || ""}` };
    const child = spawn(node, [path.join(root, "node_modules", "vitest", "vitest.mjs"), "run", ...args], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (b) => {
      out += b;
      process.stdout.write(b);
    });
    child.on("error", (e) => {
      log(`could not start vitest: ${e.message}`);
      resolve({ passed: 0, failed: 1 });
    });
    child.on("close", (code) => {
      const m = [...out.matchAll(/^(\d+) passed, (\d+) failed/gm)].pop();
      // A run that reported nothing (crashed runner, no tests) counts as one failure.
      if (!m) resolve({ passed: 0, failed: 1 });
      else resolve({ passed: Number(m[1]), failed: Number(m[2]) + (code !== 0 && Number(m[2]) === 0 ? 1 : 0) });
    });
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const withPackage = argv.includes("--package");
  let lines = Object.keys(LINES);
  const i = argv.indexOf("--lines");
  if (i >= 0) lines = (argv[i + 1] || "").split(",").filter(Boolean);
  const filters = argv.filter((a, j) => a !== "--package" && a !== "--lines" && !(i >= 0 && j === i + 1));
  const unknown = lines.filter((l) => !LINES[l]);
  if (unknown.length) {
    log(`unknown line ${unknown.join(", ")}: known are ${Object.keys(LINES).join(", ")}`);
    process.exit(2);
  }

  let passed = 0;
  let failed = 0;
  const timings = [];
  for (const line of lines) {
    const started = Date.now();
    let node;
    try {
      node = ensureNode(LINES[line]);
    } catch (e) {
      log(`Node ${line}: ${e.message}`);
      failed += 1;
      continue;
    }
    log(`Node ${versionOf(node)} (${node})`);
    const runs = [filters.length ? filters : CORE];
    if (withPackage && line === lines[0]) runs.push(["--config", "test/package/vitest.config.ts"]);
    for (const args of runs) {
      const r = await vitest(node, args);
      passed += r.passed;
      failed += r.failed;
    }
    timings.push(`Node ${LINES[line]}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  log(timings.join(", "));
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
