"""sentence-transformers itself on a model folder: the anchor the architecture parity tests compare against.

stdin: {"folder", "texts", "batch_size"?, "output_value"?: "sentence_embedding" | "token_embeddings", "token_embeddings"?: bool,
        "grad"?: {"sentences1", "sentences2", "labels"}}
stdout: {"embeddings": [...]} (per text: a vector, or the token vectors of its real tokens; with "token_embeddings"
        also those, as "token_embeddings"), and with "grad":
        {"loss", "grads": {checkpoint key: flat gradient}} of CosineSimilarityLoss over one batch in train mode
        (the folder's dropout set to 0 by the caller), keys as the encoder's checkpoint spells them.
A list of such objects runs each in turn and prints the list of results.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss


def run(spec):
    model = SentenceTransformer(spec["folder"], device="cpu")
    out = {}
    if "texts" in spec:
        output_value = spec.get("output_value", "sentence_embedding")
        emb = model.encode(spec["texts"], batch_size=spec.get("batch_size", 8), output_value=output_value, convert_to_numpy=False)
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
