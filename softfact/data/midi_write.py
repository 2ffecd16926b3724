"""Piano rolls -> MIDI (and, with a user's SoundFont, audio): the inverse of the roll parser.

A roll is (P, T) binary: row i is MIDI pitch ``lowest_pitch + i`` (low to high, as in
``softfact.data.midi_files`` and the crops of ``softfact.data.midi_crops``), column j is grid step j.
Each run of consecutive "on" cells in a row becomes one note, from tick ``j * ticks_per_step``
for ``length * ticks_per_step`` ticks, with ``ticks_per_step = ticks_per_quarter //
steps_per_quarter``. Those ticks are exact multiples of a step, so the parser's rounding
(``round(ticks * spq / tpq)``) gives the same roll back. Two notes of one pitch that touch in
the roll were one run of cells already; they come back as one note.

>>> import numpy as np
>>> roll = np.zeros((4, 6), bool); roll[1, 0:2] = True; roll[3, 3:6] = True
>>> score = roll_to_score(roll, lowest_pitch=60)
>>> [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes]
[(0, 240, 61), (360, 360, 63)]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from softfact.utils.io import atomic_write

N_PITCHES = 128
TICKS_PER_STEP = 120  # 480 ticks per quarter at the default 4 steps per quarter (16th notes)


class MidiWriteError(ValueError):
    """A roll that cannot be written as MIDI, or an unusable SoundFont; one line."""


def _as_roll(roll) -> np.ndarray:
    """numpy or torch, (P, T) or (1, P, T), any dtype -> (P, T) bool (cells > 0.5 are on)."""
    if hasattr(roll, "detach"):
        roll = roll.detach().cpu().numpy()
    roll = np.asarray(roll)
    if roll.ndim == 3 and roll.shape[0] == 1:
        roll = roll[0]
    if roll.ndim != 2:
        raise MidiWriteError(f"a piano roll must be (pitches, steps), got shape {roll.shape}")
    return roll > 0.5 if roll.dtype != bool else roll


def roll_notes(roll) -> np.ndarray:
    """(P, T) binary roll -> (N, 3) int64 notes (row, start step, end step), end exclusive.

    Sorted by (start, row); vectorised (edges of each row's runs of "on" cells).
    """
    r = _as_roll(roll).astype(np.int8)
    edges = np.diff(np.pad(r, ((0, 0), (1, 1))), axis=1)       # +1 at a run's start, -1 after it
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)                           # same row-major order
    notes = np.stack([rows, starts, ends], axis=1).astype(np.int64).reshape(-1, 3)
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]


def roll_to_score(roll, *, steps_per_quarter: int = 4, lowest_pitch: int = 0,
                  tempo: float = 120.0, velocity: int = 80, program: int = 0,
                  name: str = "softfact"):
    """A binary piano roll as a ``symusic.Score`` (one piano track, ticks on the grid).

    ``lowest_pitch``: the MIDI pitch of row 0 (a crop's lowest pitch); ``tempo`` in quarter
    notes per minute; every note gets ``velocity``.
    """
    from symusic import Note, Score, Tempo, Track  # imported here, as the parser does
    r = _as_roll(roll)
    if steps_per_quarter < 1:
        raise MidiWriteError(f"steps_per_quarter must be >= 1, got {steps_per_quarter}")
    if lowest_pitch < 0 or lowest_pitch + r.shape[0] > N_PITCHES:
        raise MidiWriteError(f"rows {lowest_pitch}..{lowest_pitch + r.shape[0] - 1} do not fit "
                             f"the MIDI pitches 0..127 (roll shape {r.shape})")
    if not 1 <= velocity <= 127 or not tempo > 0:
        raise MidiWriteError(f"velocity must be in 1..127 and tempo > 0, got {velocity}, {tempo}")
    score = Score(TICKS_PER_STEP * steps_per_quarter)
    score.tempos.append(Tempo(0, float(tempo)))
    track = Track(name=name, program=program, is_drum=False)
    for row, start, end in roll_notes(r).tolist():
        track.notes.append(Note(start * TICKS_PER_STEP, (end - start) * TICKS_PER_STEP,
                                lowest_pitch + row, velocity))
    score.tracks.append(track)
    return score


def write_midi(roll, path: str | Path, **kwargs) -> Path:
    """Write ``roll`` as a MIDI file at ``path`` atomically; ``kwargs`` as ``roll_to_score``."""
    score = roll_to_score(roll, **kwargs)
    return atomic_write(Path(path), lambda tmp: score.dump_midi(tmp))


def check_soundfont(path: str | Path | None) -> Path | None:
    """``None``, or the SoundFont file ``path`` if it exists and this symusic can render it."""
    if path is None or str(path) == "":
        return None
    path = Path(path).expanduser()
    if not path.is_file():
        raise MidiWriteError(f"SoundFont not found: {path}")
    try:
        from symusic import Synthesizer  # noqa: F401
    except ImportError:
        raise MidiWriteError("this symusic has no Synthesizer; install symusic>=0.4 to render "
                             "audio, or drop --soundfont") from None
    return path


class WavRenderer:
    """Renders scores to .wav with a user's SoundFont (symusic's Synthesizer); no downloads.

    The SoundFont is loaded once and a one-note score rendered at once, so a SoundFont or a
    symusic that cannot render fails here, before any work, with one line (symusic 0.6.0's
    wheels load SoundFonts but cannot hand the rendered buffer back to Python).
    ``render(score, path)`` writes 16-bit stereo, atomically.
    """

    def __init__(self, soundfont: str | Path, *, sample_rate: int = 44100):
        self.soundfont = check_soundfont(soundfont)
        from symusic import Synthesizer
        self.sample_rate = sample_rate
        try:
            self._synth = Synthesizer(str(self.soundfont), sample_rate, 0)  # quality 0: fastest
        except Exception as e:  # a file that is not a SoundFont
            raise MidiWriteError(f"cannot load SoundFont {self.soundfont}: "
                                 f"{_first_line(e)}") from None
        try:
            self._audio(roll_to_score(np.ones((1, 1), bool), lowest_pitch=60))
        except Exception as e:
            import symusic
            raise MidiWriteError(f"symusic {getattr(symusic, '__version__', '?')} cannot render "
                                 f"audio here ({_first_line(e)}); drop --soundfont") from None

    def _audio(self, score) -> np.ndarray:
        return np.asarray(self._synth.render(score, stereo=True), dtype=np.float32)

    def render(self, score, path: str | Path) -> Path:
        from symusic import dump_wav
        audio = np.asfortranarray(self._audio(score))
        return atomic_write(Path(path), lambda tmp: dump_wav(tmp, audio, self.sample_rate,
                                                             use_int16=True))


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
