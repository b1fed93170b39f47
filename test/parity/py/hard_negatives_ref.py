"""sentence-transformers' own mine_hard_negatives on a model folder: the reference of test/parity/hardNegatives.test.ts.

stdin: {"model": folder, "cross_encoder"?: folder, "cases": [{"dataset": {column: [values]}, "corpus"?: [str],
        "cross_encoder"?: bool, "kwargs": {mine_hard_negatives keyword: value}}]}
stdout: {"results": [{"columns": [names], "rows": [{column: value}], "printed": what it printed}]}, one per case
in order; its progress bars go to stderr.
"""
import contextlib
import io
import json
import sys
import warnings

warnings.filterwarnings("ignore")

from datasets import Dataset
from sentence_transformers import CrossEncoder, SentenceTransformer
from sentence_transformers.util import mine_hard_negatives


def main():
    spec = json.load(sys.stdin)
    model = SentenceTransformer(spec["model"], device="cpu")
    cross_encoder = CrossEncoder(spec["cross_encoder"], device="cpu") if spec.get("cross_encoder") else None
    results = []
    for case in spec["cases"]:
        kwargs = dict(case.get("kwargs", {}))
        if case.get("corpus") is not None:
            kwargs["corpus"] = case["corpus"]
        if case.get("cross_encoder"):
            kwargs["cross_encoder"] = cross_encoder
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            out = mine_hard_negatives(Dataset.from_dict(case["dataset"]), model, **kwargs)
        results.append({"columns": out.column_names, "rows": [dict(row) for row in out], "printed": printed.getvalue()})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
