"""Atomic writes on full and read-only folders; temporary files left by a kill are cleared."""
from __future__ import annotations

import os

import pytest

from softfact.utils.io import StorageError, atomic_write, clear_stale_temps, write_bytes


def test_clear_stale_temps_removes_only_atomic_write_leftovers(tmp_path):
    left = [".checkpoint.pt.k3j_x9a2.tmp", ".metrics.json.abcdefgh.tmp", ".report.html.12345678.tmp"]
    kept = ["checkpoint.pt", ".softfact.lock", "notes.tmp", ".x.short.tmp", "a.b.abcdefgh.tmp"]
    for name in left + kept:
        (tmp_path / name).write_text("x")
    removed = clear_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == sorted(left)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_the_names_it_clears_are_the_ones_atomic_write_makes(tmp_path):
    seen = []
    atomic_write(tmp_path / "checkpoint.pt", lambda tmp: (seen.append(tmp), open(tmp, "w").close()))
    os.link(tmp_path / "checkpoint.pt", seen[0])  # as if killed before the rename
    assert clear_stale_temps(tmp_path) == [type(tmp_path)(seen[0])]


def test_full_disk_is_one_line_naming_the_file_and_keeps_the_old_one(faultfs):
    full = faultfs.full("full", 64)
    write_bytes(full / "report.html", b"old")
    with pytest.raises(StorageError) as e:
        write_bytes(full / "report.html", b"x" * 200_000)
    assert str(e.value) == (f"cannot write {full / 'report.html'}: no space left on device; "
                            f"the previous file is unchanged")
    assert (full / "report.html").read_bytes() == b"old"
    assert sorted(p.name for p in full.iterdir()) == ["report.html"]  # no temporary file


def test_read_only_folder_is_one_line_naming_the_file(faultfs):
    ro = faultfs.readonly("ro")
    with pytest.raises(StorageError, match=f"cannot write {ro / 'metrics.json'}: "
                                           "(read-only file system|permission denied)"):
        write_bytes(ro / "metrics.json", b"{}")
