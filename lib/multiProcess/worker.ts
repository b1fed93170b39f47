/**
 * The entry module of a MultiProcessPool's worker process: loads the model named by the first message, then
 * encodes the chunks it is sent, one at a time, answering each with its embeddings as one Float32Array.
 */
import { setBlasThreads, setEncodeConcurrency, setNumThreads } from "../backend.js";
import { SbertError } from "../errors.js";
import { SentenceTransformer } from "../SentenceTransformer.js";
import type { FromWorker, ToWorker, WorkerEncode, WorkerInit } from "./protocol.js";

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    // A parent that is gone ends this process through "disconnect"; nothing to report here.
    process.send!(message, undefined, undefined, () => resolve());
  });
}

function failure(e: unknown, id?: number): FromWorker {
  const err = e instanceof Error ? e : new Error(String(e));
  return { type: "error", ...(id !== undefined && { id }), ...(err instanceof SbertError && { code: err.code }), name: err.name, message: err.message };
}

async function load(init: WorkerInit): Promise<SentenceTransformer> {
  // The worker's cores: `threads` batches side by side (its libuv pool was sized to match), each on one thread.
  setEncodeConcurrency(init.threads);
  setNumThreads(1);
  setBlasThreads(1);
  const model = await SentenceTransformer.load(init.folder, { device: init.device, ...(init.precision !== "float32" && { quantize: init.precision }) });
  if (model.maxSeqLength !== init.maxSeqLength) model.maxSeqLength = init.maxSeqLength;
  // The parent resolves prompts and truncateDim for every call.
  model.prompts = {};
  model.defaultPromptName = undefined;
  model.truncateDim = undefined;
  return model;
}

async function encode(model: SentenceTransformer, message: WorkerEncode): Promise<FromWorker> {
  const { batchSize, normalizeEmbeddings, truncateDim, prompt, task } = message.options;
  const rows = await model.encode(message.texts, {
    batchSize,
    normalizeEmbeddings,
    ...(truncateDim !== undefined && { truncateDim }),
    ...(prompt !== undefined && { prompt }),
    ...(task !== undefined && { task }),
  });
  const dim = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => data.set(row, i * dim));
  return { type: "result", id: message.id, dim, data };
}

if (typeof process.send !== "function") {
  process.stderr.write("sbert-node: this module is a worker of SentenceTransformer.startMultiProcessPool and is started by it\n");
  process.exit(2);
}
// The pool's end (or its parent's death) closes the channel.
process.on("disconnect", () => process.exit(0));

let model: Promise<SentenceTransformer> | undefined;
// Chunks run in the order they arrive, one at a time: the batches inside a chunk already fill the worker's cores.
let queue: Promise<void> = Promise.resolve();

process.on("message", (message: ToWorker) => {
  if (message.type === "init") {
    model = load(message);
    model.then(
      () => send({ type: "ready" }),
      (e: unknown) => send(failure(e)),
    );
    return;
  }
  queue = queue.then(async () => {
    let answer: FromWorker;
    try {
      if (model === undefined) throw new SbertError("ERR_INPUT", "a chunk came before the model to load");
      answer = await encode(await model, message);
    } catch (e) {
      answer = failure(e, message.id);
    }
    await send(answer);
  });
});
