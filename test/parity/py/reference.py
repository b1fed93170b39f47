"""Independent reference for sentence embeddings: plain PyTorch, no transformers / sentence-transformers /
safetensors packages, nothing shared with the library under test.

stdin:  {"folder": path,
         "batches": [{"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]], "prompt_length"?: n}],
         "output": "sentence_embedding" | "token_embeddings",
         "linear"?: "float32" (default) | "int8_rows"}
stdout: {"embeddings": [per batch: 2-D list (sentence_embedding) or 3-D list (token_embeddings)]}
        non-finite values are written as null.

The model folder is a sentence-transformers folder (modules.json in the legacy `sentence_transformers.models.*`
layout or the 5.4+ one) or a bare BERT folder (then Transformer + mean pooling). Compute is float32; F16/BF16
weights are widened to float32 first. With "linear": "int8_rows" the encoder's linear layers compute in int8 as
int8_rows_linear describes.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

NP_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def fail(msg):
    sys.stderr.write("reference.py: " + msg + "\n")
    sys.exit(2)


# ---------------------------------------------------------------- weights

def read_safetensors(path):
    """Parses a safetensors file from its spec: u64 LE header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = raw[base + b:base + e]
        dtype = info["dtype"]
        if dtype == "BF16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=NP_DTYPES[dtype])
        t = torch.from_numpy(arr.copy()).reshape(info["shape"])
        out[name] = t.float() if t.is_floating_point() else t
    return out


