"""Reference results for test/parity/util.test.ts, computed with torch / numpy from sentence-transformers'
formulas (sentence-transformers itself is not installed).

stdin: {"tasks": [{"op": ..., ...}]}; stdout: {"results": [...]} in the same order.
Embeddings arrive as lists of float32 values and are rebuilt as float32 arrays.
"""
import json
import queue
import sys

import numpy as np
import torch
import torch.nn.functional as F


def f32(rows):
    return np.asarray(rows, dtype=np.float32)


def similarity(task):
    a32 = torch.from_numpy(f32(task["a"]))
    b32 = torch.from_numpy(f32(task["b"]))
    out = {}
    for tag, a, b in (("f64", a32.double(), b32.double()), ("f32", a32, b32)):
        an = F.normalize(a, p=2, dim=1)
        bn = F.normalize(b, p=2, dim=1)
        out[tag] = {
            "cos": torch.mm(an, bn.T).tolist(),
            "dot": torch.mm(a, b.T).tolist(),
            "manhattan": (-torch.cdist(a, b, p=1.0)).tolist(),
            "euclidean": (-torch.cdist(a, b, p=2.0)).tolist(),
        }
        if a.shape[0] == b.shape[0]:
            out[tag]["pairwise"] = {
                "cos": (an * bn).sum(-1).tolist(),
                "dot": (a * b).sum(-1).tolist(),
                "manhattan": (-(a - b).abs().sum(-1)).tolist(),
                "euclidean": (-torch.sqrt(((a - b) ** 2).sum(-1))).tolist(),
            }
    return out


def quantize(task):
    # sentence-transformers quantize_embeddings (v5.4-v5.6), with packbits per row.
    emb = f32(task["embeddings"])
    precision = task["precision"]
    if precision in ("int8", "uint8"):
        if task.get("ranges") is not None:
            ranges = np.asarray(task["ranges"], dtype=np.float32 if task.get("rangesFloat32") else np.float64)
        elif task.get("calibration") is not None:
            cal = f32(task["calibration"])
            ranges = np.vstack((np.min(cal, axis=0), np.max(cal, axis=0)))
        else:
            ranges = np.vstack((np.min(emb, axis=0), np.max(emb, axis=0)))
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        steps = np.where(steps == 0, 1, steps)
        with np.errstate(invalid="ignore"):
            if precision == "uint8":
                q = ((emb - starts) / steps).astype(np.uint8)
            else:
                q = ((emb - starts) / steps - 128).astype(np.int8)
    elif precision == "binary":
        q = (np.packbits(emb > 0, axis=-1) - 128).astype(np.int8)
    elif precision == "ubinary":
        q = np.packbits(emb > 0, axis=-1)
    else:
        q = emb.astype(np.float32)
    return {"values": q.tolist(), "dtype": str(q.dtype)}


def score_matrix(name, q, c):
    q = q.astype(np.float64)
    c = c.astype(np.float64)
    if name == "cos":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        cn = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        return qn @ cn.T
    if name == "dot":
        return q @ c.T
    if name == "euclidean":
        return -np.sqrt(((q[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    raise ValueError(name)


def search(task):
    scores = score_matrix(task["score"], f32(task["queries"]), f32(task["corpus"]))
    k = task["topK"]
    out = []
    for row in scores:
        ids = np.argsort(-row, kind="stable")[:k]
        out.append([{"corpusId": int(i), "score": float(row[i])} for i in ids])
    return out


def community(task):
    # sentence-transformers community_detection (CPU path), with stable sorts for the top-k.
    emb = f32(task["embeddings"]).astype(np.float64)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    threshold = task["threshold"]
    min_size = min(task["minCommunitySize"], len(emb))
    extracted = []
    for start in range(0, len(emb), task["batchSize"]):
        scores = emb[start : start + task["batchSize"]] @ emb.T
        for row in scores:
            order = np.argsort(-row, kind="stable")
            if row[order[min_size - 1]] >= threshold:
                extracted.append(order[row[order] >= threshold])
    extracted = sorted(extracted, key=len, reverse=True)
    used = np.zeros(len(emb), dtype=bool)
    unique = []
    for comm in extracted:
        fresh = comm[~used[comm]]
        if len(fresh) >= min_size:
            unique.append(fresh)
            used[fresh] = True
    return [c.tolist() for c in sorted(unique, key=len, reverse=True)]


def paraphrase(task):
    # sentence-transformers paraphrase_mining_embeddings, numpy scores and stable top-k.
    emb = f32(task["embeddings"])
    top_k = task["topK"] + 1
    qcs, ccs, max_pairs = task["queryChunkSize"], task["corpusChunkSize"], task["maxPairs"]
    pairs = queue.PriorityQueue()
    min_score = -1
    num_added = 0
    for cs in range(0, len(emb), ccs):
        for qs in range(0, len(emb), qcs):
            scores = score_matrix(task["score"], emb[qs : qs + qcs], emb[cs : cs + ccs])
            k = min(top_k, scores.shape[1])
            for qi, row in enumerate(scores):
                for ci in np.argsort(-row, kind="stable")[:k]:
                    i, j = qs + qi, cs + int(ci)
                    if i != j and row[ci] > min_score:
                        pairs.put((float(row[ci]), i, j))
                        num_added += 1
                        if num_added >= max_pairs:
                            min_score = pairs.get()[0]
    seen = set()
    out = []
    while not pairs.empty():
        score, i, j = pairs.get()
        a, b = sorted([i, j])
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            out.append([score, a, b])
    return sorted(out, key=lambda x: x[0], reverse=True)


OPS = {"similarity": similarity, "quantize": quantize, "search": search, "community": community, "paraphrase": paraphrase}


def main():
    data = json.load(sys.stdin)
    json.dump({"results": [OPS[t["op"]](t) for t in data["tasks"]]}, sys.stdout)


if __name__ == "__main__":
    main()
