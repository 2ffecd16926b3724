"""Files written atomically: readers never see half a file, a failed write leaves the old one."""
from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

# The OS errors a user can act on, in words; any other OSError keeps its own message.
STORAGE_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                  errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "permission denied"}


class StorageError(OSError):
    """A write the file system refused (full, read-only, no permission); one line naming the path."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]"
        return self.strerror


def storage_error(e: OSError, path: str | Path | None = None, *, note: str = "") -> OSError:
    """``e`` as a one-line StorageError naming ``path`` (or the path in ``e``), if it is a
    disk-full / read-only / permission error; otherwise ``e`` itself."""
    if isinstance(e, StorageError) or e.errno not in STORAGE_ERRNOS:
        return e
    where = path if path is not None else e.filename
    msg = f"cannot write {where}: {STORAGE_ERRNOS[e.errno]}" + (f"; {note}" if note else "")
    return StorageError(e.errno, msg)


def _temp_prefix(name: str) -> str:
    return f".{name}."


# atomic_write's temporary files: ".NAME." + mkstemp's 8 random characters + ".tmp"
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def clear_stale_temps(folder: str | Path) -> list[Path]:
    """Remove temporary files that an interrupted ``atomic_write`` left in ``folder``.

    Only safe while no other process writes there (softfact calls it holding the folder's
    lock, ``softfact.utils.lock``). Returns the removed paths.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for p in sorted(folder.iterdir()):
        if _TEMP.match(p.name) and p.is_file():
            try:
                p.unlink()
            except FileNotFoundError:
                continue
            removed.append(p)
    return removed


def atomic_write(path: str | Path, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` then rename over ``path``; returns ``path``.

    The temporary file sits beside ``path`` (same filesystem, so the rename is atomic) and is
    removed if ``write`` fails. A full disk, a read-only folder or a missing permission is a
    one-line ``StorageError`` naming ``path`` (the old file, if any, is unchanged).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path.name), suffix=".tmp")
    except OSError as e:
        raise storage_error(e, path) from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
            kept = "the previous file is unchanged" if path.exists() else ""
            raise storage_error(e, path, note=kept) from None
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(path, json.dumps(data, indent=2) + "\n")