def load_state_dict(folder):
    single = os.path.join(folder, "model.safetensors")
    index = os.path.join(folder, "model.safetensors.index.json")
    binfile = os.path.join(folder, "pytorch_model.bin")
    if os.path.exists(single):
        return read_safetensors(single)
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        sd = {}
        for s in shards:
            sd.update(read_safetensors(os.path.join(folder, s)))
        return sd
    if os.path.exists(binfile):
        sd = torch.load(binfile, map_location="cpu")
        return {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    fail("no weights in " + folder)


# ---------------------------------------------------------------- BERT

def activation(name):
    if name == "gelu":
        return lambda x: F.gelu(x)  # erf form
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return F.relu
    if name in ("silu", "swish"):
        return F.silu
    fail("unsupported hidden_act " + repr(name))


def int8_rows_linear(x, w, b):
    """x @ w.T + b with the weights quantized per output channel (symmetric: scale max|w| / 127, at least 1e-8,
    libtorch's quantize_per_channel rounding), each row of x per row (p = round(x * (127 / max|x|)), half to even,
    scale max|x| / 127; an all-zero row stays zero), integer sums done exactly (in float64), then
    float32(sum) * (row scale * column scale) + b."""
    w_scale = (w.abs().amax(1) / 127.0).clamp_min(1e-8)
    qw = torch.quantize_per_channel(w, w_scale.double(), torch.zeros(w.shape[0], dtype=torch.long), 0, torch.qint8).int_repr()
    top = x.abs().amax(-1, keepdim=True)
    inv = torch.where(top > 0, 127.0 / top, torch.zeros_like(top))
    p = torch.round(x * inv)
    sums = torch.matmul(p.double(), qw.double().T).float()
    return sums * ((top / 127.0) * w_scale) + b


class Bert:
    int8_rows = False

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            fail("only absolute position embeddings are supported")
        sd = load_state_dict(folder)
        # A BertFor* checkpoint stores the encoder under "bert."; its task heads are not used.
        if "embeddings.word_embeddings.weight" not in sd and "bert.embeddings.word_embeddings.weight" in sd:
            sd = {k[len("bert."):]: v for k, v in sd.items() if k.startswith("bert.")}
        self.w = sd
        self.hidden = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.act = activation(cfg.get("hidden_act", "gelu"))

    def W(self, key):
        if key not in self.w:
            fail("missing weight " + key)
        return self.w[key]

    def linear(self, x, key):
        if self.int8_rows:
            return int8_rows_linear(x, self.W(key + ".weight"), self.W(key + ".bias"))
        return F.linear(x, self.W(key + ".weight"), self.W(key + ".bias"))

    def layer_norm(self, x, key):
        return F.layer_norm(x, (self.hidden,), self.W(key + ".weight"), self.W(key + ".bias"), self.eps)

    def forward(self, input_ids, attention_mask, token_type_ids):
        B, L = input_ids.shape
        H, nh = self.hidden, self.heads
        d = H // nh
        positions = torch.arange(L)
        x = (self.W("embeddings.word_embeddings.weight")[input_ids]
             + self.W("embeddings.position_embeddings.weight")[positions].unsqueeze(0)
             + self.W("embeddings.token_type_embeddings.weight")[token_type_ids])
        x = self.layer_norm(x, "embeddings.LayerNorm")
        # Additive mask as transformers builds it for float32: 0 where attended, the most negative float elsewhere.
        ext = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

        def split(t):
            return t.view(B, L, nh, d).permute(0, 2, 1, 3)

        for i in range(self.layers):
            p = "encoder.layer.%d." % i
            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
            probs = torch.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, L, H)
            a = self.layer_norm(self.linear(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inter = self.act(self.linear(a, p + "intermediate.dense"))
            x = self.layer_norm(self.linear(inter, p + "output.dense") + a, p + "output.LayerNorm")
        return x


# ---------------------------------------------------------------- sentence-transformers modules

LEGACY_MODES = [
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
]


class Pooling:
    def __init__(self, cfg):
        if "pooling_mode" in cfg:
            # 5.4+: one mode or a list, concatenated in the list's order.
            pm = cfg["pooling_mode"]
            self.modes = [pm] if isinstance(pm, str) else list(pm)
            self.legacy = False
        else:
            # Legacy booleans: fixed concatenation order; none set means mean.
            self.modes = [mode for key, mode in LEGACY_MODES if cfg.get(key, False)] or ["mean"]
            self.legacy = True
        self.include_prompt = cfg.get("include_prompt", True)

    def __call__(self, tok, mask, prompt_length):
        mask = mask.clone()
        if not self.include_prompt and prompt_length is not None:
            # As sbert: without left padding zero the first prompt_length positions, else pad + prompt positions.
            pad = mask.to(torch.int32).argmax(dim=1)
            if int(pad.sum()) == 0:
                mask[:, :prompt_length] = 0
            else:
                pos = torch.arange(mask.size(1)).unsqueeze(0)
                mask[pos < (pad + prompt_length).unsqueeze(1)] = 0
        m = mask.unsqueeze(-1).to(tok.dtype).expand_as(tok)
        L = tok.shape[1]
        out = []
        for mode in self.modes:
            if mode == "cls":
                out.append(tok[:, 0])
            elif mode == "max":
                # Legacy fills padding with -1e9, 5.4+ with -inf; they differ only when every token is masked.
                fill = -1e9 if self.legacy else float("-inf")
                out.append(tok.masked_fill(m == 0, fill).max(dim=1).values)
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                s = (tok * m).sum(dim=1)
                count = torch.clamp(m.sum(dim=1), min=1e-9)
                out.append(s / count if mode == "mean" else s / torch.sqrt(count))
            elif mode == "weightedmean":
                weights = torch.arange(1, L + 1, dtype=tok.dtype).view(1, L, 1) * m
                out.append((tok * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9))
            elif mode == "lasttoken":
                # Last position with mask 1; a row with none takes the last position, zeroed by the mask.
                idx = []
                for row in mask:
                    ones = torch.nonzero(row, as_tuple=False)
                    idx.append(int(ones[-1]) if len(ones) else L - 1)
                idx = torch.tensor(idx)
                rows = torch.arange(tok.shape[0])
                out.append(tok[rows, idx] * m[rows, idx])
            else:
                fail("unknown pooling mode " + repr(mode))
        return torch.cat(out, dim=-1)


ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": torch.tanh,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.ReLU": F.relu,
    "torch.nn.modules.activation.GELU": F.gelu,
    "torch.nn.modules.activation.Sigmoid": torch.sigmoid,
}


class Dense:
    def __init__(self, path):
        with open(os.path.join(path, "config.json")) as f:
            cfg = json.load(f)
        act = cfg.get("activation_function", "torch.nn.modules.activation.Tanh")
        if act not in ACTIVATIONS:
            fail("unsupported Dense activation " + act)
        self.act = ACTIVATIONS[act]
        sd = load_state_dict(path)
        self.weight = sd["linear.weight"]
        self.bias = sd.get("linear.bias") if cfg.get("bias", True) else None

    def __call__(self, x):
        return self.act(F.linear(x, self.weight, self.bias))


def load_modules(folder):
    """[(kind, module)] from modules.json; the kind is taken from the class name, so both layouts work."""
    path = os.path.join(folder, "modules.json")
    if not os.path.exists(path):
        return [("transformer", Bert(folder)), ("pooling", Pooling({"pooling_mode": "mean"}))]
    with open(path) as f:
        entries = sorted(json.load(f), key=lambda e: e["idx"])
    mods = []
    for e in entries:
        cls = e["type"].rsplit(".", 1)[-1]
        sub = os.path.join(folder, e.get("path", ""))
        if cls == "Transformer":
            mods.append(("transformer", Bert(sub)))
        elif cls == "Pooling":
            with open(os.path.join(sub, "config.json")) as f:
                mods.append(("pooling", Pooling(json.load(f))))
        elif cls == "Dense":
            mods.append(("dense", Dense(sub)))
        elif cls == "Normalize":
            mods.append(("normalize", None))
        else:
            fail("unsupported module " + e["type"])
    if not mods or mods[0][0] != "transformer":
        fail("the first module must be a Transformer")
    return mods


def run(req):
    mods = load_modules(req["folder"])
    mods[0][1].int8_rows = req.get("linear", "float32") == "int8_rows"
    want = req.get("output", "sentence_embedding")
    results = []
    with torch.no_grad():
        for batch in req["batches"]:
            ids = torch.tensor(batch["input_ids"], dtype=torch.long)
            mask = torch.tensor(batch["attention_mask"], dtype=torch.long) if "attention_mask" in batch else torch.ones_like(ids)
            tt = torch.tensor(batch["token_type_ids"], dtype=torch.long) if "token_type_ids" in batch else torch.zeros_like(ids)
            tok = mods[0][1].forward(ids, mask, tt)
            if want == "token_embeddings":
                results.append(tok)
                continue
            x = None
            for kind, mod in mods[1:]:
                if kind == "pooling":
                    x = mod(tok, mask, batch.get("prompt_length"))
                elif x is None:
                    fail("a %s module before any Pooling" % kind)
                elif kind == "dense":
                    x = mod(x)
                elif kind == "normalize":
                    x = F.normalize(x, p=2, dim=1)
            if x is None:
                fail("no Pooling module")
            results.append(x)
    return results


def finite_or_none(v):
    if isinstance(v, list):
        return [finite_or_none(x) for x in v]
    return v if math.isfinite(v) else None


def main():
    torch.set_grad_enabled(False)
    req = json.load(sys.stdin)
    results = run(req)
    json.dump({"embeddings": [finite_or_none(r.to(torch.float64).tolist()) for r in results]}, sys.stdout)


if __name__ == "__main__":
    main()
