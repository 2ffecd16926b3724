"""MIDI files -> note lists on a time grid -> piano rolls, with symusic; a folder parsed once and
cached. (Song splits: ``midi_split``; crops and the built-in corpus: ``midi_crops``.)

Grid rule (ours, not symusic's ``pianoroll``, which rounds durations): with ``tpq`` ticks per
quarter note and ``spq`` grid steps per quarter note, a note from tick a to tick b covers steps
``start = round(a * spq / tpq)`` to ``end = round(b * spq / tpq)`` (end exclusive), rounding
halves up; a note that rounds to zero length still covers one step (``end = start + 1``).
Drum tracks are dropped: their "pitches" are instruments, not notes. ``tracks`` keeps only the
tracks it names (``select_tracks``).

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
               steps_per_quarter: int, return_order: bool = False):
    """Notes in ticks -> (N, 3) int64 array of (pitch, start, end) grid steps, end exclusive.

    Sorted by (start, pitch, end); each note covers at least one step. With ``return_order``
    also the permutation that sorted them (to carry per-note values such as velocity along).
    """
    if tpq < 1 or steps_per_quarter < 1:
        raise ValueError(f"tpq and steps_per_quarter must be >= 1, got {tpq}, {steps_per_quarter}")
    start = ticks_to_steps(start_tick, tpq, steps_per_quarter)
    end = np.maximum(ticks_to_steps(end_tick, tpq, steps_per_quarter), start + 1)
    notes = np.stack([np.asarray(pitch, dtype=np.int64), start, end], axis=1).reshape(-1, 3)
    if len(notes) and (notes[:, 0].min() < 0 or notes[:, 0].max() >= N_PITCHES or start.min() < 0):
        raise ValueError("pitches must lie in 0..127 and start ticks be >= 0")
    order = np.lexsort((notes[:, 2], notes[:, 0], notes[:, 1]))
    return (notes[order], order) if return_order else notes[order]


def parse_tracks(spec: str) -> list[str | int]:
    """``"MELODY, piano, 0"`` -> ["melody", "piano", 0]: track names (any case) or GM programs."""
    out: list[str | int] = []
    for item in (s.strip() for s in str(spec).split(",")):
        if item:
            out.append(int(item) if item.isdigit() else item.lower())
    bad = [t for t in out if isinstance(t, int) and not 0 <= t <= 127]
    if bad:
        raise ValueError(f"a track program must lie in 0..127, got {bad[0]}")
    return out


def select_tracks(score, tracks: str = "") -> list:
    """The score's non-drum tracks that ``tracks`` names (all of them when ``tracks`` is empty).

    ``tracks``: comma-separated track names (case-insensitive, e.g. POP909's ``MELODY`` or
    ``PIANO``) or General MIDI program numbers 0..127 (``0`` = acoustic grand piano).
    """
    wanted = parse_tracks(tracks)
    keep = [t for t in score.tracks if not t.is_drum and t.note_num() > 0]
    if not wanted:
        return keep
    return [t for t in keep if t.name.strip().lower() in wanted or int(t.program) in wanted]


@dataclass
class ParsedSong:
    """One file on the grid: notes (N, 3) (see ``grid_notes``), their velocities (N,) uint8 and
    the song's duration in seconds (from its tempo map)."""
    notes: np.ndarray
    velocity: np.ndarray
    seconds: float


def score_song(score, *, steps_per_quarter: int = 4, tracks: str = "") -> ParsedSong:
    """A ``symusic.Score`` -> its selected tracks' notes on the grid (see ``select_tracks``)."""
    if not str(score.ttype).lower().endswith("tick"):  # e.g. "symusic.core.Tick"
        score = score.to("tick")
    parts = [t.notes.numpy() for t in select_tracks(score, tracks)]
    if not parts:
        return ParsedSong(np.zeros((0, 3), dtype=np.int64), np.zeros(0, np.uint8), 0.0)
    time = np.concatenate([p["time"].astype(np.int64) for p in parts])
    dur = np.concatenate([p["duration"].astype(np.int64) for p in parts])
    pitch = np.concatenate([p["pitch"].astype(np.int64) for p in parts])
    vel = np.concatenate([p["velocity"].astype(np.uint8) for p in parts])
    notes, order = grid_notes(pitch, time, time + np.maximum(dur, 0), tpq=score.ticks_per_quarter,
                              steps_per_quarter=steps_per_quarter, return_order=True)
    return ParsedSong(notes, vel[order], float(score.to("second").end()))


