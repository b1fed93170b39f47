/**
 * Distributed data parallel training: several processes (ranks), on one machine or several, each training on its
 * share of every step's batches, their gradients averaged before each optimizer step (c10d's Gloo process group
 * over TCP). A rank learns its place from torchrun's environment variables (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT), which `sbert-node train --nproc-per-node N` and any cluster launcher set, or from
 * the trainer's `ddp` argument.
 */
import type { NativeProcessGroup } from "../types/native.js";
import { SbertError } from "./errors.js";
import { callNative } from "./native.js";

/** Where this process stands in a distributed run. */
export interface DistributedOptions {
  /** This process's rank, 0 .. worldSize - 1; rank 0 evaluates, logs and saves. */
  rank: number;
  /** The number of processes. */
  worldSize: number;
  /** Rank 0's host (default "127.0.0.1"). */
  masterAddr?: string;
  /** The port rank 0 serves the rendezvous on (default 29500). */
  masterPort?: number;
}

export const DEFAULT_MASTER_ADDR = "127.0.0.1";
export const DEFAULT_MASTER_PORT = 29500;

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, op: string): number {
  const raw = env[name];
  const v = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isSafeInteger(v) || v < min) {
    throw new SbertError("ERR_INPUT", `the environment variable ${name} must be an integer >= ${min}, got ${raw === undefined ? "nothing" : JSON.stringify(raw)}`, { op });
  }
  return v;
}

/**
 * The distributed run torchrun's variables describe, or undefined when WORLD_SIZE is unset (one process). RANK
 * (or, on a single node, LOCAL_RANK) must then be set; MASTER_ADDR and MASTER_PORT default as torch's do.
 */
export function distributedFromEnv(env: NodeJS.ProcessEnv = process.env, op = "distributedFromEnv"): Required<DistributedOptions> | undefined {
  if (env["WORLD_SIZE"] === undefined) return undefined;
  const worldSize = intVar(env, "WORLD_SIZE", 1, op);
  const rank = env["RANK"] !== undefined ? intVar(env, "RANK", 0, op) : intVar(env, "LOCAL_RANK", 0, op);
  const masterPort = env["MASTER_PORT"] !== undefined ? intVar(env, "MASTER_PORT", 1, op) : DEFAULT_MASTER_PORT;
  return checkDistributed({ rank, worldSize, masterAddr: env["MASTER_ADDR"] || DEFAULT_MASTER_ADDR, masterPort }, "the environment (RANK, WORLD_SIZE)", op);
}

/** Checks a DistributedOptions value (`name` says where it came from) and fills its defaults. */
export function checkDistributed(v: unknown, name: string, op: string): Required<DistributedOptions> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TypeError(`${op}: ${name} must be {rank, worldSize, masterAddr?, masterPort?}`);
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!["rank", "worldSize", "masterAddr", "masterPort"].includes(key)) throw new TypeError(`${op}: ${name}.${key} is not an option (rank, worldSize, masterAddr, masterPort)`);
  }
  const int = (key: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const x = o[key];
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < min || x > max) throw new RangeError(`${op}: ${name}.${key} must be an integer in [${min}, ${max}], got ${String(x)}`);
    return x;
  };
  const worldSize = int("worldSize", 1);
  const rank = int("rank", 0, worldSize - 1);
  const masterPort = o["masterPort"] === undefined ? DEFAULT_MASTER_PORT : int("masterPort", 1, 65535);
  const masterAddr = o["masterAddr"] === undefined ? DEFAULT_MASTER_ADDR : o["masterAddr"];
  if (typeof masterAddr !== "string" || masterAddr === "") throw new TypeError(`${op}: ${name}.masterAddr must be a host name or address`);
  return { rank, worldSize, masterAddr, masterPort };
}

/** One rank's membership in a group; every rank must make the same collective calls in the same order. */
export class ProcessGroup {
  private constructor(
    readonly native: NativeProcessGroup,
    readonly rank: number,
    readonly worldSize: number,
  ) {}

  /**
   * Joins: resolves once every rank has (or fails after `timeoutSeconds`). A build without Gloo refuses here, with
   * the addon's ERR_DEVICE error saying how to get it.
   */
  static async join(options: Required<DistributedOptions>, timeoutSeconds: number, op: string): Promise<ProcessGroup> {
    const group = await callNative(op, (n) => n.createProcessGroup({ ...options, timeoutMs: Math.round(timeoutSeconds * 1000) }));
    return new ProcessGroup(group, options.rank, options.worldSize);
  }

  get isMain(): boolean {
    return this.rank === 0;
  }

  /** The mean of each value over the ranks. */
  async mean(values: number[], op: string): Promise<number[]> {
    const sums = await callNative(op, () => this.native.allreduce(values, "sum"));
    return sums.map((s) => s / this.worldSize);
  }

  /** Rank 0's values on every rank (the others pass anything; non-negative values only). */
  async fromMain(values: number[], op: string): Promise<number[]> {
    return callNative(op, () => this.native.allreduce(this.isMain ? values : values.map(() => 0), "max"));
  }

  async barrier(op: string): Promise<void> {
    await callNative(op, () => this.native.barrier());
  }

  dispose(): void {
    this.native.dispose();
  }
}

/**
 * This rank's share of an epoch's batches, as accelerate shards a batch sampler: batches rank, rank + W, ...; when
 * they do not divide evenly, the ranks that would run short take batches again from the epoch's start, so that
 * every rank makes the same number of steps.
 */
export function shardBatches<T>(batches: readonly T[], rank: number, worldSize: number): T[] {
  if (worldSize === 1 || batches.length === 0) return [...batches];
  const perRank = Math.ceil(batches.length / worldSize);
  const out: T[] = [];
  for (let i = 0; i < perRank; i++) out.push(batches[(i * worldSize + rank) % batches.length]!);
  return out;
}

/** Whether this process is rank 0 of a distributed run started by a launcher (or no such run): the one that reports and saves. */
export function isMainProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return Number(env["RANK"] ?? 0) === 0;
}
