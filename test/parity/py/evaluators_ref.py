"""sentence-transformers' own evaluators on model folders: the reference for test/parity/evaluators.test.ts.

stdin: a list of jobs {"evaluator": "mse" | "translation" | "paraphrase_mining" | "reranking", "model": folder,
       "teacher"?: folder (mse), "args": the evaluator's keyword arguments (JSON; "similarity_fct" is "cosine" or
       "dot"; "duplicates_dict" becomes a defaultdict as the evaluator expects), "output_path": folder,
       "calls": [{"epoch", "steps"}, ...]}
stdout: per job {"metrics": per call, "primary_metric", "greater_is_better", "csv": the CSV file's text after all calls,
        "csv_file"}; NaN metrics are written as the string "nan".
"""
import json
import math
import os
import sys
import warnings
from collections import defaultdict

warnings.filterwarnings("ignore")

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import (
    MSEEvaluator,
    ParaphraseMiningEvaluator,
    RerankingEvaluator,
    TranslationEvaluator,
)
from sentence_transformers.util import cos_sim, dot_score

_models = {}


def load(folder):
    if folder not in _models:
        _models[folder] = SentenceTransformer(folder, device="cpu")
    return _models[folder]


def number(x):
    x = float(x)
    return "nan" if math.isnan(x) else x


def build(job):
    args = dict(job["args"])
    kind = job["evaluator"]
    if kind == "mse":
        return MSEEvaluator(teacher_model=load(job["teacher"]), **args)
    if kind == "translation":
        return TranslationEvaluator(**args)
    if kind == "paraphrase_mining":
        if "duplicates_list" in args:
            args["duplicates_list"] = [tuple(p) for p in args["duplicates_list"]]
        if "duplicates_dict" in args:
            dup = defaultdict(lambda: defaultdict(bool))
            for a, row in args["duplicates_dict"].items():
                for b, flag in row.items():
                    dup[a][b] = flag
            args["duplicates_dict"] = dup
        return ParaphraseMiningEvaluator(**args)
    if kind == "reranking":
        if "similarity_fct" in args:
            args["similarity_fct"] = {"cosine": cos_sim, "dot": dot_score}[args["similarity_fct"]]
        return RerankingEvaluator(**args)
    raise ValueError(kind)


def run(job):
    evaluator = build(job)
    model = load(job["model"])
    out = job["output_path"]
    metrics = []
    for call in job["calls"]:
        result = evaluator(model, output_path=out, epoch=call["epoch"], steps=call["steps"])
        metrics.append({k: number(v) for k, v in result.items()})
    path = os.path.join(out, evaluator.csv_file)
    with open(path, newline="", encoding="utf-8") as f:
        csv_text = f.read()
    return {
        "metrics": metrics,
        "primary_metric": evaluator.primary_metric,
        "greater_is_better": evaluator.greater_is_better,
        "csv_file": evaluator.csv_file,
        "csv": csv_text,
    }


print(json.dumps([run(job) for job in json.load(sys.stdin)]))