def score_notes(score, *, steps_per_quarter: int = 4, tracks: str = "") -> np.ndarray:
    """A ``symusic.Score`` -> (N, 3) grid notes of all (or the named) non-drum tracks."""
    return score_song(score, steps_per_quarter=steps_per_quarter, tracks=tracks).notes


def read_midi_song(path: str | Path, *, steps_per_quarter: int = 4, tracks: str = "") -> ParsedSong:
    """Parse one MIDI file -> ParsedSong; MidiDataError (one line) if unreadable."""
    from symusic import Score  # imported here: the rest of the package does not need it
    try:
        score = Score(str(path))
    except Exception as e:  # symusic raises RuntimeError/ValueError/... on corrupt files
        raise MidiDataError(f"cannot read MIDI file {path}: {one_line(e)}") from None
    return score_song(score, steps_per_quarter=steps_per_quarter, tracks=tracks)


def read_midi_notes(path: str | Path, *, steps_per_quarter: int = 4, tracks: str = "") -> np.ndarray:
    """Parse one MIDI file -> (N, 3) grid notes; MidiDataError (one line) if unreadable."""
    return read_midi_song(path, steps_per_quarter=steps_per_quarter, tracks=tracks).notes


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


def midi_to_roll(path: str | Path, *, steps_per_quarter: int = 4,
                 max_song_steps: int = 100_000) -> np.ndarray:
    """One MIDI file -> binary piano roll (128 pitches, T steps), rows = pitch (see module doc).

    A song longer than ``max_song_steps`` is a MidiDataError before any roll is allocated.
    """
    notes = read_midi_notes(path, steps_per_quarter=steps_per_quarter)
    check_length(path, notes, max_song_steps)
    return notes_to_roll(notes)


def check_length(path, notes: np.ndarray, max_song_steps: int) -> None:
    """MidiDataError naming ``path`` and its length if its notes end after ``max_song_steps``."""
    steps = int(notes[:, 2].max(initial=0))
    if steps > max_song_steps:
        raise MidiDataError(f"{path} is {steps:,} grid steps long, over max_song_steps "
                            f"{max_song_steps:,}")


# -- a folder of songs, parsed once and cached ------------------------------------------------

