"""Latent-geometry figures: the PCA cross and cosine histograms, SVD spectra, kPCA, UMAP 2-D."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PITCH_CMAP, TIME_CMAP = "coolwarm", "PiYG"


def plot_cosine_cross(cross: dict, cosines: dict):
    """Left: PCA of pitch (blue) and time (green) differences. Right: the three cosine
    histograms with their means. ``cross`` from ``pca_cross``, ``cosines`` from
    ``cosine_groups``."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    proj, n = np.asarray(cross["proj"]), cross["n_pitch"]
    ax = axes[0]
    ax.scatter(proj[:n, 0], proj[:n, 1], alpha=0.3, s=10, c="blue", label="pitch Δ")
    ax.scatter(proj[n:, 0], proj[n:, 1], alpha=0.3, s=10, c="green", label="time Δ")
    evr = cross["evr"]
    ax.set_xlabel(f"PC1 ({evr[0]:.1%})"), ax.set_ylabel(f"PC2 ({evr[1]:.1%})")
    ax.legend(), ax.set_title("PCA of difference vectors"), ax.set_aspect("equal", "datalim")

    ax = axes[1]
    groups = (("cross", "pitch vs time (want ≈0)", "C0"),
              ("same", "same-sign (want ≈+1)", "C1"),
              ("opposite", "opp-sign (want ≈−1)", "C2"))
    bins = np.linspace(-1, 1, 41)
    for key, label, color in groups:
        v = np.clip(np.asarray(cosines[key], dtype=np.float64), -1, 1)
        extra = f", mean |cos| {np.abs(v).mean():.3f}" if key == "cross" else ""
        ax.hist(v, bins=bins, alpha=0.5, density=True, color=color,
                label=f"{label}, mean {v.mean():+.3f}{extra}")
        ax.axvline(v.mean(), color=color, linestyle="--", linewidth=1.2)
    ax.set_xlabel("cosine similarity"), ax.set_ylabel("density")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom: the legend must not hide the peaks
    ax.legend(fontsize=9, loc="upper center"), ax.set_title("Cosine similarity distributions")
    fig.tight_layout()
    return fig


def plot_svd_spectra(svd: dict):
    """The seed's two panels: every image's normalised spectrum (thin) and the mean (red)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    panels = (("pitch", "blue", "Z reshaped as (pitch, time·latent)"),
              ("time", "green", "Z reshaped as (time, pitch·latent)"))
    for ax, (name, color, title) in zip(axes, panels):
        spectra = np.asarray(svd[f"{name}_spectra"])
        idx = np.arange(spectra.shape[1])
        for row in spectra:
            ax.plot(idx, row, alpha=0.15, color=color)
        ax.plot(idx, svd[f"{name}_mean"], color="red", linewidth=2,
                label=f"mean (σ1 share {svd[f'{name}_sv1_share']:.2f})")
        ax.set_xlabel("singular value index"), ax.set_ylabel("fraction of total")
        ax.set_title(f"Singular values: {title}"), ax.legend()
    fig.tight_layout()
    return fig


def _scatter(fig, ax, xy, c, cmap, title, labels):
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap=cmap, s=2, alpha=0.3)
    fig.colorbar(sc, ax=ax)
    ax.set_title(title)
    if labels:
        ax.set_xlabel(labels[0]), ax.set_ylabel(labels[1])


def plot_kernel_pca(z: np.ndarray, *, dy: np.ndarray, dx: np.ndarray):
    """Four panels: kPC1-2 and kPC3-4, coloured by dy (coolwarm) and dx (PiYG). z: (N, 4)."""
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] < 4:
        raise ValueError(f"kernel PCA panels need (N, 4) components, got shape {z.shape}")
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.5))
    _scatter(fig, axes[0, 0], z[:, :2], dy, PITCH_CMAP, "Colored by pitch shift (dy)", ("kPC1", "kPC2"))
    _scatter(fig, axes[0, 1], z[:, :2], dx, TIME_CMAP, "Colored by time shift (dx)", ("kPC1", "kPC2"))
    _scatter(fig, axes[1, 0], z[:, 2:4], dy, PITCH_CMAP, "kPC3-4, colored by pitch", ("kPC3", "kPC4"))
    _scatter(fig, axes[1, 1], z[:, 2:4], dx, TIME_CMAP, "kPC3-4, colored by time", ("kPC3", "kPC4"))
    fig.tight_layout()
    return fig


def plot_umap2d(coords: np.ndarray, *, dy: np.ndarray, dx: np.ndarray):
    """Two panels of the 2-D UMAP, coloured by dy (coolwarm) and dx (PiYG). coords: (N, 2)."""
    coords = np.asarray(coords)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    _scatter(fig, axes[0], coords, dy, PITCH_CMAP, "UMAP colored by pitch shift (dy)", None)
    _scatter(fig, axes[1], coords, dx, TIME_CMAP, "UMAP colored by time shift (dx)", None)
    fig.tight_layout()
    return fig


def plot_analogies(analogies: dict):
    """Where analogies hold (``analysis.where_analogies_hold``). Left: top-1 per shift (dy rows,
    dx columns). Right, for zero-filled shifts: top-1 by the larger share of A's or B's content
    the shift pushes off the border, each bar labelled with its share of all cases."""
    by_border = [g for g in analogies["by_border"] if g["n"]]
    fig, axes = plt.subplots(1, 2 if by_border else 1, figsize=(12 if by_border else 6, 5),
                             squeeze=False)
    s = np.asarray(analogies["shifts"])
    ax = axes[0, 0]
    im = ax.imshow(analogies["by_shift"], origin="lower", cmap="viridis", vmin=0, vmax=1,
                   extent=(s[0] - 0.5, s[-1] + 0.5, s[0] - 0.5, s[-1] + 0.5))
    fig.colorbar(im, ax=ax, label="analogy top-1")
    ax.set_xlabel("dx (time)"), ax.set_ylabel("dy (pitch)")
    ax.set_title(f"Analogy top-1 per shift (all: {analogies['top1']:.3f})")
    if by_border:
        ax = axes[0, 1]
        labels = ["none" if g["hi"] == 0 else f"≤{g['hi']:.0%}" if g["lo"] == 0 else
                  f"{g['lo']:.0%}–{g['hi']:.0%}" for g in by_border]
        x = np.arange(len(by_border))
        ax.bar(x, [g["top1"] for g in by_border], color="C0")
        for i, g in enumerate(by_border):  # small groups say how small (their top-1 is noisy)
            share = f"{g['share']:.0%}" if g["share"] >= 0.01 else f"{g['share']:.1%}, n {g['n']}"
            ax.text(i, g["top1"] + 0.02, f"{share} of cases", ha="center", fontsize=8)
        ax.set_xticks(x, labels), ax.set_ylim(0, 1.1)
        ax.set_xlabel("content pushed off the border (the larger of A's and B's)")
        ax.set_ylabel("analogy top-1"), ax.set_title("Analogies and what zero-filled shifts lose")
    fig.tight_layout()
    return fig
