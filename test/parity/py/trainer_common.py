"""What the trainer reference scripts share: quiet libraries, one JSON request in and one JSON answer out, weights as
flat float64 lists, and fit run in an empty working directory with its trainer's log kept.

Import it before transformers: it silences warnings and transformers' logging, which read the environment at import.
The scripts run as `python path/to/script.py`, so this folder is on sys.path.
"""
import contextlib
import json
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402


def answer_stdin(run):
    """Reads the request from stdin and writes run(request) to stdout, as JSON; what the libraries print meanwhile
    (transformers prints each log entry when tqdm is off) goes to stderr, so stdout carries only the answer."""
    req = json.load(sys.stdin)
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        answer = run(req)
    json.dump(answer, out)


def float_weights(tensors):
    """The floating-point tensors of a state dict (or a safetensors file's), each as a flat list of float64."""
    return {k: v.detach().to(torch.float64).flatten().tolist() for k, v in tensors.items() if v.is_floating_point()}


@contextlib.contextmanager
def fit_workdir():
    """Runs the block in an empty temporary working directory (fit's trainer writes under ./checkpoints) and yields
    (that directory, logs): logs collects the log_history of each trainer trained meanwhile, as train() ends, since
    fit does not return the trainer it builds."""
    from sentence_transformers.base.trainer import BaseTrainer

    logs = []
    original_train = BaseTrainer.train

    def train(self, *args, **kwargs):
        try:
            return original_train(self, *args, **kwargs)
        finally:
            logs.extend(self.state.log_history)

    with tempfile.TemporaryDirectory() as work:
        cwd = os.getcwd()
        os.chdir(work)
        BaseTrainer.train = train
        try:
            yield work, logs
        finally:
            os.chdir(cwd)
            BaseTrainer.train = original_train
