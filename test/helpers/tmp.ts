import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll } from "vitest";

/** A fresh temporary folder, removed after the test file ends. */
export async function tempDir(prefix = "sbert-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Rewrites a JSON file through `change` (the bad-folder tests' edits). */
export async function editJson(file: string, change: (json: any) => void): Promise<void> {
  const json = JSON.parse(await readFile(file, "utf8"));
  change(json);
  await writeFile(file, JSON.stringify(json));
}

/** Largest absolute difference between two equally long vectors. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbsDiffAll(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  if (a.length !== b.length) throw new Error(`count ${a.length} vs ${b.length}`);
  return Math.max(0, ...a.map((x, i) => maxAbsDiff(x, b[i]!)));
}

/** Italian sentences of varied length, accents and punctuation, the suite's common input. */
export const SENTENCES = [
  "Una ragazza si acconcia i capelli.",
  "Una ragazza si sta spazzolando i capelli.",
  "Un uomo suona la chitarra.",
  "Il gatto dorme sul divano perché è stanco.",
  "La città è piena di gente oggi.",
  "Un bambino gioca con il cane nel parco vicino alla scuola e ride molto.",
  "Due donne parlano.",
  "ciao",
];
