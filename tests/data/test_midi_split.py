"""Which songs train and which validate: by tune, stable, never leaking a tune across sides."""
import numpy as np
import pytest

from softfact.data.midi_files import SongNotes
from softfact.data.midi_split import CorpusSplit, split_songs, tune_keys


def test_split_is_by_song_deterministic_and_stable():
    names = [f"{i:03d}/{i:03d}.mid" for i in range(1, 401)]
    split = split_songs(names, 0.1)
    tr, va = set(split["train"].tolist()), set(split["val"].tolist())
    assert not tr & va and len(tr | va) == 400 and 20 <= len(va) <= 60
    again = split_songs(list(reversed(names)), 0.1)  # order does not matter, names do
    assert sorted(names[i] for i in va) == sorted(names[::-1][i] for i in again["val"])
    fewer = split_songs(names[:200], 0.1)  # removing songs moves no other song
    assert {names[i] for i in fewer["val"]} == {names[i] for i in va if i < 200}
    two = split_songs(["a.mid", "b.mid"], 0.1)
    assert len(two["train"]) == 1 and len(two["val"]) == 1
    one = split_songs(["a.mid"], 0.1)
    assert one["train"].tolist() == one["val"].tolist() == [0]
    none_held_out = split_songs(names[:10], 0.0)
    assert none_held_out["train"].tolist() == none_held_out["val"].tolist() == list(range(10))


def test_versions_of_one_tune_stay_on_one_side():
    # POP909-style folders with versions, and a folk corpus's melody/chords copies of each tune
    names = []
    for i in range(1, 61):
        names += [f"{i:03d}/{i:03d}.mid", f"{i:03d}/versions/v1.mid", f"{i:03d}/versions/v2.MID"]
    for t in ("reel", "jig", "air", "polka", "waltz", "march", "hornpipe", "slide"):
        names += [f"{t}.mid", f"melody/{t}.mid", f"chords/{t.upper()}.mid"]
    keys = tune_keys(names, "stem")
    assert keys[:3] == ["001", "001", "001"] and keys[-3:] == ["slide", "slide", "slide"]
    assert len(set(keys)) == 68
    pop = names[:180]  # folder mode fits POP909's layout only (melody/ would be one "tune")
    for split_by, part in (("stem", names), ("folder", pop)):
        split = split_songs(part, 0.2, split_by=split_by)
        tr = {keys[i] for i in split["train"]}
        va = {keys[i] for i in split["val"]}
        assert va and tr and not tr & va, split_by
        assert len(split["train"]) + len(split["val"]) == len(part)
    # the old split by file puts versions of one tune on both sides (the leak)
    split = split_songs(names, 0.2, split_by="file")
    assert {keys[i] for i in split["train"]} & {keys[i] for i in split["val"]}


def test_folder_mode_groups_by_top_folder_and_bad_mode_is_an_error():
    assert tune_keys(["a/x.mid", "a/b/y.mid", "z.mid"], "folder") == ["a", "a", "z"]
    assert tune_keys(["a/x.mid"], "file") == ["a/x.mid"]
    with pytest.raises(ValueError, match="split_by"):
        tune_keys(["a.mid"], "song")


def test_one_tune_in_many_files_serves_both_splits():
    split = split_songs(["a.mid", "x/a.mid", "y/A.midi"], 0.5)
    assert split["train"].tolist() == split["val"].tolist() == [0, 1, 2]


def test_corpus_summary_and_record():
    songs = SongNotes(["001/001.mid", "001/versions/v.mid", "002/002.mid", "003/003.mid"],
                      np.array([[60, 0, 4]] * 4 + [[62, 0, 8]]), np.array([0, 1, 2, 3, 5]), 4,
                      skipped=["bad.mid (unreadable)"], seconds=np.array([1800.0, 1800, 1800, 1800]))
    corpus = CorpusSplit(songs, "stem", 0.5, source="/data/x")
    c = corpus.counts()
    assert (c["files"], c["songs"], c["skipped"], c["tunes"], c["notes"]) == (5, 4, 1, 3, 5)
    assert c["hours"] == pytest.approx(2.0)
    assert c["train_songs"] + c["val_songs"] == 4 and c["train_tunes"] + c["val_tunes"] == 3
    line = corpus.summary()
    assert "\n" not in line and "5 files, 4 songs (1 skipped), 3 tunes by stem" in line
    assert "2.0 h of music" in line and "5 notes" in line
    rec = corpus.record()
    assert sorted(rec["train"] + rec["val"]) == sorted(songs.names)
    assert ("001/001.mid" in rec["val"]) == ("001/versions/v.mid" in rec["val"])
    assert rec["split_by"] == "stem" and rec["skipped_files"] == ["bad.mid (unreadable)"]
