"""MIDI files written by the tests with symusic (no song from any corpus is shipped)."""
from symusic import Note, Score, Track


def write_midi(path, tracks, tpq=480):
    """tracks: list of (is_drum, [(start_tick, duration_ticks, pitch), ...])."""
    score = Score(tpq)
    for k, (is_drum, notes) in enumerate(tracks):
        track = Track(name=f"t{k}", program=0, is_drum=is_drum)
        for start, dur, pitch in notes:
            track.notes.append(Note(start, dur, pitch, 90))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path
