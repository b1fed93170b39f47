"""Reference cross-encoder evaluations for test/parity/crossEncoderEvaluation.test.ts: sentence-transformers'
cross_encoder.evaluation classes run on a CrossEncoder folder, with their CSV files.

stdin: [{"folder", "evaluator": "reranking" | "correlation" | "classification" | "nanobeir", "args": {keyword
         arguments of the evaluator, sentence_pairs as lists}, "output_path", "calls": [{"epoch", "steps"}, ...],
         "tables": nanobeir only: {subset: {split: [rows]}}, what the evaluator would load from the Hub}]
stdout: [{"metrics": [one object per call], "primary_metric", "csv_file", "csv": the file's text (null when none
          was written), "files": {name: text} of every file in output_path, "scores": the model's predict() of the
          pairs the evaluator scores (reranking, nanobeir: null)}]
NaN is written as null (JSON has no NaN).
"""
import json
import math
import os
import sys
import warnings

import torch
from sentence_transformers import CrossEncoder
from datasets import Dataset
from sentence_transformers.cross_encoder.evaluation import (
    CrossEncoderClassificationEvaluator,
    CrossEncoderCorrelationEvaluator,
    CrossEncoderNanoBEIREvaluator,
    CrossEncoderRerankingEvaluator,
)

EVALUATORS = {
    "reranking": CrossEncoderRerankingEvaluator,
    "correlation": CrossEncoderCorrelationEvaluator,
    "classification": CrossEncoderClassificationEvaluator,
}


def local_nanobeir(tables):
    """CrossEncoderNanoBEIREvaluator reading its subsets from `tables` instead of the Hub."""

    class LocalNanoBEIR(CrossEncoderNanoBEIREvaluator):
        def _load_dataset_subset_split(self, subset, split, required_columns):
            return Dataset.from_list(tables[subset][split])

    return LocalNanoBEIR


def clean(v):
    v = float(v)
    return None if math.isnan(v) else v


def run(job, models):
    folder = job["folder"]
    if folder not in models:
        models[folder] = CrossEncoder(folder, device="cpu")
    model = models[folder]
    kind = job["evaluator"]
    cls = local_nanobeir(job["tables"]) if kind == "nanobeir" else EVALUATORS[kind]
    evaluator = cls(**job["args"])
    output_path = job.get("output_path")
    metrics = []
    for call in job.get("calls", [{"epoch": -1, "steps": -1}]):
        result = evaluator(model, output_path=output_path, epoch=call["epoch"], steps=call["steps"])
        metrics.append({k: clean(v) for k, v in result.items()})
    csv = None
    if output_path is not None and os.path.isfile(os.path.join(output_path, evaluator.csv_file)):
        with open(os.path.join(output_path, evaluator.csv_file), encoding="utf-8", newline="") as f:
            csv = f.read()
    files = {}
    if output_path is not None and os.path.isdir(output_path):
        for name in sorted(os.listdir(output_path)):
            with open(os.path.join(output_path, name), encoding="utf-8", newline="") as f:
                files[name] = f.read()
    scores = None
    if "sentence_pairs" in job["args"]:
        scores = model.predict(job["args"]["sentence_pairs"], convert_to_numpy=True).tolist()
    return {"metrics": metrics, "primary_metric": evaluator.primary_metric, "csv_file": evaluator.csv_file, "csv": csv, "files": files, "scores": scores}


def main():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    jobs = json.load(sys.stdin)
    models = {}
    json.dump([run(job, models) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
