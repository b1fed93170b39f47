"""sentence-transformers' own CrossEncoderTrainer as the oracle for sbert-node's (test/parity/crossEncoderTrainer.test.ts).

stdin: {"folder": a cross-encoder folder, "dataset": {column: [values]}, "loss": {"loss": a class of
        sentence_transformers.cross_encoder.losses, "options": keyword arguments (activation_fn as a short name)},
        "args": CrossEncoderTrainingArguments keyword arguments (Python names)}
       or, for the pre-v4 API, "fit": CrossEncoder.fit keyword arguments (Python names, activation_fct as a short name;
        output_path relative to the working directory), with "dataset" holding sentence_0, sentence_1 and label, fed
        in order through a DataLoader of "batch_size"; optional "evaluator": {"pairs", "scores", "name"} (a
        CrossEncoderCorrelationEvaluator) and "prefill": files to write in the working directory first
stdout: {"log_history": trainer.state.log_history, "weights": {Hugging Face key: flat list}} after training; for fit
        also "evaluations": [[output_path, epoch, steps] per evaluator call], "calls": [[score, epoch, steps] per
        callback call] and "paths": the folders (with a trailing /) and files under the working directory after fit.
fit runs in an empty temporary working directory (its trainer's default output folder is ./checkpoints/model).
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
from datasets import Dataset  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader as TorchDataLoader  # noqa: E402
from sentence_transformers import InputExample  # noqa: E402
from sentence_transformers.base.trainer import BaseTrainer  # noqa: E402
from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments, losses  # noqa: E402
from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator  # noqa: E402

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "identity": nn.Identity, "tanh": nn.Tanh}


def fit(req):
    model = CrossEncoder(req["folder"], device="cpu")
    data = req["dataset"]
    examples = [InputExample(texts=[a, b], label=l) for a, b, l in zip(data["sentence_0"], data["sentence_1"], data["label"])]
    kwargs = dict(req["fit"])
    if "activation_fct" in kwargs:
        kwargs["activation_fct"] = ACTIVATIONS[kwargs["activation_fct"]]()
    evaluations = []
    calls = []
    if req.get("evaluator"):
        e = req["evaluator"]

        class Recorded(CrossEncoderCorrelationEvaluator):
            def __call__(self, model, output_path=None, epoch=-1, steps=-1):
                evaluations.append([output_path, float(epoch), int(steps)])
                return super().__call__(model, output_path=output_path, epoch=epoch, steps=steps)

        kwargs["evaluator"] = Recorded([tuple(p) for p in e["pairs"]], e["scores"], name=e["name"])
        kwargs["callback"] = lambda score, epoch, steps: calls.append([float(score), float(epoch), int(steps)])
    # The trainer fit builds is not returned: keep its log_history as train() ends.
    logs = []
    original_train = BaseTrainer.train

    def train(self, *args, **kw):
        try:
            return original_train(self, *args, **kw)
        finally:
            logs.extend(self.state.log_history)

    BaseTrainer.train = train
    with tempfile.TemporaryDirectory() as work:
        cwd = os.getcwd()
        os.chdir(work)
        try:
            for name in req.get("prefill", []):
                os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
                with open(name, "w") as f:
                    f.write("taken\n")
            model.fit(TorchDataLoader(examples, batch_size=req["batch_size"], shuffle=False), show_progress_bar=False, **kwargs)
        finally:
            os.chdir(cwd)
            BaseTrainer.train = original_train
        paths = []
        for root, dirs, names in os.walk(work):
            paths += [os.path.relpath(os.path.join(root, d), work) + "/" for d in dirs]
            paths += [os.path.relpath(os.path.join(root, n), work) for n in names]
    weights = {k: v.detach().to(torch.float64).flatten().tolist() for k, v in model.model.state_dict().items() if v.is_floating_point()}
    return {"weights": weights, "log_history": logs, "evaluations": evaluations, "calls": calls, "paths": sorted(paths)}


def run(req):
    if "fit" in req:
        return fit(req)
    model = CrossEncoder(req["folder"], device="cpu")
    options = dict(req["loss"].get("options", {}))
    if "activation_fn" in options:
        options["activation_fn"] = ACTIVATIONS[options["activation_fn"]]()
    loss = getattr(losses, req["loss"]["loss"])(model, **options)
    with tempfile.TemporaryDirectory() as output_dir:
        args = CrossEncoderTrainingArguments(output_dir=output_dir, report_to="none", use_cpu=True, disable_tqdm=True, **req["args"])
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=Dataset.from_dict(req["dataset"]), loss=loss)
        trainer.train()
    weights = {k: v.detach().to(torch.float64).flatten().tolist() for k, v in model.model.state_dict().items() if v.is_floating_point()}
    return {"log_history": trainer.state.log_history, "weights": weights}


def main():
    req = json.load(sys.stdin)
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        answer = run(req)
    json.dump(answer, out)


if __name__ == "__main__":
    main()