CACHE_FORMAT = "softfact-notes-v3"
MIDI_SUFFIXES = (".mid", ".midi")
DEFAULT_MAX_SONG_STEPS = 100_000  # 25,000 quarter notes at 4 steps: hours of music per song


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
    velocity: np.ndarray | None = None  # (N,) uint8 note velocities (None: unknown, taken as 127)
    seconds: np.ndarray | None = None   # (n_songs,) durations from the files' tempo maps

    def __len__(self) -> int:
        return len(self.names)

    def roll_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """(begin, length) of each song in ``packed_rolls``: songs end to end, each padded to
        at least 128 steps so that any crop of up to 128 steps fits inside one song."""
        length = np.maximum(self.lengths(), N_PITCHES)
        return np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64), length

    def _cells(self, onsets: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(cell index = global step * 128 + pitch, note index) of every step each note covers
        (only its first step with ``onsets``), with no Python loop over notes."""
        begin, _ = self.roll_spans()
        song = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        p, s, e = self.notes.T
        dur = np.ones_like(s) if onsets else e - s
        n = int(dur.sum())
        first = np.repeat(np.cumsum(dur) - dur, dur)
        steps = np.repeat(s + begin[song], dur) + (np.arange(n) - first)
        return steps * N_PITCHES + np.repeat(p, dur), np.repeat(np.arange(len(p)), dur)

    def _pack(self, cells: np.ndarray) -> np.ndarray:
        total = int(self.roll_spans()[1].sum())
        packed = np.zeros(total * (N_PITCHES // 8), dtype=np.uint8)
        np.bitwise_or.at(packed, cells >> 3, (1 << (cells & 7)).astype(np.uint8))
        return packed.reshape(-1, N_PITCHES // 8)

    def packed_rolls(self) -> np.ndarray:
        """All songs' binary rolls, bit-packed along pitch: (total_steps, 16) uint8 with pitch
        p in byte p // 8, bit p % 8; computed once (no Python loop over notes) and kept."""
        if self.rolls is None:
            self.rolls = self._pack(self._cells()[0])
        return self.rolls

    def onset_rolls(self) -> np.ndarray:
        """Like ``packed_rolls`` but only each note's first step: repeated notes stay apart."""
        return self._pack(self._cells(onsets=True)[0])

    def velocity_rolls(self) -> np.ndarray:
        """(total_steps, 128) uint8: the loudest sounding note's velocity per cell (0 = silence).

        8 times the memory of ``packed_rolls`` (128 bytes per step instead of 16).
        """
        cells, note = self._cells()
        vel = self.velocity if self.velocity is not None else np.full(len(self.notes), 127, np.uint8)
        out = np.zeros(int(self.roll_spans()[1].sum()) * N_PITCHES, dtype=np.uint8)
        np.maximum.at(out, cells, np.maximum(vel[note], 1).astype(np.uint8))
        return out.reshape(-1, N_PITCHES)

    def lengths(self) -> np.ndarray:
        """(n_songs,) steps up to each song's last note end."""
        ends = np.maximum.reduceat(self.notes[:, 2], self.offsets[:-1]) if len(self.notes) else []
        return np.asarray(ends, dtype=np.int64).reshape(len(self))

    def subset(self, index) -> "SongNotes":
        index = np.asarray(index, dtype=np.int64)
        spans = [slice(self.offsets[i], self.offsets[i + 1]) for i in index]
        sizes = np.array([s.stop - s.start for s in spans], dtype=np.int64)
        notes = np.concatenate([self.notes[s] for s in spans]) if spans else np.zeros((0, 3), np.int64)
        velocity = None if self.velocity is None else (
            np.concatenate([self.velocity[s] for s in spans]) if spans else self.velocity[:0])
        rolls = None
        if self.rolls is not None:
            begin, length = self.roll_spans()
            rolls = np.concatenate([self.rolls[begin[i]:begin[i] + length[i]] for i in index]) \
                if len(index) else self.rolls[:0]
        return SongNotes([self.names[i] for i in index], notes,
                         np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                         self.steps_per_quarter, list(self.skipped), rolls, velocity,
                         None if self.seconds is None else self.seconds[index])

    def save(self, path: Path) -> None:
        """Write an .npz (deflate level 1: fast to write, still small), atomically."""
        arrays = dict(format=np.array(CACHE_FORMAT), names=np.array(self.names, dtype=str),
                      pitch=self.notes[:, 0].astype(np.uint8), start=self.notes[:, 1].astype(np.int32),
                      end=self.notes[:, 2].astype(np.int32), offsets=self.offsets,
                      steps_per_quarter=np.array(self.steps_per_quarter),
                      skipped=np.array(self.skipped, dtype=str), rolls=self.packed_rolls())
        if self.velocity is not None:
            arrays["velocity"] = self.velocity.astype(np.uint8)
        if self.seconds is not None:
            arrays["seconds"] = np.asarray(self.seconds, dtype=np.float64)

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
                       int(z["steps_per_quarter"]), [str(s) for s in z["skipped"]], z["rolls"],
                       z["velocity"] if "velocity" in z.files else None,
                       z["seconds"] if "seconds" in z.files else None)


def default_cache_dir() -> Path:
    """``$SOFTFACT_CACHE``, else ``~/.cache/softfact``."""
    return Path(os.environ.get("SOFTFACT_CACHE") or Path.home() / ".cache" / "softfact")


def find_midi_files(folder: Path) -> list[Path]:
    """All *.mid / *.midi files under ``folder`` (recursive, any case), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def cache_prefix(folder: Path, settings: dict) -> str:
    """Names this folder's entries under these settings; older entries with it are pruned."""
    blob = json.dumps([CACHE_FORMAT, str(folder.resolve()), settings], sort_keys=True).encode()
    return hashlib.blake2b(blob, digest_size=6).hexdigest()


