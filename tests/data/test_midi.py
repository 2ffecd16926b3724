"""MIDI -> grid notes -> piano roll, on MIDI files the tests write with symusic."""
from fractions import Fraction

import numpy as np
import pytest
from symusic import Note, Score, Track

from softfact.data.midi import (MidiDataError, grid_notes, midi_to_roll, notes_to_roll,
                                read_midi_notes, ticks_to_steps)


def write_midi(path, tracks, tpq=480):
    """tracks: list of (is_drum, [(start_tick, duration_ticks, pitch), ...])."""
    score = Score(tpq)
    for k, (is_drum, notes) in enumerate(tracks):
        track = Track(name=f"t{k}", program=0, is_drum=is_drum)
        for start, dur, pitch in notes:
            track.notes.append(Note(start, dur, pitch, 90))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def round_half_up(ticks, tpq, spq):
    """The rule, one note at a time in exact fractions: the reference for the vectorised code."""
    x = Fraction(ticks * spq, tpq)
    return int(x + Fraction(1, 2)) if x >= 0 else None


def test_ticks_to_steps_rounds_halves_up():
    # 480 ticks per quarter, 4 steps per quarter: 120 ticks per step, halves at 60, 180, ...
    ticks = np.array([0, 59, 60, 61, 119, 179, 180, 181, 300, 420])
    assert ticks_to_steps(ticks, 480, 4).tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 3, 4]
    # 96 ticks per quarter on a grid of 3 steps: 32 ticks per step, halves at 16, 48, ...
    assert ticks_to_steps(np.array([15, 16, 47, 48]), 96, 3).tolist() == [0, 1, 1, 2]


def test_file_notes_follow_rounding_rule(tmp_path):
    rng = np.random.default_rng(0)
    tpq, spq = 384, 4
    # one note per pitch: MIDI cannot say which of two overlapping same-pitch notes ends first
    pitches = rng.permutation(np.arange(20, 110))
    notes = [(int(s), int(d), int(p)) for s, d, p in zip(rng.integers(0, 20 * tpq, 90),
                                                         rng.integers(1, 3 * tpq, 90), pitches)]
    path = write_midi(tmp_path / "a.mid", [(False, notes)], tpq=tpq)
    got = read_midi_notes(path, steps_per_quarter=spq)
    want = []
    for s, d, p in notes:
        a, b = round_half_up(s, tpq, spq), round_half_up(s + d, tpq, spq)
        want.append((p, a, max(b, a + 1)))
    assert sorted(map(tuple, got.tolist())) == sorted(want)


def test_short_note_still_covers_one_step(tmp_path):
    # 480 tpq, 4 spq: 120 ticks per step. Both notes round to zero length.
    path = write_midi(tmp_path / "short.mid", [(False, [(0, 10, 60), (250, 30, 64)])])
    notes = read_midi_notes(path, steps_per_quarter=4)
    assert notes.tolist() == [[60, 0, 1], [64, 2, 3]]
    roll = midi_to_roll(path)
    assert roll.shape == (128, 3) and roll.sum() == 2 and roll[60, 0] and roll[64, 2]


def test_drum_tracks_are_dropped(tmp_path):
    path = write_midi(tmp_path / "d.mid", [(True, [(0, 480, 36), (480, 480, 38)]),
                                          (False, [(0, 960, 72)])])
    assert read_midi_notes(path).tolist() == [[72, 0, 8]]
    only_drums = write_midi(tmp_path / "dd.mid", [(True, [(0, 480, 36)])])
    assert read_midi_notes(only_drums).shape == (0, 3)


def test_multiple_tracks_merge_into_one_roll(tmp_path):
    a = [(0, 480, 60), (480, 480, 62)]
    b = [(240, 960, 60), (0, 1920, 48)]  # overlaps track a's pitch 60
    path = write_midi(tmp_path / "m.mid", [(False, a), (False, b)])
    roll = midi_to_roll(path, steps_per_quarter=4)
    assert roll.shape == (128, 16) and roll.dtype == bool
    assert roll[60].nonzero()[0].tolist() == list(range(0, 10))  # steps 0-4 and 2-10 merged
    assert roll[62].nonzero()[0].tolist() == list(range(4, 8))
    assert roll[48].nonzero()[0].tolist() == list(range(0, 16))
    assert roll.sum() == 10 + 4 + 16


def test_rows_are_pitch_low_to_high(tmp_path):
    path = write_midi(tmp_path / "o.mid", [(False, [(0, 480, 40), (480, 480, 90)])])
    roll = midi_to_roll(path)
    assert roll[40, 0] and roll[90, 4] and not roll[87, 0]


def test_notes_to_roll_matches_per_note_loop():
    rng = np.random.default_rng(1)
    p = rng.integers(0, 128, 300)
    s = rng.integers(0, 500, 300)
    notes = np.stack([p, s, s + rng.integers(1, 40, 300)], 1)
    want = np.zeros((128, int(notes[:, 2].max())), dtype=bool)
    for pitch, a, b in notes:
        want[pitch, a:b] = True
    np.testing.assert_array_equal(notes_to_roll(notes), want)
    np.testing.assert_array_equal(notes_to_roll(notes, n_steps=100), want[:, :100])


def test_grid_notes_sorted_and_checked():
    out = grid_notes(np.array([64, 60]), np.array([480, 480]), np.array([960, 600]), tpq=480,
                     steps_per_quarter=4)
    assert out.tolist() == [[60, 4, 5], [64, 4, 8]]
    with pytest.raises(ValueError):
        grid_notes(np.array([128]), np.array([0]), np.array([10]), tpq=480, steps_per_quarter=4)


def test_corrupt_file_is_one_line_error_naming_it(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd this is not a midi file" * 3)
    with pytest.raises(MidiDataError) as e:
        read_midi_notes(bad)
    assert "bad.mid" in str(e.value) and "\n" not in str(e.value)


def test_scores_in_quarter_units_are_converted_to_ticks(tmp_path):
    from softfact.data.midi import score_notes
    path = write_midi(tmp_path / "q.mid", [(False, [(0, 480, 60), (600, 200, 62)])])
    quarter = Score(str(path), ttype="quarter")
    assert score_notes(quarter).tolist() == read_midi_notes(path).tolist() == [[60, 0, 4], [62, 5, 7]]
