"""sentence-transformers' SparseEncoder on a model folder: the anchor the sparse-encoder parity tests compare against.

stdin: {"folder", "texts", "batch_size"?, "max_active_dims"?, "prompt_name"?, "query"?: bool (encode_query),
        "top_k"?: decode's top_k, "search"?: {"queries", "top_k", "score_function": "dot" | "cosine"}}
stdout: {"embeddings": one dense vector per text, "active": per text the indices of its sparse tensor (to_sparse's
         coalesced order), "decode": decode(embeddings, top_k) as [[token, weight], ...] per text,
         "similarity": similarity(embeddings, embeddings), "dimension": the embeddings' size,
         "max_seq_length", "similarity_fn_name", "prompts", "sparsity": sparsity(embeddings),
         "intersection": decode(intersection(embeddings[0], embeddings), top_k), "search"?: util.semantic_search of the queries'
         encode_query embeddings over the texts' embeddings, both sparse, as [[{corpus_id, score}, ...], ...]}.
A list of such objects runs each in turn and prints the list of results.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

from sentence_transformers import SparseEncoder
from sentence_transformers.util import cos_sim, dot_score, semantic_search


def run(spec):
    model = SparseEncoder(spec["folder"], device="cpu")
    kwargs = {"batch_size": spec.get("batch_size", 32)}
    if spec.get("max_active_dims") is not None:
        kwargs["max_active_dims"] = spec["max_active_dims"]
    if spec.get("prompt_name") is not None:
        kwargs["prompt_name"] = spec["prompt_name"]
    encode = model.encode_query if spec.get("query") else model.encode
    sparse = encode(spec["texts"], convert_to_tensor=True, convert_to_sparse_tensor=True, **kwargs).coalesce()
    dense = sparse.to_dense()
    active = [[] for _ in spec["texts"]]
    for row, col in sparse.indices().t().tolist():
        active[row].append(col)
    out = {
        "embeddings": dense.tolist(),
        "active": active,
        "decode": [[[t, w] for t, w in row] for row in model.decode(sparse, top_k=spec.get("top_k"))],
        "similarity": model.similarity(dense, dense).tolist(),
        "dimension": model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension(),
        "max_seq_length": model.max_seq_length,
        "similarity_fn_name": model.similarity_fn_name,
        "prompts": model.prompts,
        "sparsity": model.sparsity(dense),
        "intersection": [[[t, w] for t, w in row] for row in model.decode(model.intersection(dense[0], dense), top_k=spec.get("top_k"))],
    }
    if "search" in spec:
        s = spec["search"]
        queries = model.encode_query(s["queries"], convert_to_tensor=True, convert_to_sparse_tensor=True)
        score = {"dot": dot_score, "cosine": cos_sim}[s["score_function"]]
        out["search"] = semantic_search(queries, sparse, top_k=s["top_k"], score_function=score)
    return out


def main():
    spec = json.load(sys.stdin)
    json.dump([run(s) for s in spec] if isinstance(spec, list) else run(spec), sys.stdout)


if __name__ == "__main__":
    main()
