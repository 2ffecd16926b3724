"""Folders that fail like real ones: a full disk and a read-only file system.

As root (CI, the development machine) these are real: a small tmpfs mounted under the test's
``tmp_path`` (full: its size; read-only: remounted ``ro``), since root ignores permission bits.
Where mounting is not allowed, a non-root user gets a ``chmod 555`` folder (real EACCES), and
otherwise the writes are monkeypatched to fail with the same errno (in-process calls only).
``SOFTFACT_FAULT_FS=patch`` forces the monkeypatched fallback (to check it as root).
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = os.geteuid() == 0
FORCE_PATCH = os.environ.get("SOFTFACT_FAULT_FS") == "patch"


def _try_mount(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                       capture_output=True)
    return r.returncode == 0


class FaultFS:
    """Makes full and read-only folders under ``tmp_path``; unmounts them at teardown."""

    def __init__(self, tmp_path: Path, monkeypatch):
        self.tmp, self.mp, self.mounts = tmp_path, monkeypatch, []
        self.kind = None

    def _mount(self, name: str, size: str) -> Path | None:
        where = self.tmp / name
        if ROOT and not FORCE_PATCH and sys.platform.startswith("linux") and _try_mount(where, size):
            self.mounts.append(where)
            self.kind = "tmpfs"
            return where
        where.mkdir(parents=True, exist_ok=True)
        return None

    def full(self, name: str, size_kb: int, *, fill_from: Path | None = None) -> Path:
        """A folder of ``size_kb`` KiB (holding a copy of ``fill_from``'s files, the rest of
        the space taken by a filler file when given)."""
        where = self._mount(name, f"{size_kb}k")
        folder = self.tmp / name
        if fill_from is not None:
            for p in fill_from.iterdir():
                if p.is_file():
                    shutil.copy(p, folder / p.name)
        if where is None:  # no mount: writes that would exceed size_kb fail at fsync
            self.kind = "patched"
            self._patch_capacity(folder, size_kb * 1024 if fill_from is None else 0)
        elif fill_from is not None:
            with open(folder / "filler", "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError as e:
                    assert e.errno == errno.ENOSPC
        return folder

    def readonly(self, name: str, *, fill_from: Path | None = None) -> Path:
        """A read-only folder holding a copy of ``fill_from``'s files."""
        where = self._mount(name, "4m")
        folder = self.tmp / name
        if fill_from is not None:
            for p in fill_from.iterdir():
                if p.is_file():
                    shutil.copy(p, folder / p.name)
        if where is not None:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        elif not ROOT and not FORCE_PATCH:
            self.kind = "chmod"
            folder.chmod(0o555)
        else:
            self.kind = "patched"
            self._patch_readonly(folder)
        return folder

    # -- fallbacks: the same errno from monkeypatched calls ---------------------------------
    def _patch_readonly(self, folder: Path) -> None:
        real_open, real_mkdir = os.open, os.mkdir
        inside = lambda p: os.path.realpath(p).startswith(str(folder.resolve()))  # noqa: E731

        def ro_open(path, flags, *a, **k):
            if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_open(path, flags, *a, **k)

        def ro_mkdir(path, *a, **k):
            if inside(path):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_mkdir(path, *a, **k)
        self.mp.setattr(os, "open", ro_open)
        self.mp.setattr(os, "mkdir", ro_mkdir)

    def _patch_capacity(self, folder: Path, capacity: int) -> None:
        real_fsync = os.fsync

        def fsync(fd):
            path = os.readlink(f"/proc/self/fd/{fd}")
            if path.startswith(str(folder.resolve())):
                used = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                if used > capacity:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_fsync(fd)
        self.mp.setattr(os, "fsync", fsync)

    def close(self) -> None:
        for where in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def faultfs(tmp_path, monkeypatch):
    fs = FaultFS(tmp_path, monkeypatch)
    yield fs
    fs.close()


def one_error_line(captured) -> str:
    """The single line a failed command wrote to stderr (``capsys.readouterr()``), asserting
    there is exactly one and that it is softfact's."""
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{captured.err}"
    assert lines[0].startswith("softfact: error: "), lines[0]
    return lines[0]


# the smallest real training run: seconds on one thread
TINY = ["--steps", "2", "--batch-size", "8", "--ckpt-every", "1", "--log-every", "1",
        "--device", "cpu", "--threads", "1", "--quiet", "--eval-blobs", "20",
        "--metric-images", "4"]
