/**
 * Training throughput (measurement 5): sbert-node `fit` against the same steps in PyTorch eager, on the same token
 * batches. Each side warms up with one step on its own optimizer, then, round after round in turn, times optimizer
 * creation plus a fixed number of steps (linear schedule, warmup 0, dropout on, gradient clipping at 1, AdamW);
 * each keeps its best round.
 */
import { DataLoader, InputExample, losses, SentenceTransformer } from "../lib/index.js";
import { fmt, fmtRatio, log, ratio, type ModelName, type PlainBatch } from "./common.js";
import { engineKind, type BenchContext } from "./context.js";
import { makePairs } from "./corpus.js";
import { MODEL_SPECS } from "./models.js";

export type LossName = "CosineSimilarityLoss" | "MultipleNegativesRankingLoss";

export interface TrainConfig {
  model: ModelName;
  loss: LossName;
  batchSize: number;
  /** Steps per round; each round is a new fit call (and a new optimizer on the Python side). */
  steps: number;
  rounds: number;
}

export interface TrainRun {
  /** The best round. */
  pairsPerSecond: number;
  seconds: number;
  rounds: number[];
  cpuUserS: number;
  cpuSysS: number;
  minorFaults: number;
}

export interface TrainResult extends TrainConfig {
  sbert: TrainRun;
  torch: TrainRun;
  /** Positions in the timed steps' padded token batches over real tokens (PyTorch eager computes them all). */
  paddedPerReal: number;
}

export function trainConfigs(ctx: BenchContext): TrainConfig[] {
  const q = ctx.opts.quick;
  const rounds = q ? 1 : 2;
  const out: TrainConfig[] = [];
  for (const model of ctx.opts.models) {
    if (model === "minilm") {
      out.push({ model, loss: "CosineSimilarityLoss", batchSize: 16, steps: q ? 2 : 4, rounds });
      out.push({ model, loss: "MultipleNegativesRankingLoss", batchSize: 64, steps: q ? 1 : 2, rounds });
    } else {
      // A 12-layer step takes seconds on two cores: the pair loss only, one round, to stay within the time budget.
      out.push({ model, loss: "CosineSimilarityLoss", batchSize: 16, steps: 2, rounds: 1 });
    }
  }
  return out;
}

function plain(model: SentenceTransformer, texts: string[]): PlainBatch {
  const t = model.tokenize(texts);
  return { ids: Array.from(t.inputIds), mask: Array.from(t.attentionMask), types: Array.from(t.tokenTypeIds), B: t.batchSize, L: t.seqLength };
}

function keepBest(prev: TrainRun | undefined, pairs: number, seconds: number, cpu: { user: number; system: number; faults: number }): TrainRun {
  const run: TrainRun = {
    pairsPerSecond: pairs / seconds,
    seconds,
    rounds: [...(prev?.rounds ?? []), pairs / seconds],
    cpuUserS: cpu.user,
    cpuSysS: cpu.system,
    minorFaults: cpu.faults,
  };
  return prev && prev.pairsPerSecond >= run.pairsPerSecond ? { ...prev, rounds: run.rounds } : run;
}

export async function runTrain(ctx: BenchContext): Promise<TrainResult[]> {
  const results: TrainResult[] = [];
  for (const cfg of trainConfigs(ctx)) {
    const spec = MODEL_SPECS[cfg.model];
    const folder = await ctx.folder(cfg.model);
    log(`train: ${spec.label}, ${cfg.loss}, batch ${cfg.batchSize}, ${cfg.rounds} × ${cfg.steps} steps`);
    const n = cfg.batchSize * cfg.steps;
    // Each round trains on its own pairs; warmup pairs come from other sentences than the timed ones.
    const roundPairs = Array.from({ length: cfg.rounds }, (_, r) => makePairs(ctx.sentences.slice(r * 1024, (r + 1) * 1024), n, 3 + r));
    const warmPairs = makePairs(ctx.sentences.slice(2048), cfg.batchSize, 9);
    const withLabels = cfg.loss === "CosineSimilarityLoss";
    const examples = (ps: { a: string; b: string; label: number }[]) =>
      ps.map((p) => new InputExample({ texts: [p.a, p.b], label: withLabels ? p.label : 0 }));

    // A fresh model: training changes the weights the encode measurements use.
    const model = await SentenceTransformer.load(folder.dir);
    // The token batches fit builds (each column tokenized on its own), for the Python side.
    const step = (ps: { a: string; b: string; label: number }[]) => ({
      columns: [plain(model, ps.map((p) => p.a)), plain(model, ps.map((p) => p.b))],
      labels: withLabels ? ps.map((p) => p.label) : null,
    });
    const py = await ctx.python();
    let padded = 0;
    let real = 0;
    let sbert: TrainRun | undefined;
    let torch: TrainRun | undefined;
    try {
      const loss = cfg.loss === "CosineSimilarityLoss" ? new losses.CosineSimilarityLoss(model) : new losses.MultipleNegativesRankingLoss(model);
      const common = { epochs: 1, warmupSteps: 0, showProgressBar: false, seed: 1 };
      await model.fit({ ...common, trainObjectives: [[new DataLoader(examples(warmPairs), { batchSize: cfg.batchSize }), loss]], stepsPerEpoch: 1 });
      for (let r = 0; r < cfg.rounds; r++) {
        const pairs = roundPairs[r]!;
        const loader = new DataLoader(examples(pairs), { batchSize: cfg.batchSize, shuffle: false });
        const cpu0 = process.cpuUsage();
        const faults0 = process.resourceUsage().minorPageFault;
        const t0 = performance.now();
        await model.fit({ ...common, trainObjectives: [[loader, loss]], stepsPerEpoch: cfg.steps });
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const faults = process.resourceUsage().minorPageFault - faults0;
        sbert = keepBest(sbert, n, seconds, { user: cpu.user / 1e6, system: cpu.system / 1e6, faults });

        const steps = Array.from({ length: cfg.steps }, (_, i) => step(pairs.slice(i * cfg.batchSize, (i + 1) * cfg.batchSize)));
        for (const c of steps.flatMap((st) => st.columns)) {
          padded += c.B * c.L;
          real += c.mask.reduce((a, m) => a + m, 0);
        }
        const t = await py.call<{ seconds: number; cpuUserS: number; cpuSysS: number; minorFaults: number }>("train", {
          folder: folder.dir,
          kind: engineKind(cfg.model),
          loss: cfg.loss,
          scale: 20,
          lr: 2e-5,
          warmup: r === 0 ? step(warmPairs) : null,
          steps,
        });
        torch = keepBest(torch, n, t.seconds, { user: t.cpuUserS, system: t.cpuSysS, faults: t.minorFaults });
      }
    } finally {
      model.dispose();
    }
    const res: TrainResult = { ...cfg, sbert: sbert!, torch: torch!, paddedPerReal: padded / real };
    results.push(res);
    log(
      `  sbert ${fmt(res.sbert.pairsPerSecond)} pairs/s, torch ${fmt(res.torch.pairsPerSecond)} pairs/s → ` +
        `${fmtRatio(ratio(res.sbert.pairsPerSecond, res.torch.pairsPerSecond))} ` +
        `(rounds: ${res.sbert.rounds.map((x) => fmt(x)).join(", ")} / ${res.torch.rounds.map((x) => fmt(x)).join(", ")})`,
    );
  }
  return results;
}
