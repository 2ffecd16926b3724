"""Rolls -> MIDI files that softfact's own parser reads back to the same roll."""
import numpy as np
import pytest
import torch

from softfact.data.midi_files import midi_to_roll
from softfact.data.midi_write import (MidiWriteError, WavRenderer, check_soundfont, roll_notes,
                                      roll_to_score, write_midi)
from tests.data.tiny_sf2 import tiny_sf2


@pytest.mark.parametrize("spq", [4, 3, 1])
def test_random_roll_reads_back_identically(tmp_path, spq):
    rng = np.random.default_rng(spq)
    roll = rng.random((40, 50)) < 0.25                       # many runs, touching notes, edges
    roll[:, -1] = True                                       # notes that end at the last step
    path = write_midi(roll, tmp_path / "a.mid", lowest_pitch=30, steps_per_quarter=spq)
    back = midi_to_roll(path, steps_per_quarter=spq)
    assert back.shape == (128, 50)
    assert np.array_equal(back[30:70], roll)
    assert not back[:30].any() and not back[70:].any()
    assert not list(tmp_path.glob(".*.tmp"))


def test_score_holds_one_note_per_run_with_velocity_and_tempo():
    roll = torch.zeros(1, 3, 8)                              # (1, P, T) crops as the sources give
    roll[0, 0, 1:3] = 1.0
    roll[0, 2, 0] = 0.7
    roll[0, 2, 5:8] = 1.0
    assert roll_notes(roll).tolist() == [[2, 0, 1], [0, 1, 3], [2, 5, 8]]
    score = roll_to_score(roll, lowest_pitch=48, tempo=90, velocity=100)
    notes = [(n.time, n.duration, n.pitch, n.velocity) for n in score.tracks[0].notes]
    assert notes == [(0, 120, 50, 100), (120, 240, 48, 100), (600, 360, 50, 100)]
    assert score.ticks_per_quarter == 480 and score.tempos[0].qpm == pytest.approx(90)


def test_bad_rolls_are_one_line_errors(tmp_path):
    with pytest.raises(MidiWriteError, match=r"\(pitches, steps\), got shape \(2, 3, 4\)"):
        roll_to_score(np.zeros((2, 3, 4)))
    with pytest.raises(MidiWriteError, match="do not fit the MIDI pitches"):
        roll_to_score(np.zeros((64, 4)), lowest_pitch=80)
    with pytest.raises(MidiWriteError, match="velocity"):
        roll_to_score(np.zeros((4, 4)), velocity=0)
    target = tmp_path / "keep.mid"
    target.write_bytes(b"old")
    with pytest.raises(MidiWriteError):
        write_midi(np.zeros((200, 4)), target)
    assert target.read_bytes() == b"old"                     # nothing half-written


def test_soundfont_problems_are_one_line_errors(tmp_path):
    assert check_soundfont(None) is None
    with pytest.raises(MidiWriteError, match="SoundFont not found"):
        check_soundfont(tmp_path / "missing.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_text("not a soundfont")
    with pytest.raises(MidiWriteError, match="cannot load SoundFont"):
        WavRenderer(bad)


def test_a_valid_soundfont_renders_or_says_why_not(tmp_path):
    sf2 = tmp_path / "tiny.sf2"
    tiny_sf2(sf2)
    try:
        renderer = WavRenderer(sf2)
    except MidiWriteError as e:                              # symusic 0.6.0: render is unusable
        assert "cannot render audio" in str(e) and "\n" not in str(e)
        return
    roll = np.zeros((4, 8), bool)
    roll[1, :4] = True
    out = renderer.render(roll_to_score(roll, lowest_pitch=60), tmp_path / "a.wav")
    assert out.read_bytes()[:4] == b"RIFF" and out.stat().st_size > 1000
