/**
 * `sbert-node encode`: texts in (lines or JSONL), embeddings out (JSONL or .npy). Input is read incrementally
 * and encoded in chunks; JSONL output is written chunk by chunk, so memory stays bounded by the chunk size.
 * Two cases must hold everything: .npy (the header needs the row count) and int8/uint8 precision (the
 * quantization ranges come from all embeddings of the run, as one `model.encode` call computes them).
 */
import { constants, createReadStream, createWriteStream, unlinkSync } from "node:fs";
import { access, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

import { SbertError } from "../errors.js";
import type { MultiProcessPool } from "../multiProcess/MultiProcessPool.js";
import type { Precision, SentenceTransformer } from "../SentenceTransformer.js";
import { quantizeEmbeddings } from "../util/quantization.js";
import { type CommandSpec, UsageError, choiceFlag, flag, intFlag, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, finish, float32Json, loadModel, note, write } from "./common.js";
import { npyDescrOf, npyHeader, npyRowBytes } from "./npy.js";

const PRECISIONS: readonly Precision[] = ["float32", "int8", "uint8", "binary", "ubinary"];

export const encodeSpec: CommandSpec = {
  name: "encode",
  summary: "Embed texts with a model: one text per line (or JSONL objects) in, JSONL or .npy out.",
  usage: "MODEL [options]",
  description: [
    "MODEL is a model folder or a Hugging Face Hub model id. Output rows are in input order.",
    'JSONL output has one {"index": i, "embedding": [...]} per line; .npy output is a 2-D array (N, D) of',
    "float32, int8 (int8, binary) or uint8 (uint8, ubinary); binary precisions pack 8 dimensions per byte.",
    "Input is read and encoded in chunks, so JSONL output of a large file needs little memory; .npy output and",
    "int8/uint8 precision keep all embeddings until the end (quantization ranges span the whole input).",
  ].join("\n"),
  options: {
    input: { type: "string", short: "i", value: "FILE|-", help: "Texts to embed (default: stdin)." },
    output: { type: "string", short: "o", value: "FILE|-", help: "Where to write (default: stdout)." },
    format: { type: "string", value: "jsonl|npy", help: "Output format (default: npy for a .npy output file, else jsonl)." },
    "input-format": { type: "string", value: "lines|jsonl", help: "One text per line, or JSON objects (default: jsonl for .jsonl/.ndjson files)." },
    "text-field": { type: "string", value: "NAME", help: 'Field holding the text in JSONL input (default "text").' },
    "batch-size": { type: "string", value: "N", help: "Texts per forward pass (default 32)." },
    "chunk-size": { type: "string", value: "N", help: "Texts read and encoded at a time (default 1024)." },
    normalize: { type: "boolean", help: "Scale embeddings to unit length." },
    precision: { type: "string", value: "P", help: `Output precision: ${PRECISIONS.join(", ")} (default float32).` },
    "truncate-dim": { type: "string", value: "N", help: "Keep only the first N dimensions (Matryoshka models)." },
    prompt: { type: "string", value: "TEXT", help: "Text put before every input." },
    "prompt-name": { type: "string", value: "NAME", help: "One of the model's prompts (config_sentence_transformers.json)." },
    device: DEVICE_OPTION,
    threads: { type: "string", value: "N", help: "libtorch intra-op threads (default: libtorch's choice); with --processes, each worker's threads." },
    processes: { type: "string", value: "N", help: "Encode in N worker processes, each loading the model (startMultiProcessPool)." },
    quiet: { type: "boolean", short: "q", help: "No summary line on stderr." },
  },
  examples: [
    "sbert-node encode ./my-model -i sentences.txt -o embeddings.npy",
    "cat docs.jsonl | sbert-node encode ./my-model --input-format jsonl --text-field body --normalize > out.jsonl",
    "sbert-node encode ./my-model -i corpus.txt -o corpus.npy --processes 4",
  ],
};

interface Source {
  texts: AsyncGenerator<string>;
  close(): void;
}

/** Lines of a stream, split on \n (a trailing \r dropped); a final newline does not start an empty line. */
export async function* lines(stream: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  let first = true;
  for await (const chunk of stream) {
    rest += typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    if (first && rest.length > 0) {
      if (rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
      first = false;
    }
    let start = 0;
    for (let nl = rest.indexOf("\n"); nl !== -1; nl = rest.indexOf("\n", start)) {
      const end = nl > start && rest.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield rest.slice(start, end);
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.end();
  if (first && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
  if (rest !== "") yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
}

async function* jsonlTexts(stream: Readable, field: string, name: string): AsyncGenerator<string> {
  let lineNo = 0;
  for await (const line of lines(stream)) {
    lineNo++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new SbertError("ERR_INPUT", `${name} line ${lineNo}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new SbertError("ERR_INPUT", `${name} line ${lineNo}: expected a JSON object with a "${field}" field`);
    }
    const text = (value as Record<string, unknown>)[field];
    if (typeof text !== "string") {
      const what = text === undefined ? "no" : `a non-string (${text === null ? "null" : typeof text})`;
      throw new SbertError("ERR_INPUT", `${name} line ${lineNo}: ${what} "${field}" field (set --text-field to the field holding the text)`);
    }
    yield text;
  }
}

function openSource(input: string, inputFormat: "lines" | "jsonl", textField: string): Source {
  const stream: Readable = input === "-" ? process.stdin : createReadStream(input);
  const name = input === "-" ? "stdin" : input;
  if (input !== "-") {
    // A read error may fire before reading starts; the reader rethrows it from the stream's state.
    stream.on("error", () => {});
  }
  const texts = inputFormat === "jsonl" ? jsonlTexts(stream, textField, name) : lines(stream);
  async function* guarded(): AsyncGenerator<string> {
    try {
      yield* texts;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") {
        throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${name}: ${(e as Error).message}`);
      }
      throw e;
    }
  }
  return { texts: guarded(), close: () => (stream === process.stdin ? undefined : stream.destroy()) };
}

type Embedding = Float32Array | Int8Array | Uint8Array;

interface Sink {
  /** Rows in input order, starting at `index`. */
  rows(index: number, embeddings: Embedding[]): Promise<void>;
  end(count: number, dim: number, descr: ReturnType<typeof npyDescrOf>): Promise<void>;
  abort(): Promise<void>;
}

/** Output to a file goes to a temporary name first, so a failed run leaves no half-written file behind. */
function openOutput(output: string): { stream: Writable; commit(): Promise<void>; abort(): Promise<void> } {
  if (output === "-") {
    return { stream: process.stdout, commit: async () => {}, abort: async () => {} };
  }
  const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.partial`);
  const stream = createWriteStream(tmp);
  let failed: unknown;
  stream.on("error", (e) => (failed = e));
  // Interrupted runs leave no temporary file either.
  const onSignal = (sig: NodeJS.Signals): void => {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const release = (): void => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  return {
    stream,
    commit: async () => {
      if (failed) throw failed;
      await finish(stream);
      await rename(tmp, output);
      release();
    },
    abort: async () => {
      stream.destroy();
      await unlink(tmp).catch(() => {});
      release();
    },
  };
}

function jsonlSink(output: string): Sink {
  const out = openOutput(output);
  return {
    async rows(index, embeddings) {
      // Written in pieces of about 1 MB, so a large chunk never becomes one huge string.
      let text = "";
      for (let k = 0; k < embeddings.length; k++) {
        const e = embeddings[k]!;
        const values = e instanceof Float32Array ? float32Json(e) : `[${e.join(",")}]`;
        text += `{"index":${index + k},"embedding":${values}}\n`;
        if (text.length > 1 << 20) {
          await write(out.stream, text);
          text = "";
        }
      }
      if (text) await write(out.stream, text);
    },
    end: () => out.commit(),
    abort: () => out.abort(),
  };
}

function npySink(output: string): Sink {
  const out = openOutput(output);
  const kept: Embedding[] = [];
  return {
    async rows(_index, embeddings) {
      kept.push(...embeddings);
    },
    async end(count, dim, descr) {
      await write(out.stream, npyHeader(descr, count, dim));
      for (const row of kept) await write(out.stream, npyRowBytes(row));
      await out.commit();
    },
    abort: () => out.abort(),
  };
}

/** The width of a row at `precision` for a model dimension `dim` (binary packs 8 per byte). */
function rowWidth(dim: number, precision: Precision): number {
  return precision === "binary" || precision === "ubinary" ? Math.ceil(dim / 8) : dim;
}

export async function encodeCommand(argv: string[]): Promise<number> {
  const cmd = "encode";
  const parsed = parseCommand(encodeSpec, argv);
  const [modelName] = positionals(parsed, ["MODEL"], cmd);
  const v = parsed.values;
  const input = str(v, "input") ?? "-";
  const output = str(v, "output") ?? "-";
  const format = choiceFlag(v, "format", ["jsonl", "npy"] as const, cmd) ?? (output.toLowerCase().endsWith(".npy") ? "npy" : "jsonl");
  const inputFormat =
    choiceFlag(v, "input-format", ["lines", "jsonl"] as const, cmd) ?? (/\.(jsonl|ndjson)$/i.test(input) ? "jsonl" : "lines");
  const textField = str(v, "text-field") ?? "text";
  if (str(v, "text-field") !== undefined && inputFormat !== "jsonl") throw new UsageError("--text-field goes with --input-format jsonl", cmd);
  const batchSize = intFlag(v, "batch-size", cmd) ?? 32;
  const chunkSize = intFlag(v, "chunk-size", cmd) ?? 1024;
  const precision = choiceFlag(v, "precision", PRECISIONS, cmd) ?? "float32";
  const truncateDim = intFlag(v, "truncate-dim", cmd);
  const prompt = str(v, "prompt");
  const promptName = str(v, "prompt-name");
  if (prompt !== undefined && promptName !== undefined) throw new UsageError("give --prompt or --prompt-name, not both", cmd);
  const threads = intFlag(v, "threads", cmd);
  const processes = intFlag(v, "processes", cmd);
  const device = str(v, "device");
  const normalize = flag(v, "normalize");
  if (format === "npy" && output === "-" && process.stdout.isTTY) {
    throw new UsageError("refusing to write .npy data to a terminal; use --output FILE or redirect stdout", cmd);
  }

  if (input !== "-") {
    // Fail before the (slow) model load when the input cannot be read.
    await access(input, constants.R_OK).catch((e: Error) => {
      throw new SbertError("ERR_FILE_NOT_FOUND", `cannot read ${input}: ${e.message}`);
    });
  }
  const started = Date.now();
  const model: SentenceTransformer = await loadModel(modelName!, { device, ...(processes === undefined && { threads }) });
  let pool: MultiProcessPool | undefined;
  try {
    if (promptName !== undefined && !(promptName in model.prompts)) {
      const names = Object.keys(model.prompts);
      throw new UsageError(`--prompt-name '${promptName}' is not one of the model's prompts (${names.length ? names.join(", ") : "it has none"})`, cmd);
    }
    const fullDim = model.getSentenceEmbeddingDimension();
    if (truncateDim !== undefined && fullDim !== undefined && truncateDim > fullDim) {
      throw new UsageError(`--truncate-dim ${truncateDim} exceeds the model's embedding dimension ${fullDim}`, cmd);
    }
    if (processes !== undefined) {
      pool = await model.startMultiProcessPool({
        processes,
        ...(device !== undefined && { targetDevices: Array.from({ length: processes }, () => device) }),
        ...(threads !== undefined && { threadsPerProcess: threads }),
      });
    }
    // int8/uint8 need ranges over the whole input, so those are quantized at the end.
    const global = precision === "int8" || precision === "uint8";
    const chunkPrecision: Precision = global ? "float32" : precision;
    const encodeOptions = {
      batchSize,
      normalizeEmbeddings: normalize,
      precision: chunkPrecision,
      ...(truncateDim !== undefined && { truncateDim }),
      ...(prompt !== undefined && { prompt }),
      ...(promptName !== undefined && { promptName }),
      ...(pool !== undefined && { pool }),
    };

    const source = openSource(input, inputFormat, textField);
    const sink = format === "npy" ? npySink(output) : jsonlSink(output);
    const floats: Float32Array[] = [];
    let count = 0;
    let width = rowWidth(truncateDim ?? fullDim ?? 0, precision);
    try {
      let chunk: string[] = [];
      const flush = async (): Promise<void> => {
        if (chunk.length === 0) return;
        const embeddings = (await model.encode(chunk, encodeOptions)) as Embedding[];
        width = embeddings[0]!.length;
        if (global) floats.push(...(embeddings as Float32Array[]));
        else await sink.rows(count, embeddings);
        count += chunk.length;
        chunk = [];
      };
      for await (const text of source.texts) {
        chunk.push(text);
        if (chunk.length >= chunkSize) await flush();
      }
      await flush();
      let descr = npyDescrOf(new Float32Array(0));
      if (global) {
        const quantized = count > 0 ? (quantizeEmbeddings(floats, precision) as Embedding[]) : [];
        floats.length = 0;
        await sink.rows(0, quantized);
        descr = precision === "int8" ? "|i1" : "|u1";
      } else if (precision === "binary") {
        descr = "|i1";
      } else if (precision === "ubinary") {
        descr = "|u1";
      }
      await sink.end(count, width, descr);
    } catch (e) {
      await sink.abort();
      throw e;
    } finally {
      source.close();
    }
    if (!flag(v, "quiet")) {
      const where = output === "-" ? "stdout" : output;
      note(`sbert-node encode: ${count} texts → ${where} (${format}, ${precision}, dim ${width}${pool ? `, ${pool.processes.length} processes` : ""}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }
    return 0;
  } finally {
    await pool?.close();
    model.dispose();
  }
}
