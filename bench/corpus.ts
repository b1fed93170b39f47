/**
 * Seeded inputs built from the benchmark vocabulary: sentences with an STS-like length distribution (log-normal,
 * mean about 18 tokens with [CLS]/[SEP], a tail to 60) and documents of 256–512 tokens. Every word is one vocabulary
 * entry, a word plus a "##" piece, or punctuation, so the token count follows the drawn length closely.
 */
import { rng, type BenchVocab } from "./models.js";

function normal(rand: () => number): number {
  const u1 = 1 - rand();
  const u2 = rand();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

function text(vocab: BenchVocab, rand: () => number, tokens: number): string {
  const words: string[] = [];
  let used = 2; // [CLS] and [SEP]
  let sentenceStart = true;
  while (used < tokens) {
    const left = tokens - used;
    if (left === 1 || (words.length > 0 && rand() < 0.08)) {
      // Punctuation is its own token.
      const p = left === 1 || rand() < 0.6 ? "." : rand() < 0.5 ? "," : "?";
      words[words.length - 1] += p;
      used++;
      sentenceStart = p !== ",";
      continue;
    }
    let w = vocab.words[Math.floor(rand() * vocab.words.length)]!;
    let cost = 1;
    if (left >= 2 && rand() < 0.15) {
      w += vocab.suffixes[Math.floor(rand() * vocab.suffixes.length)]!.slice(2);
      cost = 2;
    }
    if (sentenceStart) w = w[0]!.toUpperCase() + w.slice(1);
    sentenceStart = false;
    words.push(w);
    used += cost;
  }
  return words.join(" ");
}

/** `n` sentences; lengths (in tokens, with [CLS]/[SEP]) log-normal around 18, clamped to [5, 60]. */
export function makeSentences(vocab: BenchVocab, n: number, seed = 1): string[] {
  const rand = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.min(60, Math.max(5, Math.round(Math.exp(2.8 + 0.42 * normal(rand)))));
    out.push(text(vocab, rand, len));
  }
  return out;
}

/** `n` documents of 256–512 tokens (uniform). */
export function makeDocuments(vocab: BenchVocab, n: number, seed = 2): string[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => text(vocab, rand, 256 + Math.floor(rand() * 257)));
}

/** Training pairs: (sentence i, sentence i + n) with a score label in [0, 1]. */
export function makePairs(sentences: string[], n: number, seed = 3): { a: string; b: string; label: number }[] {
  const rand = rng(seed);
  const out: { a: string; b: string; label: number }[] = [];
  for (let i = 0; i < n; i++) out.push({ a: sentences[i % sentences.length]!, b: sentences[(i + n) % sentences.length]!, label: rand() });
  return out;
}
