"""Long-document reference of the benchmark: sentence-transformers (transformers' own Qwen3Model, its default sdpa
attention) encoding one document truncated to N tokens, in a fresh process. stdin: {"folder", "text", "tokens",
"threads", "reps"}; stdout: {"ms": [per encode], "tokens": N it ran, "baseline_mib": VmRSS after load and a warm
encode, "peak_mib": VmHWM after the timed encodes, "torch": version}."""
import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer


def mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(spec["threads"])
    model = SentenceTransformer(spec["folder"], device="cpu")
    model.max_seq_length = spec["tokens"]
    model.encode(["warm"])
    with open("/proc/self/clear_refs", "w") as f:  # VmHWM restarts from the current RSS
        f.write("5")
    baseline = mib("VmRSS")
    tokens = int(model.preprocess([spec["text"]])["attention_mask"].sum())
    times = []
    for _ in range(spec["reps"]):
        t0 = time.perf_counter()
        model.encode([spec["text"]])
        times.append((time.perf_counter() - t0) * 1000)
    json.dump({"ms": times, "tokens": tokens, "baseline_mib": baseline, "peak_mib": mib("VmHWM"), "torch": torch.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
