"""Piano-roll crops as an image source: songs -> split by song -> non-empty S x S crops.

A crop is anchored on a note drawn uniformly from all notes of the split (so busy passages are
drawn more often and a crop is never empty): its time window starts 0..S-1 steps before the
note's onset and its pitch window 0..S-1 semitones below the note, both clamped to stay inside
the song and inside the 128 pitches. Crops are (n, 1, S, S) floats, rows = pitch (row i of a
crop is pitch p0 + i, so a positive dy is a transposition up), columns = grid steps.
"""
from __future__ import annotations

import hashlib
import warnings
from importlib import resources

import numpy as np
import torch

from softfact.data.midi import N_PITCHES, MidiDataError, SongNotes, load_midi_folder, ticks_to_steps

BACH_RESOURCE = "bach_chorales.npz"


def load_bach_chorales(steps_per_quarter: int = 4) -> SongNotes:
    """The built-in corpus (see ``softfact/resources/BACH_CHORALES.md``) on the requested grid."""
    with resources.files("softfact").joinpath("resources", BACH_RESOURCE).open("rb") as f:
        with np.load(f, allow_pickle=False) as z:
            tpq = int(z["tpq"])
            start = ticks_to_steps(z["start"], tpq, steps_per_quarter)
            end = np.maximum(ticks_to_steps(z["end"], tpq, steps_per_quarter), start + 1)
            notes = np.stack([z["pitch"].astype(np.int64), start, end], axis=1)
            return SongNotes([str(n) for n in z["names"]], notes, z["offsets"].astype(np.int64),
                             steps_per_quarter)


