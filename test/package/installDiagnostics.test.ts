// The install step's build (scripts/build-native.cjs) names what is missing and how to get it, before any
// compiling, when cmake, a compiler or libtorch is not there. Runs on a copy of the package's build files so the
// repository's own build folder is never touched.
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect, test } from "vitest";

import { runProcess } from "../helpers/run.js";
import { tempDir } from "../helpers/tmp.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(import.meta.url);
const { findLibtorch, formatBuildProblem } = require("../../scripts/build-prerequisites.cjs") as {
  findLibtorch(env: NodeJS.ProcessEnv): { from?: string; invalid?: string };
  formatBuildProblem(
    check: { missing: { what: string; detail: string }[]; libtorch?: string },
    context: { installed: boolean; failed: boolean },
  ): string;
};

/** A copy of what the package ships for building, with the repository's node_modules (for cmake-js). */
async function packageCopy(): Promise<string> {
  const dir = await tempDir("sbert-diag-");
  await mkdir(join(dir, "scripts"));
  for (const f of ["scripts/install.cjs", "scripts/build-native.cjs", "scripts/build-prerequisites.cjs", "CMakeLists.txt", "package.json"]) {
    await copyFile(join(root, f), join(dir, f));
  }
  await symlink(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** A PATH folder holding node and the named tools only. */
async function toolsOnly(tools: string[]): Promise<string> {
  const bin = await tempDir("sbert-bin-");
  await symlink(process.execPath, join(bin, "node"));
  for (const tool of tools) {
    const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    expect(found, `${tool} on this machine`).not.toBe("");
    await symlink(found, join(bin, tool));
  }
  return bin;
}

function install(dir: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return runProcess(process.execPath, [join(dir, "scripts", "install.cjs")], { cwd: dir, env });
}

test("without cmake, a compiler or make, the install step names each and the commands that install them", async () => {
  const dir = await packageCopy();
  const { code, out } = await install(dir, { PATH: await toolsOnly([]), HOME: process.env.HOME });
  expect(code).toBe(1);
  expect(out).toContain("cmake 3.18 or newer: none on PATH");
  expect(out).toContain("a C++17 compiler: neither g++ nor clang++ on PATH");
  expect(out).toContain("a build tool: neither make nor ninja on PATH");
  expect(out).toContain("Possible solutions:");
  expect(out).toContain("sudo apt-get install cmake g++ make");
  expect(out).toContain("ships no prebuilt binary");
  expect(out).not.toContain("OMG"); // cmake-js's own error: the check comes first
});

test("with a LIBTORCH that is not a libtorch folder, the install step says so and lists the ways to get libtorch", async () => {
  const dir = await packageCopy();
  const bin = await toolsOnly(["cmake", "g++", "make"]);
  const { code, out } = await install(dir, { PATH: bin, HOME: process.env.HOME, LIBTORCH: join(dir, "no-libtorch") });
  expect(code).toBe(1);
  expect(out).toContain(`LIBTORCH=${join(dir, "no-libtorch")} holds no share/cmake/Torch/TorchConfig.cmake`);
  expect(out).toContain("sudo apt-get install libtorch-dev");
  expect(out).toContain("pip install torch");
  expect(out).toContain("export LIBTORCH=/path/to/libtorch");
  expect(out).not.toContain("apt-get install cmake");
  expect(out).not.toContain("-- Configuring"); // CMake never started
});

test("LIBTORCH pointing at a libtorch folder is where the build takes libtorch from", async () => {
  const dir = await tempDir("sbert-libtorch-");
  await mkdir(join(dir, "share", "cmake", "Torch"), { recursive: true });
  await writeFile(join(dir, "share", "cmake", "Torch", "TorchConfig.cmake"), "");
  expect(findLibtorch({ LIBTORCH: dir, PATH: "" })).toEqual({ from: `LIBTORCH=${dir}` });
});

test("no libtorch anywhere: the message lists each way to get one and the command to build again in the user's project", () => {
  const message = formatBuildProblem(
    { missing: [{ what: "libtorch", detail: "libtorch: LIBTORCH is unset, python3 has no torch, and no system libtorch (TorchConfig.cmake) was found" }] },
    { installed: true, failed: true },
  );
  expect(message).toContain("building the native addon failed");
  expect(message).toContain("python3 has no torch");
  expect(message).toContain("sudo apt-get install libtorch-dev libopenblas0-pthread");
  expect(message).toContain("pip install torch");
  expect(message).toContain("export LIBTORCH=/path/to/libtorch");
  expect(message).toContain("then build again: npm rebuild sbert-node");
});
