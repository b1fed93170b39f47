"""Reference NanoBEIR evaluations for test/parity/nanoBEIR.test.ts: sentence-transformers' NanoBEIREvaluator and
SparseNanoBEIREvaluator, unchanged, on a local NanoBEIR-style folder (corpus/queries/qrels parquet files and a
README.md whose `configs` name each split, so `datasets.load_dataset(folder, subset, split=...)` reads them as it
reads the Hub dataset).

stdin: {"cache": datasets' cache folder, "jobs": [{"kind": "dense" | "sparse", "model": folder, "dataset_id": folder,
         "args": {keyword arguments; "score_functions" as names ("cosine", "dot"); "main_score_function" a name;
         "aggregate_fn": "mean" | "max"}, "output_path", "calls": [{"epoch", "steps"}]}],
        "means": [lists of floats]}
stdout: {"jobs": [{"metrics": [one object per call], "primary_metric", "csv_file", "csvs": {file name: text} of
          output_path, "config": get_config_dict(), "names": the datasets' evaluator names}],
         "means": [np.mean of each list, the evaluator's default aggregate_fn]}
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
request = json.load(sys.stdin)
os.environ["HF_DATASETS_CACHE"] = request["cache"]
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, SparseEncoder  # noqa: E402
from sentence_transformers.sentence_transformer.evaluation import NanoBEIREvaluator  # noqa: E402
from sentence_transformers.sparse_encoder.evaluation import SparseNanoBEIREvaluator  # noqa: E402
from sentence_transformers.util import cos_sim, dot_score  # noqa: E402
from sentence_transformers.util.similarity import SimilarityFunction  # noqa: E402

datasets.disable_progress_bars()
SCORE_FUNCTIONS = {"cosine": cos_sim, "dot": dot_score}
AGGREGATES = {"mean": np.mean, "max": np.max}


def run(job, models):
    key = (job["kind"], job["model"])
    if key not in models:
        cls = SparseEncoder if job["kind"] == "sparse" else SentenceTransformer
        models[key] = cls(job["model"], device="cpu")
    model = models[key]
    args = dict(job["args"])
    if "score_functions" in args:
        args["score_functions"] = {name: SCORE_FUNCTIONS[name] for name in args["score_functions"]}
    if "main_score_function" in args:
        args["main_score_function"] = SimilarityFunction(args["main_score_function"])
    if "aggregate_fn" in args:
        args["aggregate_fn"] = AGGREGATES[args["aggregate_fn"]]
    cls = SparseNanoBEIREvaluator if job["kind"] == "sparse" else NanoBEIREvaluator
    evaluator = cls(dataset_id=job["dataset_id"], **args)
    output_path = job["output_path"]
    metrics = []
    for call in job["calls"]:
        result = evaluator(model, output_path=output_path, epoch=call["epoch"], steps=call["steps"])
        metrics.append({k: float(v) for k, v in result.items()})
    csvs = {}
    for name in sorted(os.listdir(output_path)) if output_path and os.path.isdir(output_path) else []:
        with open(os.path.join(output_path, name), encoding="utf-8", newline="") as f:
            csvs[name] = f.read()
    return {
        "metrics": metrics,
        "primary_metric": evaluator.primary_metric,
        "csv_file": evaluator.csv_file,
        "csvs": csvs,
        "config": evaluator.get_config_dict(),
        "names": [e.name for e in evaluator.evaluators],
    }


def main():
    torch.manual_seed(0)
    models = {}
    jobs = [run(job, models) for job in request["jobs"]]
    means = [float(np.mean(values)) for values in request.get("means", [])]
    json.dump({"jobs": jobs, "means": means}, sys.stdout)


if __name__ == "__main__":
    main()
