/**
 * Time to first embedding (measurement 9): a fresh Node process per run that imports sbert-node, loads the model
 * folder and encodes one sentence. Wall time is from spawn to the printed result; the child reports the parts.
 * One unreported run first, so tsx's transpile cache and the file cache are warm for every reported run.
 */
import { fmt, log, median, type ModelName } from "./common.js";
import type { BenchContext } from "./context.js";
import { runChild } from "./memory.js";

export interface StartupResult {
  model: ModelName;
  runs: number;
  wallMs: number;
  /** Medians of the child's own clock: Node + tsx start, import of sbert-node (addon + libtorch), load, first encode. */
  nodeStartMs: number;
  importMs: number;
  loadMs: number;
  firstEncodeMs: number;
  allWallMs: number[];
}

interface TtfeChild {
  entryMs: number;
  importMs: number;
  loadMs: number;
  firstEncodeMs: number;
  totalMs: number;
}

export async function runStartup(ctx: BenchContext): Promise<StartupResult[]> {
  const out: StartupResult[] = [];
  const sentence = ctx.sentences[0]!;
  let warmed = false;
  for (const name of ctx.opts.models) {
    const dir = (await ctx.folder(name)).dir;
    if (!warmed) {
      await runChild<TtfeChild>(["ttfe", dir, String(ctx.opts.torchThreads), sentence]);
      warmed = true;
    }
    const runs = ctx.opts.quick ? 1 : name !== "minilm" ? 2 : 3;
    const results: { value: TtfeChild; wallMs: number }[] = [];
    for (let i = 0; i < runs; i++) results.push(await runChild<TtfeChild>(["ttfe", dir, String(ctx.opts.torchThreads), sentence]));
    const med = (f: (r: { value: TtfeChild; wallMs: number }) => number) => median(results.map(f));
    const r: StartupResult = {
      model: name,
      runs,
      wallMs: med((x) => x.wallMs),
      nodeStartMs: med((x) => x.value.entryMs),
      importMs: med((x) => x.value.importMs),
      loadMs: med((x) => x.value.loadMs),
      firstEncodeMs: med((x) => x.value.firstEncodeMs),
      allWallMs: results.map((x) => x.wallMs),
    };
    out.push(r);
    log(
      `startup: ${name}: first embedding after ${fmt(r.wallMs, 0)} ms (node+tsx ${fmt(r.nodeStartMs, 0)}, import ${fmt(r.importMs, 0)}, ` +
        `load ${fmt(r.loadMs, 0)}, first encode ${fmt(r.firstEncodeMs, 0)})`,
    );
  }
  return out;
}
