"""sentence-transformers' own SentenceTransformerTrainer as the oracle for sbert-node's (test/parity/trainer.test.ts).

stdin: {"mode": "schedule" | "train",
        "folder": a model folder SentenceTransformer loads (a plain BERT folder: Transformer + mean pooling),
        "datasets": {name: {column: [values]}} (one entry: a single Dataset, more: a DatasetDict),
        "losses": {name: {"loss": a loss class name, "options": optional keyword arguments,
                  "guide": optional {"folder", "max_seq_length"} (GISTEmbedLoss's guide model),
                  "inner": optional, a loss as these (the loss AdaptiveLayerLoss / Matryoshka2dLoss wraps)}}
                  (one entry named "*": one loss for every dataset),
        "eval_datasets": optional, as "datasets": the evaluation dataset(s),
        "args": SentenceTransformerTrainingArguments keyword arguments (Python names),
        "freeze": optional, prefixes of the Transformer's parameter names set to requires_grad False,
        "epochs": schedule mode: how many epochs of batches to list}
stdout:
  schedule: {"epochs": [[[dataset index, [row indices in that dataset]], ...] per epoch], "length": len(dataloader)}
            read from the trainer's own train DataLoader (accelerate-prepared, set_epoch per epoch, as train() does)
  train:    {"log_history": trainer.state.log_history, "weights": {key: flat list}, "states": {"checkpoint-N":
            its trainer_state.json}} after trainer.train(), the weights being model[0]'s state dict (the checkpoint keys)
"""
import json
import os
import tempfile

from trainer_common import answer_stdin, float_weights  # first: it quiets the libraries imported next
from datasets import Dataset, DatasetDict
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer import losses


def run(req):
    model = SentenceTransformer(req["folder"], device="cpu")
    model.train()
    for name, param in model[0].auto_model.named_parameters():
        if any(name.startswith(prefix) for prefix in req.get("freeze", [])):
            param.requires_grad_(False)
    names = list(req["datasets"].keys())
    data = {n: Dataset.from_dict(cols) for n, cols in req["datasets"].items()}
    train_dataset = data[names[0]] if len(names) == 1 else DatasetDict(data)
    eval_dataset = None
    if req.get("eval_datasets"):
        evals = {n: Dataset.from_dict(cols) for n, cols in req["eval_datasets"].items()}
        eval_dataset = next(iter(evals.values())) if len(evals) == 1 else DatasetDict(evals)

    def make_loss(spec):
        options = dict(spec.get("options", {}))
        if "inner" in spec:
            # AdaptiveLayerLoss / Matryoshka2dLoss: the loss they wrap.
            return getattr(losses, spec["loss"])(model, make_loss(spec["inner"]), **options)
        if "guide" in spec:
            # GISTEmbedLoss / CachedGISTEmbedLoss: the guide model, from its own folder, with an optional max_seq_length.
            guide = SentenceTransformer(spec["guide"]["folder"], device="cpu")
            if "max_seq_length" in spec["guide"]:
                guide.max_seq_length = spec["guide"]["max_seq_length"]
            options["guide"] = guide
        return getattr(losses, spec["loss"])(model, **options)

    if "*" in req["losses"]:
        loss = make_loss(req["losses"]["*"])
    else:
        loss = {n: make_loss(s) for n, s in req["losses"].items()}

    with tempfile.TemporaryDirectory() as output_dir:
        args = SentenceTransformerTrainingArguments(output_dir=output_dir, report_to="none", use_cpu=True, disable_tqdm=True, **req["args"])
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, loss=loss)
        if req["mode"] == "schedule":
            loader = trainer.get_train_dataloader()
            sizes = [len(data[n]) for n in names]
            offsets = [sum(sizes[:i]) for i in range(len(sizes))]
            epochs = []
            for epoch in range(req["epochs"]):
                loader.set_epoch(epoch)
                batches = []
                for batch in loader.batch_sampler:
                    d = max(i for i in range(len(offsets)) if batch[0] >= offsets[i])
                    batches.append([d, [int(i) - offsets[d] for i in batch]])
                epochs.append(batches)
            return {"epochs": epochs, "length": len(loader)}
        trainer.train()
        weights = float_weights(model[0].auto_model.state_dict())
        states = {}
        for name in sorted(os.listdir(output_dir)):
            path = os.path.join(output_dir, name, "trainer_state.json")
            if name.startswith("checkpoint-") and os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    states[name] = json.load(f)
        return {"log_history": trainer.state.log_history, "weights": weights, "states": states}


if __name__ == "__main__":
    answer_stdin(run)
