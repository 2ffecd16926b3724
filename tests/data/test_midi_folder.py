"""A folder of MIDI files -> cached song notes: skipping bad files, errors, the cache."""
import warnings

import numpy as np
import pytest

from softfact.data import midi
from softfact.data.midi import MidiDataError, SongNotes, load_midi_folder, notes_to_roll

from tests.data.test_midi import write_midi


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
    monkeypatch.setattr(midi, "read_midi_notes", no_parsing)
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
    assert len(list(cache.iterdir())) == 3  # earlier entries are kept


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
