"""PyTorch eager side of the benchmark: a BERT + mean pooling nn.Module written the way Hugging Face's eager BertModel
computes (separate Q/K/V linears, matmul-softmax attention with the additive finfo.min mask, erf GELU, dropout in
training), on the same safetensors as sbert-node, run by the reference environment's torch (scripts/python-env.json).
Other architectures (load kind "hf": XLM-RoBERTa, MPNet) run as the transformers model itself with eager attention,
plus the same mean pooling.

Protocol: one JSON request per stdin line, one JSON reply per stdout line ({"ok": true, "result": ...} or
{"ok": false, "error": ...}). Token batches arrive already tokenized by sbert-node as
{"ids": flat, "mask": flat, "types": flat, "B": n, "L": n}, so tokenization is not part of what is timed here.

Commands (HANDLERS): info, load, export, embed, time, train, gemm; and st_load, st_embed, st_time, which run
sentence-transformers' SentenceTransformer on the same folders from strings (its own tokenization), as an anchor.
"""
import json
import math
import os
import resource
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "parity", "py"))
from reference import load_state_dict  # noqa: E402  (plain safetensors reader, independent of sbert-node)


# ---------------------------------------------------------------- model

class SelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.head_dim = h // self.heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout = nn.Dropout(cfg.get("attention_probs_dropout_prob", 0.1))

    def forward(self, x, ext_mask):
        B, L, H = x.shape

        def split(t):
            return t.reshape(B, L, self.heads, self.head_dim).permute(0, 2, 1, 3)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + ext_mask
        probs = self.dropout(torch.softmax(scores, dim=-1))
        return torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, L, H)


class ResidualOutput(nn.Module):
    def __init__(self, cfg, inp):
        super().__init__()
        h = cfg["hidden_size"]
        self.dense = nn.Linear(inp, h)
        self.LayerNorm = nn.LayerNorm(h, eps=cfg.get("layer_norm_eps", 1e-12))
        self.dropout = nn.Dropout(cfg.get("hidden_dropout_prob", 0.1))

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = ResidualOutput(cfg, cfg["hidden_size"])

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class Intermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = ResidualOutput(cfg, cfg["intermediate_size"])

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg["num_hidden_layers"])])

    def forward(self, x, ext_mask):
        for layer in self.layer:
            x = layer(x, ext_mask)
        return x


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], h)
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(cfg.get("type_vocab_size", 2), h)
        self.LayerNorm = nn.LayerNorm(h, eps=cfg.get("layer_norm_eps", 1e-12))
        self.dropout = nn.Dropout(cfg.get("hidden_dropout_prob", 0.1))

    def forward(self, ids, types):
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class SentenceBert(nn.Module):
    """BERT encoder + mean pooling: (input_ids, attention_mask, token_type_ids) -> [B, H] sentence embeddings."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)

    def forward(self, ids, mask, types):
        x = self.embeddings(ids, types)
        ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        tok = self.encoder(x, ext)
        m = mask.unsqueeze(-1).to(tok.dtype)
        return (tok * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)


class HfMeanPooling(nn.Module):
    """A transformers AutoModel (attn_implementation="eager", no pooler) + mean pooling. Its forward takes the same
    (input_ids, attention_mask, token_type_ids) as SentenceBert and ignores the types: XLM-R has one token type and
    MPNet none, and the ONNX export has no such input."""

    def __init__(self, folder):
        super().__init__()
        import transformers

        self.model = transformers.AutoModel.from_pretrained(folder, attn_implementation="eager", add_pooling_layer=False)

    def forward(self, ids, mask, types=None):
        tok = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(tok.dtype)
        return (tok * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)


def build(folder, kind="bert"):
    if kind == "hf":
        return HfMeanPooling(folder).eval()
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = SentenceBert(cfg)
    sd = {k: v for k, v in load_state_dict(folder).items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    model.load_state_dict(sd, strict=True)
    return model.eval()


# ---------------------------------------------------------------- helpers

def tensors(b):
    shape = (b["B"], b["L"])
    return (torch.tensor(b["ids"], dtype=torch.long).view(shape),
            torch.tensor(b["mask"], dtype=torch.long).view(shape),
            torch.tensor(b["types"], dtype=torch.long).view(shape))


def time_passes(warmup, run_pass, plan, items_per_pass):
    """The benchmark's timing rule (bench/common.ts timePasses): warmup, then whole passes until the budget; a pass
    timing item by item may stop between items once the budget has passed and minItems are done."""
    warmup()
    item_ms = []
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()

    def stop():
        return time.perf_counter() - t0 >= plan["budgetS"] and len(item_ms) >= plan["minItems"]

    passes = 0
    while True:
        run_pass(item_ms, stop)
        passes += 1
        elapsed = time.perf_counter() - t0
        if passes >= plan["maxPasses"] or (passes >= plan["minPasses"] and elapsed >= plan["budgetS"]) or (item_ms and stop()):
            break
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    items = len(item_ms) if item_ms else passes * items_per_pass
    return {"passes": passes, "items": items, "seconds": seconds, "itemMs": item_ms,
            "cpuUserS": ru.ru_utime - ru0.ru_utime, "cpuSysS": ru.ru_stime - ru0.ru_stime, "minorFaults": ru.ru_minflt - ru0.ru_minflt}


MODELS = {}
THREADS = [1]  # the engines' thread count, set by "info"


def cmd_info(req):
    default = torch.get_num_threads()
    THREADS[0] = req["threads"]
    torch.set_num_threads(req["threads"])
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "defaultThreads": default, "parallel": torch.__config__.parallel_info(),
            "config": torch.__config__.show()}


def cmd_load(req):
    t0 = time.perf_counter()
    MODELS[req["key"]] = build(req["folder"], req.get("kind", "bert"))
    return {"seconds": time.perf_counter() - t0}


def legacy_exporter():
    """torch >= 2.5 takes dynamo=; the TorchScript exporter keeps the graph this benchmark was built on."""
    import inspect
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def cmd_export(req):
    """torch.onnx.export of the eager module (eval mode) with batch and sequence as dynamic axes. The transformers
    models ("hf") take input_ids and attention_mask only."""
    model = MODELS[req["key"]]
    ids = torch.randint(5, 1000, (2, 16))
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    types = torch.zeros_like(ids)
    names = ["input_ids", "attention_mask"] if isinstance(model, HfMeanPooling) else ["input_ids", "attention_mask", "token_type_ids"]
    args = (ids, mask, types)[: len(names)]
    dyn = {n: {0: "batch", 1: "sequence"} for n in names}
    dyn["sentence_embedding"] = {0: "batch"}
    t0 = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(model, args, req["path"], input_names=names, output_names=["sentence_embedding"], dynamic_axes=dyn,
                          opset_version=req.get("opset", 14), do_constant_folding=True, **legacy_exporter())
    return {"seconds": time.perf_counter() - t0, "opset": req.get("opset", 14)}


def cmd_embed(req):
    model = MODELS[req["key"]]
    out = []
    with torch.inference_mode():
        for b in req["batches"]:
            out.append(model(*tensors(b)).tolist())
    return {"embeddings": out}


def cmd_time(req):
    """Encode timing: every pass runs all batches; `perItem` records each batch's time (batch-1 latency)."""
    model = MODELS[req["key"]]
    batches = [tensors(b) for b in req["batches"]]
    warm = [tensors(b) for b in req["warmup"]]
    per_item = req.get("perItem", False)
    torch.set_num_threads(req.get("threads") or THREADS[0])

    def warmup():
        with torch.inference_mode():
            for t in warm:
                model(*t)

    def run_pass(item_ms, stop):
        with torch.inference_mode():
            for t in batches:
                if per_item:
                    s = time.perf_counter()
                    model(*t)
                    item_ms.append((time.perf_counter() - s) * 1000)
                    if stop():
                        return
                else:
                    model(*t)

    try:
        return time_passes(warmup, run_pass, req["plan"], sum(b["B"] for b in req["batches"]))
    finally:
        torch.set_num_threads(THREADS[0])


