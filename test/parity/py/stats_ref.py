"""Reference statistics for test/parity/stats.test.ts: scipy's pearsonr / spearmanr / rankdata, and numpy
re-derivations of scikit-learn's average precision and Matthews correlation (scikit-learn is not installed).

stdin: {"pairs": [{"x": [...], "y": [...]}], "ranks": [[...]], "ap": [{"labels": [...], "scores": [...]}],
        "mcc": [{"labels": [...], "predicted": [...]}]}
stdout: {"pairs": [{"pearson": r|null, "spearman": r|null}], "ranks": [[...]], "ap": [...], "mcc": [...]}
NaN is written as null (JSON has no NaN).
"""
import json
import math
import sys
import warnings

import numpy as np
from scipy import stats


def clean(v):
    v = float(v)
    return None if math.isnan(v) else v


def average_precision(labels, scores):
    # sklearn's precision_recall_curve + average_precision_score: one point per distinct score threshold.
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")[::-1]
    s = s[order]
    y = y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    if tps[-1] == 0:
        return -0.0
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mcc(labels, predicted):
    t = np.asarray(labels).astype(bool)
    p = np.asarray(predicted).astype(bool)
    tp = float(np.sum(t & p))
    tn = float(np.sum(~t & ~p))
    fp = float(np.sum(~t & p))
    fn = float(np.sum(t & ~p))
    denom = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return 0.0 if denom == 0 else (tp * tn - fp * fn) / math.sqrt(denom)


def main():
    data = json.load(sys.stdin)
    out = {"pairs": [], "ranks": [], "ap": [], "mcc": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in data.get("pairs", []):
            x = np.asarray(case["x"], dtype=np.float64)
            y = np.asarray(case["y"], dtype=np.float64)
            out["pairs"].append(
                {"pearson": clean(stats.pearsonr(x, y)[0]), "spearman": clean(stats.spearmanr(x, y)[0])}
            )
        for x in data.get("ranks", []):
            out["ranks"].append([clean(v) for v in stats.rankdata(np.asarray(x, dtype=np.float64))])
        for case in data.get("ap", []):
            out["ap"].append(average_precision(case["labels"], case["scores"]))
        for case in data.get("mcc", []):
            out["mcc"].append(mcc(case["labels"], case["predicted"]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
