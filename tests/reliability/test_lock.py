"""One writer per run folder: a second start is refused naming the holder; a killed holder
blocks nothing."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from softfact.cli import main
from softfact.training.checkpoint import load_checkpoint
from softfact.training.runlog import read_metrics
from softfact.utils import lock
from softfact.utils.runfiles import RunFiles

from .conftest import TINY, one_error_line


def test_lock_is_reentrant_in_one_process_and_removed_when_released(tmp_path):
    run = tmp_path / "run"
    assert lock.acquire(run, command="softfact train") is True
    assert lock.acquire(run) is False  # the same process again: no deadlock
    info = json.loads(RunFiles(run).lock.read_text())
    assert info["pid"] == os.getpid() and info["command"] == "softfact train"
    lock.release(run)
    assert lock.is_held(run) and RunFiles(run).lock.exists()
    lock.release(run)
    assert not lock.is_held(run) and not RunFiles(run).lock.exists()


def test_another_holder_is_named_and_a_stale_lock_file_blocks_nothing(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    path = RunFiles(run).lock
    path.write_text(json.dumps({"pid": 4242, "host": "box", "command": "softfact run"}))
    with lock.run_lock(run):  # a file left by a killed process: not locked, taken over
        assert json.loads(path.read_text())["pid"] == os.getpid()
    path.write_text(json.dumps({"pid": 4242, "host": "box", "command": "softfact run --steps 9"}))
    fd = os.open(path, os.O_RDWR)  # another open file description holds the flock now
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(lock.RunFolderBusy, match=f"run folder {run} is in use by process "
                           r"4242 on box \(softfact run --steps 9\)"):
            lock.acquire(run)
    finally:
        os.close(fd)
    assert not lock.is_held(run)


def test_two_starts_on_one_folder(tmp_path, capsys):
    """A real second process: the first trains on; the second start, a resume, an evaluation
    are refused naming it; after ``kill -9`` of the first, the folder is free again."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RANK", None)
    first = subprocess.Popen(
        [sys.executable, "-m", "softfact", "train", *TINY, "--steps", "1000000", "--log-every",
         "10", "--ckpt-every", "5", "--out-dir", str(out)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not (out / "checkpoint.pt").exists():
            assert first.poll() is None, first.stderr.read().decode()
            assert time.monotonic() < deadline, "the first run never wrote a checkpoint"
            time.sleep(0.1)
        for argv in (["train", *TINY, "--out-dir", str(out)],
                     ["train", "--resume", str(out), "--quiet"],
                     ["evaluate", str(out)], ["report", str(out)]):
            assert main(argv) == 2, argv
            line = one_error_line(capsys.readouterr())
            assert f"run folder {out} is in use by process {first.pid}" in line, argv
            assert "softfact train" in line and "--steps 1000000" in line
        assert first.poll() is None  # the first run was not disturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert not (out / "metrics.json").exists()
    step = load_checkpoint(out)["step"]
    assert main(["train", "--resume", str(out), "--quiet", "--steps", str(step + 2)]) == 0
    assert load_checkpoint(out)["step"] == step + 2
    steps = [r["step"] for r in read_metrics(out)]
    assert steps == sorted(set(steps)) and steps[-1] == step + 2  # one run's rows, in order
    assert not RunFiles(out).lock.exists()
