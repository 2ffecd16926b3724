"""MIDI files -> grid notes -> piano rolls, and a folder of them cached: on MIDI files the tests
write with symusic."""
import os
import time
import warnings
from fractions import Fraction

import numpy as np
import pytest
from symusic import Score

from softfact.data import midi_files
from softfact.data.midi_files import (MidiDataError, SongNotes, grid_notes, load_midi_folder,
                                      midi_to_roll, notes_to_roll, read_midi_notes, ticks_to_steps)

from tests.data.synthetic_midi import write_midi, write_named_tracks


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
    from softfact.data.midi_files import score_notes
    path = write_midi(tmp_path / "q.mid", [(False, [(0, 480, 60), (600, 200, 62)])])
    quarter = Score(str(path), ttype="quarter")
    assert score_notes(quarter).tolist() == read_midi_notes(path).tolist() == [[60, 0, 4], [62, 5, 7]]


# -- a folder of songs, parsed once and cached --

def make_folder(root):
    """Three good songs in nested folders, one corrupt file, one drums-only, one empty, a .txt."""
    (root / "001").mkdir(parents=True)
    (root / "sub" / "deep").mkdir(parents=True)
    write_midi(root / "001" / "001.mid", [(False, [(0, 480, 60), (480, 960, 64)])])
    write_midi(root / "sub" / "b.MIDI", [(False, [(0, 240, 70)]), (True, [(0, 480, 36)])])
    write_midi(root / "sub" / "deep" / "c.midi", [(False, [(960, 480, 50)])])
    (root / "broken.mid").write_bytes(b"\x00garbage" * 10)
    write_midi(root / "drums.mid", [(True, [(0, 480, 38)])])
    write_midi(root / "empty.mid", [])
    (root / "notes.txt").write_text("not midi")
    return root


def test_folder_parses_good_files_and_skips_bad_ones(tmp_path):
    folder = make_folder(tmp_path / "songs")
    with pytest.warns(UserWarning) as rec:
        songs = load_midi_folder(folder, cache_dir=tmp_path / "cache")
    msgs = [str(w.message) for w in rec]
    assert songs.names == ["001/001.mid", "sub/b.MIDI", "sub/deep/c.midi"]
    for bad in ("broken.mid", "drums.mid", "empty.mid"):
        assert any(bad in m for m in msgs), bad
    assert any("skipped 3 of 6 MIDI files" in m for m in msgs)
    assert all("\n" not in m for m in msgs)
    assert songs.notes[songs.offsets[0]:songs.offsets[1]].tolist() == [[60, 0, 4], [64, 4, 12]]
    assert songs.notes[songs.offsets[1]:songs.offsets[2]].tolist() == [[70, 0, 2]]  # drums dropped
    assert songs.lengths().tolist() == [12, 2, 12]


