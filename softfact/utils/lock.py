"""One writer per run folder: an exclusive ``flock`` on the folder's lock file.

``softfact train``, ``run``, ``evaluate`` and ``report`` hold the lock while they write into a
run folder, so two of them can never interleave rows in ``metrics.jsonl`` or overwrite each
other's checkpoint. The operating system drops a ``flock`` when its process ends, however it
ends (``kill -9`` included), so a stale lock never blocks the next start. The lock file records
who holds it (PID, host, command) for the message a second process gets; it is removed when the
lock is released (after a kill it stays, stale and harmless, until the next start).

The lock is re-entrant within one process (``softfact run`` holds it for training, evaluation
and the report), and advisory: it binds softfact processes, not other programs. ``flock`` works
on local file systems; on some network file systems it is a no-op.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from softfact.utils.io import storage_error
from softfact.utils.runfiles import RunFiles


class RunFolderBusy(RuntimeError):
    """Another process holds the run folder; one line naming the folder and the holder."""


# resolved folder -> [fd, depth, lock file]: locks this process holds (flock is per open file, so a
# second open of the same file in this process would block on ourselves)
_HELD: dict[str, list] = {}


def _holder(lock_file: Path) -> str:
    try:
        info = json.loads(lock_file.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process"
    return (f"process {info['pid']} on {info.get('host', '?')}"
            + (f" ({info['command']})" if info.get("command") else ""))


def acquire(folder: str | Path, *, command: str | None = None) -> bool:
    """Lock run folder ``folder`` (created if missing) for this process.

    Returns True if this call took the lock, False if this process already held it (then
    ``release`` must still be called once for it). Raises RunFolderBusy if another process
    holds it, and a one-line StorageError if the folder cannot be written.
    """
    folder = Path(folder)
    key = os.path.realpath(folder)
    if key in _HELD:
        _HELD[key][1] += 1
        return False
    lock_file = RunFiles(folder).lock
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise storage_error(e, folder) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunFolderBusy(f"run folder {folder} is in use by {_holder(lock_file)}; wait "
                                f"for it to finish or choose another --out-dir") from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock_file):
            break
        os.close(fd)  # the holder removed the file between our open and flock: take the new one
    cmd = command if command is not None else " ".join(["softfact", *sys.argv[1:]])
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": cmd,
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    except OSError:
        pass  # the lock holds without the note (e.g. a full disk); the message says less
    _HELD[key] = [fd, 1, os.path.abspath(lock_file)]
    return True


def release(folder: str | Path) -> None:
    """Undo one ``acquire`` of ``folder``; the last one unlocks it."""
    key = os.path.realpath(Path(folder))
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _HELD[key]
    fd, _, lock_file = held
    try:  # remove the file while still locked (a waiter re-checks it locked the live file)
        os.unlink(lock_file)
    except OSError:
        pass
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def is_held(folder: str | Path) -> bool:
    """Whether this process holds ``folder``'s lock."""
    return os.path.realpath(Path(folder)) in _HELD


@contextmanager
def run_lock(folder: str | Path, *, command: str | None = None):
    """``with run_lock(folder):`` hold the folder's lock for the block."""
    acquire(folder, command=command)
    try:
        yield Path(folder)
    finally:
        release(folder)
