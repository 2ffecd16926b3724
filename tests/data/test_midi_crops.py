"""Piano-roll crops as an image source: non-empty windows, split songs, triplets on them."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from softfact.data.blobs import translate
from softfact.data.midi_crops import RollCrops, build_roll_source
from softfact.data.midi_files import MidiDataError, SongNotes, notes_to_roll
from softfact.data.midi_split import split_songs
from softfact.data.triplets import sample_triplets

from tests.data.synthetic_midi import write_midi


def random_songs(n_songs=4, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_songs):
        n = int(rng.integers(1, 60))
        s = rng.integers(0, 200 + 100 * k, n)
        parts.append(np.stack([rng.integers(30, 100, n), s, s + rng.integers(1, 9, n)], 1))
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    return SongNotes([f"s{k}" for k in range(n_songs)], np.concatenate(parts), offsets, 4), parts


def test_windows_match_numpy_slices_of_each_song(gen):
    songs, parts = random_songs()
    S = 32
    crops = RollCrops(songs, size=S)
    t0, p0 = crops.draw_windows(200, gen)
    x = crops.window(t0, p0)
    assert x.shape == (200, 1, S, S) and x.dtype == torch.float32
    begin, length = songs.roll_spans()
    rolls = [notes_to_roll(p, n_steps=int(length[k])) for k, p in enumerate(parts)]
    for i in range(200):  # the per-sample reference: which song, then a plain slice
        k = int(np.searchsorted(begin, int(t0[i]), side="right") - 1)
        t = int(t0[i]) - begin[k]
        assert t + S <= length[k], "a crop must not run into the next song"
        want = rolls[k][int(p0[i]):int(p0[i]) + S, t:t + S]
        np.testing.assert_array_equal(x[i, 0].numpy().astype(bool), want)


def test_crops_are_never_empty_and_stay_in_range(gen):
    songs, _ = random_songs(seed=3)
    crops = RollCrops(songs, size=64)
    x = crops(1024, gen)
    assert (x.flatten(1).sum(1) > 0).all()
    t0, p0 = crops.draw_windows(1024, gen)
    assert p0.min() >= 0 and p0.max() <= 128 - 64 and t0.min() >= 0
    assert (t0 + 64).max() <= crops.total_steps


def test_crops_never_mix_songs():
    # song a plays pitch 60 only, song b pitch 62 only; a 16 x 16 crop sees both rows
    a = np.array([[60, t, t + 1] for t in range(0, 40, 3)])
    b = np.array([[62, t, t + 2] for t in range(0, 30, 5)])
    songs = SongNotes(["a", "b"], np.concatenate([a, b]), np.array([0, len(a), len(a) + len(b)]), 4)
    crops = RollCrops(songs, size=16)
    t0, p0 = crops.draw_windows(500, torch.Generator().manual_seed(0))
    x = crops.window(t0, p0)[:, 0]
    def has(pitch):
        row = pitch - p0
        inside = (row >= 0) & (row < 16)
        return inside & (x[torch.arange(500), row.clamp(0, 15)].sum(1) > 0)
    has60, has62 = has(60), has(62)
    assert not (has60 & has62).any() and (has60 | has62).all() and has60.any() and has62.any()


def test_positive_dy_is_transposition_up():
    songs = SongNotes(["a"], np.array([[60, 0, 4]]), np.array([0, 1]), 4)
    crops = RollCrops(songs, size=8)
    x = crops.window(torch.tensor([0]), torch.tensor([56]))  # row i is pitch 56 + i
    assert x[0, 0, 4, :4].all() and x.sum() == 4
    up = translate(x, torch.tensor([3]), torch.tensor([0]))
    assert up[0, 0, 7, :4].all() and up.sum() == 4  # now at row 7 = pitch 63 = 60 + 3


def test_bad_crop_size_is_an_error():
    songs, _ = random_songs()
    with pytest.raises(MidiDataError, match="image_size"):
        RollCrops(songs, size=256)


def midi_cfg(folder, cache, **kw):
    base = dict(data="midi", midi_dir=str(folder), image_size=16, steps_per_quarter=4,
                val_fraction=0.5, cache_dir=str(cache))
    return SimpleNamespace(**{**base, **kw})


def test_build_roll_source_splits_a_folder_by_song(tmp_path, gen):
    folder = tmp_path / "songs"
    folder.mkdir()
    pitches = list(range(40, 90, 5))
    for k, p in enumerate(pitches):  # each song its own pitch: a crop tells its song
        write_midi(folder / f"{k:02d}.mid", [(False, [(t * 240, 240, p) for t in range(40)])])
    cfg = midi_cfg(folder, tmp_path / "cache")
    split = split_songs([f"{k:02d}.mid" for k in range(len(pitches))], 0.5)
    assert len(split["train"]) and len(split["val"])
    for name in ("train", "val"):
        src = build_roll_source(cfg, name)
        t0, p0 = src.draw_windows(300, gen)
        x = src.window(t0, p0)[:, 0]
        assert ((x.sum(-1) > 0).sum(-1) == 1).all()  # one song's single pitch per crop
        found = {int(p0[i] + x[i].sum(-1).argmax()) for i in range(300)}
        assert found == {pitches[i] for i in split[name]}
    x = build_roll_source(cfg, "train")(10, gen)
    assert x.shape == (10, 1, 16, 16) and x.device == gen.device
    # the config's pitch_window reaches the crops: one pitch, centred, sits in row 16 // 2
    centred = build_roll_source(midi_cfg(folder, tmp_path / "cache", pitch_window="centre"))(50, gen)
    assert (centred[:, 0].sum(-1).argmax(-1) == 8).all()
    assert not (x[:, 0].sum(-1).argmax(-1) == 8).all()


def test_triplets_from_roll_crops(tmp_path, gen):
    songs, _ = random_songs(seed=5)
    crops = RollCrops(songs, size=32)
    b = sample_triplets(crops, 64, max_shift=12, generator=gen)
    assert b.anchor.shape == (64, 1, 32, 32) and (b.anchor.flatten(1).sum(1) > 0).all()
    assert not (b.crop1 == b.crop2).flatten(1).all(1).any()


def test_bach_source_needs_no_download(gen):
    cfg = SimpleNamespace(data="bach", image_size=64, steps_per_quarter=4, val_fraction=0.1)
    train, val = build_roll_source(cfg, "train"), build_roll_source(cfg, "val")
    x = train(256, gen)
    assert x.shape == (256, 1, 64, 64) and (x.flatten(1).sum(1) > 0).all()
    assert val.total_steps < train.total_steps
    from softfact.data.midi_crops import load_bach_chorales
    songs = load_bach_chorales()
    assert 380 <= len(songs) <= 440 and len(set(songs.names)) == len(songs)
    assert 30 <= songs.notes[:, 0].min() and songs.notes[:, 0].max() <= 90  # chorale voices


def test_shifted_windows_equal_translated_crops():
    """RollCrops.views reads shifted windows; they must equal shifting the anchor crop."""
    from softfact.data.blobs import translate
    rng = np.random.default_rng(0)
    notes = np.stack([rng.integers(40, 90, 300), rng.integers(0, 400, 300), np.zeros(300, int)], 1)
    notes[:, 2] = notes[:, 1] + rng.integers(1, 6, 300)
    songs = SongNotes(["a", "b"], notes, np.array([0, 150, 300]), 4)
    crops = RollCrops(songs, size=32)
    g = torch.Generator().manual_seed(0)
    d = torch.randint(-12, 13, (64, 2), generator=g)
    for wrap in (False, True):
        anchor, shifted = crops.views(64, g, [d], wrap=wrap)
        assert torch.equal(shifted, translate(anchor, d[:, 0], d[:, 1], wrap=wrap))


def test_velocity_and_onset_channels():
    # a repeated note (60 twice, back to back) and a quieter chord tone under it
    notes = np.array([[60, 0, 4], [60, 4, 8], [55, 2, 6]])
    songs = SongNotes(["a"], notes, np.array([0, 3]), 4, velocity=np.array([127, 64, 32], np.uint8))
    t0, p0 = torch.tensor([0]), torch.tensor([50])
    plain = RollCrops(songs, size=16).window(t0, p0)
    assert plain.shape == (1, 1, 16, 16) and plain[0, 0, 10, :8].tolist() == [1.0] * 8
    vel = RollCrops(songs, size=16, velocity=True).window(t0, p0)
    assert vel[0, 0, 10, :8].tolist() == pytest.approx([1.0] * 4 + [64 / 127] * 4)
    assert vel[0, 0, 5, 2:6].tolist() == pytest.approx([32 / 127] * 4) and vel[0, 0, 5, 6] == 0
    both = RollCrops(songs, size=16, velocity=True, onset=True)
    x = both.window(t0, p0)
    assert both.channels == 2 and x.shape == (1, 2, 16, 16)
    assert torch.equal(x[:, :1], vel)
    assert x[0, 1].nonzero().tolist() == [[5, 2], [10, 0], [10, 4]]  # repeated notes stay apart
    # shifted windows of both channels equal shifting the two-channel anchor
    g = torch.Generator().manual_seed(0)
    d = torch.randint(-6, 7, (32, 2), generator=g)
    anchor, shifted = both.views(32, g, [d])
    assert anchor.shape == (32, 2, 16, 16)
    assert torch.equal(shifted, translate(anchor, d[:, 0], d[:, 1]))


def test_onset_channel_config_needs_the_conv_encoder():
    from softfact.config import ConfigError, resolve
    from softfact.models import build_encoder
    with pytest.raises(ConfigError, match="onset"):
        resolve(overrides={"onset": "true"})
    cfg = resolve(overrides={"onset": "true", "encoder": "conv", "image_size": 16, "width": 4,
                             "depth": 2})
    z = build_encoder(cfg)(torch.zeros(3, 2, 16, 16))
    assert z.shape == (3, cfg.latent_dim)


def centred_reference(songs, t0, p0_note, S):
    """Per crop: the window centred on the pitches sounding in its time span (numpy), moved as
    little as needed to keep the drawn note's pitch, clamped to the 128 pitches."""
    begin, length = songs.roll_spans()
    out = []
    for t, q in zip(t0.tolist(), p0_note):
        k = int(np.searchsorted(begin, t, side="right") - 1)
        p, s, e = songs.notes[songs.offsets[k]:songs.offsets[k + 1]].T
        local = t - begin[k]
        sounding = p[(s < local + S) & (e > local)]
        c = (sounding.min() + sounding.max() + 1) // 2 - S // 2
        out.append(int(np.clip(np.clip(c, q - S + 1, q), 0, 128 - S)))
    return out


