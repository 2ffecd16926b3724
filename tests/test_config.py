from pathlib import Path

import pytest

from softfact.config import ConfigError, PRESETS, TrainConfig, parse_overrides, resolve


def test_seed_defaults_are_the_notebooks():
    c = resolve("seed")
    assert (c.optimizer, c.lr, c.batch_size, c.steps, c.latent_dim, c.max_shift) == \
        ("adam", 4e-3, 1024, 5000, 16, 4)
    assert (c.use_jepa, c.jepa_weight, c.lambd, c.schedule) == (False, 0.2, 0.5, "constant")


def test_file_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("lr: 0.001\nsteps: 10\nuse_jepa: true\n")
    c = resolve("cpu", str(f), parse_overrides(["--steps=20", "--latent-dim", "8", "--wandb"]))
    assert (c.lr, c.steps, c.latent_dim, c.use_jepa, c.wandb) == (0.001, 20, 8, True, True)
    assert c.batch_size == PRESETS["cpu"]["batch_size"]


@pytest.mark.parametrize("args, match", [
    (["--lrr=0.1"], "unknown config key 'lrr' \\(did you mean 'lr'\\?\\)"),
    (["--steps=ten"], "config key 'steps' expects int, got 'ten'"),
    (["--use-jepa=maybe"], "config key 'use_jepa' expects bool"),
    (["--sigreg=paper"], "config key 'sigreg' must be one of"),
    (["--lambd=2"], "config key 'lambd' must be in"),
    (["--batch-size=0"], "config key 'batch_size' must be >= 1"),
    (["--data=midi"], "needs config key 'midi_dir'"),
    (["--schemes=pitch,diagonal"], "config key 'schemes'"),
    (["--schemes=pitch,time,cross,mixed", "--crops=6"], "needs crops: 2"),
    (["--antithetic"], "'antithetic' needs crops >= 4"),
    (["--cross-weight=-1"], "config key 'cross_weight' must be >= 0"),
    (["--blob-margin=7"], "config key 'blob_margin' must be >= 0 and leave image_size - 2 x "
                          "blob_margin >= 4, got 7 with image_size 16"),
    (["--blob-margin=-1"], "config key 'blob_margin' must be >= 0"),
    (["--data=bach", "--blob-margin=2"], "'blob_margin' places toy blobs; data 'bach' has none"),
])
def test_bad_values_are_one_line_errors(args, match):
    with pytest.raises(ConfigError, match=match) as e:
        resolve("seed", None, parse_overrides(args))
    assert "\n" not in str(e.value)


def test_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve("seed", str(tmp_path / "missing.yaml"))
    f = tmp_path / "bad.yaml"
    f.write_text("steps: 10\nbogus_key: 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'bogus_key'"):
        resolve("seed", str(f))
    f.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve("seed", str(f))
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve("gpu")


def test_roundtrip_through_dict():
    from softfact.config import from_dict
    c = resolve("cpu", None, {"seed": "3"})
    assert from_dict(c.to_dict()) == c
    assert isinstance(TrainConfig().to_dict(), dict)


def test_data_folders_are_stored_absolute_and_old_runs_keep_their_file_split(tmp_path, monkeypatch):
    from softfact.config import from_dict, resolve
    monkeypatch.chdir(tmp_path)
    cfg = resolve(overrides={"data": "midi", "midi_dir": "songs", "cache_dir": "~/c"})
    assert cfg.midi_dir == str(tmp_path / "songs") and not cfg.cache_dir.startswith("~")
    assert cfg.split_by == "stem"
    old = {k: v for k, v in cfg.to_dict().items() if k != "split_by"}  # saved before split_by
    assert from_dict(old).split_by == "file" and from_dict(cfg.to_dict()).split_by == "stem"


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_resolve(path, tmp_path):
    """Every YAML config in configs/ names known keys with valid values (a typo fails here)."""
    cfg = resolve("seed", path, {"midi_dir": str(tmp_path)})
    assert cfg.out_dir.startswith("runs/")
