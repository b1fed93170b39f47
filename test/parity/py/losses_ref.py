"""Independent reference for sentence-transformers' training losses: plain PyTorch (float64), written from the
definitions in sentence_transformers/losses (v5.x / v6.0), autograd for the gradients. Nothing is shared with
the library under test.

stdin:  {"spec": NativeLossSpec (see types/native.d.ts),
         "embeddings": [2-D list per text column],
         "labels": list | 2-D list | null,
         "head": {"weight": 2-D list, "bias": list} | null}         (SoftmaxLoss's classifier)
stdout: {"loss": x, "grads": [2-D list per column], "headGrads"?: {"weight": 2-D list, "bias": list}}
        A JSON list of such requests on stdin gives the list of their results (one interpreter start).

Options a spec leaves out take sentence-transformers' defaults for that loss (scale 20, ContrastiveLoss and
OnlineContrastiveLoss: cosine distance and margin 0.5, TripletLoss and BatchHardTripletLoss: euclidean distance
and margin 5, ...). `miniBatchSize` (the gradient cache) does not change the loss or its gradient and is
ignored. `matryoshkaDimsPerStep` below the number of dimensions samples dimensions at random and is refused.

`compute_loss(spec, embeddings, labels, head)` is imported by train_ref.py.
"""
import json
import sys

import torch
import torch.nn.functional as F


def fail(msg):
    sys.stderr.write("losses_ref.py: " + msg + "\n")
    sys.exit(2)


# ---------------------------------------------------------------- similarity / distance functions (sbert util)

def normalize_embeddings(x):
    # util.normalize_embeddings: F.normalize, p=2 over the last dimension (eps 1e-12)
    return F.normalize(x, p=2, dim=1)


def cos_sim(a, b):
    return torch.mm(normalize_embeddings(a), normalize_embeddings(b).transpose(0, 1))


def dot_score(a, b):
    return torch.mm(a, b.transpose(0, 1))


def pairwise_cos_sim(a, b):
    return (normalize_embeddings(a) * normalize_embeddings(b)).sum(dim=-1)


def pairwise_angle_sim(x, y):
    # util.pairwise_angle_sim: halves of each embedding are the real and imaginary parts of a complex vector.
    a, b = torch.chunk(x, 2, dim=1)
    c, d = torch.chunk(y, 2, dim=1)
    z = torch.sum(c ** 2 + d ** 2, dim=1, keepdim=True)
    re = (a * c + b * d) / z
    im = (b * c - a * d) / z
    dz = torch.sum(a ** 2 + b ** 2, dim=1, keepdim=True) ** 0.5
    dw = torch.sum(c ** 2 + d ** 2, dim=1, keepdim=True) ** 0.5
    re = re / (dz / dw)
    im = im / (dz / dw)
    return torch.abs(torch.sum(torch.cat((re, im), dim=1), dim=1))


def siamese_distance(name, x, y):
    """ContrastiveLoss / OnlineContrastiveLoss: SiameseDistanceMetric."""
    if name == "euclidean":
        return F.pairwise_distance(x, y, p=2)
    if name == "manhattan":
        return F.pairwise_distance(x, y, p=1)
    if name == "cosine":
        return 1 - F.cosine_similarity(x, y)
    fail("unknown distance " + repr(name))


def triplet_distance(name, x, y):
    """TripletLoss: TripletDistanceMetric (as in 6.0: positive distances)."""
    if name == "cosine":
        return 1 - pairwise_cos_sim(x, y)
    if name == "euclidean":
        return torch.sqrt(torch.sum((x - y) ** 2, dim=-1))
    if name == "manhattan":
        return torch.sum(torch.abs(x - y), dim=-1)
    fail("unknown distance " + repr(name))


def batch_hard_euclidean(e):
    """BatchHardTripletLossDistanceFunction.eucledian_distance (squared=False)."""
    dot = torch.matmul(e, e.t())
    sq = torch.diag(dot)
    d = sq.unsqueeze(0) - 2.0 * dot + sq.unsqueeze(1)
    d = d.masked_fill(d < 0, 0.0)  # distances[distances < 0] = 0
    mask = d.eq(0).to(d.dtype)
    d = d + mask * 1e-16
    return (1.0 - mask) * torch.sqrt(d)


