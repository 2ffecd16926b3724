import csv

import pytest

from softfact import sweep
from softfact.config import ConfigError

ARGS = ["--seeds", "1", "--weights", "1", "--configs", "w1,untrained", "--quiet", "--metric-images=8",
        "--steps=5", "--batch-size=16", "--eval-blobs=20", "--warmup-steps=1"]


def test_sweep_writes_table_and_plot_then_skips_finished_runs(tmp_path, monkeypatch):
    out = tmp_path / "sw"
    assert sweep.main(["--out", str(out), *ARGS]) == 0
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["config"], r["seed"], r["step"]) for r in rows] == [("w1", "0", "5"), ("untrained", "0", "0")]
    for key in ("r2", "analogy_mrr", "mig", "dci_disentanglement", "angle_pitch_deg"):
        assert rows[0][key] != ""
    md = (out / "sweep.md").read_text()
    assert "| r2 |" in md and "w1 (n=1)" in md and "untrained (n=1)" in md and " ± " in md
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    stamp = (out / "w1-s0" / "metrics.json").stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("a finished run was redone")
    import softfact.training
    from softfact.run import Run
    monkeypatch.setattr(softfact.training, "train", boom)
    monkeypatch.setattr(Run, "evaluate", boom)
    (out / "sweep.md").unlink()
    assert sweep.main(["--out", str(out), *ARGS]) == 0
    assert (out / "sweep.md").exists()
    assert (out / "w1-s0" / "metrics.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="other settings"):
        sweep.main(["--out", str(out), *ARGS[:-4], "--steps=6", *ARGS[-3:]])


def test_trained_but_unevaluated_run_is_only_evaluated(tmp_path, monkeypatch):
    out = tmp_path / "sw"
    args = ["--out", str(out), *ARGS[:4], "--configs", "w1", *ARGS[6:]]
    assert sweep.main(args) == 0
    (out / "w1-s0" / "metrics.json").unlink()
    import softfact.training
    monkeypatch.setattr(softfact.training, "train", lambda *a, **k: pytest.fail("retrained"))
    assert sweep.main(args) == 0
    assert (out / "w1-s0" / "metrics.json").exists()


def test_grid_and_bad_options():
    names = [n for n, _, s in sweep.grid([0, 0.1, 3], 2) if s == 0]
    assert names == ["w0", "w0.1", "w3", "fact-only", "untrained"]
    assert dict((n, k) for n, k, _ in sweep.grid([0], 1))["w0"] == {"use_jepa": True, "fact_weight": 0.0}
    with pytest.raises(ConfigError, match="unknown sweep config"):
        sweep.grid([1], 1, ["nope"])
    with pytest.raises(ConfigError, match="weights"):
        sweep.parse(["--weights", "a,b"])
    with pytest.raises(ConfigError, match="seeds"):
        sweep.parse(["--seeds", "0"])
    with pytest.raises(ConfigError, match="set by the sweep"):
        sweep.parse(["--fact-weight=2"])
    with pytest.raises(ConfigError, match="unknown config key"):
        sweep.main(["--out", "unused", "--seeds", "1", "--configs", "untrained", "--nosuchkey=1"])


def test_vary_sweeps_any_one_key_with_table_plot_and_tradeoff(tmp_path):
    out = tmp_path / "sv"
    args = ["--out", str(out), "--seeds", "1", "--vary", "linear_weight=0,2", "--quiet", *ARGS[6:]]
    assert sweep.main(args) == 0
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["config"], r["linear_weight"]) for r in rows] == [("linear_weight=0", "0.0"),
                                                                 ("linear_weight=2", "2.0")]
    assert rows[0]["analogy_top1"] != "" and rows[0]["same_sign_cos"] != ""
    assert (out / "linear_weight=2-s0").is_dir()
    from softfact.run import Run
    assert Run.load(out / "linear_weight=2-s0").config.linear_weight == 2.0
    assert Run.load(out / "linear_weight=0-s0").config.use_jepa is False  # nothing else changed
    md = (out / "sweep.md").read_text()
    assert "linear_weight=0 (n=1)" in md and "| analogy_top1 |" in md
    for png in ("sweep.png", "tradeoff.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_vary_bad_options():
    assert sweep.parse_vary("shared-weight=0,0.3, 1") == ("shared_weight", ["0", "0.3", "1"])
    with pytest.raises(ConfigError, match="unknown config key 'sharedweight'"):
        sweep.parse_vary("sharedweight=0,1")
    with pytest.raises(ConfigError, match="'steps' expects int, got 'x'"):
        sweep.parse_vary("steps=10,x")
    with pytest.raises(ConfigError, match="KEY=v1,v2"):
        sweep.parse_vary("shared_weight")
    with pytest.raises(ConfigError, match="set by the sweep"):
        sweep.parse_vary("seed=0,1")
    with pytest.raises(ConfigError, match="with --vary list the values"):
        sweep.parse(["--vary", "lr=1e-3", "--configs", "w1"])
    with pytest.raises(ConfigError, match="set by --vary"):
        sweep.parse(["--vary", "lr=1e-3,1e-2", "--lr=1"])
    with pytest.raises(ConfigError, match="'shared_weight' must be >= 0"):
        sweep.main(["--out", "unused", "--seeds", "1", "--vary", "shared_weight=-1", "--quiet"])
