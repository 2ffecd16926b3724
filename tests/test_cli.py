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


def test_midi_run_splits_by_tune_moves_and_embeds(tmp_path, capsys, monkeypatch):
    """A MIDI run: corpus summary and split.json, absolute paths, --midi-dir for a moved
    corpus, the MIDI quality bar, and embeddings of a folder."""
    import numpy as np

    from tests.data.synthetic_midi import write_midi
    corpus = tmp_path / "corpus"
    for i in range(1, 7):  # six tunes, each with a version below it (POP909's layout)
        song = [(False, [(t * 240, 240, 50 + i + (t % 5)) for t in range(48)])]
        (corpus / f"{i:03d}" / "versions").mkdir(parents=True)
        write_midi(corpus / f"{i:03d}" / f"{i:03d}.mid", song)
        write_midi(corpus / f"{i:03d}" / "versions" / "v1.mid", song)
    monkeypatch.chdir(tmp_path)
    args = ["--steps=2", "--batch-size=8", "--data=midi", "--midi-dir=corpus", "--cache-dir=cache",
            "--encoder=conv", "--image-size=16", "--width=4", "--depth=2", "--max-shift=2",
            "--val-fraction=0.5", "--eval-blobs=10", "--metric-images=8", "--device=cpu",
            "--out-dir=run"]
    assert main(["train", *args]) == 0
    printed = capsys.readouterr().out
    assert "corpus" in printed and "12 files, 12 songs (0 skipped), 6 tunes by stem" in printed
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert sorted(split["train"] + split["val"]) == sorted(
        p.relative_to(corpus).as_posix() for p in corpus.rglob("*.mid"))
    tunes = lambda names: {n.split("/")[0] for n in names}
    assert split["val"] and not tunes(split["train"]) & tunes(split["val"])
    from softfact.training import load_checkpoint
    cfg = load_checkpoint(tmp_path / "run")["config"]
    assert cfg["midi_dir"] == str(corpus) and cfg["cache_dir"] == str(tmp_path / "cache")
    # the corpus moves; the run is evaluated from another directory
    moved = tmp_path / "elsewhere" / "midi"
    moved.parent.mkdir()
    corpus.rename(moved)
    monkeypatch.chdir(moved.parent)
    run = str(tmp_path / "run")
    assert main(["evaluate", run, "--n", "10"]) == 2
    assert "MIDI folder not found" in capsys.readouterr().err
    assert main(["evaluate", run, "--n", "10", "--midi-dir", str(moved)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("quality bar: MIDI") and "angle_pitch_deg" in out
    # embeddings: one row per window, with song and position
    assert main(["embed", run, "--midi-dir", str(moved), "--out", "e.npz", "--quiet"]) == 0
    with np.load(moved.parent / "e.npz") as z:
        assert z["z"].shape[0] == len(z["song"]) == len(z["start"]) == len(z["pitch"]) > 0
        assert set(z["song_path"]) == {str(p.relative_to(moved).as_posix())
                                       for p in moved.rglob("*.mid")}
        assert int(z["hop"]) == 8 and int(z["size"]) == 16 and z["z"].shape[1] == 16
        assert z["start"].min() == 0 and ((z["pitch"] >= 0) & (z["pitch"] <= 112)).all()
    assert main(["embed", run, "--out", "e.parquet"]) == 2
    assert "written as .npz" in capsys.readouterr().err
    assert not (moved.parent / "e.parquet").exists()