def cos_sim_matrix(a, b):
    return F.normalize(a, p=2, dim=1) @ F.normalize(b, p=2, dim=1).T


def cmd_train(req):
    """Training steps as sentence-transformers' fit runs them: each column through the model (dropout on), the loss,
    backward, clip_grad_norm_(1.0), AdamW (weight decay 0.01 except biases and LayerNorm weights) and a linear
    schedule with warmup 0. Timed: optimizer creation + the steps; with "warmup", one step on a separate optimizer
    warms up first (the model is rebuilt from the folder on every call, untimed)."""
    torch.set_num_threads(THREADS[0])
    model = build(req["folder"], req.get("kind", "bert")).train()
    loss_name = req["loss"]
    scale = req.get("scale", 20.0)

    def prep(step):
        cols = [tensors(c) for c in step["columns"]]
        labels = torch.tensor(step["labels"], dtype=torch.float32) if step.get("labels") is not None else None
        return cols, labels

    def make_optimizer(total):
        named = list(model.named_parameters())
        no_decay = ["bias", "LayerNorm.weight"]
        groups = [{"params": [p for n, p in named if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
                  {"params": [p for n, p in named if any(nd in n for nd in no_decay)], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=req.get("lr", 2e-5))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, float(total - s) / float(max(1, total))))
        return opt, sched

    def step(opt, sched, cols, labels):
        embs = [model(*c) for c in cols]
        if loss_name == "CosineSimilarityLoss":
            loss = F.mse_loss(F.cosine_similarity(embs[0], embs[1]), labels)
        elif loss_name == "MultipleNegativesRankingLoss":
            scores = cos_sim_matrix(embs[0], torch.cat(embs[1:])) * scale
            loss = F.cross_entropy(scores, torch.arange(scores.shape[0]))
        else:
            raise ValueError("unknown loss " + loss_name)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        return float(loss)

    steps = [prep(s) for s in req["steps"]]
    if req.get("warmup") is not None:
        opt, sched = make_optimizer(1)
        step(opt, sched, *prep(req["warmup"]))
        del opt, sched
        model.zero_grad(set_to_none=True)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    opt, sched = make_optimizer(len(steps))
    losses = [step(opt, sched, *s) for s in steps]
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": seconds, "steps": len(steps), "losses": losses,
            "cpuUserS": ru.ru_utime - ru0.ru_utime, "cpuSysS": ru.ru_stime - ru0.ru_stime, "minorFaults": ru.ru_minflt - ru0.ru_minflt}


