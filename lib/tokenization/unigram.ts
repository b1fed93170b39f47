/**
 * The Unigram model (SentencePiece) with the semantics of Hugging Face's Rust `tokenizers`: the best-scoring
 * segmentation by Viterbi over the vocabulary's pieces, an unknown character costing the lowest score minus 10,
 * consecutive unknown pieces fused into one, and optionally <0xXX> byte pieces for what is not in the vocabulary.
 */
import { PrefixTrie } from "./prefixTrie.js";

const UNK_PENALTY = 10;
const utf8 = new TextEncoder();

export interface UnigramConfig {
  /** [piece, score], the id is the position */
  vocab: [string, number][];
  unkId: number | null;
  byteFallback: boolean;
}

export class UnigramModel {
  private readonly ids = new Map<string, number>();
  private readonly scores: Float64Array;
  private readonly trie: PrefixTrie;
  private readonly unkScore: number;
  private readonly unkId: number | null;
  private readonly byteFallback: boolean;

  constructor(cfg: UnigramConfig) {
    const n = cfg.vocab.length;
    this.scores = new Float64Array(n);
    let min = Infinity;
    cfg.vocab.forEach(([piece, score], id) => {
      // A repeated piece keeps its last id, as a map filled in order does.
      this.ids.set(piece, id);
      this.scores[id] = score;
      if (score < min) min = score;
    });
    this.trie = new PrefixTrie(this.ids);
    this.unkScore = min - UNK_PENALTY;
    this.unkId = cfg.unkId;
    this.byteFallback = cfg.byteFallback;
  }

  private missingUnk(): never {
    throw new Error("Unigram: a character is not in the vocabulary and the model has no unk_id");
  }

  /** Appends the ids of `s` to `out`. */
  tokenize(s: string, out: number[]): void {
    const size = s.length;
    if (size === 0) return;
    // Best path ending at each code-unit position: score, where its last piece starts (-1: none yet), piece id.
    const best = new Float64Array(size + 1);
    const from = new Int32Array(size + 1).fill(-1);
    const idAt = new Int32Array(size + 1);
    const scores = this.scores;
    let start = 0;
    let hasSingle = false;
    let charEnd = 0;
    let here = 0;
    const visit = (end: number, id: number) => {
      const score = scores[id]! + here;
      if (from[end] === -1 || score > best[end]!) {
        best[end] = score;
        from[end] = start;
        idAt[end] = id;
      }
      if (end === charEnd) hasSingle = true;
    };
    while (start < size) {
      here = best[start]!;
      const u = s.charCodeAt(start);
      charEnd = start + (u >= 0xd800 && u <= 0xdbff && start + 1 < size ? 2 : 1);
      hasSingle = false;
      this.trie.prefixes(s, start, visit);
      if (!hasSingle) {
        if (this.unkId === null) this.missingUnk();
        const score = this.unkScore + here;
        if (from[charEnd] === -1 || score > best[charEnd]!) {
          best[charEnd] = score;
          from[charEnd] = start;
          idAt[charEnd] = this.unkId;
        }
      }
      start = charEnd;
    }
    // Back from the end; runs of unknown pieces become one piece.
    const pieces: [number, number, number][] = [];
    let end = size;
    let unkEnd = -1;
    while (end > 0) {
      const begin = from[end]!;
      const id = idAt[end]!;
      if (id === this.unkId) {
        if (unkEnd < 0) unkEnd = end;
      } else {
        if (unkEnd >= 0) {
          pieces.push([end, unkEnd, -1]);
          unkEnd = -1;
        }
        pieces.push([begin, end, id]);
      }
      end = begin;
    }
    if (unkEnd >= 0) pieces.push([0, unkEnd, -1]);
    for (let k = pieces.length - 1; k >= 0; k--) {
      const [b, e, id] = pieces[k]!;
      if (id >= 0) {
        out.push(id);
        continue;
      }
      const text = s.slice(b, e);
      const known = this.ids.get(text);
      if (known !== undefined) out.push(known);
      else if (!this.byteFallback || !this.pushBytes(text, out)) out.push(this.unkId ?? this.missingUnk());
    }
  }

  private pushBytes(text: string, out: number[]): boolean {
    const ids: number[] = [];
    for (const b of utf8.encode(text)) {
      const id = this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
      if (id === undefined) return false;
      ids.push(id);
    }
    out.push(...ids);
    return true;
  }
}