def test_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "songs")
    cache = tmp_path / "cache"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = load_midi_folder(folder, cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temp file left behind

    def no_parsing(*a, **k):
        raise AssertionError("parsed although cached")
    monkeypatch.setattr(midi_files, "read_midi_song", no_parsing)
    with pytest.warns(UserWarning, match="skipped 3 of 6"):  # the count is repeated from the cache
        again = load_midi_folder(folder, cache_dir=cache)
    assert again.names == first.names
    np.testing.assert_array_equal(again.notes, first.notes)
    np.testing.assert_array_equal(again.packed_rolls(), first.packed_rolls())
    # another grid is another cache entry, and so is a changed file
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_midi_folder(folder, steps_per_quarter=2, cache_dir=cache).notes[1].tolist() == [64, 2, 6]
        write_midi(folder / "sub" / "deep" / "c.midi", [(False, [(0, 480, 51)])])
        changed = load_midi_folder(folder, cache_dir=cache)
    assert changed.notes[-1].tolist() == [51, 0, 4]
    # the stale entry of this folder and grid is pruned; the other grid's entry is kept
    assert len(list(cache.iterdir())) == 2


def test_cache_is_keyed_on_content_not_size_and_mtime(tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    song = folder / "a.mid"
    write_midi(song, [(False, [(0, 480, 60)])])
    cache = tmp_path / "cache"
    assert load_midi_folder(folder, cache_dir=cache).notes.tolist() == [[60, 0, 4]]
    st = song.stat()
    size = st.st_size
    write_midi(song, [(False, [(0, 480, 61)])])  # same size, another pitch
    os.utime(song, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p / rsync -t leave it
    assert song.stat().st_size == size and song.stat().st_mtime_ns == st.st_mtime_ns
    assert load_midi_folder(folder, cache_dir=cache).notes.tolist() == [[61, 0, 4]]
    assert len(list(cache.glob("*.npz"))) == 1  # the stale entry is gone


def test_overlong_song_is_skipped_fast_without_allocating_its_roll(tmp_path):
    # the file: 1 tick per quarter, one note at tick 10**8 (4 * 10**8 grid steps)
    folder = tmp_path / "songs"
    folder.mkdir()
    write_midi(folder / "long.mid", [(False, [(10**8, 1, 60)])], tpq=1)
    write_midi(folder / "ok.mid", [(False, [(0, 480, 60)])])
    t = time.perf_counter()
    with pytest.warns(UserWarning) as rec:
        songs = load_midi_folder(folder, cache_dir=tmp_path / "cache")
    assert time.perf_counter() - t < 10  # was 83 s and 6.7 GB before the cap
    assert songs.names == ["ok.mid"] and songs.packed_rolls().nbytes == 128 * 16
    msg = next(str(w.message) for w in rec if "long.mid" in str(w.message))
    assert "400,000,004 grid steps" in msg and "max_song_steps 100,000" in msg and "\n" not in msg
    assert songs.skipped == ["long.mid (too long: 400,000,004 steps)"]
    with pytest.raises(MidiDataError, match="over max_song_steps"):
        midi_to_roll(folder / "long.mid")
    # the cap is a setting (and part of the cache key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MidiDataError, match="none of the 2 MIDI files"):
            load_midi_folder(folder, cache_dir=tmp_path / "cache", max_song_steps=3)


def test_env_variable_names_cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "songs"
    folder.mkdir()
    write_midi(folder / "a.mid", [(False, [(0, 480, 60)])])
    monkeypatch.setenv("SOFTFACT_CACHE", str(tmp_path / "envcache"))
    load_midi_folder(folder)
    assert len(list((tmp_path / "envcache").glob("*.npz"))) == 1


def test_damaged_cache_is_rebuilt(tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    write_midi(folder / "a.mid", [(False, [(0, 480, 60)])])
    cache = tmp_path / "cache"
    load_midi_folder(folder, cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="ignoring unreadable cache"):
        songs = load_midi_folder(folder, cache_dir=cache)
    assert songs.notes.tolist() == [[60, 0, 4]]
    assert SongNotes.load(entry).notes.tolist() == [[60, 0, 4]]  # rewritten whole


@pytest.mark.parametrize("setup, match", [
    (lambda d: None, "no .mid or .midi files"),
    (lambda d: (d / "readme.txt").write_text("x"), "no .mid or .midi files"),
    (lambda d: (d / "x.mid").write_bytes(b"junk"), "none of the 1 MIDI files"),
])
def test_unusable_folder_is_one_line_error(tmp_path, setup, match):
    folder = tmp_path / "f"
    folder.mkdir()
    setup(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MidiDataError, match=match) as e:
            load_midi_folder(folder, cache_dir=tmp_path / "cache")
    assert "\n" not in str(e.value) and str(folder) in str(e.value)


def test_missing_folder_is_one_line_error(tmp_path):
    with pytest.raises(MidiDataError, match="MIDI folder not found"):
        load_midi_folder(tmp_path / "nope")


def test_unwritable_cache_only_warns(tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    write_midi(folder / "a.mid", [(False, [(0, 480, 60)])])
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="cannot write cache"):
        songs = load_midi_folder(folder, cache_dir=blocker / "cache")
    assert songs.names == ["a.mid"]


def test_packed_rolls_match_per_song_rolls():
    rng = np.random.default_rng(0)
    parts = []
    for n in (5, 40, 1):
        s = rng.integers(0, 300, n)
        parts.append(np.stack([rng.integers(0, 128, n), s, s + rng.integers(1, 30, n)], 1))
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    songs = SongNotes(["a", "b", "c"], np.concatenate(parts), offsets, 4)
    packed = songs.packed_rolls()
    roll = np.unpackbits(packed, axis=1, bitorder="little").T.astype(bool)  # (128, total)
    begin, length = songs.roll_spans()
    assert (length >= 128).all() and roll.shape[1] == length.sum()
    for k, notes in enumerate(parts):
        want = notes_to_roll(notes, n_steps=int(length[k]))
        np.testing.assert_array_equal(roll[:, begin[k]:begin[k] + length[k]], want)
    sub = songs.subset([2, 0])
    assert sub.names == ["c", "a"]
    np.testing.assert_array_equal(sub.packed_rolls(), SongNotes(
        sub.names, sub.notes, sub.offsets, 4).packed_rolls())


def pop_style_song(path):
    """POP909's three tracks: MELODY (program 0), BRIDGE (program 0), PIANO (program 0), but
    with distinct programs here so that selection by program is tested too."""
    return write_named_tracks(path, [
        ("MELODY", 73, [(0, 480, 72, 100)]),
        ("BRIDGE", 41, [(0, 480, 67, 80)]),
        ("PIANO", 0, [(0, 960, 48, 40), (0, 960, 55, 64)]),
    ])


def test_tracks_are_selected_by_name_or_program(tmp_path):
    path = pop_style_song(tmp_path / "s.mid")
    pitches = lambda **kw: sorted(read_midi_notes(path, **kw)[:, 0].tolist())
    assert pitches() == [48, 55, 67, 72]
    assert pitches(tracks="MELODY") == [72] == pitches(tracks="melody")
    assert pitches(tracks="piano, 41") == [48, 55, 67]
    assert pitches(tracks="73") == [72]
    assert pitches(tracks="VOCALS") == []


def test_velocities_follow_their_notes(tmp_path):
    song = midi_files.read_midi_song(pop_style_song(tmp_path / "s.mid"))
    by_pitch = dict(zip(song.notes[:, 0].tolist(), song.velocity.tolist()))
    assert by_pitch == {48: 40, 55: 64, 67: 80, 72: 100}
    assert song.seconds == pytest.approx(1.0)  # 2 quarters at the default 120 bpm


def test_track_selection_in_a_folder_is_cached_apart_and_skips_songs_without_them(tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    pop_style_song(folder / "a.mid")
    write_named_tracks(folder / "b.mid", [("PIANO", 0, [(0, 480, 50, 90)])])
    cache = tmp_path / "cache"
    assert len(load_midi_folder(folder, cache_dir=cache)) == 2
    with pytest.warns(UserWarning) as rec:
        melody = load_midi_folder(folder, cache_dir=cache, tracks="MELODY")
    assert any("b.mid: no notes in tracks 'MELODY'" in str(w.message) for w in rec)
    assert melody.names == ["a.mid"] and melody.notes[:, 0].tolist() == [72]
    assert melody.velocity.tolist() == [100]
    assert len(list(cache.glob("*.npz"))) == 2  # another setting, another entry
    with pytest.raises(MidiDataError, match="0..127"):
        load_midi_folder(folder, cache_dir=cache, tracks="300")
