"""MIDI files -> note lists on a time grid -> binary piano rolls, with symusic.

Grid rule (ours, not symusic's ``pianoroll``, which rounds durations): with ``tpq`` ticks per
quarter note and ``spq`` grid steps per quarter note, a note from tick a to tick b covers steps
``start = round(a * spq / tpq)`` to ``end = round(b * spq / tpq)`` (end exclusive), rounding
halves up; a note that rounds to zero length still covers one step (``end = start + 1``).
Drum tracks are dropped: their "pitches" are instruments, not notes.

Orientation: a roll is (128, T) with row index = MIDI pitch (row 0 = pitch 0, row 127 = G9)
and column = grid step. ``translate(x, dy, dx)`` moves content towards higher row index for
positive dy, so a positive dy is a transposition *up* by dy semitones and a positive dx a delay
by dx steps. (Plot with ``origin="lower"`` to see high notes on top.)
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from softfact.utils.io import atomic_write

N_PITCHES = 128


class MidiDataError(ValueError):
    """Unusable MIDI input (no files, no notes, unreadable); the message is one line."""


def one_line(text: object, limit: int = 200) -> str:
    """First line of an error text, shortened, for one-line messages."""
    lines = str(text).strip().splitlines()
    return (lines[0] if lines else type(text).__name__)[:limit]


def ticks_to_steps(ticks: np.ndarray, tpq: int, steps_per_quarter: int) -> np.ndarray:
    """round(ticks * spq / tpq), halves rounded up, in exact integer arithmetic (int64)."""
    t = np.asarray(ticks, dtype=np.int64)
    return (2 * t * steps_per_quarter + tpq) // (2 * tpq)


def grid_notes(pitch: np.ndarray, start_tick: np.ndarray, end_tick: np.ndarray, *, tpq: int,
               steps_per_quarter: int) -> np.ndarray:
    """Notes in ticks -> (N, 3) int64 array of (pitch, start, end) grid steps, end exclusive.

    Sorted by (start, pitch, end); each note covers at least one step.
    """
    if tpq < 1 or steps_per_quarter < 1:
        raise ValueError(f"tpq and steps_per_quarter must be >= 1, got {tpq}, {steps_per_quarter}")
    start = ticks_to_steps(start_tick, tpq, steps_per_quarter)
    end = np.maximum(ticks_to_steps(end_tick, tpq, steps_per_quarter), start + 1)
    notes = np.stack([np.asarray(pitch, dtype=np.int64), start, end], axis=1).reshape(-1, 3)
    if len(notes) and (notes[:, 0].min() < 0 or notes[:, 0].max() >= N_PITCHES or start.min() < 0):
        raise ValueError("pitches must lie in 0..127 and start ticks be >= 0")
    order = np.lexsort((notes[:, 2], notes[:, 0], notes[:, 1]))
    return notes[order]


def score_notes(score, *, steps_per_quarter: int = 4) -> np.ndarray:
    """A ``symusic.Score`` -> (N, 3) grid notes of all non-drum tracks (see ``grid_notes``)."""
    if not str(score.ttype).lower().endswith("tick"):  # e.g. "symusic.core.Tick"
        score = score.to("tick")
    parts = [t.notes.numpy() for t in score.tracks if not t.is_drum and t.note_num() > 0]
    if not parts:
        return np.zeros((0, 3), dtype=np.int64)
    time = np.concatenate([p["time"].astype(np.int64) for p in parts])
    dur = np.concatenate([p["duration"].astype(np.int64) for p in parts])
    pitch = np.concatenate([p["pitch"].astype(np.int64) for p in parts])
    return grid_notes(pitch, time, time + np.maximum(dur, 0), tpq=score.ticks_per_quarter,
                      steps_per_quarter=steps_per_quarter)


def read_midi_notes(path: str | Path, *, steps_per_quarter: int = 4) -> np.ndarray:
    """Parse one MIDI file -> (N, 3) grid notes; MidiDataError (one line) if unreadable."""
    from symusic import Score  # imported here: the rest of the package does not need it
    try:
        score = Score(str(path))
    except Exception as e:  # symusic raises RuntimeError/ValueError/... on corrupt files
        raise MidiDataError(f"cannot read MIDI file {path}: {one_line(e)}") from None
    return score_notes(score, steps_per_quarter=steps_per_quarter)


def notes_to_roll(notes: np.ndarray, n_steps: int | None = None) -> np.ndarray:
    """(N, 3) grid notes -> binary roll (128, T) bool, T = n_steps or the last note end.

    Vectorised: +1 at each note start and -1 at its end along time, cumulative sum > 0.
    """
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    T = int(notes[:, 2].max(initial=0)) if n_steps is None else int(n_steps)
    edges = np.zeros((N_PITCHES, T + 1), dtype=np.int32)
    keep = notes[:, 1] < T
    p, s, e = notes[keep].T
    np.add.at(edges, (p, s), 1)
    np.add.at(edges, (p, np.minimum(e, T)), -1)
    return np.cumsum(edges, axis=1)[:, :T] > 0


def midi_to_roll(path: str | Path, *, steps_per_quarter: int = 4) -> np.ndarray:
    """One MIDI file -> binary piano roll (128 pitches, T steps), rows = pitch (see module doc)."""
    return notes_to_roll(read_midi_notes(path, steps_per_quarter=steps_per_quarter))


# -- a folder of songs, parsed once and cached ------------------------------------------------

CACHE_FORMAT = "softfact-notes-v2"
MIDI_SUFFIXES = (".mid", ".midi")


@dataclass
class SongNotes:
    """Many songs' grid notes in one array: song i is ``notes[offsets[i]:offsets[i+1]]``.

    Every song holds at least one note (loaders skip empty ones).
    """
    names: list[str]           # relative paths (or corpus names), one per song
    notes: np.ndarray          # (N, 3) int64 (pitch, start, end) grid steps, per song from 0
    offsets: np.ndarray        # (n_songs + 1,) int64
    steps_per_quarter: int
    skipped: list[str] = field(default_factory=list)  # files left out, with the reason
    rolls: np.ndarray | None = None  # (total, 16) uint8 bit-packed rolls; see ``packed_rolls``

    def __len__(self) -> int:
        return len(self.names)

    def roll_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """(begin, length) of each song in ``packed_rolls``: songs end to end, each padded to
        at least 128 steps so that any crop of up to 128 steps fits inside one song."""
        length = np.maximum(self.lengths(), N_PITCHES)
        return np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64), length

    def packed_rolls(self) -> np.ndarray:
        """All songs' binary rolls, bit-packed along pitch: (total_steps, 16) uint8 with pitch
        p in byte p // 8, bit p % 8; computed once (no Python loop over notes) and kept."""
        if self.rolls is None:
            begin, length = self.roll_spans()
            song = np.repeat(np.arange(len(self)), np.diff(self.offsets))
            p, s, e = self.notes.T
            dur = e - s
            n = int(dur.sum())
            first = np.repeat(np.cumsum(dur) - dur, dur)
            steps = np.repeat(s + begin[song], dur) + (np.arange(n) - first)
            cells = steps * N_PITCHES + np.repeat(p, dur)
            packed = np.zeros(int(length.sum()) * (N_PITCHES // 8), dtype=np.uint8)
            np.bitwise_or.at(packed, cells >> 3, (1 << (cells & 7)).astype(np.uint8))
            self.rolls = packed.reshape(-1, N_PITCHES // 8)
        return self.rolls

    def lengths(self) -> np.ndarray:
        """(n_songs,) steps up to each song's last note end."""
        ends = np.maximum.reduceat(self.notes[:, 2], self.offsets[:-1]) if len(self.notes) else []
        return np.asarray(ends, dtype=np.int64).reshape(len(self))

    def subset(self, index) -> "SongNotes":
        index = np.asarray(index, dtype=np.int64)
        parts = [self.notes[self.offsets[i]:self.offsets[i + 1]] for i in index]
        sizes = np.array([len(p) for p in parts], dtype=np.int64)
        notes = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
        rolls = None
        if self.rolls is not None:
            begin, length = self.roll_spans()
            rolls = np.concatenate([self.rolls[begin[i]:begin[i] + length[i]] for i in index]) \
                if len(index) else self.rolls[:0]
        return SongNotes([self.names[i] for i in index], notes,
                         np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                         self.steps_per_quarter, list(self.skipped), rolls)

    def save(self, path: Path) -> None:
        """Write an .npz (deflate level 1: fast to write, still small), atomically."""
        arrays = dict(format=np.array(CACHE_FORMAT), names=np.array(self.names, dtype=str),
                      pitch=self.notes[:, 0].astype(np.uint8), start=self.notes[:, 1].astype(np.int32),
                      end=self.notes[:, 2].astype(np.int32), offsets=self.offsets,
                      steps_per_quarter=np.array(self.steps_per_quarter),
                      skipped=np.array(self.skipped, dtype=str), rolls=self.packed_rolls())

        def write(tmp):
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                for name, arr in arrays.items():
                    with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                        np.lib.format.write_array(f, arr, allow_pickle=False)
        atomic_write(Path(path), write)

    @classmethod
    def load(cls, path: Path) -> "SongNotes":
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != CACHE_FORMAT:
                raise ValueError(f"{path} is not a {CACHE_FORMAT} file")
            notes = np.stack([z["pitch"], z["start"], z["end"]], axis=1).astype(np.int64)
            return cls([str(n) for n in z["names"]], notes, z["offsets"].astype(np.int64),
                       int(z["steps_per_quarter"]), [str(s) for s in z["skipped"]], z["rolls"])


def default_cache_dir() -> Path:
    """``$SOFTFACT_CACHE``, else ``~/.cache/softfact``."""
    return Path(os.environ.get("SOFTFACT_CACHE") or Path.home() / ".cache" / "softfact")


def find_midi_files(folder: Path) -> list[Path]:
    """All *.mid / *.midi files under ``folder`` (recursive, any case), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def cache_key(folder: Path, files: list[Path], steps_per_quarter: int) -> str:
    """Hash of the roll settings and each file's relative path, size and mtime."""
    rows = []
    for p in files:
        st = p.stat()
        rows.append([p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns])
    blob = json.dumps([CACHE_FORMAT, steps_per_quarter, rows]).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def load_midi_folder(folder: str | Path, *, steps_per_quarter: int = 4,
                     cache_dir: str | Path | None = None) -> SongNotes:
    """Every MIDI file under ``folder`` as grid notes, parsed once and then read from the cache.

    Unreadable files and files without (non-drum) notes are skipped with a warning naming each
    and one count at the end; no usable file at all is a one-line MidiDataError.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MidiDataError(f"MIDI folder not found: {folder}")
    files = find_midi_files(folder)
    if not files:
        raise MidiDataError(f"no .mid or .midi files under {folder}")
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache / f"notes-{cache_key(folder, files, steps_per_quarter)}.npz"
    songs = None
    if path.is_file():
        try:
            songs = SongNotes.load(path)
        except Exception as e:  # a damaged cache file is rebuilt, not fatal
            warnings.warn(f"ignoring unreadable cache {path}: {one_line(e)}", stacklevel=2)
    if songs is None:
        songs = _parse_files(folder, files, steps_per_quarter)
        try:
            songs.save(path)
        except OSError as e:
            warnings.warn(f"cannot write cache {path}: {one_line(e)}", stacklevel=2)
    if songs.skipped:
        warnings.warn(f"skipped {len(songs.skipped)} of {len(files)} MIDI files under {folder} "
                      f"(unreadable or without notes), e.g. {songs.skipped[0]}", stacklevel=2)
    if not len(songs):
        raise MidiDataError(f"none of the {len(files)} MIDI files under {folder} holds any notes")
    return songs


def _parse_files(folder: Path, files: list[Path], steps_per_quarter: int) -> SongNotes:
    names, parts, skipped = [], [], []
    for p in files:
        rel = p.relative_to(folder).as_posix()
        try:
            notes = read_midi_notes(p, steps_per_quarter=steps_per_quarter)
        except (MidiDataError, ValueError) as e:
            warnings.warn(f"skipping {p}: {one_line(e)}", stacklevel=3)
            skipped.append(f"{rel} (unreadable)")
            continue
        if not len(notes):
            warnings.warn(f"skipping {p}: no notes outside drum tracks", stacklevel=3)
            skipped.append(f"{rel} (no notes)")
            continue
        names.append(rel)
        parts.append(notes)
    sizes = np.array([len(n) for n in parts], dtype=np.int64)
    notes = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
    return SongNotes(names, notes, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                     steps_per_quarter, skipped)
