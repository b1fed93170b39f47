/**
 * `sbert-node rerank MODEL --query Q --documents FILE`: scores each document (one per line) against the query with a
 * cross-encoder and prints them best first, as CrossEncoder.rank orders them.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";

import { setNumThreads } from "../backend.js";
import { CrossEncoder, isCrossEncoderFolder } from "../crossEncoder/CrossEncoder.js";
import { SbertError } from "../errors.js";
import { resolveModelFolder } from "../hub/index.js";
import { type CommandSpec, UsageError, flag, intFlag, parseCommand, positionals, str } from "./args.js";
import { DEVICE_OPTION, THREADS_OPTION, localOrId, write } from "./common.js";
import { lines } from "./encode.js";

export const rerankSpec: CommandSpec = {
  name: "rerank",
  summary: "Rank documents (one per line) against a query with a cross-encoder, best first.",
  usage: "MODEL --query TEXT --documents FILE|- [options]",
  description: [
    "MODEL is a cross-encoder folder or a Hugging Face Hub model id, with one label. Each line of FILE is one",
    "document; its index is its line number counting from 0. Output: one line per document,",
    "'index<TAB>score<TAB>text', best first; with --json, a JSON array of {index, score, text?}, text only with",
    "--return-documents. Scores are after the model's activation.",
  ].join("\n"),
  options: {
    query: { type: "string", short: "q", value: "TEXT", help: "The query the documents are ranked for." },
    documents: { type: "string", short: "d", value: "FILE|-", help: "Documents, one per line ('-': stdin)." },
    "top-k": { type: "string", short: "k", value: "K", help: "Print only the best K documents (default: all)." },
    "batch-size": { type: "string", value: "N", help: "Pairs per forward pass (default 32)." },
    "return-documents": { type: "boolean", help: "Include each document's text in --json output (the plain output always shows it)." },
    json: { type: "boolean", help: "Print a JSON array instead of lines." },
    device: DEVICE_OPTION,
    threads: THREADS_OPTION,
  },
  examples: [
    'sbert-node rerank ./my-reranker --query "Who plays in the park?" --documents docs.txt --top-k 3',
    'grep -i park notes.txt | sbert-node rerank cross-encoder/ms-marco-MiniLM-L6-v2 -q "dogs in the park" -d - --json',
  ],
};

/** Every line of the file (or stdin) as a document; a read error names the file. */
async function readDocuments(source: string): Promise<string[]> {
  const name = source === "-" ? "stdin" : source;
  const stream: Readable = source === "-" ? process.stdin : createReadStream(source);
  const documents: string[] = [];
  try {
    for await (const line of lines(stream)) documents.push(line);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") {
      throw new SbertError("ERR_FILE_NOT_FOUND", `--documents: cannot read ${name}: ${(e as Error).message}`);
    }
    throw e;
  } finally {
    if (stream !== process.stdin) stream.destroy();
  }
  if (documents.length === 0) throw new SbertError("ERR_INPUT", `--documents: ${name} holds no documents`);
  return documents;
}

/** A float32 score with the nine significant digits that identify it. */
function scoreText(score: number): number {
  return Number(score.toPrecision(9));
}

export async function rerankCommand(argv: string[]): Promise<number> {
  const cmd = "rerank";
  const parsed = parseCommand(rerankSpec, argv);
  const [modelName] = positionals(parsed, ["MODEL"], cmd);
  const v = parsed.values;
  const query = str(v, "query");
  if (query === undefined) throw new UsageError("--query is required: the text the documents are ranked for", cmd);
  const source = str(v, "documents");
  if (source === undefined) throw new UsageError("--documents is required: a file with one document per line, or - for stdin", cmd);
  const topK = intFlag(v, "top-k", cmd);
  const batchSize = intFlag(v, "batch-size", cmd) ?? 32;
  const threads = intFlag(v, "threads", cmd);
  const json = flag(v, "json");
  const returnDocuments = flag(v, "return-documents");

  // Read before the (slow) model load, so a bad file fails at once.
  const documents = await readDocuments(source);
  if (threads !== undefined) setNumThreads(threads);
  const device = str(v, "device");
  const folder = await resolveModelFolder(await localOrId(modelName!));
  if (!(await isCrossEncoderFolder(folder)) && (await stat(join(folder, "modules.json")).catch(() => undefined))) {
    throw new SbertError("ERR_INPUT", `${modelName} is a SentenceTransformer (bi-encoder), not a cross-encoder: rerank needs a model that scores pairs`);
  }
  const model = await CrossEncoder.load(folder, device !== undefined ? { device } : {});
  try {
    const ranked = await model.rank(query, documents, { batchSize, ...(topK !== undefined && { topK }) });
    if (json) {
      const rows = ranked.map((r) => ({ index: r.corpusId, score: scoreText(r.score), ...(returnDocuments && { text: documents[r.corpusId]! }) }));
      await write(process.stdout, `${JSON.stringify(rows, null, 2)}\n`);
    } else {
      await write(process.stdout, ranked.map((r) => `${r.corpusId}\t${scoreText(r.score)}\t${documents[r.corpusId]!}\n`).join(""));
    }
    return 0;
  } finally {
    model.dispose();
  }
}
