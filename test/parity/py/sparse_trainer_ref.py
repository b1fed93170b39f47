"""sentence-transformers' own SparseEncoderTrainer and SpladeLoss as the oracle for sbert-node's
(test/parity/sparseEncoderTrainer.test.ts).

stdin: {"folder": a SparseEncoder folder, "dataset": {column: [values]},
        "loss": {"inner": a class of sentence_transformers.sparse_encoder.losses, "options": its keyword arguments,
                 "splade": SpladeLoss keyword arguments} (null: the trainer's default loss),
        "callback": SpladeRegularizerWeightSchedulerCallback keyword arguments, or absent (the trainer adds the default),
        "args": SparseEncoderTrainingArguments keyword arguments (Python names)}
       or {"folder", "terms": [{"embeddings": [2-D list per column], "labels": list | null, "loss": as above}]}:
        SpladeLoss's parts computed by its own classes on the given embeddings, with the gradient of their sum.
stdout: {"log_history": trainer.state.log_history, "weights": {key: flat list} as the trained model saves them}
        or, for "terms", a list of {"terms": {name: value}, "loss": sum, "grads": [2-D list per column]}.
"""
import os
import tempfile

from trainer_common import answer_stdin, float_weights  # first: it quiets the libraries imported next
import torch
from datasets import Dataset
from safetensors.torch import load_file
from sentence_transformers.sparse_encoder import SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments, losses
from sentence_transformers.sparse_encoder.callbacks.splade_callbacks import SpladeRegularizerWeightSchedulerCallback


def make_loss(model, spec):
    inner = getattr(losses, spec["inner"])(model, **spec.get("options", {}))
    return losses.SpladeLoss(model, loss=inner, **spec["splade"])


def terms(model, req):
    out = []
    for case in req["terms"]:
        loss = make_loss(model, case["loss"])
        embeddings = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in case["embeddings"]]
        labels = None if case.get("labels") is None else torch.tensor(case["labels"], dtype=torch.float32)
        # SpladeLoss.forward after its embedding step, on these embeddings.
        parts = {"base_loss": loss.loss.compute_loss_from_embeddings(embeddings, labels)}
        docs = embeddings if loss.use_document_regularizer_only else embeddings[1:]
        parts["document_regularizer_loss"] = loss.document_regularizer.compute_loss_from_embeddings(torch.cat(docs)) * loss.document_regularizer_weight
        if loss.query_regularizer_weight is not None:
            parts["query_regularizer_loss"] = loss.query_regularizer.compute_loss_from_embeddings(embeddings[0]) * loss.query_regularizer_weight
        total = torch.stack(list(parts.values())).sum()
        total.backward()
        out.append({
            "terms": {k: v.item() for k, v in parts.items()},
            "loss": total.item(),
            "grads": [(x.grad if x.grad is not None else torch.zeros_like(x)).tolist() for x in embeddings],
        })
    return out


def run(req):
    model = SparseEncoder(req["folder"], device="cpu")
    if "terms" in req:
        return terms(model, req)
    loss = None if req.get("loss") is None else make_loss(model, req["loss"])
    with tempfile.TemporaryDirectory() as output_dir:
        args = SparseEncoderTrainingArguments(output_dir=output_dir, report_to="none", use_cpu=True, disable_tqdm=True, **req["args"])
        callbacks = None
        if "callback" in req:
            callbacks = [SpladeRegularizerWeightSchedulerCallback(loss, **req["callback"])]
        trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=Dataset.from_dict(req["dataset"]), loss=loss, callbacks=callbacks)
        trainer.train()
        saved = os.path.join(output_dir, "final")
        model.save(saved)
        weights = float_weights(load_file(os.path.join(saved, "model.safetensors")))
    return {"log_history": trainer.state.log_history, "weights": weights}


if __name__ == "__main__":
    answer_stdin(run)
