"""sentence-transformers' own distillation losses (MarginMSELoss, DistillKLDivLoss and their sparse versions) on
given embeddings: the loss classes' compute_loss_from_embeddings in float64, autograd for the gradients.

stdin:  a JSON list of {"loss": class name, "options": {similarity_fct: "dot" | "cosine", temperature,
         student_temperature, teacher_temperature}, "embeddings": [2-D list per text column],
         "labels": list | 2-D list, numbers or the string "-inf" (a candidate the teacher leaves out)}
stdout: a JSON list of {"loss": x, "grads": [2-D list per column]}
"""
import json
import sys

import torch

from sentence_transformers import util
from sentence_transformers.sentence_transformer.losses import DistillKLDivLoss, MarginMSELoss
from sentence_transformers.sparse_encoder.losses import SparseDistillKLDivLoss, SparseMarginMSELoss

CLASSES = {
    "MarginMSELoss": MarginMSELoss,
    "DistillKLDivLoss": DistillKLDivLoss,
    "SparseMarginMSELoss": SparseMarginMSELoss,
    "SparseDistillKLDivLoss": SparseDistillKLDivLoss,
}
SIMILARITY = {"dot": util.pairwise_dot_score, "cosine": util.pairwise_cos_sim}


def run(request):
    options = dict(request.get("options", {}))
    if "similarity_fct" in options:
        options["similarity_fct"] = SIMILARITY[options["similarity_fct"]]
    # The losses only keep the model; scoring from given embeddings never calls it.
    loss_fn = CLASSES[request["loss"]](None, **options)
    embeddings = [torch.tensor(e, dtype=torch.float64, requires_grad=True) for e in request["embeddings"]]
    labels = request["labels"]
    labels = [[float(v) for v in row] if isinstance(row, list) else float(row) for row in labels]
    labels = torch.tensor(labels, dtype=torch.float64)
    loss = loss_fn.compute_loss_from_embeddings(embeddings, labels)
    loss.backward()
    return {"loss": loss.item(), "grads": [e.grad.tolist() for e in embeddings], "config": loss_fn.get_config_dict()}


def main():
    requests = json.load(sys.stdin)
    json.dump([run(r) for r in requests], sys.stdout)


if __name__ == "__main__":
    main()
