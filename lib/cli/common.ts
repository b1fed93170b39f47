import { once } from "node:events";
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Writable } from "node:stream";

import { setNumThreads } from "../backend.js";
import { isMainProcess } from "../distributed.js";
import { CrossEncoder, isCrossEncoderFolder } from "../crossEncoder/CrossEncoder.js";
import { readJsonObject } from "../io/files.js";
import { SparseEncoder } from "../sparseEncoder/SparseEncoder.js";
import { resolveModelFolder } from "../hub/index.js";
import { SentenceTransformer } from "../SentenceTransformer.js";
import type { OptionDef } from "./args.js";

export const DEVICE_OPTION: OptionDef = { type: "string", value: "D", help: 'Device to run on: "cpu" (default), "cuda", "cuda:1", …' };
export const THREADS_OPTION: OptionDef = { type: "string", value: "N", help: "libtorch intra-op threads (default: libtorch's choice)." };

/** A line on stderr, the channel for progress and notes (stdout carries the results). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A local folder when one exists (relative to `base`), otherwise the string as given (a Hub id). */
export async function localOrId(pathOrId: string, base = process.cwd()): Promise<string> {
  const full = resolve(base, pathOrId);
  const found = await stat(full).then(
    () => true,
    () => false,
  );
  return found ? full : pathOrId;
}

export async function loadModel(pathOrId: string, options: { device?: string; threads?: number } = {}): Promise<SentenceTransformer> {
  if (options.threads !== undefined) setNumThreads(options.threads);
  return SentenceTransformer.load(await localOrId(pathOrId), { ...(options.device !== undefined && { device: options.device }) });
}

/**
 * A model to serve: a cross-encoder (see isCrossEncoderFolder), a sparse encoder (config_sentence_transformers.json
 * says SparseEncoder) or a SentenceTransformer. A Hub id is downloaded first to tell which.
 */
export async function loadServedModel(pathOrId: string, options: { device?: string } = {}): Promise<SentenceTransformer | CrossEncoder | SparseEncoder> {
  const device = options.device !== undefined ? { device: options.device } : {};
  const folder = await resolveModelFolder(await localOrId(pathOrId));
  if (await isCrossEncoderFolder(folder)) return CrossEncoder.load(folder, device);
  const st = await readJsonObject(join(folder, "config_sentence_transformers.json"), { optional: true, op: "serve" });
  return st?.["model_type"] === "SparseEncoder" ? SparseEncoder.load(folder, device) : SentenceTransformer.load(folder, device);
}

/** Writes `data`, waiting for the stream to drain when its buffer is full. */
export async function write(stream: Writable, data: string | Uint8Array): Promise<void> {
  if (!stream.write(data)) {
    await Promise.race([once(stream, "drain"), once(stream, "error").then(([e]) => Promise.reject(e))]);
  }
}

/** Ends a stream and waits until its data is flushed (files) or handed to the OS. */
export async function finish(stream: Writable): Promise<void> {
  if (stream === process.stdout || stream === process.stderr) return;
  await new Promise<void>((res, rej) => {
    stream.once("error", rej);
    stream.end(() => res());
  });
}

/**
 * Float32 values as a JSON array with nine significant digits: enough to identify each float32 exactly, and
 * about a third shorter than the doubles' digits.
 */
export function float32Json(values: Float32Array): string {
  let out = "[";
  for (let i = 0; i < values.length; i++) {
    if (i) out += ",";
    const v = values[i]!;
    out += Number.isFinite(v) ? String(Number(v.toPrecision(9))) : "null";
  }
  return `${out}]`;
}

/** Metrics on one line, four decimals each: `name=0.1234 …`. */
/** What a training run reports when it ends: a line on stderr, and its JSON summary on stdout. */
export function reportTraining(run: {
  globalStep: number;
  trainingLoss: number;
  bestScore: number | undefined;
  primaryMetric: string | undefined;
  metrics: Record<string, number> | undefined;
  outputPath: string;
  checkpointPath: string | undefined;
  started: number;
}): void {
  // In a distributed run, rank 0 reports for all (the others' models are the same).
  if (!isMainProcess()) {
    note(`train: rank ${process.env["RANK"]} done, ${run.globalStep} steps`);
    return;
  }
  const summary = {
    globalStep: run.globalStep,
    trainingLoss: run.trainingLoss,
    bestScore: run.bestScore ?? null,
    primaryMetric: run.primaryMetric ?? null,
    metrics: run.metrics ?? null,
    outputPath: run.outputPath,
    checkpointPath: run.checkpointPath ?? null,
    seconds: Math.round((Date.now() - run.started) / 100) / 10,
  };
  note(`train: done, ${run.globalStep} steps, mean loss ${run.trainingLoss.toFixed(4)}; model saved to ${run.outputPath}`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

export function metricsLine(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${Number.isFinite(v) ? v.toFixed(4) : v}`)
    .join(" ");
}

/** What SIGINT / SIGTERM did to a training run: the signal to stop on, and the exit code it asks for (0: none came). */
export interface StopSignals {
  readonly signal: AbortSignal;
  readonly exitCode: number;
  /** Stops listening. */
  dispose(): void;
}

/**
 * The first SIGINT or SIGTERM aborts `signal` (training stops after the current step, checkpointing when it can);
 * a second one exits at once. Exit codes: 130 for SIGINT, 143 for SIGTERM.
 */
export function stopOnSignals(checkpointing: boolean): StopSignals {
  const controller = new AbortController();
  let exitCode = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      note(`train: ${sig} again, exiting without waiting`);
      process.exit(sig === "SIGINT" ? 130 : 143);
    }
    exitCode = sig === "SIGINT" ? 130 : 143;
    note(`train: ${sig}: stopping after the current step${checkpointing ? " and writing a checkpoint" : ""} (again to exit at once)`);
    controller.abort(new DOMException(`training stopped by ${sig}`, "AbortError"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
