"""MIG and DCI on difference vectors rotated into the factor basis.

MIG and DCI assume one latent per factor, but soft factorization learns pitch and time
directions at arbitrary angles. ``FactorRotation`` fits an orthogonal Procrustes rotation R
(D x D) taking d onto [dy, dx, 0, ...] on training images; the scores are then computed on
held-out images, so an encoder whose two directions are orthogonal (at any angle in latent
space) scores as an axis-aligned one, while sheared (non-orthogonal) directions lose points.

* MIG (disentanglement_lib): latents discretised into equal-width bins; per factor the gap
  between the two largest latent mutual informations over the factor's entropy; mean over
  factors. Latents spreading less than 1e-5 of the widest are constant (no information).
* DCI: importances |coef| of a Lasso (alpha 1e-3, close to least squares) per factor on
  standardised latents (fast, and a linear read-out suits rotated linear directions); disentanglement = importance-weighted
  1 - H_K(row) over latents (K = 2 factors), completeness = mean over factors of
  1 - H_D(column); informativeness = held-out R^2 of those Lassos (1 = perfect).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.metrics import mutual_info_score, r2_score


class FactorRotation:
    """Orthogonal R with d @ R ~ [factors, 0]; fit on (N, D) d and (N, K) factors."""

    def fit(self, d: np.ndarray, factors: np.ndarray) -> "FactorRotation":
        N, D = d.shape
        if factors.shape[0] != N or factors.shape[1] > D:
            raise ValueError(f"need factors (N, K<=D) for d {d.shape}, got {factors.shape}")
        target = np.zeros((N, D))
        target[:, :factors.shape[1]] = factors
        self.rotation_, _ = orthogonal_procrustes(d, target)
        return self

    def transform(self, d: np.ndarray) -> np.ndarray:
        return d @ self.rotation_


def _constant(latents: np.ndarray, rtol: float = 1e-5) -> np.ndarray:
    spread = latents.max(0) - latents.min(0)
    return spread <= rtol * max(spread.max(), 1e-300)


def discretize(latents: np.ndarray, bins: int = 20) -> np.ndarray:
    """(N, D) -> (N, D) int bin indices, equal-width per latent; constant latents -> 0."""
    out = np.zeros(latents.shape, dtype=np.int64)
    const = _constant(latents)
    for j in np.flatnonzero(~const):
        # snap to 1e-4 of the range first: values equal up to float32 rounding share a bin
        x = latents[:, j]
        q = (x.max() - x.min()) * 1e-4
        x = np.round((x - x.min()) / q) * q
        edges = np.histogram_bin_edges(x, bins=bins)
        out[:, j] = np.digitize(x, edges[1:-1])
    return out


def mig(latents: np.ndarray, factors: np.ndarray, *, bins: int = 20) -> dict[str, float]:
    """Mutual information gap; latents (N, D), discrete factors (N, K) -> {'mig'} in [0, 1]."""
    codes = discretize(latents, bins)
    gaps = []
    for k in range(factors.shape[1]):
        f = factors[:, k]
        h = mutual_info_score(f, f)
        if h <= 0:
            raise ValueError(f"factor {k} is constant: MIG is undefined")
        mi = np.sort([mutual_info_score(f, codes[:, j]) for j in range(codes.shape[1])])[::-1]
        gaps.append((mi[0] - (mi[1] if len(mi) > 1 else 0.0)) / h)
    return {"mig": float(np.mean(gaps))}


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Rows of non-negative weights -> 1 - entropy (log base ``base``) of each normalised row."""
    tot = p.sum(1, keepdims=True)
    q = np.divide(p, tot, out=np.zeros_like(p), where=tot > 0)
    h = -(q * np.log(np.where(q > 0, q, 1.0))).sum(1) / np.log(base)
    return np.where(tot[:, 0] > 0, 1.0 - h, 0.0)


def dci(train_latents: np.ndarray, train_factors: np.ndarray, test_latents: np.ndarray,
        test_factors: np.ndarray, *, alpha: float = 1e-3) -> dict[str, float]:
    """-> {'dci_disentanglement', 'dci_completeness', 'dci_informativeness'}."""
    keep = ~_constant(train_latents)
    D, K = train_latents.shape[1], train_factors.shape[1]
    importance = np.zeros((D, K))
    r2 = np.zeros(K)
    if keep.any():
        mu, sd = train_latents[:, keep].mean(0), train_latents[:, keep].std(0)
        xtr, xte = (train_latents[:, keep] - mu) / sd, (test_latents[:, keep] - mu) / sd
        for k in range(K):
            fm, fs = train_factors[:, k].mean(), train_factors[:, k].std()
            if fs == 0:
                raise ValueError(f"factor {k} is constant: DCI is undefined")
            with warnings.catch_warnings():  # tiny grids: a near-converged fit is fine here
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = Lasso(alpha=alpha, max_iter=5000).fit(xtr, (train_factors[:, k] - fm) / fs)
            importance[keep, k] = np.abs(model.coef_)
            r2[k] = r2_score(test_factors[:, k], model.predict(xte) * fs + fm)
    total = importance.sum()
    rho = importance.sum(1) / total if total > 0 else np.zeros(D)
    dis = float((rho * _one_minus_entropy(importance, K)).sum())
    comp = float(_one_minus_entropy(importance.T, D).mean()) if D > 1 else 1.0
    return {"dci_disentanglement": dis, "dci_completeness": comp,
            "dci_informativeness": float(r2.mean())}
