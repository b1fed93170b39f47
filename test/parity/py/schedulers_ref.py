"""transformers' own learning-rate schedules (transformers.get_scheduler, as its Trainer builds them from
lr_scheduler_type and lr_scheduler_kwargs) for test/parity/schedulers.test.ts.

stdin: {"cases": [{"type": lr_scheduler_type, "kwargs": lr_scheduler_kwargs, "lr", "warmup", "total"}], "count": n}
stdout: {"lrs": [per case: the learning rate of optimizer steps 0..n-1]}
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from transformers import get_scheduler  # noqa: E402


def lrs(case, count):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=case["lr"])
    sched = get_scheduler(case["type"], opt, num_warmup_steps=case["warmup"], num_training_steps=case["total"], scheduler_specific_kwargs=case["kwargs"])
    out = []
    for _ in range(count):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def main():
    req = json.load(sys.stdin)
    json.dump({"lrs": [lrs(c, req["count"]) for c in req["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
