/**
 * `--nproc-per-node N`: starts N processes of the same command on this node, as torchrun does, each told its place
 * by torchrun's environment variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT; OMP_NUM_THREADS, unless set, shares out the cores), then waits for them. When one fails, the others are stopped and the launcher exits with the
 * failed rank's code.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";

import { DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT } from "../distributed.js";
import { note } from "./common.js";

export interface LaunchPlan {
  /** Seconds, passed to the ranks as SBERT_NODE_DDP_TIMEOUT (their ddpTimeout default). */
  ddpTimeout?: number;
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
}

/** The launcher's flags, for the commands that take them. */
export const LAUNCH_OPTIONS = {
  "nproc-per-node": { type: "string", value: "N", help: "Train in N processes on this node (distributed data parallel over Gloo), as torchrun." },
  nnodes: { type: "string", value: "M", help: "With --nproc-per-node: the number of nodes (default 1)." },
  "node-rank": { type: "string", value: "R", help: "With --nnodes: this node's rank, 0 .. M-1 (default 0)." },
  "master-addr": { type: "string", value: "HOST", help: `With --nproc-per-node: node 0's address (default ${DEFAULT_MASTER_ADDR}).` },
  "master-port": { type: "string", value: "PORT", help: `With --nproc-per-node: the rendezvous port on node 0 (default ${DEFAULT_MASTER_PORT}).` },
  "ddp-timeout": { type: "string", value: "SECONDS", help: "How long a rank waits for the others before failing (default 1800; sets SBERT_NODE_DDP_TIMEOUT)." },
} as const;

/** argv without the launcher's flags (each `--flag value` or `--flag=value`), which the ranks must not see. */
export function withoutLaunchFlags(argv: readonly string[]): string[] {
  const names = Object.keys(LAUNCH_OPTIONS).map((n) => `--${n}`);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (names.includes(a)) {
      i++;
      continue;
    }
    if (names.some((n) => a.startsWith(`${n}=`))) continue;
    out.push(a);
  }
  return out;
}

/** Runs `args` (a CLI command line) in plan.nprocPerNode processes; resolves to the exit code. */
export async function launchRanks(command: string, args: readonly string[], plan: LaunchPlan): Promise<number> {
  const world = plan.nprocPerNode * plan.nnodes;
  const children: ChildProcess[] = [];
  const codes: (number | undefined)[] = [];
  let failed: number | undefined;
  note(`${command}: starting ${plan.nprocPerNode} processes (ranks ${plan.nodeRank * plan.nprocPerNode}..${(plan.nodeRank + 1) * plan.nprocPerNode - 1} of ${world}), rendezvous at ${plan.masterAddr}:${plan.masterPort}`);
  const forward = (signal: NodeJS.Signals) => () => {
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    await Promise.all(
      Array.from({ length: plan.nprocPerNode }, (_, local) => {
        const rank = plan.nodeRank * plan.nprocPerNode + local;
        const env = {
          ...process.env,
          RANK: String(rank),
          LOCAL_RANK: String(local),
          WORLD_SIZE: String(world),
          LOCAL_WORLD_SIZE: String(plan.nprocPerNode),
          GROUP_RANK: String(plan.nodeRank),
          MASTER_ADDR: plan.masterAddr,
          MASTER_PORT: String(plan.masterPort),
          ...(plan.ddpTimeout !== undefined && { SBERT_NODE_DDP_TIMEOUT: String(plan.ddpTimeout) }),
          // As torchrun: the ranks share the node's cores rather than each taking them all.
          OMP_NUM_THREADS: process.env["OMP_NUM_THREADS"] ?? String(Math.max(1, Math.floor(availableParallelism() / plan.nprocPerNode))),
        };
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { env, stdio: "inherit" });
        children.push(child);
        return new Promise<void>((resolve) => {
          child.on("error", (e) => {
            note(`${command}: rank ${rank} could not start: ${e.message}`);
            codes[local] = 1;
            resolve();
          });
          child.on("exit", (code, signal) => {
            const c = code ?? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGINT" ? 2 : 15);
            codes[local] = c;
            if (c !== 0 && failed === undefined) {
              failed = c;
              note(`${command}: rank ${rank} exited with ${signal ?? `code ${code}`}; stopping the other ranks`);
              for (const other of children) if (other !== child && other.exitCode === null) other.kill("SIGTERM");
            }
            resolve();
          });
        });
      }),
    );
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
  return failed ?? 0;
}
