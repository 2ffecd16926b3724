"""Figures of shifts: the seed's zero-filled shift examples and decoded latent operations.

Piano rolls are drawn with pitch up (``origin="lower"``) and time to the right, axes labelled
in MIDI pitches and grid steps; blobs as images, as the seed draws them.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _draw(ax, img, *, piano_roll: bool, lowest_pitch: int | None):
    img = np.asarray(img, dtype=np.float32)
    ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest",
              origin="lower" if piano_roll else "upper")
    if piano_roll:
        H, W = img.shape
        rows = np.linspace(0, H - 1, 3).round().astype(int)
        ax.set_yticks(rows, [str((lowest_pitch or 0) + r) for r in rows], fontsize=7)
        cols = np.linspace(0, W - 1, 3).round().astype(int)
        ax.set_xticks(cols, [str(c) for c in cols], fontsize=7)
    else:
        ax.set_xticks([]), ax.set_yticks([])


def _shift_label(dy: int, dx: int, piano_roll: bool) -> str:
    if not piano_roll:
        return ", ".join([f"dy={dy:+d}"] * bool(dy) + [f"dx={dx:+d}"] * bool(dx)) or "none"
    parts = [f"{dy:+d} semitones"] * bool(dy) + [f"{dx:+d} steps"] * bool(dx)
    return ", ".join(parts) or "none"


def plot_shift_examples(original, pitch: list[tuple[int, np.ndarray]],
                        time: list[tuple[int, np.ndarray]], *, piano_roll: bool = False,
                        lowest_pitch: int | None = None):
    """The seed notebook's first figure: one image and its zero-filled shifts.

    ``pitch`` / ``time``: [(s, image shifted by dy = s / dx = s), ...]. Row 1 "Vertical" (pitch:
    "Transposed" on piano rolls), row 2 "Horizontal" ("Delayed"), the original first in each.
    """
    k = max(len(pitch), len(time))
    fig, axes = plt.subplots(2, k + 1, figsize=(2 * (k + 1), 5), squeeze=False)
    names = ("Transposed", "Delayed") if piano_roll else ("Vertical", "Horizontal")
    for row, (items, var) in enumerate(((pitch, "dy"), (time, "dx"))):
        _draw(axes[row, 0], original, piano_roll=piano_roll, lowest_pitch=lowest_pitch)
        axes[row, 0].set_title("Original")
        for j, (s, img) in enumerate(items):
            _draw(axes[row, j + 1], img, piano_roll=piano_roll, lowest_pitch=lowest_pitch)
            unit = (" st" if var == "dy" else " steps") if piano_roll else ""
            axes[row, j + 1].set_title(f"{var}={s:+d}{unit}")
        axes[row, 0].set_ylabel(names[row] + ("\nMIDI pitch" if piano_roll else ""), fontsize=12)
        for ax in axes[row, len(items) + 1:]:
            ax.axis("off")
    if piano_roll:
        for ax in axes[1]:
            ax.set_xlabel("time (grid steps)", fontsize=8)
    fig.suptitle("shift_no_wrap: zero-padded shifts"
                 + (" (transposition and delay of a piano-roll crop)" if piano_roll else ""),
                 fontsize=14)
    fig.tight_layout()
    return fig


# Colours of the operation strips: notes white on black; the border a shift empties (zero-filled)
# dark blue, and a note drawn inside it orange (the shift itself has none there).
_EMPTIED, _STRAY = (0.16, 0.24, 0.52), (1.0, 0.55, 0.1)


def _mosaic(panels, emptied=None) -> np.ndarray:
    """Images (k, H, W) side by side as one RGB image (H, k * (W + 1) - 1, 3), separated by one
    grey column each; ``emptied`` (k, H, W) optional bool: pixels tinted as left empty by the
    panel's shift (blue, or orange where the panel has a note there)."""
    panels = np.asarray(panels, dtype=np.float32)
    k, H, W = panels.shape
    rgb = np.repeat(panels[..., None], 3, axis=-1)
    if emptied is not None:
        emptied = np.asarray(emptied, dtype=bool)
        rgb[emptied & (panels <= 0.5)] = _EMPTIED
        rgb[emptied & (panels > 0.5)] = _STRAY
    out = np.full((H, k * (W + 1) - 1, 3), 0.5, dtype=np.float32)
    for j in range(k):
        out[:, j * (W + 1):j * (W + 1) + W] = rgb[j]
    return out


