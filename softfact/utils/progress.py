"""One progress bar per phase of a long computation (evaluation, analyses, report).

``phase(name, enabled=..., total=...)`` is a context manager yielding a tqdm bar: phases with
inner steps (e.g. images encoded) call ``bar.update(k)``; a phase without them shows one tick
and its elapsed time when it ends. Library functions take ``progress=False`` (quiet, as in the
tests); the CLI turns it on.
"""
from __future__ import annotations

from contextlib import contextmanager

from tqdm.auto import tqdm


@contextmanager
def phase(name: str, *, enabled: bool, total: int | None = None, unit: str = "it"):
    """A tqdm bar named ``name`` (on stderr; nothing at all when not ``enabled``)."""
    bar = tqdm(total=1 if total is None else total, desc=name, unit=unit, disable=not enabled,
               leave=True, dynamic_ncols=True)
    try:
        yield bar
        if total is None:
            bar.update(1)
    finally:
        bar.close()