# ---------------------------------------------------------------- losses

def cosent(scores, labels, scale):
    scores = scores * scale
    scores = scores[:, None] - scores[None, :]
    order = (labels[:, None] < labels[None, :]).to(scores.dtype)
    scores = scores - (1 - order) * 1e12
    scores = torch.cat((torch.zeros(1, dtype=scores.dtype), scores.view(-1)), dim=0)
    return torch.logsumexp(scores, dim=0)


def ranking_scores(spec, a, b):
    sim = spec.get("similarity", "cosine")
    if sim == "cosine":
        return cos_sim(a, b)
    if sim == "dot":
        return dot_score(a, b)
    fail("unknown similarity " + repr(sim))


def need_columns(e, n, name):
    if len(e) != n:
        fail("%s takes %d columns, got %d" % (name, n, len(e)))


def base_loss(spec, e, labels, head):
    kind = spec["loss"]
    scale = spec.get("scale", 20.0)
    if kind == "CosineSimilarityLoss":
        need_columns(e, 2, kind)
        out = torch.cosine_similarity(e[0], e[1])
        if spec.get("cosScoreTransformation", "identity") == "relu":
            out = torch.relu(out)
        target = labels.view(-1)
        fct = spec.get("lossFct", "mse")
        if fct == "mse":
            return F.mse_loss(out, target)
        if fct == "l1":
            return F.l1_loss(out, target)
        fail("unknown lossFct " + repr(fct))
    if kind == "CoSENTLoss":
        need_columns(e, 2, kind)
        return cosent(pairwise_cos_sim(e[0], e[1]), labels.view(-1), scale)
    if kind == "AnglELoss":
        need_columns(e, 2, kind)
        return cosent(pairwise_angle_sim(e[0], e[1]), labels.view(-1), scale)
    if kind == "MultipleNegativesRankingLoss":
        anchors, candidates = e[0], torch.cat(e[1:], dim=0)
        scores = ranking_scores(spec, anchors, candidates) * scale
        return F.cross_entropy(scores, torch.arange(anchors.size(0)))
    if kind == "MultipleNegativesSymmetricRankingLoss":
        anchors, candidates = e[0], torch.cat(e[1:], dim=0)
        n = anchors.size(0)
        forward = ranking_scores(spec, anchors, candidates) * scale
        backward = forward[:, :n].T
        target = torch.arange(n)
        return (F.cross_entropy(forward, target) + F.cross_entropy(backward, target)) / 2
    if kind == "SoftmaxLoss":
        need_columns(e, 2, kind)
        if head is None:
            fail("SoftmaxLoss needs a head")
        u, v = e
        parts = []
        if spec.get("concatRep", True):
            parts += [u, v]
        if spec.get("concatDiff", True):
            parts.append(torch.abs(u - v))
        if spec.get("concatMul", False):
            parts.append(u * v)
        logits = F.linear(torch.cat(parts, 1), head["weight"], head["bias"])
        return F.cross_entropy(logits, labels.view(-1).long())
    if kind == "ContrastiveLoss":
        need_columns(e, 2, kind)
        d = siamese_distance(spec.get("distance", "cosine"), e[0], e[1])
        y = labels.view(-1)
        margin = spec.get("margin", 0.5)
        losses = 0.5 * (y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2))
        return losses.mean() if spec.get("sizeAverage", True) else losses.sum()
    if kind == "OnlineContrastiveLoss":
        need_columns(e, 2, kind)
        d = siamese_distance(spec.get("distance", "cosine"), e[0], e[1])
        y = labels.view(-1)
        margin = spec.get("margin", 0.5)
        negs = d[y == 0]
        poss = d[y == 1]
        negative_pairs = negs[negs < (poss.max() if len(poss) > 1 else negs.mean())]
        positive_pairs = poss[poss > (negs.min() if len(negs) > 1 else poss.mean())]
        return positive_pairs.pow(2).sum() + F.relu(margin - negative_pairs).pow(2).sum()
    if kind == "TripletLoss":
        need_columns(e, 3, kind)
        name = spec.get("distance", "euclidean")
        margin = spec.get("margin", 5.0)
        return F.relu(triplet_distance(name, e[0], e[1]) - triplet_distance(name, e[0], e[2]) + margin).mean()
    if kind == "BatchHardTripletLoss":
        need_columns(e, 1, kind)
        x = e[0]
        y = labels.view(-1)
        name = spec.get("distance", "euclidean")
        if name == "euclidean":
            dist = batch_hard_euclidean(x)
        elif name == "cosine":
            dist = 1 - cos_sim(x, x)
        else:
            fail("BatchHardTripletLoss distance must be euclidean or cosine")
        n = y.size(0)
        same = y.unsqueeze(0) == y.unsqueeze(1)
        eye = torch.eye(n, dtype=torch.bool)
        pos_mask = (same & ~eye).to(dist.dtype)
        hardest_pos, _ = (pos_mask * dist).max(1, keepdim=True)
        neg_mask = (~same).to(dist.dtype)
        max_dist, _ = dist.max(1, keepdim=True)
        hardest_neg, _ = (dist + max_dist * (1.0 - neg_mask)).min(1, keepdim=True)
        tl = hardest_pos - hardest_neg + spec.get("margin", 5.0)
        tl = tl.masked_fill(tl < 0, 0.0)  # tl[tl < 0] = 0
        return tl.mean()
    if kind == "MSELoss":
        if len(e) > 1:
            return F.mse_loss(torch.cat(e, dim=0), labels.repeat(len(e), 1))
        return F.mse_loss(e[0], labels)
    fail("unknown loss " + repr(kind))


