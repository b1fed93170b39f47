/**
 * `npm run bench` / `tsx bench/run.ts [--only encode,serve,...] [--quick] [--models minilm,base,xlmr,mpnet]`: runs sbert-node
 * and its references on the same weights and inputs, prints the report and writes it to bench/results/.
 *
 * Groups run in this order, each with fixed time or step budgets (see context.ts workloads, train.ts configs);
 * a group that fails is recorded and the others still run.
 */
import { backendInfo, getNumThreads } from "../lib/index.js";
import { cpuDescription, cpuSnapshot, float32Peak, GROUPS, loadAverage, log, parseArgs, ORT_THREADS, type Group } from "./common.js";
import { BenchContext } from "./context.js";
import { runEncode } from "./encode.js";
import { runEventLoop } from "./eventloop.js";
import { runGemm } from "./gemm.js";
import { runInt8 } from "./int8.js";
import { runLong } from "./long.js";
import { runMemory } from "./memory.js";
import { machine, writeReport, type BenchResults } from "./report.js";
import { runServe } from "./serve.js";
import { runStartup } from "./startup.js";
import { runTokenize } from "./tokenize.js";
import { runTrain } from "./train.js";
import { runDdp } from "./ddp.js";

const opts = parseArgs(process.argv.slice(2));
const started = performance.now();
const cpuStart = cpuSnapshot();
const defaultThreads = getNumThreads();
const cpu = cpuDescription();
const results: BenchResults = {
  startedAt: new Date().toISOString(),
  options: opts,
  seconds: 0,
  environment: { ...machine(), loadStart: loadAverage(), node: process.version, sbertDefaultThreads: defaultThreads },
  host: { cpu, peak: float32Peak(cpu, backendInfo().kernelIsa) },
  errors: [],
};
const ctx = new BenchContext(opts);

const runners: Record<Group, () => Promise<void>> = {
  encode: async () => void (results.encode = await runEncode(ctx)),
  int8: async () => void (results.int8 = await runInt8(ctx)),
  train: async () => void (results.train = await runTrain(ctx)),
  ddp: async () => void (results.ddp = await runDdp(ctx)),
  tokenize: async () => void (results.tokenize = await runTokenize(ctx)),
  eventloop: async () => void (results.eventloop = await runEventLoop(ctx)),
  memory: async () => void (results.memory = await runMemory(ctx)),
  long: async () => void (results.long = await runLong(ctx)),
  startup: async () => void (results.startup = await runStartup(ctx)),
  serve: async () => void (results.serve = await runServe(ctx)),
  gemm: async () => void (results.gemm = await runGemm(ctx)),
};

try {
  for (const g of GROUPS) {
    if (!opts.only.includes(g)) continue;
    const t0 = performance.now();
    try {
      await runners[g]();
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      results.errors.push({ group: g, error: msg });
      log(`${g} failed: ${msg}`);
    }
    log(`${g} took ${((performance.now() - t0) / 1000).toFixed(1)} s (total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
} finally {
  const info = backendInfo();
  const py = ctx.engineInfo["python"] as { torch?: string; threads?: number; defaultThreads?: number } | undefined;
  const ortInfo = ctx.engineInfo["onnxruntime"] as { version?: string } | undefined;
  const stInfo = Object.entries(ctx.engineInfo).find(([k]) => k.startsWith("sentence-transformers."))?.[1] as
    | { version?: string; transformers?: string }
    | undefined;
  Object.assign(results.environment, {
    loadEnd: loadAverage(),
    libtorch: info.torchVersion,
    torch: py?.torch ?? "–",
    onnxruntime: ortInfo?.version ?? "–",
    sentenceTransformers: stInfo ? `${stInfo.version} (transformers ${stInfo.transformers})` : "–",
    threads:
      `sbert-node setNumThreads(${opts.torchThreads}) (its default here: ${defaultThreads}); ` +
      `torch.set_num_threads(${py?.threads ?? opts.torchThreads}) for PyTorch eager and sentence-transformers (default here: ${py?.defaultThreads ?? "–"}); ` +
      `ORT intraOpNumThreads ${ORT_THREADS}, interOpNumThreads 1, sequential, graph optimization "all"; ` +
      `addon's libtorch BLAS_INFO=${/BLAS_INFO=(\w+)/.exec(info.config)?.[1] ?? "?"} (Debian's "generic" is OpenBLAS, with its own thread pool: ` +
      `OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? "unset → one per core"})`,
    engines: ctx.engineInfo,
  });
  await ctx.close();
  results.seconds = (performance.now() - started) / 1000;
  // Busy CPU time of the machine minus this process and its children: what the rest of the machine used.
  const cpuEnd = cpuSnapshot();
  const other = cpuEnd.machineBusyS - cpuStart.machineBusyS - (cpuEnd.ownS - cpuStart.ownS);
  const capacity = results.seconds * (results.environment["cores"] as number);
  results.environment["otherShare"] = Math.max(0, other) / capacity;
  results.environment["otherCpu"] = `${Math.max(0, other).toFixed(0)} CPU-s (${((100 * Math.max(0, other)) / capacity).toFixed(0)}% of ${capacity.toFixed(0)} CPU-s)`;
  results.environment["steal"] = `${(cpuEnd.stealS - cpuStart.stealS).toFixed(0)} CPU-s`;
  const paths = await writeReport(results);
  console.log(paths.text);
  log(`wrote ${paths.md} and ${paths.json} (run took ${results.seconds.toFixed(0)} s)`);
}