def content_hash(folder: Path, files: list[Path]) -> str:
    """blake2b of every file's relative path and bytes: an edit shows even when the size and
    modification time are restored (``cp -p``, ``rsync -t``). POP909 (17 MB): about 0.1 s."""
    h = hashlib.blake2b(digest_size=12)
    for p in files:
        data = p.read_bytes()
        h.update(f"{p.relative_to(folder).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def cache_key(folder: Path, files: list[Path], settings: dict) -> str:
    """``{prefix}-{content}``: the folder and parse settings, then the files' contents."""
    return f"{cache_prefix(folder, settings)}-{content_hash(folder, files)}"


def load_midi_folder(folder: str | Path, *, steps_per_quarter: int = 4,
                     cache_dir: str | Path | None = None, tracks: str = "",
                     max_song_steps: int = DEFAULT_MAX_SONG_STEPS) -> SongNotes:
    """Every MIDI file under ``folder`` as grid notes, parsed once and then read from the cache.

    Unreadable files, files without (non-drum, selected) notes and songs longer than
    ``max_song_steps`` grid steps are skipped with a warning naming each and one count at the
    end; no usable file at all is a one-line MidiDataError. ``tracks``: see ``select_tracks``.
    The cache entry is keyed on the files' contents and the settings; older entries of the
    same folder and settings are deleted when a new one is written.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MidiDataError(f"MIDI folder not found: {folder}")
    try:
        parse_tracks(tracks)
    except ValueError as e:
        raise MidiDataError(str(e)) from None
    files = find_midi_files(folder)
    if not files:
        raise MidiDataError(f"no .mid or .midi files under {folder}")
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    settings = dict(steps_per_quarter=steps_per_quarter, tracks=tracks, max_song_steps=max_song_steps)
    prefix = cache_prefix(folder, settings)
    path = cache / f"notes-{prefix}-{content_hash(folder, files)}.npz"
    songs = None
    if path.is_file():
        try:
            songs = SongNotes.load(path)
        except Exception as e:  # a damaged cache file is rebuilt, not fatal
            warnings.warn(f"ignoring unreadable cache {path}: {one_line(e)}", stacklevel=2)
    if songs is None:
        songs = _parse_files(folder, files, steps_per_quarter, tracks, max_song_steps)
        try:
            songs.save(path)
        except OSError as e:
            warnings.warn(f"cannot write cache {path}: {one_line(e)}", stacklevel=2)
        else:
            _prune(cache, prefix, keep=path)
    if songs.skipped:
        warnings.warn(f"skipped {len(songs.skipped)} of {len(files)} MIDI files under {folder} "
                      f"(unreadable, without notes or too long), e.g. {songs.skipped[0]}",
                      stacklevel=2)
    if not len(songs):
        raise MidiDataError(f"none of the {len(files)} MIDI files under {folder} holds any notes"
                            + (f" in tracks {tracks!r}" if tracks else ""))
    return songs


def _prune(cache: Path, prefix: str, *, keep: Path) -> None:
    """Delete this folder's older cache entries (same settings, other contents)."""
    for old in cache.glob(f"notes-{prefix}-*.npz"):
        if old != keep:
            try:
                old.unlink()
            except OSError:  # another process may be reading or removing it: not ours to fail
                pass


def _parse_files(folder: Path, files: list[Path], steps_per_quarter: int, tracks: str = "",
                 max_song_steps: int = DEFAULT_MAX_SONG_STEPS) -> SongNotes:
    names, parts, vels, seconds, skipped = [], [], [], [], []
    for p in files:
        rel = p.relative_to(folder).as_posix()
        try:
            song = read_midi_song(p, steps_per_quarter=steps_per_quarter, tracks=tracks)
        except (MidiDataError, ValueError) as e:
            warnings.warn(f"skipping {p}: {one_line(e)}", stacklevel=3)
            skipped.append(f"{rel} (unreadable)")
            continue
        if not len(song.notes):
            where = f"in tracks {tracks!r}" if tracks else "outside drum tracks"
            warnings.warn(f"skipping {p}: no notes {where}", stacklevel=3)
            skipped.append(f"{rel} (no notes)")
            continue
        steps = int(song.notes[:, 2].max())
        if steps > max_song_steps:  # checked on the note list: no roll of that length is made
            warnings.warn(f"skipping {p}: {steps:,} grid steps long, over max_song_steps "
                          f"{max_song_steps:,}", stacklevel=3)
            skipped.append(f"{rel} (too long: {steps:,} steps)")
            continue
        names.append(rel)
        parts.append(song.notes)
        vels.append(song.velocity)
        seconds.append(song.seconds)
    sizes = np.array([len(n) for n in parts], dtype=np.int64)
    notes = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
    velocity = np.concatenate(vels) if vels else np.zeros(0, np.uint8)
    return SongNotes(names, notes, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                     steps_per_quarter, skipped, velocity=velocity,
                     seconds=np.asarray(seconds, dtype=np.float64))
