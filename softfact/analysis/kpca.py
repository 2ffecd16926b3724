"""RBF kernel PCA of embeddings: exact below a size threshold, Nystroem-approximated above.

The seed runs ``KernelPCA(n_components=4, kernel="rbf", gamma=1.0)`` on 16,200 points; the
exact method needs the full N x N kernel (2.1 GB at that size, 210 GB at 10x). Past
``max_exact`` points the kernel is approximated by Nystroem features on ``n_landmarks`` random
landmarks, Phi Phi^T ~ K, and PCA of the centred features (computed a chunk of rows at a time,
so memory grows with the chunk, not with N) gives the kernel principal components with the
same scaling as ``KernelPCA.fit_transform`` (eigenvectors times square roots of eigenvalues
of the centred kernel), up to sign.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import ArpackError
from sklearn.decomposition import KernelPCA
from sklearn.kernel_approximation import Nystroem

METHODS = ("auto", "exact", "nystroem")


class RBFKernelPCA:
    """Kernel PCA with an RBF kernel exp(-gamma |x - y|^2), scikit-learn style.

    ``method``: "exact" (sklearn KernelPCA), "nystroem" (landmark approximation) or "auto"
    (exact up to ``max_exact`` points). After ``fit(X)``: ``embedding_`` (N, n_components),
    ``eigenvalues_`` (n_components,) of the centred (approximate) kernel, ``method_``.
    """

    def __init__(self, n_components: int = 4, *, gamma: float = 1.0, method: str = "auto",
                 max_exact: int = 6000, n_landmarks: int = 1000, random_state: int = 0,
                 chunk_size: int = 8192):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        self.n_components, self.gamma, self.method = n_components, gamma, method
        self.max_exact, self.n_landmarks, self.random_state = max_exact, n_landmarks, random_state
        self.chunk_size = chunk_size

    def fit(self, X) -> "RBFKernelPCA":
        """X: (N, D) embeddings."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] <= self.n_components:
            raise ValueError(f"X must be (N, D) with N > n_components={self.n_components}, "
                             f"got shape {X.shape}")
        method = self.method
        if method == "auto":
            method = "exact" if X.shape[0] <= self.max_exact else "nystroem"
        self.method_ = method
        if np.ptp(X, axis=0).max() == 0:
            # identical points (a collapsed encoder): the centred kernel is 0, nothing to find
            self.model_ = None
            self.embedding_ = np.zeros((X.shape[0], self.n_components))
            self.eigenvalues_ = np.zeros(self.n_components)
        elif method == "exact":
            try:
                self.model_ = KernelPCA(self.n_components, kernel="rbf", gamma=self.gamma,
                                        eigen_solver="arpack", random_state=self.random_state)
                self.embedding_ = self.model_.fit_transform(X)
            except ArpackError:  # a (nearly) zero centred kernel: fall back to LAPACK
                self.model_ = KernelPCA(self.n_components, kernel="rbf", gamma=self.gamma,
                                        eigen_solver="dense")
                self.embedding_ = self.model_.fit_transform(X)
            self.eigenvalues_ = np.asarray(self.model_.eigenvalues_, dtype=np.float64)
        else:
            self._fit_nystroem(X)
        return self

    def _fit_nystroem(self, X: np.ndarray) -> None:
        """PCA of Nystroem features, a chunk of rows at a time: memory O(chunk x landmarks).

        The centred scatter matrix (m x m) of the features is accumulated around the first
        chunk's mean (no cancellation), its top eigenvectors are the principal axes and its
        eigenvalues those of the centred approximate kernel.
        """
        m = min(self.n_landmarks, X.shape[0])
        self.feature_map_ = fm = Nystroem(kernel="rbf", gamma=self.gamma, n_components=m,
                                          random_state=self.random_state).fit(X)
        n, shift = X.shape[0], None
        total, scatter = np.zeros(m), np.zeros((m, m))
        for sl in _chunks(n, self.chunk_size):
            phi = fm.transform(X[sl])
            shift = phi.mean(0) if shift is None else shift
            phi -= shift
            total += phi.sum(0)
            scatter += phi.T @ phi
        mean_dev = total / n
        scatter -= n * np.outer(mean_dev, mean_dev)
        evals, evecs = np.linalg.eigh(scatter)
        top = np.argsort(evals)[::-1][:self.n_components]
        comps = evecs[:, top].T                                      # (k, m)
        # deterministic signs: the largest loading of each component is positive
        comps *= np.sign(comps[np.arange(len(top)), np.abs(comps).argmax(1)])[:, None]
        self.mean_, self.components_ = shift + mean_dev, comps
        self.eigenvalues_ = np.clip(evals[top], 0, None)
        self.model_ = "nystroem"
        self.embedding_ = self.transform(X)

    def transform(self, X) -> np.ndarray:
        """Project new points (M, D) -> (M, n_components)."""
        X = np.asarray(X, dtype=np.float64)
        if self.model_ is None:
            return np.zeros((X.shape[0], self.n_components))
        if self.method_ == "exact":
            return self.model_.transform(X)
        return np.concatenate([(self.feature_map_.transform(X[sl]) - self.mean_) @ self.components_.T
                               for sl in _chunks(X.shape[0], self.chunk_size)])

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).embedding_


def _chunks(n: int, size: int):
    return (slice(i, min(i + size, n)) for i in range(0, n, size))


def subspace_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between the column spaces of (N, k) a and b (centred).

    1 means the two embeddings span the same subspace; sign flips and rotations inside a
    degenerate eigenspace do not matter.
    """
    qa, _ = np.linalg.qr(a - a.mean(0))
    qb, _ = np.linalg.qr(b - b.mean(0))
    return np.linalg.svd(qa.T @ qb, compute_uv=False)
