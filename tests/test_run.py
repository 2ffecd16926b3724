"""softfact.Run: one object owning a run folder."""
import json

import pytest
import torch

from softfact.cli import main
from softfact.config import ConfigError
from softfact.run import Run, RunError



def test_load_a_folder_or_its_checkpoint(golden_run):
    a, b = Run.load(golden_run), Run.load(golden_run / "checkpoint.pt")
    assert a.root == b.root == golden_run
    assert a.step == 30 and a.config.crops == 6 and a.config.max_shift == 4
    x = torch.rand(3, 1, 16, 16)
    assert torch.equal(a.encoder(x), b.encoder(x))
    assert not a.encoder.training
    assert "step=30" in repr(a)


def test_errors_name_the_path_given(tmp_path):
    with pytest.raises(RunError, match="nosuch"):
        Run.load(tmp_path / "nosuch")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="empty is not a run folder"):
        Run.load(tmp_path / "empty")


def test_data_settings_can_change_but_the_model_cannot(golden_run):
    run = Run.load(golden_run, eval_blobs=7, metric_images=None)
    assert run.config.eval_blobs == 7 and run.config.metric_images == 12
    with pytest.raises(ConfigError, match="latent_dim"):
        Run.load(golden_run, latent_dim=8)


def test_source_is_built_once_per_split(golden_run):
    run = Run.load(golden_run)
    assert run.source("val") is run.source("val")
    x = run.source("val")(4, torch.Generator().manual_seed(0))
    assert x.shape == (4, 1, 16, 16)


def test_metrics_json_is_merged_and_only_written_by_the_run(golden_run):
    run = Run.load(golden_run)
    assert run.metrics() == {}
    run.write_metrics({"a": 1.0})
    merged = run.write_metrics({"b": 2.0})
    assert merged == {"a": 1.0, "b": 2.0} == json.loads((golden_run / "metrics.json").read_text())
    assert not list(golden_run.glob(".metrics.json.*"))  # atomic: no temporary left


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_broken_metrics_json_is_one_line(golden_run, text, capsys):
    (golden_run / "metrics.json").write_text(text)
    with pytest.raises(RunError, match="metrics.json"):
        Run.load(golden_run).metrics()
    assert main(["evaluate", str(golden_run), "--n", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metrics.json" in err[0]


def test_evaluate_uses_the_runs_own_settings(golden_run, monkeypatch):
    import softfact.run as run_mod
    seen = {}
    monkeypatch.setattr(run_mod, "evaluate",
                        lambda enc, src, **kw: seen.update(kw) or run_mod.Evaluation({}, None, None))
    run = Run.load(golden_run)
    run.config.max_shift, run.config.wrap = 3, True  # as if trained so
    run.evaluate(write=False)
    assert seen == {"max_shift": 3, "wrap": True, "seed": 0, "n_probe": 60, "n_grid": 12,
                    "progress": False}


def test_run_files_are_paths_in_the_folder(tmp_path):
    from softfact.utils.runfiles import RunFiles
    files = RunFiles(tmp_path)
    names = [n for n in dir(RunFiles) if isinstance(getattr(RunFiles, n), property)]
    assert len(names) >= 6
    for name in names:
        assert getattr(files, name).parent == tmp_path, name
