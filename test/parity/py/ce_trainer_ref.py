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
import os
import tempfile

from trainer_common import answer_stdin, fit_workdir, float_weights  # first: it quiets the libraries imported next
from datasets import Dataset
from torch import nn
from torch.utils.data import DataLoader as TorchDataLoader
from sentence_transformers import InputExample
from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments, losses
from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

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
    with fit_workdir() as (work, logs):
        for name in req.get("prefill", []):
            os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
            with open(name, "w") as f:
                f.write("taken\n")
        model.fit(TorchDataLoader(examples, batch_size=req["batch_size"], shuffle=False), show_progress_bar=False, **kwargs)
        paths = []
        for root, dirs, names in os.walk(work):
            paths += [os.path.relpath(os.path.join(root, d), work) + "/" for d in dirs]
            paths += [os.path.relpath(os.path.join(root, n), work) for n in names]
    return {"weights": float_weights(model.model.state_dict()), "log_history": logs, "evaluations": evaluations, "calls": calls, "paths": sorted(paths)}


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
    return {"log_history": trainer.state.log_history, "weights": float_weights(model.model.state_dict())}


if __name__ == "__main__":
    answer_stdin(run)
