"""Which songs train and which validate: files grouped by tune, each tune's side fixed by a hash.

Corpora hold several versions of one piece: POP909's ``001/001.mid`` beside ``001/versions/``,
folk collections with ``tune.mid``, ``melody/tune.mid`` and ``chords/tune.mid``. A split by file
puts versions of one tune on both sides, so validation measures memory, not generalisation
(322 of 325 validation files of such a corpus had a version in training). ``split_by``:

* ``stem`` (default): one tune per file stem, case-insensitive (``melody/Tune.mid`` goes with
  ``tune.mid``), and every file below a folder that holds a file of the folder's own name goes
  with that file (``001/versions/v2.mid`` goes with ``001/001.mid``);
* ``folder``: one tune per top-level folder under the corpus root (files at the root: per stem);
* ``file``: every file on its own (the split of runs trained before ``split_by`` existed).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from softfact.data.midi_files import SongNotes

SPLIT_BY = ("stem", "folder", "file")


def song_fraction(name: str) -> float:
    """A stable pseudo-random number in [0, 1) per song name (no RNG state involved)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def tune_keys(names: list[str], split_by: str = "stem") -> list[str]:
    """The tune of each file (relative posix paths); files of one tune share a key."""
    if split_by not in SPLIT_BY:
        raise ValueError(f"split_by must be one of {SPLIT_BY}, got {split_by!r}")
    if split_by == "file":
        return list(names)
    paths = [PurePosixPath(n) for n in names]
    if split_by == "folder":
        return [p.parts[0] if len(p.parts) > 1 else p.stem.lower() for p in paths]
    # folders that hold a file named like themselves ("001/001.mid"): the tune's own folder
    own = {p.parent for p in paths if p.parent.name and p.stem.lower() == p.parent.name.lower()}
    keys = []
    for p in paths:
        home = next((a for a in reversed(p.parents) if a in own), None)  # outermost
        keys.append(home.name.lower() if home is not None else p.stem.lower())
    return keys


def split_songs(names: list[str], val_fraction: float, *,
                split_by: str = "stem") -> dict[str, np.ndarray]:
    """Song indices of the "train" and "val" splits, by hashing each song's tune.

    All files of one tune (see ``tune_keys``) land on the same side, and a tune's side never
    changes when songs are added or removed. With two tunes or more neither split is left
    empty (the lowest hash goes to val, the highest to train); a single tune, or
    ``val_fraction <= 0``, makes every song serve both splits.
    """
    keys = tune_keys(names, split_by)
    tunes = sorted(set(keys))
    u = {k: song_fraction(k) for k in tunes}
    val_tunes = {k for k in tunes if u[k] < val_fraction}
    if len(tunes) >= 2 and val_fraction > 0:
        if not val_tunes:
            val_tunes.add(min(tunes, key=u.get))
        if len(val_tunes) == len(tunes):
            val_tunes.discard(max(tunes, key=u.get))
    idx = np.arange(len(names))
    if len(tunes) <= 1 or val_fraction <= 0:
        return {"train": idx, "val": idx}
    val = np.array([k in val_tunes for k in keys], dtype=bool)
    return {"train": idx[~val], "val": idx[val]}


@dataclass
class CorpusSplit:
    """A corpus, its tunes and its split: what the summary prints and ``split.json`` keeps."""
    songs: SongNotes
    split_by: str
    val_fraction: float
    source: str = ""          # the folder (or corpus name) the songs came from

    def __post_init__(self):
        self.keys = tune_keys(self.songs.names, self.split_by)
        self.index = split_songs(self.songs.names, self.val_fraction, split_by=self.split_by)

    def names(self, split: str) -> list[str]:
        return [self.songs.names[i] for i in self.index[split]]

    def counts(self) -> dict:
        songs = self.songs
        sec = None if songs.seconds is None else float(np.sum(songs.seconds))
        tunes = {s: len({self.keys[i] for i in self.index[s]}) for s in ("train", "val")}
        return {"files": len(songs) + len(songs.skipped), "songs": len(songs),
                "skipped": len(songs.skipped), "tunes": len(set(self.keys)),
                "train_songs": len(self.index["train"]), "val_songs": len(self.index["val"]),
                "train_tunes": tunes["train"], "val_tunes": tunes["val"],
                "notes": int(len(songs.notes)), "hours": None if sec is None else sec / 3600}

    def summary(self) -> str:
        """One line: files, songs, skipped, tunes, the split, notes and hours of music."""
        c = self.counts()
        hours = "" if c["hours"] is None else f", {c['hours']:.1f} h of music"
        shared = " (one tune: it serves both)" if c["tunes"] == 1 else ""
        return (f"corpus {self.source}: {c['files']:,} files, {c['songs']:,} songs "
                f"({c['skipped']:,} skipped), {c['tunes']:,} tunes by {self.split_by}; "
                f"training {c['train_songs']:,} songs / {c['train_tunes']:,} tunes, validation "
                f"{c['val_songs']:,} songs / {c['val_tunes']:,} tunes{shared}; "
                f"{c['notes']:,} notes{hours}")

    def record(self) -> dict:
        """The contents of ``split.json``: settings, counts, and both lists of files."""
        return {"source": self.source, "split_by": self.split_by,
                "val_fraction": self.val_fraction, **self.counts(),
                "train": self.names("train"), "val": self.names("val"),
                "skipped_files": list(self.songs.skipped)}