@pytest.mark.parametrize("velocity", [False, True])
def test_centred_pitch_window_centres_the_sounding_notes(velocity):
    songs, _ = random_songs(seed=7)
    songs.velocity = np.full(len(songs.notes), 90, np.uint8) if velocity else None
    S = 32
    note = RollCrops(songs, size=S, velocity=velocity)
    centre = RollCrops(songs, size=S, velocity=velocity, pitch_window="centre")
    t_note, p_note = note.draw_windows(300, torch.Generator().manual_seed(3))
    t0, p0 = centre.draw_windows(300, torch.Generator().manual_seed(3))
    assert torch.equal(t0, t_note)  # the time windows come from the same random numbers
    # the drawn note: the same draw as the note-placed window, before its random offset
    g = torch.Generator().manual_seed(3)
    i = torch.randint(0, len(songs.notes), (300,), generator=g)
    back = torch.randint(0, S, (300, 2), generator=g)
    drawn = songs.notes[i.numpy(), 0]
    assert p0.tolist() == centred_reference(songs, t0, drawn, S)
    # the default ("note") is the seed-era placement: the drawn note minus a random offset
    assert p_note.tolist() == np.clip(drawn - back[:, 1].numpy(), 0, 128 - S).tolist()
    assert not torch.equal(p0, p_note)
    x = centre.window(t0, p0)
    assert (x.flatten(1).sum(1) > 0).all()  # never empty


