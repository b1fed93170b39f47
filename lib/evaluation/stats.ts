/**
 * Statistics the evaluators need, computed as scipy / scikit-learn do (float64, two-pass, same edge cases).
 */

function checkPair(x: ArrayLike<number>, y: ArrayLike<number>, fn: string): number {
  if (x.length !== y.length) throw new RangeError(`${fn}: x has ${x.length} values but y has ${y.length}`);
  return x.length;
}

function allEqualToFirst(x: ArrayLike<number>): boolean {
  const first = x[0]!;
  for (let i = 1; i < x.length; i++) if (x[i] !== first) return false;
  // NaN !== NaN, so a NaN anywhere makes the array "not constant", as numpy's (x == x[0]).all().
  return x.length === 0 || first === first;
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

/** Euclidean norm without overflow or underflow, like scipy.linalg.norm (BLAS nrm2). */
function norm(v: Float64Array): number {
  let scale = 0;
  for (let i = 0; i < v.length; i++) scale = Math.max(scale, Math.abs(v[i]!));
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const t = v[i]! / scale;
    s += t * t;
  }
  return scale * Math.sqrt(s);
}

/**
 * Pearson's correlation coefficient, as scipy.stats.pearsonr(x, y).statistic: NaN when either input is constant,
 * exactly ±1 for two points, clipped to [-1, 1]. Fewer than two values is a RangeError (scipy raises too).
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPair(x, y, "pearson");
  if (n < 2) throw new RangeError(`pearson: x and y must have at least 2 values, got ${n}`);
  if (allEqualToFirst(x) || allEqualToFirst(y)) return NaN;
  if (n === 2) return Math.sign(x[1]! - x[0]!) * Math.sign(y[1]! - y[0]!);
  const mx = mean(x);
  const my = mean(y);
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    dx[i] = x[i]! - mx;
    dy[i] = y[i]! - my;
  }
  const nx = norm(dx);
  const ny = norm(dy);
  let r = 0;
  for (let i = 0; i < n; i++) r += (dx[i]! / nx) * (dy[i]! / ny);
  return Math.max(Math.min(r, 1), -1);
}

/**
 * 1-based ranks with ties given their average rank, as scipy.stats.rankdata(x) (method "average"); a NaN anywhere
 * makes every rank NaN, as scipy's default nan_policy "propagate".
 */
export function rankAverage(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i]!)) return ranks.fill(NaN);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (x[a]! < x[b]! ? -1 : x[a]! > x[b]! ? 1 : a - b));
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]!] === x[order[i]!]) j++;
    // Positions i..j (0-based) share the ranks i+1..j+1, whose average is (i + j) / 2 + 1.
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = r;
    i = j + 1;
  }
  return ranks;
}

/**
 * Spearman's rank correlation, as scipy.stats.spearmanr(x, y).statistic: the Pearson correlation of the average
 * ranks (np.corrcoef), NaN for fewer than two values, a constant input or any NaN.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPair(x, y, "spearman");
  if (n <= 1) return NaN;
  if (allEqualToFirst(x) || allEqualToFirst(y)) return NaN;
  for (let i = 0; i < n; i++) if (Number.isNaN(x[i]!) || Number.isNaN(y[i]!)) return NaN;
  const rx = rankAverage(x);
  const ry = rankAverage(y);
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = rx[i]! - mx;
    const b = ry[i]! - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  // np.corrcoef divides the covariance by each standard deviation in turn, then clips.
  const r = sxy / Math.sqrt(sxx) / Math.sqrt(syy);
  return Math.max(Math.min(r, 1), -1);
}

/**
 * Average precision of scores for binary labels, as sklearn.metrics.average_precision_score: the sum over
 * distinct score thresholds (descending) of (recall step) x precision. No positive label gives -0.0, as sklearn
 * (which warns and sets recall to 1 everywhere).
 */
