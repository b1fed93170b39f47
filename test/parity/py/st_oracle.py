"""sentence-transformers itself on a model folder: the anchor the architecture parity tests compare against.

stdin: {"folder", "texts", "batch_size"?, "output_value"?: "sentence_embedding" | "token_embeddings", "token_embeddings"?: bool,
        "prompt_name"?: str, "float32"?: bool (compute in float32 whatever the stored dtype), "grad"?: {"sentences1", "sentences2", "labels"}}
stdout: {"embeddings": [...]} (per text: a vector, or the token vectors of its real tokens; with "token_embeddings"
        also those, as "token_embeddings"), and with "grad":
        {"loss", "grads": {checkpoint key: flat gradient}} of CosineSimilarityLoss over one batch in train mode
        (the folder's dropout set to 0 by the caller), keys as the encoder's checkpoint spells them.
With "cross_encoder": true the folder is a CrossEncoder:
stdin: {"folder", "cross_encoder": true, "pairs", "batch_size"?, "apply_softmax"?, "activation_fn"?: torch class path,
        "rank"?: {"query", "documents", "top_k"?, "return_documents"?}}
stdout: {"scores": predict's array as a list, "logits": the scores with the identity activation, "num_labels",
         "max_length", "activation_fn": the model's, as a class path, "rank"?: rank's list}
A list of such objects runs each in turn and prints the list of results.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

import torch
from sentence_transformers import CrossEncoder, SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from sentence_transformers.util import fullname, import_from_string


def cross_encoder(spec):
    model = CrossEncoder(spec["folder"], device="cpu")
    kwargs = {"batch_size": spec.get("batch_size", 32), "apply_softmax": spec.get("apply_softmax", False)}
    if spec.get("activation_fn"):
        kwargs["activation_fn"] = import_from_string(spec["activation_fn"])()
    out = {
        "num_labels": model.num_labels,
        "max_length": model.max_seq_length,
        "activation_fn": fullname(model.activation_fn),
        "scores": model.predict(spec["pairs"], **kwargs).tolist(),
        "logits": model.predict(spec["pairs"], batch_size=kwargs["batch_size"], activation_fn=torch.nn.Identity()).tolist(),
    }
    if "rank" in spec:
        r = spec["rank"]
        out["rank"] = model.rank(r["query"], r["documents"], top_k=r.get("top_k"), return_documents=r.get("return_documents", False), batch_size=kwargs["batch_size"])
    return out


def run(spec):
    if spec.get("cross_encoder"):
        return cross_encoder(spec)
    # "float32": compute in float32 whatever dtype the weights are stored in.
    kwargs = {"model_kwargs": {"dtype": torch.float32}} if spec.get("float32") else {}
    model = SentenceTransformer(spec["folder"], device="cpu", **kwargs)
    out = {}
    if "texts" in spec:
        output_value = spec.get("output_value", "sentence_embedding")
        kwargs = {"prompt_name": spec["prompt_name"]} if spec.get("prompt_name") else {}
        emb = model.encode(spec["texts"], batch_size=spec.get("batch_size", 8), output_value=output_value, convert_to_numpy=False, **kwargs)
        out["embeddings"] = [e.float().tolist() for e in emb]
        if spec.get("token_embeddings"):
            tokens = model.encode(spec["texts"], batch_size=spec.get("batch_size", 8), output_value="token_embeddings", convert_to_numpy=False)
            out["token_embeddings"] = [e.float().tolist() for e in tokens]
    if "grad" in spec:
        g = spec["grad"]
        model.train()
        loss = CosineSimilarityLoss(model)
        value = loss([model.preprocess(g["sentences1"]), model.preprocess(g["sentences2"])], torch.tensor(g["labels"], dtype=torch.float32))
        value.backward()
        encoder = model[0].model if hasattr(model[0], "model") else model[0].auto_model
        out["loss"] = float(value)
        out["grads"] = {n: p.grad.reshape(-1).tolist() for n, p in encoder.named_parameters() if p.grad is not None}
    return out


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(1)
    json.dump([run(s) for s in spec] if isinstance(spec, list) else run(spec), sys.stdout)


if __name__ == "__main__":
    main()
