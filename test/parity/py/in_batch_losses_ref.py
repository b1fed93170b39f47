"""sentence-transformers' own GISTEmbedLoss, CachedGISTEmbedLoss and MegaBatchMarginLoss on given embeddings, in
float64.

Each loss is built by its own constructor around a model and a guide loaded from `folder` (so its checks and
defaults are Python's); then, for GISTEmbedLoss, the model and the guide are swapped for modules that return the
given embeddings of each column and forward() runs as in training; for CachedGISTEmbedLoss, calculate_loss runs on
the given embeddings cut into its mini-batches; MegaBatchMarginLoss's calculate_loss takes the embeddings whole.
Autograd gives the gradients.

stdin:  {"folder": a model folder, "cases": [{"loss": class name, "options": keyword arguments,
         "embeddings": [2-D list per column], "guide": [2-D list per column] (the GIST losses)}]}
stdout: a JSON list of {"loss": x, "grads": [2-D list per column], "config": get_config_dict() without the guide}
"""
import json
import sys

import torch
from torch import nn

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CachedGISTEmbedLoss, GISTEmbedLoss, MegaBatchMarginLoss


class Columns(nn.Module):
    """Returns the given embedding of the column a feature dict names."""

    def __init__(self, tensors):
        super().__init__()
        self.tensors = tensors

    def forward(self, features):
        return {"sentence_embedding": self.tensors[features["column"]]}


def run(case, model, guide):
    embeddings = [torch.tensor(e, dtype=torch.float64, requires_grad=True) for e in case["embeddings"]]
    if case["loss"] == "MegaBatchMarginLoss":
        loss_fn = MegaBatchMarginLoss(model, **case.get("options", {}))
        loss = loss_fn.calculate_loss([[e] for e in embeddings])
        loss.backward()
        return {"loss": loss.item(), "grads": [e.grad.tolist() for e in embeddings], "config": loss_fn.get_config_dict()}
    cls = {"GISTEmbedLoss": GISTEmbedLoss, "CachedGISTEmbedLoss": CachedGISTEmbedLoss}[case["loss"]]
    loss_fn = cls(model, guide, **case.get("options", {}))
    guided = [torch.tensor(g, dtype=torch.float64) for g in case["guide"]]
    if cls is GISTEmbedLoss:
        loss_fn.model = Columns(embeddings)
        loss_fn.guide = Columns(guided)
        loss_fn.must_retokenize = False
        loss = loss_fn([{"column": c} for c in range(len(embeddings))], None)
    else:
        mb = loss_fn.mini_batch_size
        cut = lambda ts: [list(t.split(mb)) for t in ts]  # noqa: E731
        loss = loss_fn.calculate_loss(cut(embeddings), cut(guided))
    loss.backward()
    config = {k: v for k, v in loss_fn.get_config_dict().items() if k != "guide"}
    return {"loss": loss.item(), "grads": [e.grad.tolist() for e in embeddings], "config": config}


def main():
    req = json.load(sys.stdin)
    model = SentenceTransformer(req["folder"], device="cpu")
    guide = SentenceTransformer(req["folder"], device="cpu")
    json.dump([run(c, model, guide) for c in req["cases"]], sys.stdout)


if __name__ == "__main__":
    main()
