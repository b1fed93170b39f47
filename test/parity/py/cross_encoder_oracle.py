"""sentence-transformers' CrossEncoder on a model folder: the anchor the cross-encoder parity tests compare against.

stdin: {"folder", "pairs", "batch_size"?, "apply_softmax"?, "activation_fn"?: torch class path,
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
from sentence_transformers import CrossEncoder
from sentence_transformers.util import fullname, import_from_string


def run(spec):
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


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(1)
    json.dump([run(s) for s in spec] if isinstance(spec, list) else run(spec), sys.stdout)


if __name__ == "__main__":
    main()
