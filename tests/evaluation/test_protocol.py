import numpy as np
import pytest
import torch

from softfact.models import ToyEncoder
from softfact.evaluation import (MIDI_QUALITY_BAR, QUALITY_BAR, SEED_FIGURES, diff_vector_probe,
                                 evaluate_encoder, format_table, meets_quality_bar, quality_bar)


def centred_squares(n, generator):
    """Content that never leaves a 16x16 frame under shifts up to 4: shifts are exact."""
    x = torch.zeros(n, 1, 16, 16)
    x[:, :, 6:9, 7:9] = 1.0
    return x


class Oracle(torch.nn.Module):
    """Embeds the centre of mass: pitch moves z[0], time moves z[1], nothing else."""

    def forward(self, x):
        h, w = x.shape[-2:]
        m = x.sum((1, 2, 3)).clamp_min(1e-9)
        rows = (x.sum((1, 3)) * torch.arange(h)).sum(1) / m
        cols = (x.sum((1, 2)) * torch.arange(w)).sum(1) / m
        z = torch.zeros(x.shape[0], 8)
        z[:, 0], z[:, 1] = rows, cols
        return z


def test_oracle_scores_perfectly():
    m, _ = evaluate_encoder(Oracle(), centred_squares, n=50, max_shift=4)
    assert m["cross_abs_cos"] == pytest.approx(0.0, abs=1e-6)
    assert m["same_sign_cos"] == pytest.approx(1.0, abs=1e-6)
    assert m["opposite_sign_cos"] == pytest.approx(-1.0, abs=1e-6)
    assert m["angle_pitch_deg"] == pytest.approx(180.0, abs=0.1)
    assert m["angle_time_deg"] == pytest.approx(180.0, abs=0.1)
    assert m["pitch_pitch_abs_cos"] == pytest.approx(1.0, abs=1e-6)
    assert m["pitch_consistency"] == pytest.approx(1.0, abs=1e-6)
    assert m["time_consistency"] == pytest.approx(1.0, abs=1e-6)
    assert m["pca_evr_1"] + m["pca_evr_2"] == pytest.approx(1.0, abs=1e-6)
    assert all(meets_quality_bar(m).values())


def test_protocol_draws_distinct_shifts_and_pairs_like_the_seed():
    """Recover the shifts from the oracle's differences: s1 != s2, opposite is -s1."""
    g = torch.Generator().manual_seed(0)
    dv = diff_vector_probe(Oracle(), centred_squares, n=300, max_shift=4, generator=g)
    plus = np.rint(dv.pitch_d[0::2, 0]).astype(int)
    minus = np.rint(dv.pitch_d[1::2, 0]).astype(int)
    assert set(plus) == {1, 2, 3, 4} and (minus == -plus).all()
    assert np.allclose(dv.time_d[0::2, 1], plus)  # same image and shift for the cross pairs


def test_random_and_constant_encoders_do_not_crash(gen):
    from softfact.data.blobs import make_blobs
    torch.manual_seed(0)
    m, _ = evaluate_encoder(ToyEncoder(), lambda n, g: make_blobs(n, generator=g), n=40, max_shift=4)
    assert all(np.isfinite(v) for v in m.values())
    assert not all(meets_quality_bar(m).values())
    const = lambda x: torch.ones(x.shape[0], 4)  # noqa: E731 - a plain function as encoder
    m, _ = evaluate_encoder(const, centred_squares, n=20, max_shift=4)
    assert all(np.isfinite(v) for v in m.values())
    assert m["cross_abs_cos"] == 0.0 and m["angle_pitch_deg"] == pytest.approx(90.0)


def test_table_lists_seed_figures_and_marks():
    m = {k: v for k, v in SEED_FIGURES.items()}
    text = format_table(m)
    assert "0.116" in text and "cross_abs_cos" in text
    assert text.count("ok") + text.count("MISS") == len(QUALITY_BAR)
    assert "MISS" not in text  # the bar is the seed's own quality
    assert "MISS" in format_table({**m, "opposite_sign_cos": -0.5})


def test_midi_runs_are_graded_by_the_midi_bar():
    """The issue's run: a pitch angle of 142.5 degrees is no miss on MIDI (no angle bar there)."""
    m = {"cross_abs_cos": 0.14, "same_sign_cos": 0.91, "opposite_sign_cos": -0.81,
         "angle_pitch_deg": 142.5, "angle_time_deg": 170.0}
    assert quality_bar("blobs") == ("toy", QUALITY_BAR)
    for data in ("midi", "bach"):
        assert quality_bar(data) == ("MIDI", MIDI_QUALITY_BAR)
    assert MIDI_QUALITY_BAR == {"cross_abs_cos": ("<=", 0.15), "same_sign_cos": (">=", 0.9),
                                "opposite_sign_cos": ("<=", -0.8)}
    toy, midi = format_table(m), format_table(m, data="midi")
    assert "MISS" in toy and toy.splitlines()[0].startswith("quality bar: toy")
    assert "MISS" not in midi and midi.count("ok") == 3
    assert midi.splitlines()[0].startswith("quality bar: MIDI") and "reference only" in midi
    assert "MISS" in format_table({**m, "cross_abs_cos": 0.2}, data="midi")
