"""Piano-roll crops as an image source: songs -> split by tune -> non-empty S x S crops.

A crop is anchored on a note drawn uniformly from all notes of the split (so busy passages are
drawn more often and a crop is never empty): its time window starts 0..S-1 steps before the
note's onset and its pitch window 0..S-1 semitones below the note, both clamped to stay inside
the song and inside the 128 pitches. Crops are (n, 1, S, S) floats, rows = pitch (row i of a
crop is pitch p0 + i, so a positive dy is a transposition up), columns = grid steps.

Options (all off by default, the seed's single binary channel): ``velocity`` makes channel 0 the
loudest sounding note's velocity / 127 instead of 1; ``onset`` adds a channel holding 1 at each
note's first step only, so that a repeated note is two notes, not one long one.

``pitch_window="centre"`` (default ``"note"``, the placement above) centres the pitch window on
the notes sounding in the crop's time window, as ``sliding_windows`` does, moved only as far as
needed to keep the drawn note: a crop then holds the whole passage whenever it spans at most S
semitones, and a transposition by dy pushes notes off only where the passage's margin is under
|dy|. The time window is drawn as before, from the same random numbers.
"""
from __future__ import annotations

import warnings
from importlib import resources

import numpy as np
import torch

from softfact.data.midi_files import (DEFAULT_MAX_SONG_STEPS, N_PITCHES, MidiDataError, SongNotes,
                                      load_midi_folder, ticks_to_steps)
from softfact.data.midi_split import CorpusSplit

BACH_RESOURCE = "bach_chorales.npz"
PITCH_WINDOWS = ("note", "centre")


def centred_pitch(lo, hi, size: int):
    """Lowest pitch of a ``size``-semitone window centred on pitches lo..hi (arrays or tensors),
    before clamping to 0..128 - size."""
    return (lo + hi + 1) // 2 - size // 2


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


class RollCrops:
    """Random non-empty crops of size S from songs' piano rolls, drawn in one batched gather.

    The rolls are ``SongNotes.packed_rolls``: bit-packed along pitch, songs end to end in time.

    >>> from softfact.data.midi_files import SongNotes
    >>> songs = SongNotes(["a"], np.array([[60, 0, 4]]), np.array([0, 1]), 4)
    >>> crops = RollCrops(songs, size=8)
    >>> x = crops(3, torch.Generator().manual_seed(0))
    >>> x.shape, bool((x.flatten(1).sum(1) > 0).all())
    (torch.Size([3, 1, 8, 8]), True)
    """

    def __init__(self, songs: SongNotes, *, size: int, velocity: bool = False, onset: bool = False,
                 pitch_window: str = "note"):
        if not 1 <= size <= N_PITCHES:
            raise MidiDataError(f"piano-roll crops need 1 <= image_size <= {N_PITCHES}, got {size}")
        if pitch_window not in PITCH_WINDOWS:
            raise ValueError(f"pitch_window must be one of {PITCH_WINDOWS}, got {pitch_window!r}")
        if not len(songs.notes):
            raise MidiDataError("no notes to crop from")
        self.size, self.velocity, self.onset = size, velocity, onset
        self.pitch_window = pitch_window
        self.channels = 1 + onset
        self.split: CorpusSplit | None = None  # set by build_roll_source: the corpus and its split
        begin, length = songs.roll_spans()
        song_of_note = np.repeat(np.arange(len(songs)), np.diff(songs.offsets))
        self.total_steps = int(length.sum())
        # velocity: (total, 128) uint8 values; else (total, 16) bit-packed, as the onsets
        self._packed = songs.velocity_rolls() if velocity else songs.packed_rolls()
        self._onsets = songs.onset_rolls() if onset else None
        self._note = {"pitch": songs.notes[:, 0], "start": songs.notes[:, 1] + begin[song_of_note],
                      "lo": begin[song_of_note], "hi": (begin + length - size)[song_of_note]}
        self._on_device: dict[str, dict[str, torch.Tensor]] = {}

    def _tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        key = str(device)
        if key not in self._on_device:
            t = {k: torch.as_tensor(v, dtype=torch.long, device=device) for k, v in self._note.items()}
            t["packed"] = torch.as_tensor(self._packed, device=device)
            if self._onsets is not None:
                t["onsets"] = torch.as_tensor(self._onsets, device=device)
            t["bits"] = torch.arange(8, dtype=torch.uint8, device=device)
            self._on_device[key] = t
        return self._on_device[key]

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, C, S, S) float crops on ``generator.device`` (C = 1, or 2 with ``onset``)."""
        return self.window(*self.draw_windows(n, generator))

    def draw_windows(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(t0, p0): first global step and lowest pitch of ``n`` crops, each holding a note."""
        dev, S = generator.device, self.size
        t = self._tensors(dev)
        i = torch.randint(0, len(t["pitch"]), (n,), generator=generator, device=dev)
        back = torch.randint(0, S, (n, 2), generator=generator, device=dev)
        t0 = torch.minimum(torch.maximum(t["start"][i] - back[:, 0], t["lo"][i]), t["hi"][i])
        if self.pitch_window == "centre":
            p0 = self._centred(t0, t["pitch"][i], t)
        else:
            p0 = (t["pitch"][i] - back[:, 1]).clamp(0, N_PITCHES - S)
        return t0, p0

    def _centred(self, t0: torch.Tensor, pitch: torch.Tensor, t: dict) -> torch.Tensor:
        """Lowest pitch of windows centred on the notes sounding in steps t0..t0+S-1, moved as
        little as needed to keep ``pitch`` (the drawn note) inside; no host synchronisation."""
        S = self.size
        cols = t["packed"][t0[:, None] + torch.arange(S, device=t0.device)]  # (n, S, 16 | 128)
        cells = cols > 0 if self.velocity else self._unpack(cols, t["bits"]).bool()
        sounding = cells.any(1).to(torch.uint8)                              # (n, 128)
        lo = sounding.argmax(1)                                             # first True
        hi = N_PITCHES - 1 - sounding.flip(1).argmax(1)                     # last True
        p0 = centred_pitch(lo, hi, S)
        return torch.minimum(torch.maximum(p0, pitch - S + 1), pitch).clamp(0, N_PITCHES - S)

    def window(self, t0: torch.Tensor, p0: torch.Tensor, dy: torch.Tensor | None = None,
               dx: torch.Tensor | None = None, *, wrap: bool = False) -> torch.Tensor:
        """Crops (n, C, S, S): pitches p0..p0+S-1 (rows) x global steps t0..t0+S-1 (columns).

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
        at = t0[:, None] + src_t.clamp(0, S - 1)                      # (n, S) global steps
        if self.velocity:
            frames = [t["packed"][at].float() / 127.0]                # (n, time, pitch)
        else:
            frames = [self._unpack(t["packed"][at], t["bits"])]
        if self.onset:
            frames.append(self._unpack(t["onsets"][at], t["bits"]))
        rows = (p0[:, None] + src_p.clamp(0, S - 1)).unsqueeze(1).expand(n, S, S)
        crops = []
        for roll in frames:
            crop = roll.gather(2, rows)                               # (n, time, pitch window)
            if dy is not None or dx is not None:
                crop = crop * (ok_t[:, :, None] & ok_p[:, None, :])  # zero fill
            crops.append(crop.transpose(1, 2))
        return torch.stack(crops, 1).float()

    @staticmethod
    def _unpack(cols: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        """(n, S, 16) bit-packed columns -> (n, S, 128) 0/1 uint8."""
        return ((cols[..., None] >> bits) & 1).reshape(*cols.shape[:2], N_PITCHES)

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
                                cache_dir=getattr(cfg, "cache_dir", "") or None,
                                tracks=getattr(cfg, "tracks", ""),
                                max_song_steps=int(getattr(cfg, "max_song_steps",
                                                           DEFAULT_MAX_SONG_STEPS)))
    raise MidiDataError(f"no piano rolls for data {cfg.data!r} (use 'midi' or 'bach')")


def corpus_split(cfg) -> CorpusSplit:
    """The config's songs and their split by tune (``split_by``, ``val_fraction``)."""
    songs = load_songs(cfg)
    return CorpusSplit(songs, str(getattr(cfg, "split_by", "stem")),
                       float(getattr(cfg, "val_fraction", 0.1)),
                       source=cfg.midi_dir if cfg.data == "midi" else cfg.data)


