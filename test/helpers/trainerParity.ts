// What the trainer parity tests share: a dozen query/passage rows, and the comparison of trained weights.
import { readFile } from "node:fs/promises";

import { readSafetensorsHeader } from "../../lib/io/safetensors.js";

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
 * The largest difference between our trained weights and the reference's (`worst`), the largest change training made
 * to ours (`moved`), and the keys ours has that the reference lacks.
 */
export function compareTrained(
  ours: Map<string, Float32Array>,
  ref: Record<string, number[]>,
  before: Map<string, Float32Array>,
): { worst: number; moved: number; missing: string[] } {
  let worst = 0;
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
      worst = Math.max(worst, Math.abs(data[j]! - r[j]!));
      moved = Math.max(moved, Math.abs(data[j]! - b[j]!));
    }
  }
  return { worst, moved, missing };
}
