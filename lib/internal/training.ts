/**
 * What fit and SentenceTransformerTrainer share: turning a batch into the native step's inputs, and the parts of a
 * checkpoint that restore a run (model weights, AdamW state and step counts, the trainer's generator).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import type { NativeTensorData, NativeTokenBatch, NativeTrainer } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { weightsForNative } from "../io/checkpoint.js";
import { exists, readJson } from "../io/files.js";
import { readSafetensorsHeader, writeSafetensors } from "../io/safetensors.js";
import type { Label, Loss } from "../losses/Loss.js";
import { Router } from "../models/Router.js";
import { callNative, callNativeSync } from "../native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";

export const OPTIMIZER_FILE = "optimizer.safetensors";
export const RNG_FILE = "rng_state.bin";

/**
 * One token batch per text column (`prompts[c]`, when given, goes before column c's texts; `tasks[c]` is the task a
 * Router routes column c by).
 */
export function tokenizeColumns(model: SentenceTransformer, columns: string[][], prompts: (string | undefined)[] = [], tasks: (string | undefined)[] = []): NativeTokenBatch[] {
  return columns.map((texts, c) => {
    const prompt = prompts[c];
    const task = tasks[c];
    if (prompt === undefined || prompt === "") return model.tokenize(texts, { task });
    const promptLength = model.promptLength(prompt, { task });
    return { ...model.tokenize(texts.map((t) => prompt + t), { task }), ...(promptLength !== undefined && { promptLength }) };
  });
}

/**
 * The labels as the loss reads them: none, one number per row, one target embedding per row, or (kind "scores")
 * one number per row or the same number of scores in every row.
 */
export function labelTensor(loss: Loss, labels: readonly Label[]): NativeTensorData | null {
  if (loss.labelKind === "none") return null;
  if (loss.labelKind === "scores" && labels.some((l) => typeof l !== "number")) {
    const rows = labels.map((l) => (typeof l === "number" ? [l] : l));
    const width = rows[0]!.length;
    const other = rows.findIndex((r) => r.length !== width);
    if (other >= 0) {
      throw new RangeError(`${loss.name}: every label of a batch must hold the same number of scores, but one holds ${width} and another ${rows[other]!.length}`);
    }
    const data = new Float32Array(rows.length * width);
    rows.forEach((r, i) => data.set(r, i * width));
    return { data, shape: [rows.length, width] };
  }
  if (loss.labelKind === "embedding") {
    const dim = (labels[0] as ArrayLike<number>).length;
    const data = new Float32Array(labels.length * dim);
    labels.forEach((l, i) => data.set(l as ArrayLike<number>, i * dim));
    return { data, shape: [labels.length, dim] };
  }
  return { data: Float32Array.from(labels as number[]), shape: [labels.length] };
}

/** The steps of the checkpoint-N folders in `dir`, ascending. */
export async function checkpointSteps(dir: string): Promise<number[]> {
  if (!(await exists(dir))) return [];
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => /^checkpoint-(\d+)$/.exec(e.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The checkpoint-N folder of `dir` with the largest N. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const steps = await checkpointSteps(dir);
  return steps.length ? join(dir, `checkpoint-${steps[steps.length - 1]}`) : undefined;
}

/** Writes the optimizer state (AdamW moments and step counts, loss heads) and the trainer's generator into `dir`. */
export async function saveOptimizerState(dir: string, trainer: NativeTrainer): Promise<void> {
  const tensors = trainer.state().map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: t.data }));
  await writeSafetensors(join(dir, OPTIMIZER_FILE), tensors);
  await writeFile(join(dir, RNG_FILE), trainer.rngState());
}

/** Loads the weights of a saved model folder (a checkpoint) into `model`, whose modules it must match. */
export async function loadModelWeights(model: SentenceTransformer, dir: string, op: string): Promise<void> {
  const modulesFile = join(dir, "modules.json");
  const list = (await readJson(modulesFile, { op })) as { idx: number; path: string }[];
  if (!Array.isArray(list) || list.length !== model.modules.length) {
    throw new SbertError("ERR_CONFIG", `${modulesFile}: the checkpoint's modules do not match the model's ${model.modules.length}`, { op });
  }
  for (const entry of list) {
    const module = model.modules[entry.idx];
    if (!module) throw new SbertError("ERR_CONFIG", `${modulesFile}: no module ${entry.idx} in the model`, { op });
    if (module instanceof Router) {
      await module.reloadWeights(join(dir, entry.path), op);
      continue;
    }
    if (module.native.parameterCount() === 0) continue;
    const weights = await weightsForNative(join(dir, entry.path));
    await callNative(op, () => module.native.loadWeights(weights));
  }
}

/** Restores what saveOptimizerState wrote; `stepCount` is the optimizer steps the run had taken. */
export async function loadOptimizerState(trainer: NativeTrainer, dir: string, stepCount: number, op: string): Promise<void> {
  const optimizerFile = join(dir, OPTIMIZER_FILE);
  const header = await readSafetensorsHeader(optimizerFile);
  const raw = await readFile(optimizerFile);
  const tensors = header.entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: new Float32Array(raw.buffer.slice(raw.byteOffset + e.begin, raw.byteOffset + e.end)),
  }));
  callNativeSync(op, () => trainer.loadState(tensors, stepCount));
  const rng = await readFile(join(dir, RNG_FILE));
  callNativeSync(op, () => trainer.setRngState(new Uint8Array(rng.buffer, rng.byteOffset, rng.byteLength)));
}
