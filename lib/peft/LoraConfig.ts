/**
 * LoRA adapters as peft spells them: LoraConfig's options in camelCase, adapter_config.json read and written
 * with peft's field names, adapter_model.safetensors keyed `base_model.model.<module path>.lora_A.weight`.
 */
import { join } from "node:path";

import type { NativeLoraConfig } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { readJsonObject, writeJson } from "../io/files.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
/** peft's prefix of every key in adapter_model.safetensors. */
export const ADAPTER_KEY_PREFIX = "base_model.model.";

/** peft's LoraConfig, the options this library runs (names as in Python, camelCase). */
export interface LoraConfig {
  /** The rank of the update (lora_A is [r, in], lora_B [out, r]). */
  r: number;
  /** scaling = loraAlpha / r (or loraAlpha / sqrt(r) with useRslora). Default 8, as peft. */
  loraAlpha?: number;
  /** Dropout on the adapter's input, in training only. Default 0. */
  loraDropout?: number;
  /** Module names matched as peft matches a list (the whole path, or its last components, e.g. "q_proj" or
   * "attention.self.query"), ["all-linear"], or one string: a regular expression over the whole path. */
  targetModules: string[] | string;
  /** rsLoRA: scaling loraAlpha / sqrt(r). Default false. */
  useRslora?: boolean;
  /** Seeds lora_A's initial values (kaiming-uniform as peft; lora_B starts at zero). Default 0. */
  seed?: number;
}

/** Checks a LoraConfig given by a caller (TypeError / RangeError naming the option). */
export function checkLoraConfig(config: LoraConfig, op: string): Required<LoraConfig> {
  if (typeof config !== "object" || config === null) throw new TypeError(`${op}: the LoRA config must be an object`);
  const { r, loraAlpha = 8, loraDropout = 0, targetModules, useRslora = false, seed = 0 } = config;
  if (!Number.isInteger(r) || r <= 0) throw new RangeError(`${op}: r must be a positive integer, got ${String(r)}`);
  if (typeof loraAlpha !== "number" || !Number.isFinite(loraAlpha)) throw new TypeError(`${op}: loraAlpha must be a finite number`);
  if (typeof loraDropout !== "number" || !(loraDropout >= 0 && loraDropout < 1)) throw new RangeError(`${op}: loraDropout must be in [0, 1)`);
  if (typeof useRslora !== "boolean") throw new TypeError(`${op}: useRslora must be a boolean`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${op}: seed must be a non-negative integer`);
  if (typeof targetModules === "string") {
    if (targetModules === "") throw new TypeError(`${op}: targetModules must not be empty`);
  } else if (!Array.isArray(targetModules) || targetModules.length === 0 || !targetModules.every((t) => typeof t === "string" && t !== "")) {
    throw new TypeError(`${op}: targetModules must be a non-empty array of module names or a regular expression string`);
  }
  return { r, loraAlpha, loraDropout, targetModules, useRslora, seed };
}

export function toNativeLoraConfig(config: Required<LoraConfig>): NativeLoraConfig {
  const regex = typeof config.targetModules === "string" && config.targetModules !== "all-linear";
  return {
    r: config.r,
    loraAlpha: config.loraAlpha,
    loraDropout: config.loraDropout,
    useRslora: config.useRslora,
    targetModules: regex ? [] : typeof config.targetModules === "string" ? [config.targetModules] : config.targetModules,
    targetRegex: regex ? (config.targetModules as string) : "",
    seed: config.seed,
  };
}

// peft options whose non-default values change what an adapter computes or holds, which this library does not run.
const UNSUPPORTED: [field: string, isDefault: (v: unknown) => boolean, what: string][] = [
  ["use_dora", (v) => v === false, "DoRA"],
  ["bias", (v) => v === "none", "trained biases"],
  ["lora_bias", (v) => v === false, "lora_B biases"],
  ["fan_in_fan_out", (v) => v === false, "Conv1D (fan_in_fan_out) layers"],
  ["modules_to_save", (v) => v === null || (Array.isArray(v) && v.length === 0), "fully trained extra modules"],
  ["layers_to_transform", (v) => v === null, "a subset of layers"],
  ["rank_pattern", (v) => isEmptyObject(v), "per-module ranks"],
  ["alpha_pattern", (v) => isEmptyObject(v), "per-module alphas"],
  ["exclude_modules", (v) => v === null, "excluded modules"],
  ["target_parameters", (v) => v === null || (Array.isArray(v) && v.length === 0), "target_parameters"],
  ["layer_replication", (v) => v === null, "layer replication"],
  ["trainable_token_indices", (v) => v === null, "trainable tokens"],
];

function isEmptyObject(v: unknown): boolean {
  return v === null || (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0);
}

/** An adapter folder's adapter_config.json, checked; SbertError ERR_CONFIG naming the file and field otherwise. */
export interface AdapterFolderConfig {
  config: Required<LoraConfig>;
  /** base_model_name_or_path: the base model (a folder or a Hub id), if the file names one. */
  baseModelNameOrPath: string | undefined;
  file: string;
}

export async function readAdapterConfig(dir: string, op: string): Promise<AdapterFolderConfig> {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  const obj = await readJsonObject(file, { op });
  const bad = (field: string, expected: string): SbertError =>
    new SbertError("ERR_CONFIG", `${file}: field '${field}' must be ${expected}, got ${JSON.stringify(obj[field])}`, { op });
  const given = (field: string): boolean => obj[field] !== undefined;
  if (obj["peft_type"] !== "LORA") throw bad("peft_type", '"LORA" (the only adapter type supported)');
  const r = obj["r"] ?? 8;
  if (typeof r !== "number" || !Number.isInteger(r) || r <= 0) throw bad("r", "a positive integer");
  const alpha = obj["lora_alpha"] ?? 8;
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) throw bad("lora_alpha", "a number");
  const dropout = obj["lora_dropout"] ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw bad("lora_dropout", "a number in [0, 1)");
  const rslora = obj["use_rslora"] ?? false;
  if (typeof rslora !== "boolean") throw bad("use_rslora", "a boolean");
  const targets = obj["target_modules"];
  const targetsOk =
    (typeof targets === "string" && targets !== "") ||
    (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === "string" && t !== ""));
  if (!targetsOk) throw bad("target_modules", "a non-empty list of module names or a regular expression string");
  for (const [field, isDefault, what] of UNSUPPORTED) {
    if (given(field) && !isDefault(obj[field])) throw bad(field, `its default (${what} are not supported)`);
  }
  const base = obj["base_model_name_or_path"];
  if (base !== undefined && base !== null && typeof base !== "string") throw bad("base_model_name_or_path", "a string");
  return {
    config: { r, loraAlpha: alpha, loraDropout: dropout, useRslora: rslora, targetModules: targets as string[] | string, seed: 0 },
    baseModelNameOrPath: typeof base === "string" && base !== "" ? base : undefined,
    file,
  };
}

/** Writes adapter_config.json as peft writes it for a LoRA adapter (the fields it reads back, peft's defaults for the rest). */
export async function writeAdapterConfig(dir: string, config: Required<LoraConfig>, baseModelNameOrPath: string): Promise<void> {
  await writeJson(join(dir, ADAPTER_CONFIG_FILE), {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath,
    bias: "none",
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: false,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: config.loraAlpha,
    lora_bias: false,
    lora_dropout: config.loraDropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: config.targetModules,
    task_type: null,
    use_dora: false,
    use_rslora: config.useRslora,
  });
}