def compute_loss(spec, e, labels, head):
    dims = spec.get("matryoshkaDims")
    if not dims:
        return base_loss(spec, e, labels, head)
    weights = spec.get("matryoshkaWeights") or [1.0] * len(dims)
    per_step = spec.get("matryoshkaDimsPerStep", -1)
    if 0 < per_step < len(dims):
        fail("matryoshkaDimsPerStep samples dimensions at random; the reference cannot follow it")
    full = e[0].size(1)
    total = 0.0
    for dim, w in zip(dims, weights):
        # MatryoshkaLoss's shrink: truncate, then L2-normalise (F.normalize) each embedding.
        cut = [F.normalize(x[..., :dim], p=2, dim=-1) for x in e]
        # Labels that look like embeddings (2-D, the model's width) are truncated too.
        dim_labels = labels
        if labels is not None and labels.dim() == 2 and labels.size(-1) == full:
            dim_labels = labels[:, :dim]
        total = total + w * base_loss(spec, cut, dim_labels, head)
    return total


def solve(req):
    spec = req["spec"]
    embeddings = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in req["embeddings"]]
    labels = None if req.get("labels") is None else torch.tensor(req["labels"], dtype=torch.float64)
    head = None
    if req.get("head") is not None:
        head = {
            "weight": torch.tensor(req["head"]["weight"], dtype=torch.float64, requires_grad=True),
            "bias": torch.tensor(req["head"]["bias"], dtype=torch.float64, requires_grad=True),
        }
    loss = compute_loss(spec, embeddings, labels, head)
    loss.backward()
    out = {
        "loss": loss.item(),
        "grads": [(x.grad if x.grad is not None else torch.zeros_like(x)).tolist() for x in embeddings],
    }
    if head is not None:
        out["headGrads"] = {k: (v.grad if v.grad is not None else torch.zeros_like(v)).tolist() for k, v in head.items()}
    return out


def main():
    req = json.load(sys.stdin)
    torch.set_default_dtype(torch.float64)
    json.dump([solve(r) for r in req] if isinstance(req, list) else solve(req), sys.stdout)


if __name__ == "__main__":
    main()
