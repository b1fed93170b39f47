"""sentence-transformers' own LayerNorm, Dropout, WeightedLayerPooling, WordEmbeddings, WordWeights, CNN and LSTM:
the folders test/parity/stModules.test.ts loads, and sentence-transformers' answers on them.

stdin: a list of jobs, run in turn in one Python process (each start costs seconds); stdout: the list of results.
  {"op": "build", "dir", "seed", "modules": [module, ...], "safe_serialization"?: bool}: a SentenceTransformer of
      these modules, random weights where the defaults would hide mistakes (layer weights, norms), saved by
      sentence-transformers (weights in pytorch_model.bin files with safe_serialization false) -> {"dir"}.
      module: {"type": "transformer", "spec": test/fixtures/hf_model.py's spec (its Transformer is used)}
            | {"type": "word_embeddings", "file": a GloVe-style text file, "update_embeddings"?, "do_lower_case"?}
            | {"type": "word_weights", "weights": {word: weight}, "unknown_word_weight"}
            | {"type": "pooling", "modes": [...]} | {"type": "dense", "out_features"} | {"type": "normalize"}
            | {"type": "layer_norm"} | {"type": "dropout", "p"} | {"type": "weighted_layer_pooling", "layer_start"}
            | {"type": "cnn", "out_channels", "kernel_sizes"}
            | {"type": "lstm", "hidden_dim", "num_layers", "dropout", "bidirectional"}
  {"op": "encode", "folder", "texts", "batch_size", "token_embeddings"?: bool}:
      SentenceTransformer(folder).encode -> {"embeddings", "token_embeddings"?}
  {"op": "tokenize", "folder", "texts"}: the first module's WhitespaceTokenizer -> {"ids": [[id, ...], ...]}
  {"op": "grad", "folder", "sentences1", "sentences2", "labels"}: one CosineSimilarityLoss backward in train mode ->
      {"loss", "grads": {module index: {key: flat gradient}}}, keys as each module's checkpoint spells them (a
      Transformer's without the model's prefix).
"""
import json
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from sentence_transformers.sentence_transformer.modules import (
    CNN,
    LSTM,
    Dense,
    Dropout,
    LayerNorm,
    Normalize,
    Pooling,
    WeightedLayerPooling,
    WordEmbeddings,
    WordWeights,
)
from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures"))
import hf_model  # noqa: E402


DIMENSION_METHODS = ("get_embedding_dimension", "get_sentence_embedding_dimension", "get_word_embedding_dimension")


def has_dimension(module):
    return any(hasattr(type(module), name) for name in DIMENSION_METHODS)


def dimension_of(module):
    name = next(name for name in DIMENSION_METHODS if hasattr(type(module), name))
    return getattr(module, name)()


def build(job):
    torch.manual_seed(job.get("seed", 0))
    modules = []
    dim = None
    with tempfile.TemporaryDirectory() as work:
        for spec in job["modules"]:
            kind = spec["type"]
            if kind == "transformer":
                folder = os.path.join(work, "hf")
                hf_model.build({**spec["spec"], "dir": folder})
                module = SentenceTransformer(folder, device="cpu")[0]
            elif kind == "word_embeddings":
                tokenizer = WhitespaceTokenizer(do_lower_case=spec.get("do_lower_case", False))
                module = WordEmbeddings.from_text_file(spec["file"], update_embeddings=spec.get("update_embeddings", False), tokenizer=tokenizer)
            elif kind == "word_weights":
                vocab = modules[0].tokenizer.get_vocab()
                module = WordWeights(vocab, spec["weights"], spec.get("unknown_word_weight", 1))
            elif kind == "pooling":
                modes = spec["modes"]
                module = Pooling(dim, pooling_mode=modes[0] if len(modes) == 1 else modes)
            elif kind == "dense":
                module = Dense(dim, spec["out_features"], activation_function=torch.nn.Tanh())
                with torch.no_grad():
                    module.linear.weight.normal_(0, 0.2)
            elif kind == "normalize":
                module = Normalize()
            elif kind == "layer_norm":
                module = LayerNorm(dim)
                with torch.no_grad():
                    module.norm.weight.normal_(1, 0.3)
                    module.norm.bias.normal_(0, 0.3)
            elif kind == "dropout":
                module = Dropout(spec["p"])
            elif kind == "weighted_layer_pooling":
                layers = modules[0].model.config.num_hidden_layers
                module = WeightedLayerPooling(dim, num_hidden_layers=layers, layer_start=spec["layer_start"])
                with torch.no_grad():
                    module.layer_weights.uniform_(0.5, 2.0)
            elif kind == "cnn":
                module = CNN(dim, out_channels=spec["out_channels"], kernel_sizes=spec["kernel_sizes"])
            elif kind == "lstm":
                module = LSTM(dim, spec["hidden_dim"], num_layers=spec["num_layers"], dropout=spec["dropout"], bidirectional=spec["bidirectional"])
            else:
                raise SystemExit(f"unknown module type {kind}")
            modules.append(module)
            dim = dimension_of(module) if has_dimension(module) else dim
        SentenceTransformer(modules=modules, device="cpu").save(job["dir"], safe_serialization=job.get("safe_serialization", True))
    return {"dir": job["dir"]}


def encode(job):
    model = SentenceTransformer(job["folder"], device="cpu")
    out = {}
    emb = model.encode(job["texts"], batch_size=job.get("batch_size", 8), convert_to_numpy=False)
    out["embeddings"] = [e.float().tolist() for e in emb]
    if job.get("token_embeddings"):
        tokens = model.encode(job["texts"], batch_size=job.get("batch_size", 8), output_value="token_embeddings", convert_to_numpy=False)
        out["token_embeddings"] = [e.float().tolist() for e in tokens]
    return out


def tokenize(job):
    tokenizer = SentenceTransformer(job["folder"], device="cpu")[0].tokenizer
    return {"ids": [tokenizer.tokenize(text) for text in job["texts"]]}


def grad(job):
    model = SentenceTransformer(job["folder"], device="cpu")
    model.train()
    loss = CosineSimilarityLoss(model)
    labels = torch.tensor(job["labels"], dtype=torch.float32)
    value = loss([model.preprocess(job["sentences1"]), model.preprocess(job["sentences2"])], labels)
    value.backward()
    grads = {}
    for i, module in enumerate(model):
        owner = module.model if hasattr(module, "model") else module
        grads[str(i)] = {n: p.grad.reshape(-1).tolist() for n, p in owner.named_parameters() if p.grad is not None}
    return {"loss": float(value), "grads": grads}


def main():
    jobs = json.load(sys.stdin)
    torch.set_num_threads(1)
    ops = {"build": build, "encode": encode, "tokenize": tokenize, "grad": grad}
    json.dump([ops[job["op"]](job) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
