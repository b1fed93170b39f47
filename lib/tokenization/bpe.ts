/**
 * The BPE model with the semantics of Hugging Face's Rust `tokenizers` (dropout off): a word starts as its
 * characters (with the continuing-subword prefix / end-of-word suffix, <0xXX> byte pieces or the unk token for
 * characters outside the vocabulary), then the pair of adjacent symbols with the lowest merge rank is merged,
 * leftmost first, until no pair has a merge. A heap keeps long words O(n log n).
 */
export interface BpeConfig {
  vocab: Map<string, number>;
  /** in rank order */
  merges: [string, string][];
  unkToken: string | null;
  continuingSubwordPrefix: string | null;
  endOfWordSuffix: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
}

const CACHE_LIMIT = 50_000;
const utf8 = new TextEncoder();
/** Words longer than this (code units) are not cached. */
const CACHE_WORD = 256;

export class BpeModel {
  /** left id -> right id -> [rank, merged id] */
  private readonly merges = new Map<number, Map<number, [number, number]>>();
  private readonly cache = new Map<string, readonly number[]>();

  /** @throws Error when a merge names a token that is not in the vocabulary */
  constructor(private readonly cfg: BpeConfig) {
    const prefixLen = cfg.continuingSubwordPrefix?.length ?? 0;
    cfg.merges.forEach(([a, b], rank) => {
      const ia = cfg.vocab.get(a);
      const ib = cfg.vocab.get(b);
      const merged = cfg.vocab.get(a + b.slice(prefixLen));
      if (ia === undefined || ib === undefined || merged === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b.slice(prefixLen);
        throw new Error(`merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) uses ${JSON.stringify(missing)}, which is not in the vocabulary`);
      }
      let row = this.merges.get(ia);
      if (row === undefined) this.merges.set(ia, (row = new Map()));
      // A repeated pair keeps its last rank, as a map filled in order does.
      row.set(ib, [rank, merged]);
    });
  }

  /** Appends the ids of `word` to `out`. */
  tokenize(word: string, out: number[]): void {
    if (word.length === 0) return;
    if (this.cfg.ignoreMerges) {
      const id = this.cfg.vocab.get(word);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.merge(this.symbols(word));
      if (word.length < CACHE_WORD) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
    }
    for (let k = 0; k < ids.length; k++) out.push(ids[k]!);
  }

  private symbols(w: string): number[] {
    const { vocab, continuingSubwordPrefix: prefix, endOfWordSuffix: suffix } = this.cfg;
    const out: number[] = [];
    let unk = -1;
    const flushUnk = () => {
      if (unk >= 0) out.push(unk);
      unk = -1;
    };
    for (let i = 0; i < w.length; ) {
      const u = w.charCodeAt(i);
      const width = u >= 0xd800 && u <= 0xdbff && i + 1 < w.length ? 2 : 1;
      let s = w.slice(i, i + width);
      if (i > 0 && prefix !== null) s = prefix + s;
      if (i + width >= w.length && suffix !== null) s += suffix;
      i += width;
      const id = vocab.get(s);
      if (id !== undefined) {
        flushUnk();
        out.push(id);
        continue;
      }
      if (this.cfg.byteFallback) {
        const bytes = [...utf8.encode(s)].map((b) => vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`));
        if (bytes.every((b) => b !== undefined)) {
          for (const b of bytes) out.push(b!);
          continue;
        }
      }
      const unkToken = this.cfg.unkToken;
      if (unkToken !== null) {
        const unkId = vocab.get(unkToken);
        if (unkId === undefined) throw new Error(`BPE: the unk token ${JSON.stringify(unkToken)} is not in the vocabulary`);
        if (unk >= 0 && !this.cfg.fuseUnk) out.push(unk);
        unk = unkId;
      }
      // Without an unk token the character is dropped.
    }
    flushUnk();
    return out;
  }

  private merge(sym: number[]): number[] {
    const n = sym.length;
    if (n < 2) return sym;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MergeHeap();
    const push = (pos: number) => {
      const right = next[pos]!;
      if (right < 0) return;
      const m = this.merges.get(sym[pos]!)?.get(sym[right]!);
      if (m !== undefined) heap.push(m[0], pos, m[1]);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const [, pos, merged] = heap.pop();
      if (!alive[pos]) continue;
      const right = next[pos]!;
      if (right < 0) continue;
      // A stale entry: the pair at `pos` changed since it was queued.
      const m = this.merges.get(sym[pos]!)?.get(sym[right]!);
      if (m === undefined || m[1] !== merged) continue;
      sym[pos] = merged;
      alive[right] = 0;
      next[pos] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = pos;
      if (prev[pos]! >= 0) push(prev[pos]!);
      push(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
    return out;
  }
}

/** Min-heap of (rank, position, merged id), lowest rank first, then lowest position. */
class MergeHeap {
  private readonly rank: number[] = [];
  private readonly pos: number[] = [];
  private readonly id: number[] = [];

  get size(): number {
    return this.rank.length;
  }

  private less(a: number, b: number): boolean {
    return this.rank[a]! < this.rank[b]! || (this.rank[a] === this.rank[b] && this.pos[a]! < this.pos[b]!);
  }

  private swap(a: number, b: number): void {
    [this.rank[a], this.rank[b]] = [this.rank[b]!, this.rank[a]!];
    [this.pos[a], this.pos[b]] = [this.pos[b]!, this.pos[a]!];
    [this.id[a], this.id[b]] = [this.id[b]!, this.id[a]!];
  }

  push(rank: number, pos: number, id: number): void {
    this.rank.push(rank);
    this.pos.push(pos);
    this.id.push(id);
    let i = this.rank.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number, number] {
    const top: [number, number, number] = [this.rank[0]!, this.pos[0]!, this.id[0]!];
    const last = this.rank.length - 1;
    this.swap(0, last);
    this.rank.pop();
    this.pos.pop();
    this.id.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.rank.length && this.less(l, m)) m = l;
      if (r < this.rank.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
