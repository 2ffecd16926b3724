"""Quantitative factorization metrics with known ground truth shifts (dy, dx).

``compute_metrics(encoder, image_fn)`` is the entry point; the modules hold pure functions of
shift-grid embeddings: ``linear`` (R^2, which-factor accuracy), ``algebra`` (additivity,
analogies, where they hold: per shift and by the content a shift pushes off the border),
``disentangle`` (Procrustes rotation, MIG, DCI), ``sign`` (the +s/-s gap per shift and a
blank-border image source on which zero fill loses nothing).
"""
from softfact.metrics.algebra import (additivity_error, analogy_by_border_loss, analogy_by_shift,
                                      analogy_ranks, analogy_scores, border_loss)
from softfact.metrics.compute import Evaluation, compute_metrics, evaluate, metrics_from_grid
from softfact.metrics.disentangle import FactorRotation, dci, mig
from softfact.evaluation.grid import differences
from softfact.metrics.linear import factor_accuracy, shift_r2
from softfact.metrics.sign import empty_border_source, sign_angles

__all__ = ["Evaluation", "evaluate", "compute_metrics", "metrics_from_grid", "shift_r2", "factor_accuracy",
           "additivity_error", "analogy_by_border_loss", "analogy_by_shift", "analogy_ranks",
           "analogy_scores", "border_loss", "FactorRotation", "mig", "dci",
           "differences", "sign_angles", "empty_border_source"]