def test_centred_window_keeps_a_narrow_passage_under_transposition():
    # every 32-step window of this song spans pitches 50..60: centred in 32 rows (39..70) it has
    # 10 or more free rows each side, so transpositions up to 10 push nothing off; note-placed
    # windows do
    notes = np.array([[50 + (t % 11), t, t + 2] for t in range(0, 200)])
    songs = SongNotes(["a"], notes, np.array([0, len(notes)]), 4)
    g = torch.Generator().manual_seed(0)
    dy = torch.randint(-10, 11, (256,), generator=g)
    d = torch.stack([dy, torch.zeros_like(dy)], 1)
    for mode, lossless in (("centre", True), ("note", False)):
        crops = RollCrops(songs, size=32, pitch_window=mode)
        anchor, shifted = crops.views(256, torch.Generator().manual_seed(1), [d])
        kept = shifted.flatten(1).sum(1) == anchor.flatten(1).sum(1)
        assert bool(kept.all()) == lossless


def test_pitch_window_is_checked():
    songs, _ = random_songs()
    with pytest.raises(ValueError, match="pitch_window"):
        RollCrops(songs, size=16, pitch_window="middle")
    from softfact.config import ConfigError, TrainConfig
    with pytest.raises(ConfigError, match="pitch_window"):
        TrainConfig(pitch_window="middle").validate()
