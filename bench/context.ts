/**
 * What the measurement groups share: options, inputs, model folders, loaded sbert-node models and the reference
 * engines, each created on first use so `--only` starts only what it needs.
 */
import { stat } from "node:fs/promises";

import { SentenceTransformer, setNumThreads } from "../lib/index.js";
import { log, ORT_THREADS, type BenchOptions, type ModelName, type TimingPlan } from "./common.js";
import { makeDocuments, makeSentences } from "./corpus.js";
import { OrtEngine, PythonEngine } from "./engines.js";
import { buildVocab, ensureModel, MODEL_SPECS, type BenchModel, type BenchVocab } from "./models.js";

export interface Workload {
  id: "b1" | "b32" | "b128" | "long8";
  label: string;
  batchSize: number;
  texts: string[];
  /** Encoded untimed first, at the same batch size. */
  warmTexts: string[];
  plan: TimingPlan;
  /** Time each batch on its own (batch-1 latency). */
  perItem: boolean;
}

/** `count` windows of `size` consecutive texts of `texts` sorted by length, centred at quantiles (j + ½) / count. */
export function strata(texts: string[], size: number, count: number): string[] {
  const sorted = [...texts].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (let j = 0; j < count; j++) {
    const centre = Math.round(((j + 0.5) / count) * sorted.length);
    const start = Math.min(Math.max(0, centre - Math.floor(size / 2)), sorted.length - size);
    out.push(...sorted.slice(start, start + size));
  }
  return out;
}

/** How engine.py builds the eager model of `name` ("bert": its own module; "hf": transformers' AutoModel). */
export function engineKind(name: ModelName): "bert" | "hf" {
  return MODEL_SPECS[name].arch === "bert" ? "bert" : "hf";
}

export class BenchContext {
  readonly vocab: BenchVocab;
  readonly sentences: string[];
  readonly documents: string[];
  private readonly folders = new Map<ModelName, BenchModel>();
  private readonly loaded = new Map<ModelName, SentenceTransformer>();
  private readonly pyLoaded = new Set<ModelName>();
  private readonly stLoaded = new Set<ModelName>();
  private readonly ortLoaded = new Set<ModelName>();
  private py: PythonEngine | undefined;
  private ortEngine: OrtEngine | undefined;
  readonly engineInfo: Record<string, unknown> = {};

  constructor(readonly opts: BenchOptions) {
    this.vocab = buildVocab();
    this.sentences = makeSentences(this.vocab, 4096);
    this.documents = makeDocuments(this.vocab, 64);
    setNumThreads(opts.torchThreads);
  }

  async folder(name: ModelName): Promise<BenchModel> {
    let m = this.folders.get(name);
    if (!m) {
      m = await ensureModel(MODEL_SPECS[name], this.vocab, [...this.sentences, ...this.documents]);
      this.folders.set(name, m);
    }
    return m;
  }

  /** The sbert-node model used for encoding (one per shape, kept loaded). */
  async sbert(name: ModelName): Promise<SentenceTransformer> {
    let m = this.loaded.get(name);
    if (!m) {
      const dir = (await this.folder(name)).dir;
      m = await SentenceTransformer.load(dir);
      this.loaded.set(name, m);
    }
    return m;
  }

  async python(): Promise<PythonEngine> {
    if (!this.py) {
      this.py = new PythonEngine();
      this.engineInfo["python"] = await this.py.call("info", { threads: this.opts.torchThreads });
    }
    return this.py;
  }

  /**
   * Python with the eager model of `name` loaded under the key `name`: engine.py's hand-written BERT for the BERT
   * shapes, the transformers model itself (eager attention) for the others.
   */
  async pythonModel(name: ModelName): Promise<PythonEngine> {
    const py = await this.python();
    if (!this.pyLoaded.has(name)) {
      await py.call("load", { key: name, folder: (await this.folder(name)).dir, kind: engineKind(name) });
      this.pyLoaded.add(name);
    }
    return py;
  }

  /** Python with sentence-transformers' SentenceTransformer of `name` loaded under the key `st:<name>`. */
  async stModel(name: ModelName): Promise<{ py: PythonEngine; key: string }> {
    const py = await this.python();
    const key = `st:${name}`;
    if (!this.stLoaded.has(name)) {
      this.engineInfo[`sentence-transformers.${name}`] = await py.call("st_load", { key, folder: (await this.folder(name)).dir });
      this.stLoaded.add(name);
    }
    return { py, key };
  }

  /** onnxruntime-node with the ONNX export of `name` (exported from the eager module on first use). */
  async ortModel(name: ModelName): Promise<OrtEngine> {
    const m = await this.folder(name);
    const exported = await stat(m.onnxPath).then(
      (s) => s.size > 0,
      () => false,
    );
    if (!exported) {
      const py = await this.pythonModel(name);
      const r = await py.call<{ seconds: number }>("export", { key: name, path: m.onnxPath, opset: 14 });
      log(`exported ${name} to ONNX (opset 14) in ${r.seconds.toFixed(1)} s`);
    }
    if (!this.ortEngine) {
      this.ortEngine = new OrtEngine();
      this.engineInfo["onnxruntime"] = await this.ortEngine.ready;
    }
    if (!this.ortLoaded.has(name)) {
      this.engineInfo[`onnxruntime.${name}`] = await this.ortEngine.call("load", { key: name, path: m.onnxPath, threads: ORT_THREADS });
      this.ortLoaded.add(name);
    }
    return this.ortEngine;
  }

  /**
   * Encode workloads of a model, sized so one pass takes seconds on two cores. Batched workloads take whole
   * batches from windows of the length-sorted corpus spread over its range (`strata`), so each batch is padded
   * about as little as in a long encode call, and the lengths still follow the corpus.
   */
  workloads(name: ModelName): Workload[] {
    const q = this.opts.quick;
    // The 12-layer shapes (BERT-base, XLM-R-base, MPNet-base) take fewer texts.
    const base = MODEL_SPECS[name].layers > 6;
    const plan: TimingPlan = { budgetS: q ? 0.6 : 2.0, minPasses: 1, maxPasses: 50, minItems: 4 };
    const s = this.sentences;
    const nB1 = q ? 16 : base ? 16 : 48;
    const b32 = strata(s, 32, q ? 4 : base ? 4 : 8);
    const b128 = strata(s, 128, q ? 1 : base ? 1 : 2);
    const docs = strata(this.documents, 8, q || base ? 1 : 2);
    // BERT-base documents take seconds per batch: the earlier workloads have warmed it up, one short text is enough.
    const docWarm = base ? [[...this.documents].sort((a, b) => a.length - b.length)[0]!] : docs.slice(0, 8);
    return [
      { id: "b1", label: "sentences, batch 1", batchSize: 1, texts: s.slice(0, nB1), warmTexts: s.slice(nB1, nB1 + 8), plan, perItem: true },
      { id: "b32", label: "sentences, batch 32", batchSize: 32, texts: b32, warmTexts: b32.slice(0, 32), plan, perItem: false },
      { id: "b128", label: "sentences, batch 128", batchSize: 128, texts: b128, warmTexts: b128.slice(0, 128), plan, perItem: false },
      { id: "long8", label: "documents 256–512 tokens, batch 8", batchSize: 8, texts: docs, warmTexts: docWarm, plan, perItem: false },
    ];
  }

  async close(): Promise<void> {
    for (const m of this.loaded.values()) m.dispose();
    this.loaded.clear();
    await Promise.all([this.py?.close(), this.ortEngine?.close()]);
  }
}