def plot_latent_operations(examples, *, piano_roll: bool = False, max_examples: int = 4):
    """Per example two strips: "true shift" = the original, then shift(x, s) for each shift s;
    "latent shift" = the reconstruction decode(z(x)), then decode(z(x) + v(s)) (binary, at the
    decoder threshold). ``examples``: a ``softfact.ops.OperationExamples``; where it names the
    pixels each shift empties (``emptied``), both strips tint them blue, and a decoded note
    there orange, so a move that empties its border is seen to.

    Each strip is one image (panels separated by grey columns), so the figure stays quick to
    draw with many shifts; ticks name the panels, and on piano rolls the y axis is MIDI pitch.
    """
    n = min(max_examples, len(examples.original))
    if n < 1:
        raise ValueError("plot_latent_operations needs at least one example")
    k = len(examples.shifts)
    H, W = examples.original.shape[-2:]
    names = [_shift_label(dy, dx, piano_roll) for dy, dx in examples.shifts]
    centres = [j * (W + 1) + (W - 1) / 2 for j in range(k + 1)]
    width = min(18.0, 1.1 * (k + 1) * max(1.0, W / 24))
    fig, axes = plt.subplots(2 * n, 1, figsize=(width, (2 * n) * width / (k + 1) * H / W + 1.0),
                             squeeze=False)
    origin = "lower" if piano_roll else "upper"
    emptied = None
    if examples.emptied is not None and np.asarray(examples.emptied).any():
        emptied = np.concatenate([np.zeros((1, H, W), bool), np.asarray(examples.emptied, bool)])
    for i in range(n):
        low = None if examples.lowest_pitch is None else int(examples.lowest_pitch[i])
        strips = ((np.concatenate([examples.original[i][None], examples.true[i]]),
                   ["original"] + names, f"#{i + 1} true shift"),
                  (np.concatenate([examples.recon[i][None], examples.latent[i]]),
                   ["decode z(x)"] + [f"z+v({dy:+d},{dx:+d})" for dy, dx in examples.shifts],
                   f"#{i + 1} latent shift"))
        for r, (panels, labels, title) in enumerate(strips):
            ax = axes[2 * i + r, 0]
            ax.imshow(_mosaic(panels, emptied), interpolation="nearest", origin=origin,
                      aspect="equal")
            if (r, i) in ((0, 0), (1, n - 1)):   # panel names above the first, below the last
                ax.set_xticks(centres, labels, fontsize=7)
                if r == 0:
                    ax.xaxis.set_ticks_position("top")
            else:
                ax.set_xticks([])
            if piano_roll:
                rows = np.linspace(0, H - 1, 3).round().astype(int)
                ax.set_yticks(rows, [str((low or 0) + v) for v in rows], fontsize=7)
                ax.set_ylabel(f"{title}\nMIDI pitch", fontsize=8)
            else:
                ax.set_yticks([])
                ax.set_ylabel(title, fontsize=8)
        if piano_roll and i == n - 1:
            axes[2 * i + 1, 0].set_xlabel(f"time to the right ({W} grid steps per panel); "
                                          "dy in semitones, dx in steps", fontsize=7)
    fig.suptitle("True shifts and decoded latent shifts z(x) + v(dy, dx)"
                 + ("\nblue: the border each shift empties (zero-filled); orange: a note decoded there"
                    if emptied is not None else ""), fontsize=11 if emptied is None else 10)
    fig.tight_layout()
    return fig


def plot_operation_f1(f1: dict, *, piano_roll: bool = False):
    """F1 per shift as three heat maps: the latent operation, its ceiling and the baseline.

    ``f1``: {"op", "ceiling", "baseline"} -> (S, S) arrays indexed [dy + m, dx + m]
    (``softfact.ops.OperationResult.f1``); dy up, dx to the right.
    """
    titles = {"op": "decode(z(x) + v)", "ceiling": "decode(z(shift(x))) (ceiling)",
              "baseline": "decode(z(x)) (baseline)"}
    S = next(iter(f1.values())).shape[0]
    m = S // 2
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.9), layout="constrained")
    for ax, kind in zip(axes, ("op", "ceiling", "baseline")):
        im = ax.imshow(f1[kind], cmap="viridis", vmin=0, vmax=1, origin="lower",
                       extent=(-m - 0.5, m + 0.5, -m - 0.5, m + 0.5))
        ax.set_title(titles[kind], fontsize=10)
        ax.set_xlabel("dx (time steps)" if piano_roll else "dx (time)")
    axes[0].set_ylabel("dy (semitones)" if piano_roll else "dy (pitch)")
    fig.colorbar(im, ax=axes, shrink=0.85, label="F1 against shift(x)")
    return fig
