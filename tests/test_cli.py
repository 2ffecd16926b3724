import json

from softfact.cli import main


def test_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--steps=30", "--batch-size=32", "--ckpt-every=10",
                 "--device=cpu", f"--out-dir={out}"]) == 0
    assert (out / "checkpoint.pt").exists()
    assert main(["evaluate", str(out), "--n", "40"]) == 0
    printed = capsys.readouterr().out
    assert "cross_abs_cos" in printed and "0.116" in printed  # beside the seed's figure
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["step"] == 30 and "angle_pitch_deg" in metrics
    # resume from the folder and extend the run
    assert main(["train", "--quiet", "--resume", str(out), "--steps=40"]) == 0
    from softfact.training import load_checkpoint
    state = load_checkpoint(out)
    assert state["step"] == 40 and state["config"]["steps"] == 40


def test_bad_config_key_is_one_line(tmp_path, capsys):
    assert main(["train", "--quiet", "--learning-rate=0.1", f"--out-dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "softfact: error: unknown config key 'learning_rate'"
    assert not any(tmp_path.iterdir())  # nothing written


def test_missing_run_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run at" in err[0] and "nope" in err[0]


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2


def test_run_trains_evaluates_once_and_reports(tmp_path, capsys, monkeypatch):
    """The main job: one evaluation feeds both the printed table and the report page."""
    from softfact.run import Run
    calls = []
    real = Run.evaluate
    monkeypatch.setattr(Run, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = tmp_path / "run"
    assert main(["run", "--quiet", "--no-umap", "--steps=3", "--batch-size=8", "--eval-blobs=20",
                 "--metric-images=8", "--device=cpu", f"--out-dir={out}"]) == 0
    printed = capsys.readouterr().out
    assert "opposite_sign_cos" in printed and "report.html" in printed
    assert calls == [1]
    assert (out / "report.html").stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text())["step"] == 3
