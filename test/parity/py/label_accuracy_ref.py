"""sentence-transformers' own LabelAccuracyEvaluator on a saved model: the reference for test/parity/labelAccuracy.test.ts.

stdin: {"folder": a model folder SentenceTransformer loads,
        "examples": [{"texts": [a, b], "label": class}, ...],
        "loss": SoftmaxLoss keyword arguments (num_labels, concatenation_*),
        "weight": the classifier's weight as nested lists [num_labels][in_features], "bias": [num_labels],
        "batch_size": the DataLoader's batch size, "name": the evaluator's name,
        "output_path": a folder for the CSV, "calls": [{"epoch", "steps"}, ...]}
stdout: {"metrics": per call, "primary_metric", "csv_file", "csv": the CSV file's text after all calls,
         "predictions": the classifier's argmax per example, "margins": per example, its top logit minus the next}
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from sentence_transformers import InputExample, SentenceTransformer  # noqa: E402
from sentence_transformers.sentence_transformer.evaluation import LabelAccuracyEvaluator  # noqa: E402
from sentence_transformers.sentence_transformer.losses import SoftmaxLoss  # noqa: E402


def main():
    req = json.load(sys.stdin)
    model = SentenceTransformer(req["folder"], device="cpu")
    loss = SoftmaxLoss(model, model.get_embedding_dimension(), **req["loss"])
    with torch.no_grad():
        weight = torch.tensor(req["weight"], dtype=torch.float32)
        bias = torch.tensor(req["bias"], dtype=torch.float32)
        if weight.shape != loss.classifier.weight.shape or bias.shape != loss.classifier.bias.shape:
            raise SystemExit(f"classifier shapes {tuple(weight.shape)}, {tuple(bias.shape)} do not fit {loss.classifier}")
        loss.classifier.weight.copy_(weight)
        loss.classifier.bias.copy_(bias)
    loss.eval()

    examples = [InputExample(texts=e["texts"], label=e["label"]) for e in req["examples"]]
    loader = DataLoader(examples, batch_size=req["batch_size"], shuffle=False)
    evaluator = LabelAccuracyEvaluator(loader, name=req["name"], softmax_model=loss)
    metrics = [evaluator(model, output_path=req["output_path"], epoch=c["epoch"], steps=c["steps"]) for c in req["calls"]]
    with open(os.path.join(req["output_path"], evaluator.csv_file), newline="", encoding="utf-8") as f:
        csv_text = f.read()

    # The logits the evaluator took its argmax of, batch by batch as it does, to show how close each decision was.
    predictions, margins = [], []
    loader.collate_fn = model.smart_batching_collate
    with torch.no_grad():
        for features, _ in loader:
            _, logits = loss(features, labels=None)
            top = torch.topk(logits, 2, dim=1).values
            predictions += torch.argmax(logits, dim=1).tolist()
            margins += (top[:, 0] - top[:, 1]).tolist()

    json.dump(
        {"metrics": metrics, "primary_metric": evaluator.primary_metric, "csv_file": evaluator.csv_file, "csv": csv_text,
         "predictions": predictions, "margins": margins},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
