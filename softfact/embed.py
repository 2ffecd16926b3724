"""A folder of MIDI files -> one embedding per crop window, with song and position metadata.

``embed_folder(run, midi_dir)`` slides the run's crop window (``image_size`` steps, ``hop``
apart) over every song, centres its pitch range on the notes it holds, encodes the windows in
batches with the run's encoder and returns an ``Embeddings`` table; ``.save(path)`` writes it as
one ``.npz`` (atomically). ``softfact embed RUN --midi-dir PATH --out FILE`` is the command.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from softfact.data.midi_crops import RollCrops, sliding_windows
from softfact.data.midi_files import MidiDataError, load_midi_folder
from softfact.utils.io import atomic_write


@dataclass
class Embeddings:
    """One row per window: ``z[i]`` encodes window i of song ``songs[song[i]]``, which starts at
    grid step ``start[i]`` of that song and covers pitches ``pitch[i]`` .. ``pitch[i] + size - 1``."""
    z: np.ndarray          # (N, D) float32
    song: np.ndarray       # (N,) int64 index into songs
    start: np.ndarray      # (N,) int64 first grid step of the window, within its song
    pitch: np.ndarray      # (N,) int64 lowest MIDI pitch of the window
    songs: list[str]       # song paths relative to the MIDI folder
    size: int
    hop: int
    steps_per_quarter: int

    def __len__(self) -> int:
        return len(self.z)

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (``z``, ``song``, ``song_path``, ``start``, ``pitch``, ``songs``,
        ``size``, ``hop``, ``steps_per_quarter``) atomically: no half-written file on failure."""
        path = Path(path)
        if path.suffix != ".npz":
            raise MidiDataError(f"embeddings are written as .npz, got {path}")
        arrays = dict(z=self.z, song=self.song, start=self.start, pitch=self.pitch,
                      song_path=np.array(self.songs, dtype=str)[self.song] if len(self.song)
                      else np.zeros(0, dtype=str),
                      songs=np.array(self.songs, dtype=str), size=np.array(self.size),
                      hop=np.array(self.hop), steps_per_quarter=np.array(self.steps_per_quarter))

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        return atomic_write(path, write)


def embed_folder(run, midi_dir: str | Path | None = None, *, hop: int | None = None,
                 batch_size: int = 1024, progress: bool = False) -> Embeddings:
    """Embed every song of ``midi_dir`` (default: the run's own folder) with ``run``'s encoder.

    ``run``: a ``softfact.Run`` trained on piano rolls. Songs are read with the run's grid,
    tracks and length cap; windows are ``image_size`` steps wide and ``hop`` (default half a
    window) apart, in the run's channels (velocity, onsets).
    """
    cfg = run.config
    if cfg.data == "blobs":
        raise MidiDataError("this run was trained on toy blobs; embed needs a piano-roll run")
    folder = midi_dir or cfg.midi_dir
    if not folder:
        raise MidiDataError("embed needs a folder of MIDI files (--midi-dir PATH)")
    size = int(cfg.image_size)
    hop = size // 2 if hop is None else int(hop)
    songs = load_midi_folder(folder, steps_per_quarter=cfg.steps_per_quarter,
                             cache_dir=cfg.cache_dir or None, tracks=cfg.tracks,
                             max_song_steps=cfg.max_song_steps)
    crops = RollCrops(songs, size=size, velocity=cfg.velocity,
                      onset=cfg.onset)
    w = sliding_windows(songs, size=size, hop=hop)
    encoder, device = run.encoder, run.device
    t0, p0 = torch.as_tensor(w["t0"]), torch.as_tensor(w["pitch"])
    parts = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(t0), batch_size), disable=not progress, desc="embed",
                      unit="batch", dynamic_ncols=True):
            x = crops.window(t0[i:i + batch_size].to(device), p0[i:i + batch_size].to(device))
            parts.append(encoder(x).float().cpu())
    z = torch.cat(parts).numpy() if parts else np.zeros((0, cfg.latent_dim), np.float32)
    return Embeddings(z.astype(np.float32), w["song"], w["start"], w["pitch"], list(songs.names),
                      size, hop, cfg.steps_per_quarter)
