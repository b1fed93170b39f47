"""Independent reference for sentence-transformers training steps: plain PyTorch, the BERT / pooling / Dense of
reference.py (no dropout), the losses of losses_ref.py, torch.nn.utils.clip_grad_norm_, torch.optim.AdamW with
sentence-transformers' two parameter groups, and torch.optim.lr_scheduler.LambdaLR with transformers' warmup
schedules written out below. Nothing is shared with the library under test.

stdin:  {"folder": sentence-transformers folder or plain BERT folder (then mean pooling),
         "objectives": [NativeLossSpec, ...],
         "optimizer": NativeOptimizerConfig (lr, weightDecay, beta1, beta2, eps, maxGradNorm, scheduler,
                      warmupSteps, totalSteps; useAmp must be false),
         "steps": [{"objective": i,
                    "columns": [{"input_ids": 2-D, "attention_mask": 2-D, "token_type_ids": 2-D}, ...],
                    "labels": list | 2-D list | null}],
         "head_init": {"head<j>.weight": {"shape": [...], "data": flat list}, "head<j>.bias": {...}}
                      (required for every SoftmaxLoss objective j: its classifier's initial weights),
         "dtype": "float64" (default) | "float32"}
stdout: {"losses": [per step], "lrs": [the lr each step used], "gradNorms": [total gradient norm per step, before
         clipping], "weights": {key: flat list}}

Weight keys are the trainer's parameter names without the inner "bert." of the native module: the module index,
a dot and the module's checkpoint key ("0.embeddings.word_embeddings.weight", "0.pooler.dense.bias",
"2.linear.weight" for a Dense at index 2), and "head<j>.weight" / "head<j>.bias" for objective j's classifier.
Every float tensor of the checkpoint is listed (those without gradients, like the pooler, unchanged).

Schedule-only mode: {"schedules": [NativeOptimizerConfig, ...], "count": n} -> {"lrs": [per config: the lr of
steps 0..n-1]}, read from a LambdaLR over a one-parameter AdamW stepped n times.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402  (the independent BERT, pooling and Dense)
from losses_ref import compute_loss  # noqa: E402


def fail(msg):
    sys.stderr.write("train_ref.py: " + msg + "\n")
    sys.exit(2)


# ---------------------------------------------------------------- transformers' schedules (LambdaLR factors)

def schedule_lambda(name, warmup, total):
    def warm(step):
        return float(step) / float(max(1, warmup))

    if name == "constantlr":
        return lambda step: 1.0
    if name == "warmupconstant":
        return lambda step: warm(step) if step < warmup else 1.0
    if name == "warmuplinear":
        return lambda step: warm(step) if step < warmup else max(0.0, float(total - step) / float(max(1, total - warmup)))

    def progress(step):
        return float(step - warmup) / float(max(1, total - warmup))

    if name == "warmupcosine":
        # get_cosine_schedule_with_warmup, num_cycles 0.5
        return lambda step: warm(step) if step < warmup else max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress(step))))
    if name == "warmupcosinewithhardrestarts":
        # get_cosine_with_hard_restarts_schedule_with_warmup, num_cycles 1
        def f(step):
            if step < warmup:
                return warm(step)
            p = progress(step)
            if p >= 1.0:
                return 0.0
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((1.0 * p) % 1.0))))

        return f
    fail("unknown scheduler " + repr(name))


def make_optimizer(named_params, cfg):
    if cfg.get("useAmp", False):
        fail("useAmp is not reproduced")
    decay = [p for n, p in named_params if not ("bias" in n or "LayerNorm.weight" in n)]
    no_decay = [p for n, p in named_params if "bias" in n or "LayerNorm.weight" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg["lr"],
        betas=(cfg["beta1"], cfg["beta2"]),
        eps=cfg["eps"],
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule_lambda(cfg["scheduler"], cfg["warmupSteps"], cfg["totalSteps"]))
    return opt, sched


# ---------------------------------------------------------------- trainable model

class Model:
    def __init__(self, folder, dtype):
        self.mods = reference.load_modules(folder)
        self.dtype = dtype
        self.named = []  # (name, parameter) the optimizer trains
        self.tensors = {}  # every float tensor, by output key
        for idx, (kind, mod) in enumerate(self.mods):
            if kind == "transformer":
                for key, t in list(mod.w.items()):
                    if not t.is_floating_point():
                        continue
                    p = torch.nn.Parameter(t.to(dtype).clone())
                    mod.w[key] = p
                    self.tensors["%d.%s" % (idx, key)] = p
                    if not key.startswith("pooler."):
                        self.named.append(("%d.%s" % (idx, key), p))
            elif kind == "dense":
                mod.weight = torch.nn.Parameter(mod.weight.to(dtype).clone())
                self.tensors["%d.linear.weight" % idx] = mod.weight
                self.named.append(("%d.linear.weight" % idx, mod.weight))
                if mod.bias is not None:
                    mod.bias = torch.nn.Parameter(mod.bias.to(dtype).clone())
                    self.tensors["%d.linear.bias" % idx] = mod.bias
                    self.named.append(("%d.linear.bias" % idx, mod.bias))

    def embed(self, col):
        ids = torch.tensor(col["input_ids"], dtype=torch.long)
        mask = torch.tensor(col["attention_mask"], dtype=torch.long)
        tt = torch.tensor(col["token_type_ids"], dtype=torch.long)
        x = self.mods[0][1].forward(ids, mask, tt)
        tok, pooled = x, None
        for kind, mod in self.mods[1:]:
            if kind == "pooling":
                pooled = mod(tok, mask, None)
            elif pooled is None:
                fail("a %s module before any Pooling" % kind)
            elif kind == "dense":
                pooled = mod(pooled)
            elif kind == "normalize":
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        if pooled is None:
            fail("no Pooling module")
        return pooled


def schedule_lrs(cfg, count):
    p = torch.nn.Parameter(torch.zeros(1))
    opt, sched = make_optimizer([("w", p)], cfg)
    lrs = []
    for _ in range(count):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def train(req):
    dtype = {"float64": torch.float64, "float32": torch.float32}[req.get("dtype", "float64")]
    model = Model(req["folder"], dtype)
    heads = {}
    named = list(model.named)
    init = req.get("head_init") or {}
    for j, spec in enumerate(req["objectives"]):
        if spec["loss"] != "SoftmaxLoss":
            continue
        head = {}
        for part in ("weight", "bias"):
            key = "head%d.%s" % (j, part)
            if key not in init:
                fail("objective %d is a SoftmaxLoss: head_init needs %s" % (j, key))
            t = torch.tensor(init[key]["data"], dtype=dtype).reshape(init[key]["shape"])
            head[part] = torch.nn.Parameter(t)
            named.append((key, head[part]))
            model.tensors[key] = head[part]
        heads[j] = head
    params = [p for _, p in named]
    opt, sched = make_optimizer(named, req["optimizer"])
    max_norm = req["optimizer"]["maxGradNorm"]

    losses, lrs, norms = [], [], []
    for step in req["steps"]:
        j = step["objective"]
        spec = req["objectives"][j]
        opt.zero_grad(set_to_none=True)
        embeddings = [model.embed(c) for c in step["columns"]]
        labels = None if step.get("labels") is None else torch.tensor(step["labels"], dtype=dtype)
        loss = compute_loss(spec, embeddings, labels, heads.get(j))
        loss.backward()
        grads = [p.grad for p in params if p.grad is not None]
        norms.append(torch.norm(torch.stack([torch.norm(g, 2) for g in grads]), 2).item())
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    weights = {k: v.detach().to(torch.float64).reshape(-1).tolist() for k, v in model.tensors.items()}
    return {"losses": losses, "lrs": lrs, "gradNorms": norms, "weights": weights}


def main():
    req = json.load(sys.stdin)
    if "schedules" in req:
        out = {"lrs": [schedule_lrs(cfg, req["count"]) for cfg in req["schedules"]]}
    else:
        out = train(req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