def song_fraction(name: str) -> float:
    """A stable pseudo-random number in [0, 1) per song name (no RNG state involved)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def split_songs(names: list[str], val_fraction: float) -> dict[str, np.ndarray]:
    """Song indices of the "train" and "val" splits, by hashing each song's name.

    A song's split never changes when songs are added or removed. With two songs or more,
    neither split is left empty (the lowest hash goes to val, the highest to train); a single
    song, or ``val_fraction <= 0``, makes every song serve both splits.
    """
    u = np.array([song_fraction(n) for n in names])
    val = u < val_fraction
    if len(names) >= 2 and val_fraction > 0:
        if not val.any():
            val[np.argmin(u)] = True
        if val.all():
            val[np.argmax(u)] = False
    idx = np.arange(len(names))
    if len(names) == 1 or val_fraction <= 0:
        return {"train": idx, "val": idx}
    return {"train": idx[~val], "val": idx[val]}


class RollCrops:
    """Random non-empty crops of size S from songs' piano rolls, drawn in one batched gather.

    The rolls are ``SongNotes.packed_rolls``: bit-packed along pitch, songs end to end in time.

    >>> from softfact.data.midi import SongNotes
    >>> songs = SongNotes(["a"], np.array([[60, 0, 4]]), np.array([0, 1]), 4)
    >>> crops = RollCrops(songs, size=8)
    >>> x = crops(3, torch.Generator().manual_seed(0))
    >>> x.shape, bool((x.flatten(1).sum(1) > 0).all())
    (torch.Size([3, 1, 8, 8]), True)
    """

    def __init__(self, songs: SongNotes, *, size: int):
        if not 1 <= size <= N_PITCHES:
            raise MidiDataError(f"piano-roll crops need 1 <= image_size <= {N_PITCHES}, got {size}")
        if not len(songs.notes):
            raise MidiDataError("no notes to crop from")
        self.size = size
        begin, length = songs.roll_spans()
        song_of_note = np.repeat(np.arange(len(songs)), np.diff(songs.offsets))
        self.total_steps = int(length.sum())
        self._packed = songs.packed_rolls()
        self._note = {"pitch": songs.notes[:, 0], "start": songs.notes[:, 1] + begin[song_of_note],
                      "lo": begin[song_of_note], "hi": (begin + length - size)[song_of_note]}
        self._on_device: dict[str, dict[str, torch.Tensor]] = {}

    def _tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        key = str(device)
        if key not in self._on_device:
            t = {k: torch.as_tensor(v, dtype=torch.long, device=device) for k, v in self._note.items()}
            t["packed"] = torch.as_tensor(self._packed, device=device)
            t["bits"] = torch.arange(8, dtype=torch.uint8, device=device)
            self._on_device[key] = t
        return self._on_device[key]

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, 1, S, S) float crops on ``generator.device``."""
        return self.window(*self.draw_windows(n, generator))

    def draw_windows(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(t0, p0): first global step and lowest pitch of ``n`` crops, each holding a note."""
        dev, S = generator.device, self.size
        t = self._tensors(dev)
        i = torch.randint(0, len(t["pitch"]), (n,), generator=generator, device=dev)
        back = torch.randint(0, S, (n, 2), generator=generator, device=dev)
        t0 = torch.minimum(torch.maximum(t["start"][i] - back[:, 0], t["lo"][i]), t["hi"][i])
        p0 = (t["pitch"][i] - back[:, 1]).clamp(0, N_PITCHES - S)
        return t0, p0

    def window(self, t0: torch.Tensor, p0: torch.Tensor, dy: torch.Tensor | None = None,
               dx: torch.Tensor | None = None, *, wrap: bool = False) -> torch.Tensor:
        """Crops (n, 1, S, S): pitches p0..p0+S-1 (rows) x global steps t0..t0+S-1 (columns).

        With per-crop (dy, dx) the crop comes out already shifted, exactly as
        ``translate(window(t0, p0), dy, dx, wrap=wrap)`` but reading only the pixels it keeps.
        """
        n, S, dev = len(t0), self.size, t0.device
        t = self._tensors(dev)
        ar = torch.arange(S, device=dev)
        src_t = ar.expand(n, S) if dx is None else ar - dx[:, None]   # source column per output column
        src_p = ar.expand(n, S) if dy is None else ar - dy[:, None]   # source row per output row
        if wrap:
            src_t, src_p = src_t % S, src_p % S
        ok_t, ok_p = (src_t >= 0) & (src_t < S), (src_p >= 0) & (src_p < S)
        cols = t["packed"][t0[:, None] + src_t.clamp(0, S - 1)]       # (n, S, 16) uint8
        bits = (cols[..., None] >> t["bits"]) & 1                     # (n, S, 16, 8)
        roll = bits.reshape(n, S, N_PITCHES)                          # (n, time, pitch)
        rows = (p0[:, None] + src_p.clamp(0, S - 1)).unsqueeze(1).expand(n, S, S)
        crop = roll.gather(2, rows)                                   # (n, time, pitch window)
        if dy is not None or dx is not None:
            crop = crop * (ok_t[:, :, None] & ok_p[:, None, :])      # zero fill
        return crop.transpose(1, 2).unsqueeze(1).float()

    def views(self, n: int, generator: torch.Generator, deltas: list[torch.Tensor], *,
              wrap: bool = False) -> list[torch.Tensor]:
        """An anchor crop and one shifted copy per (n, 2) [dy, dx] in ``deltas``.

        Used by the triplet and multi-crop samplers: reading shifted windows directly is much
        cheaper than shifting large crops pixel by pixel.
        """
        t0, p0 = self.draw_windows(n, generator)
        return [self.window(t0, p0)] + [self.window(t0, p0, d[:, 0], d[:, 1], wrap=wrap) for d in deltas]


def load_songs(cfg) -> SongNotes:
    """The songs a config names: a MIDI folder (``midi``) or the built-in corpus (``bach``)."""
    spq = int(getattr(cfg, "steps_per_quarter", 4))
    if cfg.data == "bach":
        return load_bach_chorales(spq)
    if cfg.data == "midi":
        if not getattr(cfg, "midi_dir", ""):
            raise MidiDataError("data 'midi' needs a folder of MIDI files (--midi-dir PATH)")
        return load_midi_folder(cfg.midi_dir, steps_per_quarter=spq,
                                cache_dir=getattr(cfg, "cache_dir", "") or None)
    raise MidiDataError(f"no piano rolls for data {cfg.data!r} (use 'midi' or 'bach')")


def build_roll_source(cfg, split: str = "train") -> RollCrops:
    """``image_fn(n, generator) -> (n, 1, S, S)`` of crops from the ``split`` songs of ``cfg``."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    songs = load_songs(cfg)
    if len(songs) == 1:
        warnings.warn(f"only one song ({songs.names[0]}): it serves training and validation",
                      stacklevel=2)
    index = split_songs(songs.names, float(getattr(cfg, "val_fraction", 0.1)))[split]
    return RollCrops(songs.subset(index), size=int(cfg.image_size))
