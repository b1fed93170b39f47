/** `sbert-node info [MODEL]`: what a model is made of, and the libtorch build it runs on. */
import { backendInfo, getNumThreads } from "../backend.js";
import { Dense } from "../models/Dense.js";
import { Normalize } from "../models/Normalize.js";
import { Pooling } from "../models/Pooling.js";
import { Transformer } from "../models/Transformer.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { type CommandSpec, flag, intFlag, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, THREADS_OPTION, loadModel } from "./common.js";

export const infoSpec: CommandSpec = {
  name: "info",
  summary: "Show a model's modules, dimensions and parameter count, and the libtorch build, device and threads.",
  usage: "[MODEL] [options]",
  options: {
    json: { type: "boolean", help: "Print JSON instead of text." },
    device: DEVICE_OPTION,
    threads: THREADS_OPTION,
  },
  examples: ["sbert-node info ./my-model", "sbert-node info --json"],
};

export function moduleInfo(model: SentenceTransformer): Record<string, unknown>[] {
  return model.modules.map((m, index) => {
    const base = { index, type: m.className, parameters: m.native.parameterCount() };
    if (m instanceof Transformer) {
      const e = m.encoderInfo;
      return {
        ...base,
        architecture: e.modelClass,
        modelType: e.modelType,
        hiddenSize: e.hiddenSize,
        layers: e.layers,
        attentionHeads: e.heads,
        vocabSize: e.vocabSize,
        maxTokens: e.maxTokens,
        maxSeqLength: m.maxSeqLength,
        doLowerCase: m.doLowerCase,
      };
    }
    if (m instanceof Pooling) {
      return {
        ...base,
        wordEmbeddingDimension: m.wordEmbeddingDimension,
        poolingModes: [...m.poolingModes],
        includePrompt: m.includePrompt,
        outputDimension: m.getSentenceEmbeddingDimension(),
      };
    }
    if (m instanceof Dense) {
      return { ...base, inFeatures: m.inFeatures, outFeatures: m.outFeatures, bias: m.bias, activation: m.activationFunction };
    }
    if (m instanceof Normalize) return base;
    return base;
  });
}

function describeModule(m: Record<string, unknown>): string {
  const { index, type, parameters, ...rest } = m;
  const details = Object.entries(rest)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : String(v)}`)
    .join(", ");
  return `  (${String(index)}) ${String(type)}${details ? `: ${details}` : ""}${(parameters as number) > 0 ? ` [${(parameters as number).toLocaleString("en-US")} params]` : ""}`;
}

export async function infoCommand(argv: string[]): Promise<number> {
  const cmd = "info";
  const parsed = parseCommand(infoSpec, argv);
  const [modelName] = positionals(parsed, ["MODEL"], cmd, 1);
  const v = parsed.values;
  const threads = intFlag(v, "threads", cmd);
  const out: Record<string, unknown> = {};
  if (modelName !== undefined) {
    const model = await loadModel(modelName, { device: str(v, "device"), threads });
    try {
      const modules = moduleInfo(model);
      out["model"] = {
        name: modelName,
        modules,
        embeddingDimension: model.getSentenceEmbeddingDimension() ?? null,
        maxSeqLength: model.maxSeqLength,
        parameters: modules.reduce((n, m) => n + (m["parameters"] as number), 0),
        similarityFnName: model.similarityFnName,
        normalizes: model.modules.some((m) => m instanceof Normalize),
        truncateDim: model.truncateDim ?? null,
        prompts: model.prompts,
        defaultPromptName: model.defaultPromptName ?? null,
      };
      out["device"] = model.device;
    } finally {
      model.dispose();
    }
  } else {
    if (threads !== undefined) (await import("../backend.js")).setNumThreads(threads);
    out["device"] = str(v, "device") ?? "cpu";
  }
  const backend = backendInfo();
  out["threads"] = getNumThreads();
  out["backend"] = backend;

  if (flag(v, "json")) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const lines: string[] = [];
  const model = out["model"] as Record<string, unknown> | undefined;
  if (model) {
    lines.push(`Model: ${String(model["name"])}`);
    for (const m of model["modules"] as Record<string, unknown>[]) lines.push(describeModule(m));
    lines.push(`Embedding dimension: ${String(model["embeddingDimension"])}${model["truncateDim"] !== null ? ` (truncated to ${String(model["truncateDim"])})` : ""}`);
    lines.push(`Max sequence length: ${String(model["maxSeqLength"])}`);
    lines.push(`Parameters: ${(model["parameters"] as number).toLocaleString("en-US")}`);
    lines.push(`Similarity: ${String(model["similarityFnName"])}${model["normalizes"] ? " (normalized embeddings)" : ""}`);
    const prompts = Object.keys(model["prompts"] as object);
    if (prompts.length) lines.push(`Prompts: ${prompts.join(", ")}${model["defaultPromptName"] ? ` (default ${String(model["defaultPromptName"])})` : ""}`);
    lines.push("");
  }
  lines.push(`libtorch: ${backend.torchVersion}, CUDA ${backend.cuda ? `yes (${backend.cudaDeviceCount} device(s))` : "no"}, oneDNN ${backend.mkldnn ? "yes" : "no"}`);
  lines.push(`Device: ${String(out["device"])}`);
  lines.push(`Threads: ${String(out["threads"])}`);
  if (flag(v, "verbose")) lines.push("", backend.parallelInfo.trimEnd(), "", backend.config.trimEnd());
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
