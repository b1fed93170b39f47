/**
 * onnxruntime-node side of the benchmark, in its own process so its thread pool and libtorch's never share one:
 * loads the ONNX export of a model and embeds or times token batches on request (IPC messages).
 */
import * as ort from "onnxruntime-node";

import { timePasses, type PlainBatch, type TimingPlan } from "./common.js";

type Request =
  | { id: number; cmd: "load"; key: string; path: string; threads: number }
  | { id: number; cmd: "embed"; key: string; batches: PlainBatch[] }
  | { id: number; cmd: "time"; key: string; batches: PlainBatch[]; warmup: PlainBatch[]; perItem?: boolean; plan: TimingPlan };

const sessions = new Map<string, ort.InferenceSession>();

/** The inputs the graph takes (the XLM-R and MPNet exports have no token_type_ids). */
function feeds(session: ort.InferenceSession, b: PlainBatch): Record<string, ort.Tensor> {
  const dims = [b.B, b.L];
  const t = (v: number[]) => new ort.Tensor("int64", BigInt64Array.from(v, (x) => BigInt(x)), dims);
  const all: Record<string, number[]> = { input_ids: b.ids, attention_mask: b.mask, token_type_ids: b.types };
  return Object.fromEntries(session.inputNames.map((n) => [n, t(all[n]!)]));
}

async function run(session: ort.InferenceSession, f: Record<string, ort.Tensor>): Promise<ort.Tensor> {
  const out = await session.run(f);
  return out["sentence_embedding"]!;
}

async function handle(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case "load": {
      const t0 = performance.now();
      const session = await ort.InferenceSession.create(req.path, {
        executionProviders: ["cpu"],
        intraOpNumThreads: req.threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
      });
      sessions.set(req.key, session);
      return { seconds: (performance.now() - t0) / 1000, intraOpNumThreads: req.threads, interOpNumThreads: 1, graphOptimizationLevel: "all" };
    }
    case "embed": {
      const session = sessions.get(req.key)!;
      const out: number[][][] = [];
      for (const b of req.batches) {
        const t = await run(session, feeds(session, b));
        const dim = t.dims[1]!;
        const data = t.data as Float32Array;
        out.push(Array.from({ length: b.B }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim))));
      }
      return { embeddings: out };
    }
    case "time": {
      const session = sessions.get(req.key)!;
      // Inputs are built before timing, as the Python engine builds its tensors before timing.
      const all = req.batches.map((b) => feeds(session, b));
      const warm = req.warmup.map((b) => feeds(session, b));
      return timePasses(
        async () => {
          for (const f of warm) await run(session, f);
        },
        async (itemMs, stop) => {
          for (const f of all) {
            if (req.perItem) {
              const s = performance.now();
              await run(session, f);
              itemMs.push(performance.now() - s);
              if (stop()) return;
            } else await run(session, f);
          }
        },
        req.plan,
        req.batches.reduce((n, b) => n + b.B, 0),
      );
    }
  }
}

process.on("message", (msg: Request) => {
  handle(msg).then(
    (result) => process.send!({ id: msg.id, ok: true, result }),
    (e: unknown) => process.send!({ id: msg.id, ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
  );
});
process.send!({ ready: true, version: ort.env.versions?.common ?? "?" });
