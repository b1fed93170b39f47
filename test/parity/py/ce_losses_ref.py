"""sentence-transformers' own cross-encoder losses as the oracle for sbert-node's (test/parity/crossEncoderLosses.test.ts),
on given logits: the model's forward is replaced by a lookup of each (text, text) pair's logits in a table of leaf
tensors, so the loss classes run unchanged from their inputs and labels to the value, and autograd gives each pair's
gradient.

stdin: {"folders": {"1": a one-label cross-encoder folder, "3": a three-label one},
        "cases": [{"loss": class name, "options": keyword arguments (activation_fn as a short name or null,
                   weighting_scheme as a class name or null, with "mu" for NDCGLoss2PPScheme), "num_labels": 1 | 3,
                   "inputs": columns (lists of texts, or lists of lists of texts), "labels": list | null,
                   "table": {"<text>\\u0000<text>": [logits]}}]}
stdout: [{"loss": value, "grads": {key: [gradient]}}] per case.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from sentence_transformers.cross_encoder import CrossEncoder  # noqa: E402
from sentence_transformers.cross_encoder import losses  # noqa: E402
import sentence_transformers.cross_encoder.losses.lambda_loss as lambda_loss  # noqa: E402

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "identity": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}


def options_for(case):
    out = {}
    options = dict(case.get("options", {}))
    # NDCGLoss2PPScheme's mu belongs to the scheme object.
    mu = options.pop("mu", None)
    for key, value in options.items():
        if key == "activation_fn":
            out[key] = None if value is None else ACTIVATIONS[value]()
        elif key == "weighting_scheme":
            out[key] = None if value is None else getattr(lambda_loss, value)(**({"mu": mu} if mu is not None else {}))
        elif key == "pos_weight":
            out[key] = torch.tensor(value)
        else:
            out[key] = value
    return out


def labels_for(case):
    labels = case["labels"]
    name = case["loss"]
    if labels is None:
        return torch.zeros(len(case["inputs"][0]))
    if name in ("ListNetLoss", "LambdaLoss"):
        return [torch.tensor(row, dtype=torch.float32) for row in labels]
    if name == "CrossEntropyLoss":
        return torch.tensor(labels, dtype=torch.long)
    return torch.tensor(labels, dtype=torch.float32)


def run(models, case):
    model = models[str(case["num_labels"])]
    keys = list(case["table"].keys())
    index = {k: i for i, k in enumerate(keys)}
    table = torch.tensor([case["table"][k] for k in keys], dtype=torch.float32, requires_grad=True)
    model.preprocess = lambda pairs, prompt=None, task=None: {"pairs": [f"{a}\u0000{b}" for a, b in pairs]}
    model.forward = lambda features: {"scores": table[torch.tensor([index[k] for k in features["pairs"]], dtype=torch.long)]}
    loss_fn = getattr(losses, case["loss"])(model, **options_for(case))
    inputs = [list(c) for c in case["inputs"]]
    loss = loss_fn(inputs, labels_for(case))
    loss.backward()
    grads = {k: table.grad[index[k]].tolist() for k in keys} if table.grad is not None else {}
    return {"loss": loss.item(), "grads": grads}


def main():
    req = json.load(sys.stdin)
    models = {n: CrossEncoder(folder, device="cpu") for n, folder in req["folders"].items()}
    json.dump([run(models, case) for case in req["cases"]], sys.stdout)


if __name__ == "__main__":
    main()
