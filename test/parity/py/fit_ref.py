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
import os

from trainer_common import answer_stdin, fit_workdir, float_weights  # first: it quiets the libraries imported next
from torch.utils.data import DataLoader
from sentence_transformers import InputExample, SentenceTransformer
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator


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
    kwargs = dict(req["fit"])
    with fit_workdir() as (work, logs):
        model.fit(
            train_objectives=objectives,
            evaluator=evaluator,
            callback=lambda score, epoch, steps: calls.append([float(score), float(epoch), int(steps)]),
            show_progress_bar=False,
            **kwargs,
        )
        files = []
        for root, _dirs, names in os.walk(work):
            for name in names:
                files.append(os.path.relpath(os.path.join(root, name), work))
    return {"weights": float_weights(model[0].auto_model.state_dict()), "calls": calls, "log": logs, "files": sorted(files)}


if __name__ == "__main__":
    answer_stdin(run)
