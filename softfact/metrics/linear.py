"""Rotation-free linear read-outs of the shift from difference vectors, on held-out images.

* ``shift_r2``: R^2 of (dy, dx) linearly regressed from d (one R^2 per factor and their mean).
* ``factor_accuracy``: balanced accuracy of a logistic classifier telling "pitch only",
  "time only" and "both" apart. Its features are d and d*d (element-wise squares): a signed
  shift puts d(+s) and d(-s) on opposite sides of the origin, so no linear boundary on d alone
  separates "pitch only" (dx = 0) from "both", even for a perfect encoder; with the squares a
  perfectly linear encoder scores 1. Balanced accuracy, so chance is 1/3 whatever the grid.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softfact.evaluation.grid import flat_samples

FACTOR_CLASSES = ("pitch", "time", "both")


def _check_split(d: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    if len(train) == 0 or len(test) == 0:
        raise ValueError("train and test image sets must both be non-empty")
    if np.intersect1d(train, test).size:
        raise ValueError("train and test images overlap: scores would not be held out")
    if max(train.max(), test.max()) >= d.shape[0]:
        raise ValueError(f"image index out of range for {d.shape[0]} images")


def shift_r2(d: np.ndarray, *, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """d (n, S, S, D) -> {'r2_dy', 'r2_dx', 'r2'} on the ``test`` images (1 = perfect, <= 0 chance)."""
    _check_split(d, train, test)
    xtr, ytr = flat_samples(d[train], drop_centre=True)
    xte, yte = flat_samples(d[test], drop_centre=True)
    pred = LinearRegression().fit(xtr, ytr).predict(xte)
    per = r2_score(yte, pred, multioutput="raw_values")
    return {"r2_dy": float(per[0]), "r2_dx": float(per[1]), "r2": float(per.mean())}


def factor_labels(factors: np.ndarray) -> np.ndarray:
    """(N, 2) [dy, dx], none both zero -> (N,) 0 pitch only, 1 time only, 2 both."""
    moved = factors != 0
    if not moved.any(1).all():
        raise ValueError("a sample with dy = dx = 0 has no factor that changed")
    return np.where(moved.all(1), 2, np.where(moved[:, 0], 0, 1))


def factor_accuracy(d: np.ndarray, *, train: np.ndarray, test: np.ndarray,
                    seed: int = 0) -> dict[str, float]:
    """d (n, S, S, D) -> {'factor_acc'}: balanced held-out accuracy (1 perfect, 1/3 chance)."""
    _check_split(d, train, test)
    xtr, ftr = flat_samples(d[train], drop_centre=True)
    xte, fte = flat_samples(d[test], drop_centre=True)
    feats = lambda x: np.concatenate([x, x * x], axis=1)  # noqa: E731
    clf = make_pipeline(StandardScaler(), LogisticRegression(
        C=10.0, class_weight="balanced", max_iter=2000, random_state=seed))
    clf.fit(feats(xtr), factor_labels(ftr))
    acc = balanced_accuracy_score(factor_labels(fte), clf.predict(feats(xte)))
    return {"factor_acc": float(acc)}
