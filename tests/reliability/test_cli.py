"""Every error a user or an operator can cause is one line on stderr and exit status 2.

Each case calls the ``softfact`` command in-process (``softfact.cli.main``) and checks: the
status, that stderr holds exactly one ``softfact: error:`` line, that the line names what is
wrong, and that nothing was written where it should not be.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from softfact.cli import main
from softfact.training import distributed
from softfact.training.checkpoint import load_checkpoint

from .conftest import TINY, one_error_line


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("reliability") / "run"
    assert main(["train", *TINY, "--out-dir", str(out)]) == 0
    return out


def _copy(run, dest):
    shutil.copytree(run, dest)
    return dest


@pytest.mark.parametrize("arg, says", [
    ("--lr=nan", "config key 'lr' must be a finite number, got nan"),
    ("--lr=inf", "config key 'lr' must be a finite number, got inf"),
    ("--weight-decay=-1", "config key 'weight_decay' must be >= 0, got -1.0"),
    ("--device=foo", "config key 'device' must be auto, cpu, cuda, cuda:N or mps, got 'foo'"),
    ("--device=cuda:99", "'cuda:99' is not available here"),
    ("--image-size=2", "config key 'image_size' must be >= 4 for blobs, got 2"),
])
def test_bad_values_stop_before_anything_is_written(tmp_path, capsys, arg, says):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out-dir", str(out), arg]) == 2
    assert says in one_error_line(capsys.readouterr())
    assert not out.exists()


def test_report_and_evaluate_name_the_path_given_never_the_current_folder(trained, monkeypatch,
                                                                         capsys):
    monkeypatch.chdir(trained)  # a folder holding checkpoint.pt
    before = sorted(p.name for p in trained.iterdir())
    for argv, says in ((["report", "typo_dir"], "no run at typo_dir"),
                       (["evaluate", "typo_dir"], "no run at typo_dir"),
                       (["report", ""], "no run folder given"),
                       (["train", "--resume", "typo_dir"], "no checkpoint at typo_dir")):
        assert main(argv) == 2, argv
        assert says in one_error_line(capsys.readouterr()), argv
    assert sorted(p.name for p in trained.iterdir()) == before  # nothing written here


@pytest.mark.parametrize("content, says", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "does not hold a JSON object"),
])
def test_damaged_metrics_json_is_one_line_before_any_work(trained, tmp_path, capsys, content,
                                                         says):
    run = _copy(trained, tmp_path / "run")
    (run / "metrics.json").write_text(content)
    for command in ("evaluate", "report"):
        assert main([command, str(run)]) == 2
        line = one_error_line(capsys.readouterr())
        assert str(run / "metrics.json") in line and says in line
    assert (run / "metrics.json").read_text() == content
    assert not (run / "report.html").exists()


def test_zero_byte_checkpoint_is_one_line(trained, tmp_path, capsys):
    run = _copy(trained, tmp_path / "run")
    (run / "checkpoint.pt").write_bytes(b"")
    for argv in (["evaluate", str(run)], ["train", "--resume", str(run), "--quiet"]):
        assert main(argv) == 2
        assert f"checkpoint {run / 'checkpoint.pt'} is empty (0 bytes)" in \
            one_error_line(capsys.readouterr())


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo this-must-never-run",))


def test_pickled_checkpoint_is_refused_naming_the_global(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"format": "softfact-checkpoint-v1", "step": 1, "x": _Payload()},
               run / "checkpoint.pt")
    assert main(["evaluate", str(run)]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured)
    assert "holds code-carrying pickle data" in line and "refused" in line
    assert f"the global {os.system.__module__}.system" in line
    assert "weights_only" not in line and "this-must-never-run" not in captured.out


@pytest.mark.parametrize("rank", [0, 1])
def test_batch_not_divisible_by_world_size_is_said_once(tmp_path, capsys, monkeypatch, rank):
    # what torchrun gives each process; the check fails alike on every rank
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setattr(distributed, "setup",
                        lambda kind: distributed.DistInfo(rank=rank, world_size=2, local_rank=rank))
    out = tmp_path / "run"
    assert main(["train", *TINY, "--batch-size", "7", "--out-dir", str(out)]) == 2
    captured = capsys.readouterr()
    if rank == 0:
        assert "'batch_size' (7) must be divisible by the number of processes (2)" in \
            one_error_line(captured)
    else:
        assert captured.err == ""  # rank 0 says it; the others stay silent
    assert not out.exists()


def test_readonly_out_dir_is_one_line(faultfs, capsys):
    ro = faultfs.readonly("ro")
    out = ro / "run"
    assert main(["train", *TINY, "--out-dir", str(out)]) == 2
    line = one_error_line(capsys.readouterr())
    assert line.startswith(f"softfact: error: cannot write {out}: ")
    assert "read-only file system" in line or "permission denied" in line, faultfs.kind


def test_evaluate_on_readonly_run_prints_every_metric_then_fails(trained, faultfs, capsys):
    ro = faultfs.readonly("ro", fill_from=trained)
    assert main(["evaluate", str(ro), "--quiet"]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured)
    assert line.startswith(f"softfact: error: cannot write {ro / 'metrics.json'}: ")
    assert "the metrics printed above were not saved" in line
    for key in ("analogy_top1", "cross_abs_cos", "pitch_pitch_abs_cos"):
        assert key in captured.out
    assert not (ro / "metrics.json").exists()


def test_full_disk_while_writing_the_report_is_one_line(trained, faultfs, capsys):
    full = faultfs.full("full", 1024, fill_from=trained)
    assert main(["report", str(full), "--no-umap", "--quiet"]) == 2
    line = one_error_line(capsys.readouterr())
    assert line.startswith(f"softfact: error: cannot write {full}/") and "no space left on device" in line
    assert not (full / "report.html").exists()
    assert not list(full.glob(".*.tmp"))


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(faultfs, capsys):
    # room for one checkpoint (~760 KB with Adam's state) but not for its replacement
    full = faultfs.full("full", 1100)
    out = full / "run"
    assert main(["train", *TINY, "--steps", "3", "--out-dir", str(out)]) == 2
    line = one_error_line(capsys.readouterr())
    assert (f"disk full while writing checkpoint {out / 'checkpoint.pt'} at step 2 "
            f"(no space left on device); the previous checkpoint (step 1) is intact") in line
    assert load_checkpoint(out)["step"] == 1
    assert not list(out.glob(".*.tmp")) and not (out / ".softfact.lock").exists()
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]


def test_a_bad_command_line_is_said_once_under_torchrun(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    for rank in ("1", "0"):
        monkeypatch.setenv("RANK", rank)
        assert main(["train", *TINY, "--lr=nan", "--out-dir", str(out)]) == 2
        err = capsys.readouterr().err
        assert (err == "") if rank == "1" else ("'lr' must be a finite number" in err)