export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = checkPair(labels, scores, "averagePrecision");
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i]!)) throw new RangeError(`averagePrecision: scores[${i}] is NaN`);
    positives += labels[i]! ? 1 : 0;
  }
  if (positives === 0) return -0;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b]! < scores[a]! ? -1 : scores[b]! > scores[a]! ? 1 : 0));
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  let i = 0;
  while (i < n) {
    const s = scores[order[i]!]!;
    // Equal scores form one threshold.
    while (i < n && scores[order[i]!] === s) {
      if (labels[order[i]!]) tp++;
      else fp++;
      i++;
    }
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/**
 * Matthews correlation coefficient of binary labels and predictions, as sklearn.metrics.matthews_corrcoef
 * (0 when it is undefined).
 */
export function matthewsCorrcoef(labels: ArrayLike<number | boolean>, predicted: ArrayLike<number | boolean>): number {
  const n = labels.length;
  if (predicted.length !== n) throw new RangeError(`matthewsCorrcoef: labels has ${n} values but predicted has ${predicted.length}`);
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < n; i++) {
    const t = Boolean(labels[i]);
    const p = Boolean(predicted[i]);
    if (t && p) tp++;
    else if (!t && !p) tn++;
    else if (p) fp++;
    else fn++;
  }
  // sklearn's multiclass form: cov(y, p) = c*s - t.p, with t/p the per-class counts, c the correct, s the total.
  const s = n;
  const c = tp + tn;
  const t1 = tp + fn;
  const t0 = tn + fp;
  const p1 = tp + fp;
  const p0 = tn + fn;
  const covYtYp = c * s - (t0 * p0 + t1 * p1);
  const covYpYp = s * s - (p0 * p0 + p1 * p1);
  const covYtYt = s * s - (t0 * t0 + t1 * t1);
  if (covYpYp * covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

/** The DCG discounts of sklearn: 1 / log2(rank + 2) for the first `k` ranks, 0 after. */
function dcgDiscounts(n: number, k: number | undefined): Float64Array {
  const discount = new Float64Array(n);
  for (let i = 0; i < n && (k === undefined || i < k); i++) discount[i] = 1 / (Math.log(i + 2) / Math.log(2));
  return discount;
}

/**
 * NDCG of one ranking, as sklearn.metrics.ndcg_score([relevance], [scores], k): equal scores share the average
 * gain of their group (sklearn's default, ties not ignored), normalised by the DCG of the ideal order; 0 when every
 * relevance is 0. Relevances must be non-negative and there must be at least two values (sklearn raises otherwise).
 */
export function ndcgScore(relevance: ArrayLike<number>, scores: ArrayLike<number>, k?: number): number {
  const n = checkPair(relevance, scores, "ndcgScore");
  if (n < 2) throw new RangeError(`ndcgScore: needs at least two values, got ${n}`);
  if (k !== undefined && (!Number.isInteger(k) || k < 1)) throw new RangeError(`ndcgScore: k must be a positive integer, got ${k}`);
  for (let i = 0; i < n; i++) {
    if (!(relevance[i]! >= 0)) throw new RangeError(`ndcgScore: relevance[${i}] must be non-negative, got ${relevance[i]}`);
    if (Number.isNaN(scores[i]!)) throw new RangeError(`ndcgScore: scores[${i}] is NaN`);
  }
  const discount = dcgDiscounts(n, k);
  const cumulative = new Float64Array(n);
  for (let i = 0, s = 0; i < n; i++) cumulative[i] = s += discount[i]!;

  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let gain = 0;
  let start = 0;
  while (start < n) {
    let end = start;
    let groupRelevance = 0;
    while (end < n && scores[order[end]!] === scores[order[start]!]) groupRelevance += relevance[order[end++]!]!;
    const discountSum = cumulative[end - 1]! - (start > 0 ? cumulative[start - 1]! : 0);
    gain += (groupRelevance / (end - start)) * discountSum;
    start = end;
  }

  const ideal = Array.from(relevance).sort((a, b) => b - a);
  let idealGain = 0;
  for (let i = 0; i < n; i++) idealGain += ideal[i]! * discount[i]!;
  return idealGain === 0 ? 0 : gain / idealGain;
}

/**
 * F1 of integer class labels, as sklearn.metrics.f1_score(labels, predicted, average=...) over the classes that
 * occur in either: "macro" the mean of the per-class F1, "weighted" their mean weighted by each class's true
 * count, "micro" the F1 of the summed counts (the accuracy, for one label per sample).
 */
export function f1Score(labels: ArrayLike<number>, predicted: ArrayLike<number>, average: "macro" | "micro" | "weighted"): number {
  const n = checkPair(labels, predicted, "f1Score");
  if (n === 0) throw new RangeError("f1Score: no labels");
  const counts = new Map<number, { tp: number; truth: number; pred: number }>();
  const of = (c: number): { tp: number; truth: number; pred: number } => {
    let entry = counts.get(c);
    if (!entry) counts.set(c, (entry = { tp: 0, truth: 0, pred: 0 }));
    return entry;
  };
  for (let i = 0; i < n; i++) {
    of(labels[i]!).truth++;
    of(predicted[i]!).pred++;
    if (labels[i] === predicted[i]) of(labels[i]!).tp++;
  }
  const classes = [...counts.keys()].sort((a, b) => a - b).map((c) => counts.get(c)!);
  // 2tp / (truth + pred): a class present in either has a non-zero denominator.
  const f1 = (c: { tp: number; truth: number; pred: number }): number => (2 * c.tp) / (c.truth + c.pred);
  if (average === "micro") {
    return f1(classes.reduce((s, c) => ({ tp: s.tp + c.tp, truth: s.truth + c.truth, pred: s.pred + c.pred }), { tp: 0, truth: 0, pred: 0 }));
  }
  if (average === "macro") return classes.reduce((s, c) => s + f1(c), 0) / classes.length;
  return classes.reduce((s, c) => s + f1(c) * c.truth, 0) / n;
}
