"""sentence-transformers' own CrossEncoderTrainer as the oracle for sbert-node's (test/parity/crossEncoderTrainer.test.ts).

stdin: {"folder": a cross-encoder folder, "dataset": {column: [values]}, "loss": {"loss": a class of
        sentence_transformers.cross_encoder.losses, "options": keyword arguments (activation_fn as a short name)},
        "args": CrossEncoderTrainingArguments keyword arguments (Python names)}
       or, for the pre-v4 API, "fit": CrossEncoder.fit keyword arguments (Python names, activation_fct as a short name),
        with "dataset" holding sentence_0, sentence_1 and label, fed in order through a DataLoader of "batch_size"
stdout: {"log_history": trainer.state.log_history (not for fit), "weights": {Hugging Face key: flat list}} after training.
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
from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments, losses  # noqa: E402

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "identity": nn.Identity, "tanh": nn.Tanh}


def fit(req):
    model = CrossEncoder(req["folder"], device="cpu")
    data = req["dataset"]
    examples = [InputExample(texts=[a, b], label=l) for a, b, l in zip(data["sentence_0"], data["sentence_1"], data["label"])]
    kwargs = dict(req["fit"])
    if "activation_fct" in kwargs:
        kwargs["activation_fct"] = ACTIVATIONS[kwargs["activation_fct"]]()
    # fit's trainer writes under ./checkpoints: keep it out of the caller's folder.
    with tempfile.TemporaryDirectory() as work:
        cwd = os.getcwd()
        os.chdir(work)
        try:
            model.fit(TorchDataLoader(examples, batch_size=req["batch_size"], shuffle=False), show_progress_bar=False, **kwargs)
        finally:
            os.chdir(cwd)
    weights = {k: v.detach().to(torch.float64).flatten().tolist() for k, v in model.model.state_dict().items() if v.is_floating_point()}
    return {"weights": weights}


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
