// The npm package as a user gets it: `npm pack`, installed into an empty project (dependencies from npm's cache
// where it has them), its install step approved as npm 11 asks and run (it compiles the addon against this
// machine's libtorch), then a plain ESM script imports "sbert-node" and encodes.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect, test } from "vitest";

import { SentenceTransformer } from "../../lib/index.js";
import { runProcess } from "../helpers/run.js";
import { makeTinyBert } from "../fixtures/tinyBert.js";
import { maxAbsDiff, tempDir } from "../helpers/tmp.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A user's shell: this suite's Node first on PATH, none of the npm_* variables of an enclosing `npm run`, and
 * LIBTORCH naming the libtorch this repository's addon was built against (as a user with a libtorch download sets it).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_")) env[k] = v;
  env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`;
  const builtWith = join(root, "build", "cmake", ".sbert-libtorch");
  if (existsSync(builtWith) && readFileSync(builtWith, "utf8") !== "") env.LIBTORCH = readFileSync(builtWith, "utf8");
  return env;
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; out: string }> {
  return runProcess(cmd, args, { cwd, env: userEnv() });
}

test("npm pack, npm install into an empty project, import { SentenceTransformer } from \"sbert-node\" encodes", async () => {
  const dir = await tempDir("sbert-pack-");

  // --- The tarball: what the README says ships, and nothing of the repository's own tooling.
  const pack = await run("npm", ["pack", "--json", "--pack-destination", dir], root);
  expect(pack.code, pack.out).toBe(0);
  const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  const files = packed!.files.map((f) => f.path);
  for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "CMakeLists.txt", "scripts/install.cjs", "scripts/build-native.cjs", "scripts/build-prerequisites.cjs", "types/native.d.ts"]) {
    expect(files, f).toContain(f);
  }
  expect(files.filter((f) => f.startsWith("native/") && f.endsWith(".cc")).length).toBeGreaterThan(0);
  // No prebuilt binary (README: built from source on install), no tests, examples or dev setup.
  expect(files.filter((f) => /\.node$|^prebuilds\/|^build\/|^test\/|^examples\/|^scripts\/setup\.cjs$|^binding\.gyp$/.test(f))).toEqual([]);

  // --- An empty project installs it. Scripts are held back at first, approved as npm 11 asks, then run.
  const project = join(dir, "project");
  await mkdir(project);
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "sbert-pack-check", private: true, type: "module" }));
  const install = await run("npm", ["install", join(dir, packed!.filename), "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], project);
  expect(install.code, install.out).toBe(0);
  const installed = join(project, "node_modules", "sbert-node");
  expect(existsSync(join(installed, "build"))).toBe(false);

  const approve = await run("npm", ["install-scripts", "approve", "sbert-node"], project);
  expect(approve.code, approve.out).toBe(0);
  const allowScripts = (JSON.parse(await readFile(join(project, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> }).allowScripts;
  expect(Object.values(allowScripts ?? {})).toEqual([true]);

  // Under --strict-allow-scripts an unapproved install step would stop the rebuild: the approval covers it.
  const rebuild = await run("npm", ["rebuild", "sbert-node", "--strict-allow-scripts", "--foreground-scripts"], project);
  expect(rebuild.code, rebuild.out).toBe(0);
  expect(existsSync(join(installed, "build", "Release", "sbert_node.node")), rebuild.out).toBe(true);

  // --- A user's ESM script, on a tiny generated model: the embedding has the model's width and the values this
  // repository's own build computes.
  const model = join(dir, "bert");
  await makeTinyBert(model, { seed: 5 });
  const sentence = "Una ragazza si acconcia i capelli.";
  await writeFile(
    join(project, "check.mjs"),
    [
      'import { SentenceTransformer } from "sbert-node";',
      "const model = await SentenceTransformer.load(process.argv[2]);",
      `const [embedding] = await model.encode([${JSON.stringify(sentence)}]);`,
      "console.log(JSON.stringify({ dimension: model.getSentenceEmbeddingDimension(), embedding: Array.from(embedding) }));",
      "model.dispose();",
    ].join("\n"),
  );
  const check = await run(process.execPath, ["check.mjs", model], project);
  expect(check.code, check.out).toBe(0);
  const result = JSON.parse(check.stdout.trim().split("\n").pop()!) as { dimension: number; embedding: number[] };
  expect(result.dimension).toBe(32);
  expect(result.embedding).toHaveLength(32);

  const reference = await SentenceTransformer.load(model);
  expect(maxAbsDiff(result.embedding, await reference.encode(sentence))).toBeLessThan(1e-5);
  reference.dispose();
});
