"""sentence-transformers' SentenceTransformer.fit as the oracle for sbert-node's (test/parity/fit.test.ts).

stdin: {"folder": a model folder SentenceTransformer loads (a plain BERT folder: Transformer + mean pooling),
        "objectives": [{"examples": [[texts, label], ...], "batch_size": n, "loss": "CosineSimilarityLoss" |
                        "CoSENTLoss" | "MultipleNegativesRankingLoss"}, ...] (unshuffled DataLoaders),
        "evaluator": optional {"sentences1", "sentences2", "scores", "name"}: an EmbeddingSimilarityEvaluator,
        "fit": fit's keyword arguments (Python names) besides train_objectives, evaluator and callback;
               "output_path" and "checkpoint_path", when given, are taken under a temporary folder}
stdout: {"weights": {key: flat list} of model[0] after fit, "calls": [[score, epoch, steps] per callback call],
         "log": the trainer's log_history (losses and learning rates), "files": what fit wrote under the working
         directory and the output folders (relative paths, sorted)}
fit runs in a temporary working directory (its trainer's default output folder is ./checkpoints/model).
"""
import contextlib
import json
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from sentence_transformers import InputExample, SentenceTransformer  # noqa: E402
from sentence_transformers.sentence_transformer import losses  # noqa: E402
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator  # noqa: E402
from sentence_transformers.base.trainer import BaseTrainer  # noqa: E402


def main():
    req = json.load(sys.stdin)
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        answer = run(req)
    json.dump(answer, out)


def run(req):
    model = SentenceTransformer(req["folder"], device="cpu")
    objectives = []
    for spec in req["objectives"]:
        examples = [InputExample(texts=texts, label=label) for texts, label in spec["examples"]]
        objectives.append((DataLoader(examples, batch_size=spec["batch_size"], shuffle=False), getattr(losses, spec["loss"])(model)))
    evaluator = None
    if req.get("evaluator"):
        e = req["evaluator"]
        evaluator = EmbeddingSimilarityEvaluator(e["sentences1"], e["sentences2"], e["scores"], name=e.get("name", ""))
    calls = []
    # The trainer fit builds is not returned: keep its log_history as train() ends.
    logs = []
    original_train = BaseTrainer.train

    def train(self, *args, **kwargs):
        try:
            return original_train(self, *args, **kwargs)
        finally:
            logs.extend(self.state.log_history)

    BaseTrainer.train = train
    kwargs = dict(req["fit"])
    with tempfile.TemporaryDirectory() as work:
        cwd = os.getcwd()
        os.chdir(work)
        try:
            model.fit(
                train_objectives=objectives,
                evaluator=evaluator,
                callback=lambda score, epoch, steps: calls.append([float(score), float(epoch), int(steps)]),
                show_progress_bar=False,
                **kwargs,
            )
        finally:
            os.chdir(cwd)
            BaseTrainer.train = original_train
        files = []
        for root, _dirs, names in os.walk(work):
            for name in names:
                files.append(os.path.relpath(os.path.join(root, name), work))
    weights = {k: v.detach().to(torch.float64).flatten().tolist() for k, v in model[0].auto_model.state_dict().items() if v.is_floating_point()}
    return {"weights": weights, "calls": calls, "log": logs, "files": sorted(files)}


if __name__ == "__main__":
    main()
