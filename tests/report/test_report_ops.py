"""The report's shift figure, its "Latent operations" section and the run's MIDI files."""
import json

import numpy as np
import pytest
import torch

from softfact.config import TrainConfig
from softfact.data.midi_files import midi_to_roll
from softfact.data.midi_write import MidiWriteError
from softfact.report import build_report
from softfact.run import Run
from softfact.training import train

SMALL = dict(n_probe=40, n_svd=3, n_points_images=4, n_triplets=3, umap=False)


class LinearDecoder(torch.nn.Module):
    """(B, D) -> (B, 1, S, S) logits: a stand-in for a trained decoder."""

    def __init__(self, dim: int, size: int):
        super().__init__()
        self.size = size
        self.lin = torch.nn.Linear(dim, size * size)

    def forward(self, z):
        return self.lin(z).view(-1, 1, self.size, self.size)


def _train(tmp_path_factory, name, **kw):
    out = tmp_path_factory.mktemp(name)
    cfg = TrainConfig(steps=4, batch_size=16, log_every=2, ckpt_every=4, eval_blobs=40,
                      metric_images=8, device="cpu", out_dir=str(out), **kw)
    return train(cfg, progress=False)


@pytest.fixture(scope="module")
def blob_run(tmp_path_factory):
    return _train(tmp_path_factory, "blobs")


@pytest.fixture(scope="module")
def bach_run(tmp_path_factory):
    return _train(tmp_path_factory, "bach", data="bach", encoder="conv", image_size=16,
                  latent_dim=8, width=4, depth=2)


def _with_decoder(path):
    run = Run.load(path)
    torch.manual_seed(0)
    run.__dict__["decoder"] = LinearDecoder(run.config.latent_dim, run.config.image_size).eval()
    return run


def test_with_a_decoder_metrics_and_section_appear(blob_run):
    assert "op_f1" not in Run.load(blob_run).evaluate(n=40).metrics    # no decoder, no keys
    run = _with_decoder(blob_run)
    metrics = run.evaluate(n=40).metrics
    saved = json.loads((blob_run / "metrics.json").read_text())
    for key in ("recon_f1", "op_f1", "op_f1_ceiling", "op_f1_baseline", "op_f1_s4",
                "op_f1_ceiling_pitch", "op_f1_baseline_time", "op_latent_err", "recon_threshold"):
        assert key in saved and saved[key] == metrics[key], key
    assert 0 <= saved["op_f1"] <= 1 and saved["step"] == 4
    page = build_report(run, **SMALL).read_text()
    section = page.split('<section id="ops">')[1].split("</section>")[0]
    assert "Latent operations" in section and "size 4" in section and "data:image/png" in section
    assert page.index('id="ops"') < page.index('id="timings"')
    assert (blob_run / "latent_operations.png").exists() and (blob_run / "operation_f1.png").exists()
    assert section.count("data:image/png") == 2
    assert "v fitted" not in section and "fitted on 8 training images" in section
    # a toy run with a decoder writes its examples as MIDI too (16 pitches x 16 grid steps)
    ops = blob_run / "ops"
    assert {"op1_original.mid", "op1_recon.mid", "op3_latent_dy+0_dx+4.mid",
            "shifts_dy-4.mid"} <= {p.name for p in ops.glob("*.mid")}
    assert 'href="ops/op1_latent_dy+0_dx+4.mid"' in section
    roll = midi_to_roll(ops / "op1_true_dy+4_dx+0.mid")
    rows = np.nonzero(roll.any(1))[0]
    assert roll.shape[1] <= 16 and rows.max() - rows.min() < 16


def test_a_translating_decoder_is_scored_by_its_moves_beside_the_fitted_vectors(blob_run):
    from softfact.models import ConvDecoder
    run = Run.load(blob_run)
    torch.manual_seed(0)
    run.__dict__["decoder"] = ConvDecoder(latent_dim=run.config.latent_dim, image_size=16,
                                          width=4, margin=2).eval()
    m = run.evaluate(n=40).metrics
    assert run.latent_operations.operations.method_ == "decoder"
    assert {"op_f1_fitted", "op_f1_fitted_s4", "op_latent_err_fitted"} <= m.keys()
    section = build_report(run, **SMALL).read_text().split('<section id="ops">')[1]
    section = section.split("</section>")[0]
    assert "read from the decoder" in section and "<th>op_f1, v fitted</th>" in section
    assert f"{m['op_latent_err_fitted']:.3f} with v fitted" in section


def test_midi_run_writes_the_examples_and_triplets_as_midi(bach_run):
    run = _with_decoder(bach_run)
    page = build_report(run, **SMALL).read_text()
    ops = bach_run / "ops"
    names = {p.name for p in ops.glob("*.mid")}
    assert {"shifts_original.mid", "shifts_dy-4.mid", "shifts_dx+4.mid", "op1_original.mid",
            "op1_recon.mid", "op3_latent_dy+0_dx+4.mid", "triplet3_crop2.mid"} <= names
    for name in names:
        assert f'href="ops/{name}"' in page, name
    assert "<section id=\"ops\">" in page
    # the written original reads back, through softfact's parser, to a 16 x 16 crop with notes
    roll = midi_to_roll(ops / "op1_original.mid")
    rows = np.nonzero(roll.any(1))[0]
    assert roll.shape[1] <= 16 and rows.max() - rows.min() < 16


def test_a_missing_soundfont_fails_before_any_work(blob_run, tmp_path):
    metrics = blob_run / "metrics.json"
    before = metrics.read_text() if metrics.exists() else None
    with pytest.raises(MidiWriteError, match="SoundFont not found"):
        build_report(blob_run, soundfont=tmp_path / "none.sf2", **SMALL)
    assert (metrics.read_text() if metrics.exists() else None) == before


def test_cli_soundfont_errors_are_one_line_and_come_before_training(tmp_path, capsys):
    from softfact.cli import main
    out = tmp_path / "run"
    bad = tmp_path / "bad.sf2"
    bad.write_text("not a soundfont")
    for sf, msg in ((tmp_path / "none.sf2", "SoundFont not found"), (bad, "cannot load SoundFont")):
        assert main(["run", "--steps", "2", "--out-dir", str(out), "--soundfont", str(sf)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("softfact: error: ") and msg in err and err.count("\n") == 1
    assert not out.exists()                                  # nothing trained, nothing written
    assert main(["report", str(tmp_path / "nope"), "--soundfont", str(bad)]) == 2
    assert "cannot load SoundFont" in capsys.readouterr().err
