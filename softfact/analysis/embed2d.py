"""UMAP of grid embeddings in 2-D and 3-D (the seed's "does UMAP show us anything?").

Both use the seed's settings (n_neighbors 15, min_dist 0.1, random_state 42) and share one
exact k-nearest-neighbour graph from scikit-learn: it is faster than UMAP's own approximate
search at these sizes (2 s for 16,200 points) and skips its just-in-time compilation (minutes
on a small CPU), and the 3-D run does not search neighbours again.
"""
from __future__ import annotations

import warnings

import numpy as np


def umap_embeddings(X, *, dims: tuple[int, ...] = (2, 3), n_neighbors: int = 15,
                    min_dist: float = 0.1, random_state: int = 42) -> dict[int, np.ndarray]:
    """X: (N, D) -> {n_components: (N, n_components) coordinates} for each entry of ``dims``."""
    import umap  # slow import (numba): only when asked for
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError(f"UMAP needs (N, D) points with N >= 3, got shape {X.shape}")
    k = min(n_neighbors, X.shape[0] - 1)
    out = {}
    with warnings.catch_warnings():
        # UMAP warns that a precomputed graph disables transform(), and about disconnected
        # graphs when many points coincide (e.g. a collapsed encoder)
        warnings.simplefilter("ignore", UserWarning)
        # (indices, distances) of the k nearest points, each point its own first neighbour,
        # as UMAP's search returns them; no search index: transform() of new data is off
        dist, idx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
        knn = (idx, dist.astype(np.float32))
        for d in dims:
            reducer = umap.UMAP(n_components=d, n_neighbors=k, min_dist=min_dist,
                                random_state=random_state, n_jobs=1, precomputed_knn=knn)
            out[d] = np.asarray(reducer.fit_transform(X), dtype=np.float64)
    return out