def build_roll_source(cfg, split: str = "train") -> RollCrops:
    """``image_fn(n, generator) -> (n, C, S, S)`` of crops from the ``split`` songs of ``cfg``.

    The source's ``split`` attribute holds the corpus and its split (summary, ``split.json``).
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    corpus = corpus_split(cfg)
    if corpus.counts()["tunes"] == 1:
        warnings.warn(f"only one tune ({corpus.songs.names[0]}): it serves training and "
                      f"validation", stacklevel=2)
    crops = RollCrops(corpus.songs.subset(corpus.index[split]), size=int(cfg.image_size),
                      velocity=bool(getattr(cfg, "velocity", False)),
                      onset=bool(getattr(cfg, "onset", False)),
                      pitch_window=str(getattr(cfg, "pitch_window", "note")))
    crops.split = corpus
    return crops


def sliding_windows(songs: SongNotes, *, size: int, hop: int) -> dict[str, np.ndarray]:
    """Every ``size``-step window of every song, ``hop`` steps apart (and one ending with the
    song), that holds a note.

    Returns arrays of one entry per window: ``song`` (index into ``songs``), ``start`` (first
    step within the song), ``pitch`` (lowest pitch of the window: the window's pitch range is
    centred on the notes sounding in it, clamped to 0..128 - size) and ``t0`` (first step in
    ``RollCrops(songs, ...)`` coordinates, for ``RollCrops.window``).

    >>> songs = SongNotes(["a"], np.array([[60, 0, 4], [64, 20, 30]]), np.array([0, 2]), 4)
    >>> w = sliding_windows(songs, size=16, hop=8)
    >>> w["start"].tolist(), w["pitch"].tolist()
    ([0, 8, 16, 24], [52, 56, 56, 56])
    """
    if hop < 1 or not 1 <= size <= N_PITCHES:
        raise MidiDataError(f"windows need hop >= 1 and 1 <= size <= {N_PITCHES}, got {hop}, {size}")
    begin, length = songs.roll_spans()
    out = {k: [] for k in ("song", "start", "pitch", "t0")}
    for i in range(len(songs)):
        p, s, e = songs.notes[songs.offsets[i]:songs.offsets[i + 1]].T
        last = max(int(length[i]) - size, 0)
        starts = np.unique(np.append(np.arange(0, last + 1, hop), last))  # the end is covered
        inside = (s[None, :] < starts[:, None] + size) & (e[None, :] > starts[:, None])  # (W, n)
        keep = inside.any(1)
        lo = np.where(inside, p[None, :], N_PITCHES).min(1)
        hi = np.where(inside, p[None, :], -1).max(1)
        pitch = np.clip(centred_pitch(lo, hi, size), 0, N_PITCHES - size)
        out["song"].append(np.full(int(keep.sum()), i))
        out["start"].append(starts[keep])
        out["pitch"].append(pitch[keep])
        out["t0"].append(begin[i] + starts[keep])
    return {k: np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64)
            for k, v in out.items()}
