"""Views of the seed's difference vectors for plotting: the PCA "cross" and cosine groups.

The vectors and metrics come from ``softfact.evaluation`` (``DiffVectors``); this module only
rearranges them the way the seed's figures show them.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from softfact.evaluation import DiffVectors


def pca_cross(dv: DiffVectors) -> dict:
    """PCA (2 components) of all pitch and time differences, as the seed's scatter.

    Returns ``proj`` (N_p + N_t, 2), ``n_pitch`` (rows before it are pitch differences) and
    ``evr`` (2,) the explained variance ratios. All-zero differences give zeros, not NaN.
    """
    all_d = np.concatenate([dv.pitch_d, dv.time_d]).astype(np.float64)
    if np.allclose(all_d, 0):
        proj, evr = np.zeros((len(all_d), 2)), np.zeros(2)
    else:
        pca = PCA(n_components=2).fit(all_d)
        proj, evr = pca.transform(all_d), pca.explained_variance_ratio_
    return {"proj": proj, "n_pitch": len(dv.pitch_d), "evr": np.asarray(evr, dtype=np.float64)}


def cosine_groups(dv: DiffVectors) -> dict[str, np.ndarray]:
    """The seed's three histograms: cross-type (want 0), same-sign (+1), opposite-sign (-1)."""
    return {"cross": np.asarray(dv.cross),
            "same": np.concatenate([dv.pitch_same, dv.time_same]),
            "opposite": np.concatenate([dv.pitch_opp, dv.time_opp])}
