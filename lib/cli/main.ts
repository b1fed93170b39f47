#!/usr/bin/env node
/**
 * The `sbert-node` command. Exit codes: 0 success, 1 runtime error (message on stderr; the stack with
 * --verbose), 2 usage error (bad arguments or config content), 130/143 training stopped by SIGINT/SIGTERM.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { type CommandSpec, UsageError, helpText, wantsHelp } from "./args.js";
import { suggest } from "./config.js";
import { encodeCommand, encodeSpec } from "./encode.js";
import { evaluateCommand, evaluateSpec } from "./evaluate.js";
import { infoCommand, infoSpec } from "./info.js";
import { rerankCommand, rerankSpec } from "./rerank.js";
import { serveCommand, serveSpec } from "./serve.js";
import { trainCommand, trainSpec } from "./train.js";

const COMMANDS: Record<string, { spec: CommandSpec; run: (argv: string[]) => Promise<number> }> = {
  encode: { spec: encodeSpec, run: encodeCommand },
  rerank: { spec: rerankSpec, run: rerankCommand },
  train: { spec: trainSpec, run: trainCommand },
  evaluate: { spec: evaluateSpec, run: evaluateCommand },
  info: { spec: infoSpec, run: infoCommand },
  serve: { spec: serveSpec, run: serveCommand },
};

function version(): string {
  try {
    // dist/cli/main.js and lib/cli/main.ts both sit two folders below the package root.
    const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const lines = [
    "Usage: sbert-node <command> [options]",
    "",
    "Sentence embeddings on libtorch: encode texts, rerank documents, fine-tune, evaluate, inspect and serve models.",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.spec.summary}`),
    "",
    "Options:",
    "  -h, --help     Show help (also: sbert-node <command> --help, sbert-node help <command>)",
    "  -V, --version  Show the version",
    "",
    "Exit codes: 0 success, 1 runtime error, 2 usage error.",
  ];
  return `${lines.join("\n")}\n`;
}

function describeError(e: unknown, verbose: boolean): string {
  if (!(e instanceof Error)) return String(e);
  if (!verbose) return e.message;
  let out = e.stack ?? e.message;
  let cause = (e as Error & { cause?: unknown }).cause;
  while (cause instanceof Error) {
    out += `\nCaused by: ${cause.stack ?? cause.message}`;
    cause = (cause as Error & { cause?: unknown }).cause;
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(topHelp());
    return 2;
  }
  if (first === "--help" || first === "-h") {
    process.stdout.write(topHelp());
    return 0;
  }
  if (first === "--version" || first === "-V") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (first === "help") {
    const target = rest[0];
    if (target === undefined) {
      process.stdout.write(topHelp());
      return 0;
    }
    const c = COMMANDS[target];
    if (!c) {
      process.stderr.write(`sbert-node: unknown command '${target}'\n`);
      return 2;
    }
    process.stdout.write(helpText(c.spec));
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    const hint = suggest(first, Object.keys(COMMANDS));
    process.stderr.write(`sbert-node: unknown command '${first}'${hint ? ` (did you mean '${hint}'?)` : ""}\nRun 'sbert-node --help' for the commands.\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(helpText(command.spec));
    return 0;
  }
  const verbose = rest.includes("--verbose");
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sbert-node ${first}: ${e.message}\nRun 'sbert-node ${first} --help' for usage.\n`);
      if (verbose) process.stderr.write(`${describeError(e, true)}\n`);
      return 2;
    }
    process.stderr.write(`sbert-node ${first}: error: ${describeError(e, verbose)}\n`);
    return 1;
  }
}

// A reader that goes away (`| head`) ends the output; that is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sbert-node: internal error: ${describeError(e, true)}\n`);
    process.exit(1);
  },
);
