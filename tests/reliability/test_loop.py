"""kill -9 in the middle of a checkpoint write and of a log append, then resume: the final
weights and log rows equal those of a run never interrupted.

The kills land at random points: a random step and a random byte of what is being written (the
driver below writes that much of the real bytes, then sends itself SIGKILL, so the kill always
falls inside the write). Set ``SOFTFACT_FAULT_SEED`` to replay a failure; the seed is in every
assertion message.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
import torch

from softfact.cli import main
from softfact.training.checkpoint import load_checkpoint
from softfact.training.runlog import read_metrics
from softfact.utils.runfiles import RunFiles

from .conftest import TINY

STEPS = 8

# Runs ``softfact train ARGS`` and kills itself (SIGKILL: no cleanup runs) after writing the
# first FRACTION of the checkpoint of step STEP ("checkpoint") or of the log rows holding
# step STEP ("log").
DRIVER = r'''
import io, os, signal, sys
import pytest
import torch
import softfact.training.runlog as runlog
from softfact.cli import main

where, step, fraction, args = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]

def torn_write(f, data):
    f.write(data[:max(1, int(len(data) * fraction))])
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

if where == "checkpoint":
    real_save = torch.save
    def save(obj, f, *a, **k):
        if isinstance(obj, dict) and obj.get("step") == step:
            buf = io.BytesIO()
            real_save(obj, buf, *a, **k)
            torn_write(f, buf.getvalue())
        return real_save(obj, f, *a, **k)
    torch.save = save
else:
    class Appender:
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()
        def write(self, text):
            if f'"step": {step},' in text:
                torn_write(self.f, text)
            return self.f.write(text)
    runlog.open = lambda path, mode="r", *a, **k: (
        Appender(open(path, mode, *a, **k)) if mode == "a" else open(path, mode, *a, **k))
sys.exit(main(args))
'''


def _run(argv, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RANK", None)
    return subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def _rows(out):
    return [{k: v for k, v in r.items() if k != "time"} for r in read_metrics(out)]


def test_kill_during_checkpoint_and_log_writes_then_resume_equals_an_uninterrupted_run(tmp_path):
    seed = int(os.environ.get("SOFTFACT_FAULT_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    k1 = rng.randint(2, STEPS - 2)   # killed while writing this step's checkpoint
    k2 = rng.randint(k1, STEPS - 1)  # then, resumed, while appending this step's log row
    f1, f2 = rng.random(), rng.random()
    at = f"seed {seed}: checkpoint kill at step {k1} ({f1:.2f}), log kill at step {k2} ({f2:.2f})"
    out, ref = tmp_path / "run", tmp_path / "ref"
    args = ["train", *TINY, "--steps", str(STEPS), "--out-dir", str(out)]

    r = _run(["-c", DRIVER, "checkpoint", str(k1), str(f1), *args], tmp_path)
    assert r.returncode == -9, f"{at}\n{r.stderr}"
    assert len(list(out.glob(".checkpoint.pt.*.tmp"))) == 1, at  # the torn write's temp file
    assert load_checkpoint(out)["step"] == k1 - 1, at            # the previous one is whole

    r = _run(["-c", DRIVER, "log", str(k2), str(f2), *args, "--resume"], tmp_path)
    assert r.returncode == -9, f"{at}\n{r.stderr}"
    assert "removed 1 temporary file(s) an interrupted write left" in r.stderr, at
    assert not list(out.glob(".*.tmp")), at
    assert not RunFiles(out).log.read_text().endswith("\n"), at  # a torn last line
    assert load_checkpoint(out)["step"] == k2 - 1, at

    with pytest.warns(UserWarning, match="dropped a torn last line"):
        assert main([*args, "--resume"]) == 0, at  # here: a third process is only slower

    assert main(["train", *TINY, "--steps", str(STEPS), "--out-dir", str(ref)]) == 0
    done, whole = load_checkpoint(out), load_checkpoint(ref)
    assert done["step"] == whole["step"] == STEPS
    for name, tensor in whole["model"].items():
        assert torch.equal(done["model"][name], tensor), f"{at}: {name} differs"
    assert _rows(out) == _rows(ref), at
    assert [r["step"] for r in _rows(out)] == list(range(1, STEPS + 1)), at
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml", "metrics.jsonl"]