def cmd_gemm(req):
    """FLOP/s of matmul shapes: "linear" is F.linear(x[M,K], w[N,K], b[N]); "bmm" is torch.matmul on
    [batch, M, K] x [batch, K, N]. Each shape: 2 warm calls, then calls until its budget has passed."""
    torch.manual_seed(0)
    out = []
    for threads in req["threads"]:
        torch.set_num_threads(threads)
        for s in req["shapes"]:
            if s["kind"] == "linear":
                x, w, b = torch.randn(s["M"], s["K"]), torch.randn(s["N"], s["K"]), torch.randn(s["N"])
                fn = lambda: F.linear(x, w, b)  # noqa: E731
                flops = 2.0 * s["M"] * s["K"] * s["N"]
            else:
                x, y = torch.randn(s["batch"], s["M"], s["K"]), torch.randn(s["batch"], s["K"], s["N"])
                fn = lambda: torch.matmul(x, y)  # noqa: E731
                flops = 2.0 * s["batch"] * s["M"] * s["K"] * s["N"]
            with torch.inference_mode():
                fn()
                fn()
                n = 0
                t0 = time.perf_counter()
                while True:
                    fn()
                    n += 1
                    if time.perf_counter() - t0 >= req["budgetS"] and n >= 2:
                        break
                dt = (time.perf_counter() - t0) / n
            out.append({**s, "threads": threads, "gflops": flops / dt / 1e9, "ms": dt * 1000})
    torch.set_num_threads(THREADS[0])
    return {"results": out}


# ---------------------------------------------------------------- sentence-transformers

ST_MODELS = {}


def cmd_st_load(req):
    """sentence-transformers' own SentenceTransformer on the same folder: the library sbert-node replaces, as a user
    runs it (its tokenizer, its Transformer module with transformers' default attention, its pooling)."""
    import sentence_transformers
    import transformers

    t0 = time.perf_counter()
    model = sentence_transformers.SentenceTransformer(req["folder"], device="cpu")
    model.eval()
    ST_MODELS[req["key"]] = model
    inner = getattr(model[0], "auto_model", None) or getattr(model[0], "model", None)
    attention = getattr(getattr(inner, "config", None), "_attn_implementation", None)
    return {"seconds": time.perf_counter() - t0, "version": sentence_transformers.__version__,
            "transformers": transformers.__version__, "attention": attention}


def st_encode(model, texts, batch_size):
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)


def cmd_st_embed(req):
    """Embeddings of `texts` in their order, from model.encode at `batchSize`."""
    return {"embeddings": st_encode(ST_MODELS[req["key"]], req["texts"], req["batchSize"]).tolist()}


def cmd_st_time(req):
    """model.encode timing, strings in (its tokenization inside the time, as sbert-node's): every pass encodes all
    `texts` at `batchSize`; `perItem` encodes them one by one and records each call (batch-1 latency). Then, untimed
    by the rule, one pass of its tokenization alone on the batches encode forms (its length order, model.preprocess),
    reported per text so the caller can give its share of encode time."""
    model = ST_MODELS[req["key"]]
    texts = req["texts"]
    batch_size = req["batchSize"]
    per_item = req.get("perItem", False)
    torch.set_num_threads(req.get("threads") or THREADS[0])

    def warmup():
        st_encode(model, req["warmTexts"], batch_size)

    def run_pass(item_ms, stop):
        if not per_item:
            st_encode(model, texts, batch_size)
            return
        for t in texts:
            s = time.perf_counter()
            model.encode(t, convert_to_numpy=True, show_progress_bar=False)
            item_ms.append((time.perf_counter() - s) * 1000)
            if stop():
                return

    try:
        result = time_passes(warmup, run_pass, req["plan"], len(texts))
        ordered = sorted(texts, key=len, reverse=True)  # encode's order for strings: longest (in characters) first
        step = 1 if per_item else batch_size
        t0 = time.perf_counter()
        for i in range(0, len(ordered), step):
            model.preprocess(ordered[i : i + step])
        result["tokenizeSecondsPerItem"] = (time.perf_counter() - t0) / len(texts)
        return result
    finally:
        torch.set_num_threads(THREADS[0])


HANDLERS = {"info": cmd_info, "load": cmd_load, "export": cmd_export, "embed": cmd_embed, "time": cmd_time,
            "train": cmd_train, "gemm": cmd_gemm, "st_load": cmd_st_load, "st_embed": cmd_st_embed, "st_time": cmd_st_time}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            result = HANDLERS[req["cmd"]](req)
            reply = {"ok": True, "result": result}
        except Exception as e:  # the runner reports it and goes on with other measurements
            reply = {"ok": False, "error": "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
