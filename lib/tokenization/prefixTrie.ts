/**
 * A read-only trie over UTF-16 code units in flat typed arrays (a few bytes per node, so a 250k-piece
 * SentencePiece vocabulary stays small), answering "which keys are prefixes of s[start..]", shortest first.
 */
export class PrefixTrie {
  /** per node: index of its first child, its number of children (children are contiguous, sorted by label) */
  private readonly firstChild: Int32Array;
  private readonly childCount: Int32Array;
  private readonly label: Uint16Array;
  /** per node: the value of the key ending there, or -1 */
  private readonly value: Int32Array;

  /** `entries` maps each key to a non-negative value; empty keys are ignored. */
  constructor(entries: Map<string, number>) {
    const keys = [...entries.keys()].filter((k) => k.length > 0).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let total = 1;
    for (const k of keys) total += k.length;
    const firstChild = new Int32Array(total);
    const childCount = new Int32Array(total);
    const label = new Uint16Array(total);
    const value = new Int32Array(total).fill(-1);
    // Breadth first: a node's children are allocated together. Each queue item: node, depth, key range [lo, hi).
    let next = 1;
    const queue: number[] = [0, 0, 0, keys.length];
    for (let q = 0; q < queue.length; q += 4) {
      const node = queue[q]!;
      const depth = queue[q + 1]!;
      let lo = queue[q + 2]!;
      const hi = queue[q + 3]!;
      // Keys that end here sort first in the range.
      while (lo < hi && keys[lo]!.length === depth) {
        value[node] = entries.get(keys[lo]!)!;
        lo++;
      }
      firstChild[node] = next;
      let i = lo;
      while (i < hi) {
        const unit = keys[i]!.charCodeAt(depth);
        let j = i + 1;
        while (j < hi && keys[j]!.charCodeAt(depth) === unit) j++;
        label[next] = unit;
        queue.push(next, depth + 1, i, j);
        next++;
        i = j;
      }
      childCount[node] = next - firstChild[node]!;
    }
    this.firstChild = firstChild.slice(0, next);
    this.childCount = childCount.slice(0, next);
    this.label = label.slice(0, next);
    this.value = value.slice(0, next);
  }

  /** Calls `hit(end, value)` for every key equal to s.slice(start, end), in increasing `end`. */
  prefixes(s: string, start: number, hit: (end: number, value: number) => void): void {
    let node = 0;
    for (let i = start; i < s.length; i++) {
      const unit = s.charCodeAt(i);
      let lo = this.firstChild[node]!;
      let hi = lo + this.childCount[node]! - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const l = this.label[mid]!;
        if (l < unit) lo = mid + 1;
        else if (l > unit) hi = mid - 1;
        else {
          found = mid;
          break;
        }
      }
      if (found < 0) return;
      node = found;
      const v = this.value[node]!;
      if (v >= 0) hit(i + 1, v);
    }
  }
}
