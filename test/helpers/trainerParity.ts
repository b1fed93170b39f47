// What the trainer parity tests share: a tiny BERT folder without dropout, generated sentences, a dozen
// query/passage rows, and the comparison of trained weights.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { seededRandom } from "../../lib/internal/random.js";
import { readSafetensorsHeader } from "../../lib/io/safetensors.js";
import { type TinyBertOptions, makeTinyBert } from "../fixtures/tinyBert.js";

/** A tiny BERT folder with dropout switched off in config.json, so both stacks train deterministically. */
export async function makeDropoutFreeTinyBert(dir: string, opts: TinyBertOptions): Promise<void> {
  await makeTinyBert(dir, opts);
  const file = join(dir, "config.json");
  const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  config["hidden_dropout_prob"] = 0;
  config["attention_probs_dropout_prob"] = 0;
  await writeFile(file, JSON.stringify(config, null, 2));
}

/** Words of the fixture vocabulary without accents (BERT's lower-casing strips them). */
export const WORDS = `il la un una gatto cane casa mare sole luna cielo libro pizza pasta vino treno rosso blu verde bianco nero
felice triste veloce lento grande piccolo oggi the dog cat is red happy water cold road music book city`.split(/\s+/);

/** `n` sentences of 3 to 7 random WORDS from `seed`, cycling through the first `distinct` of them. */
export function sentences(n: number, seed: number, distinct = n): string[] {
  const rand = seededRandom(seed);
  const pool = Array.from({ length: distinct }, () => Array.from({ length: 3 + Math.floor(rand() * 5) }, () => WORDS[Math.floor(rand() * WORDS.length)]!).join(" "));
  return Array.from({ length: n }, (_, i) => pool[i % distinct]!);
}

export const QUERIES = [
  "how do cats sleep", "where do dogs run", "what is the weather", "who wrote the book", "why is the sky blue", "when does the train leave",
  "what do birds eat", "how tall is the tower", "where is the river", "who plays the piano", "what is in the box", "how old is the tree",
];
export const POSITIVES = [
  "cats sleep curled up all day", "dogs run in the park", "sunny and warm today", "an unknown author wrote it", "light scatters in the air", "the train leaves at noon",
  "birds eat seeds and worms", "the tower is very tall", "the river is behind the hill", "a young woman plays the piano", "the box holds old letters", "the tree is a hundred years old",
];
/** Each query's negative: another query's passage. */
export const NEGATIVES = [...POSITIVES.slice(5), ...POSITIVES.slice(0, 5)];

/** The float32 tensors of a model.safetensors, by key. */
export async function safetensorsWeights(file: string): Promise<Map<string, Float32Array>> {
  const header = await readSafetensorsHeader(file);
  const raw = await readFile(file);
  return new Map(header.entries.map((e) => [e.name, new Float32Array(raw.buffer.slice(raw.byteOffset + e.begin, raw.byteOffset + e.end))]));
}

/**
 * The largest difference between our trained weights and the reference's (`worst`, first found in `worstKey`), the
 * largest change training made to ours (`moved`), and the keys ours has that the reference lacks.
 */
export function compareTrained(
  ours: Map<string, Float32Array>,
  ref: Record<string, number[]>,
  before: Map<string, Float32Array>,
): { worst: number; worstKey: string; moved: number; missing: string[] } {
  let worst = 0;
  let worstKey = "";
  let moved = 0;
  const missing: string[] = [];
  for (const [name, data] of ours) {
    const r = ref[name];
    if (r === undefined) {
      missing.push(name);
      continue;
    }
    const b = before.get(name)!;
    for (let j = 0; j < data.length; j++) {
      const d = Math.abs(data[j]! - r[j]!);
      if (d > worst) [worst, worstKey] = [d, name];
      moved = Math.max(moved, Math.abs(data[j]! - b[j]!));
    }
  }
  return { worst, worstKey, moved, missing };
}
