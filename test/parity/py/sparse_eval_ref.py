"""Reference sparse evaluations for test/parity/sparseEvaluators.test.ts: sentence-transformers'
sparse_encoder.evaluation classes run on a SparseEncoder folder, with their CSV files.

stdin: [{"folder", "evaluator": "similarity" | "ir" | "binary" | "triplet" | "reranking" | "translation" | "mse" (the model
         is its own teacher), "args": {keyword arguments of the evaluator; relevant_docs as
         lists}, "output_path", "calls": [{"epoch", "steps"}, ...], "model_max_active_dims": set on the model
         for this job}]
stdout: [{"metrics": [one object per call], "primary_metric", "csv_file", "csv": the file's text (null when none
          was written), "config": get_config_dict()}]
NaN is written as null (JSON has no NaN).
"""
import json
import math
import os
import sys
import warnings

import torch
from sentence_transformers import SparseEncoder
from sentence_transformers.sparse_encoder.evaluation import (
    SparseBinaryClassificationEvaluator,
    SparseEmbeddingSimilarityEvaluator,
    SparseInformationRetrievalEvaluator,
    SparseMSEEvaluator,
    SparseRerankingEvaluator,
    SparseTranslationEvaluator,
    SparseTripletEvaluator,
)

EVALUATORS = {
    "similarity": SparseEmbeddingSimilarityEvaluator,
    "ir": SparseInformationRetrievalEvaluator,
    "binary": SparseBinaryClassificationEvaluator,
    "triplet": SparseTripletEvaluator,
    "reranking": SparseRerankingEvaluator,
    "translation": SparseTranslationEvaluator,
    "mse": SparseMSEEvaluator,
}


def clean(v):
    v = float(v)
    return None if math.isnan(v) else v


def run(job, models):
    folder = job["folder"]
    if folder not in models:
        loaded = SparseEncoder(folder, device="cpu")
        models[folder] = (loaded, loaded.max_active_dims)
    model, own_max_active_dims = models[folder]
    # The model's own setting unless the job sets one (a CSR model's is its k).
    wanted = job.get("model_max_active_dims")
    model.max_active_dims = own_max_active_dims if wanted is None else wanted
    args = dict(job["args"])
    if "relevant_docs" in args:
        args["relevant_docs"] = {q: set(docs) for q, docs in args["relevant_docs"].items()}
    if job["evaluator"] == "mse":
        args["teacher_model"] = model
    evaluator = EVALUATORS[job["evaluator"]](**args)
    output_path = job.get("output_path")
    metrics = []
    for call in job.get("calls", [{"epoch": -1, "steps": -1}]):
        result = evaluator(model, output_path=output_path, epoch=call["epoch"], steps=call["steps"])
        metrics.append({k: clean(v) for k, v in result.items()})
    csv = None
    if output_path is not None and os.path.isfile(os.path.join(output_path, evaluator.csv_file)):
        with open(os.path.join(output_path, evaluator.csv_file), encoding="utf-8", newline="") as f:
            csv = f.read()
    return {
        "metrics": metrics,
        "primary_metric": evaluator.primary_metric,
        "csv_file": evaluator.csv_file,
        "csv": csv,
        "config": evaluator.get_config_dict(),
    }


def main():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    jobs = json.load(sys.stdin)
    models = {}
    json.dump([run(job, models) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
