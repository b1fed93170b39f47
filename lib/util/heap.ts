/**
 * Keeps the `k` best (score, id) entries seen: higher score wins, and among equal scores the lower id wins, so
 * results are deterministic when scores tie. A min-heap on parallel typed arrays: the root is the entry that
 * would be dropped first.
 */
export class TopK {
  readonly k: number;
  private readonly scores: Float64Array;
  private readonly ids: Float64Array;
  private n = 0;

  constructor(k: number) {
    this.k = k;
    this.scores = new Float64Array(k);
    this.ids = new Float64Array(k);
  }

  get size(): number {
    return this.n;
  }

  /** Whether (sa, ia) ranks below (sb, ib). */
  private static worse(sa: number, ia: number, sb: number, ib: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  /** The score an entry must beat to get in, -Infinity while there is room. */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0]!;
  }

  /**
   * Pushes row[j] with id `firstId + j` for every j. The ids must be larger than any already kept, so that a score
   * equal to the threshold never gets in: a row is mostly a comparison against the threshold.
   */
  pushRow(row: ArrayLike<number>, firstId = 0): void {
    if (this.k === 0) return;
    let bar = this.threshold;
    for (let j = 0; j < row.length; j++) {
      const s = row[j]!;
      if (s > bar || this.n < this.k) {
        this.push(s, firstId + j);
        bar = this.threshold;
      }
    }
  }

  push(score: number, id: number): void {
    if (this.k === 0 || Number.isNaN(score)) return;
    const s = this.scores;
    const d = this.ids;
    if (this.n < this.k) {
      // Sift up.
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopK.worse(score, id, s[p]!, d[p]!)) break;
        s[i] = s[p]!;
        d[i] = d[p]!;
        i = p;
      }
      s[i] = score;
      d[i] = id;
      return;
    }
    if (!TopK.worse(s[0]!, d[0]!, score, id)) return;
    // Replace the root and sift down.
    let i = 0;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && TopK.worse(s[r]!, d[r]!, s[l]!, d[l]!)) c = r;
      if (!TopK.worse(s[c]!, d[c]!, score, id)) break;
      s[i] = s[c]!;
      d[i] = d[c]!;
      i = c;
    }
    s[i] = score;
    d[i] = id;
  }

  clear(): void {
    this.n = 0;
  }

  /** The kept entries, best first. */
  sorted(): Array<{ id: number; score: number }> {
    const out: Array<{ id: number; score: number }> = [];
    for (let i = 0; i < this.n; i++) out.push({ id: this.ids[i]!, score: this.scores[i]! });
    out.sort((x, y) => (y.score > x.score ? 1 : y.score < x.score ? -1 : x.id - y.id));
    return out;
  }
}

/** A plain binary min-heap under `less`, like Python's heapq / queue.PriorityQueue. */
export class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const a = this.items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(item, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.less(a[r]!, a[l]!) ? r : l;
        if (!this.less(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }

  /** All items, in no particular order. */
  toArray(): T[] {
    return this.items.slice();
  }
}
