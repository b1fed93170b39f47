import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { SentenceTransformer, backendInfo } from "../../lib/index.js";
import { makeSentenceTransformerFolder } from "../fixtures/sentenceTransformerFolder.js";
import { assertBuilt, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let model: SentenceTransformer;

beforeAll(async () => {
  assertBuilt();
  const root = await tempDir("sbert-cli-info-");
  dir = join(root, "model");
  await makeSentenceTransformerFolder(dir, {
    // The legacy config orders concatenated modes as sentence-transformers does: max before mean.
    pooling: { modes: ["mean", "max"] },
    dense: { outFeatures: 24, activation: "tanh" },
    normalize: true,
    maxSeqLength: 48,
    prompts: { query: "query: " },
    defaultPromptName: "query",
  });
  model = await SentenceTransformer.load(dir);
});

afterAll(() => model?.dispose());

describe("sbert-node info", () => {
  test("--json: modules, dimensions, pooling, max length, parameter count, libtorch build, device, threads", async () => {
    const r = await runCli(["info", dir, "--json", "--threads", "2"]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.out) as {
      model: Record<string, unknown> & { modules: Record<string, unknown>[] };
      backend: Record<string, unknown>;
      device: string;
      threads: number;
    };
    const m = info.model;
    expect(m.modules.map((x) => x["type"])).toEqual(["Transformer", "Pooling", "Dense", "Normalize"]);
    expect(m.modules[0]).toMatchObject({ hiddenSize: 32, layers: 2, attentionHeads: 4, maxSeqLength: 48 });
    expect(m.modules[1]).toMatchObject({ poolingModes: ["max", "mean"], wordEmbeddingDimension: 32, outputDimension: 64 });
    expect(m.modules[2]).toMatchObject({ inFeatures: 64, outFeatures: 24, bias: true, activation: "torch.nn.modules.activation.Tanh" });
    expect(m["embeddingDimension"]).toBe(24);
    expect(m["maxSeqLength"]).toBe(48);
    const params = model.modules.reduce((n, mod) => n + mod.native.parameterCount(), 0);
    expect(params).toBeGreaterThan(1000);
    expect(m["parameters"]).toBe(params);
    expect(m.modules.map((x) => x["parameters"])).toEqual(model.modules.map((mod) => mod.native.parameterCount()));
    expect(m["normalizes"]).toBe(true);
    expect(m["prompts"]).toEqual({ query: "query: " });
    expect(m["defaultPromptName"]).toBe("query");
    expect(info.device).toBe("cpu");
    expect(info.threads).toBe(2);
    expect(info.backend["torchVersion"]).toBe(backendInfo().torchVersion);
    expect(typeof info.backend["cuda"]).toBe("boolean");
  });

  test("text output, and backend-only info without a model", async () => {
    const r = await runCli(["info", dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\(1\) Pooling: .*poolingModes=max\+mean/);
    expect(r.out).toMatch(/Embedding dimension: 24\n/);
    expect(r.out).toMatch(/Max sequence length: 48\n/);
    expect(r.out).toContain(`libtorch: ${backendInfo().torchVersion}`);

    const b = await runCli(["info", "--json"]);
    expect(b.code).toBe(0);
    const info = JSON.parse(b.out) as Record<string, unknown>;
    expect(info["model"]).toBeUndefined();
    expect((info["backend"] as Record<string, unknown>)["torchVersion"]).toBe(backendInfo().torchVersion);
  });
});

describe("help and usage", () => {
  const OPTIONS: Record<string, string[]> = {
    encode: ["--input", "--output", "--format", "--input-format", "--text-field", "--batch-size", "--normalize", "--precision", "--truncate-dim", "--prompt", "--prompt-name", "--device"],
    train: ["--device", "--threads", "--output-path", "--dry-run", "outputPath", "warmupRatio", "labelScale", "checkpointPath"],
    evaluate: ["--dataset", "--split", "--sentences1-column", "--sentences2-column", "--score-column", "--score-scale", "--batch-size", "--device"],
    info: ["--json", "--device", "--threads"],
    serve: ["--port", "--host", "--max-batch-size", "--max-wait-ms", "--max-inputs", "--body-limit", "--model", "--model-id", "--device", "--threads"],
  };

  test.each(Object.keys(OPTIONS))("%s --help exits 0 and lists the command's options", async (cmd) => {
    const r = await runCli([cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: sbert-node ${cmd} `));
    for (const o of [...OPTIONS[cmd]!, "--help", "--verbose"]) expect(r.out, o).toContain(o);
    // Help wins over other arguments, even wrong ones.
    const h = await runCli([cmd, "--no-such-flag", "-h"]);
    expect(h.code).toBe(0);
    expect(h.out).toBe(r.out);
  });

  test("top level: --help, help CMD, --version, no command, unknown command", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    for (const cmd of Object.keys(OPTIONS)) expect(top.out).toMatch(new RegExp(`^  ${cmd} `, "m"));
    const help = await runCli(["help", "serve"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: sbert-node serve \[MODEL\] \[--model NAME=PATH \.\.\.\]/);
    const version = await runCli(["--version"]);
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: sbert-node <command>/);
    const unknown = await runCli(["encdoe"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'encdoe' \(did you mean 'encode'\?\)/);
  });
});
