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


def write_named_tracks(path, tracks, tpq=480):
    """tracks: list of (name, program, [(start_tick, duration_ticks, pitch, velocity), ...])."""
    score = Score(tpq)
    for name, program, notes in tracks:
        track = Track(name=name, program=program, is_drum=False)
        for start, dur, pitch, vel in notes:
            track.notes.append(Note(start, dur, pitch, vel))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path
