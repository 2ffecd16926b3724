"""Which songs train and which validate: by tune, stable, never leaking a tune across sides."""
from softfact.data.midi_split import split_songs, tune_keys


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
