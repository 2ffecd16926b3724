"""How faithful the latent operations are: binary F1 of decoded images against true shifts.

On validation images x, for every shift s = (dy, dx) of the grid -m..m except (0, 0):

- ``op_f1``          F1(decode(z(x) + v(s)), shift(x, s))   the latent operation;
- ``op_f1_ceiling``  F1(decode(z(shift(x, s))), shift(x, s)) what a perfect operation gives;
- ``op_f1_baseline`` F1(decode(z(x)), shift(x, s))           doing nothing;

and ``recon_f1`` = F1(decode(z(x)), x). Pixels are "on" where the decoder's score exceeds one
threshold, chosen to maximise F1 of the reconstructions of *training* images (``recon_threshold``).
F1 is pooled per shift (true/false positives summed over the images, so a shift that pushes an
image's notes out of the crop does not count as a 0 or 1 of its own), then averaged over shifts:

- ``op_f1*`` over every shift of the grid; ``op_f1*_s{k}`` over the ring of shift size k =
  max(|dy|, |dx|), k = 1..m (where operations break down);
- ``op_f1*_pitch`` / ``op_f1*_time`` over pitch-only (dy, 0) / time-only (0, dx) shifts;
- ``op_latent_err``: mean ||z(x) + v(s) - z(shift(x, s))|| / mean ||z(shift(x, s)) - z(x)||,
  decoder-free (0 = exact operation, 1 = no better than v = 0).

v is fitted on training images (``OperationVectors``, method "mean" by default), or read from
a translating decoder (``method="decoder"``). A run with a translating decoder scores both: the
decoder's moves as ``op_f1*``, the mean differences as ``op_f1_fitted*`` (and
``op_latent_err_fitted``), so the encoder's own operations stay in view.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from softfact.evaluation.grid import encode_shift_grid, grid_images
from softfact.ops.apply import OpsError, decode
from softfact.ops.vectors import OperationVectors, latent_error

KINDS = ("op", "ceiling", "baseline")
KEYS = {"op": "op_f1", "ceiling": "op_f1_ceiling", "baseline": "op_f1_baseline"}


def f1_from_counts(tp, fp, fn):
    """2 TP / (2 TP + FP + FN), elementwise; 1.0 where there is nothing to find and nothing found.

    >>> f1_from_counts(np.array([3, 0]), np.array([1, 0]), np.array([1, 0])).tolist()
    [0.75, 1.0]
    """
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)


def binary_f1(pred, target) -> float:
    """Pooled F1 of two binary arrays of one shape (every pixel counts once).

    >>> binary_f1(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    0.5
    """
    pred, target = np.asarray(pred).astype(bool), np.asarray(target).astype(bool)
    if pred.shape != target.shape:
        raise OpsError(f"pred and target must have one shape, got {pred.shape} and {target.shape}")
    tp = np.sum(pred & target)
    return float(f1_from_counts(tp, np.sum(pred & ~target), np.sum(~pred & target)))


def best_threshold(scores, target, *, max_points: int = 4_000_000, seed: int = 0) -> float:
    """The threshold t maximising the pooled F1 of ``scores > t`` against binary ``target``.

    Exact over every distinct score (one sort); above ``max_points`` pixels a random subset of
    that many is used. t lies halfway between the last score kept and the next one.

    >>> best_threshold(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 1, 0, 1]))
    0.375
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(target).astype(bool).ravel()
    if s.shape != y.shape or not len(s):
        raise OpsError(f"scores and target must be non-empty and of one size, got {s.shape}, "
                       f"{y.shape}")
    if len(s) > max_points:
        keep = np.random.default_rng(seed).choice(len(s), max_points, replace=False)
        s, y = s[keep], y[keep]
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]   # the last index of each distinct score
    if not y.any():
        return float(s[0] + 1.0)                           # nothing to find: predict nothing
    tp = np.cumsum(y)[last]
    f1 = 2 * tp / (last + 1 + y.sum())                     # predicted = last + 1, actual = y.sum()
    i = int(np.argmax(f1))
    nxt = s[last[i] + 1] if last[i] + 1 < len(s) else s[last[i]] - 2.0
    return float((s[last[i]] + nxt) / 2)


@dataclass
class OperationResult:
    """``metrics`` (the dict above), the fitted ``operations``, the decoder ``threshold`` and
    ``f1``: {"op", "ceiling", "baseline"} -> (S, S) F1 per shift [dy + m, dx + m]."""
    metrics: dict
    operations: OperationVectors
    threshold: float
    f1: dict | None = None


def auto_images(max_shift: int) -> int:
    """Images per split when not given: about 20,000 shifted images, 16..64 images."""
    return int(np.clip(20000 // (2 * max_shift + 1) ** 2, 16, 64))


def _counts(pred: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """(B, ...) bool x bool -> (B, 3) int64 [tp, fp, fn] per item."""
    p, t = pred.flatten(1), target.flatten(1)
    return torch.stack([(p & t).sum(1), (p & ~t).sum(1), (~p & t).sum(1)], 1).numpy()


def shift_counts(decoder, z_grid: np.ndarray, images: torch.Tensor, operations, *,
                 threshold: float, wrap: bool = False, batch_size: int = 2048,
                 recon: torch.Tensor | None = None, kinds: tuple[str, ...] = KINDS) -> dict:
    """[tp, fp, fn] per image and shift for each of ``kinds`` (default KINDS) ->
    {kind: (n, S, S, 3) int64}; only the kinds asked for are decoded.

    ``z_grid`` (n, S, S, D) is the encoded shift grid of ``images`` (n, C, H, W): its centre is
    z(x), its other cells z(shift(x, s)). Decodes z(x) once per image (or takes ``recon``, the
    binary decode(z(x)) (n, H, W) already computed), each shifted z once.
    """
    n, S = z_grid.shape[:2]
    m = S // 2
    s = torch.arange(-m, m + 1)
    dy, dx = s.repeat_interleave(S), s.repeat(S)                     # dy-major, as the grid
    per = max(1, batch_size // (S * S))
    out = {k: np.zeros((n, S * S, 3), dtype=np.int64) for k in kinds}
    for i in range(0, n, per):
        x = images[i:i + per]
        k = len(x)
        target = grid_images(x, max_shift=m, wrap=wrap)[:, 0] > 0.5  # (k S S, H, W)
        zg = torch.as_tensor(z_grid[i:i + k], dtype=torch.float32)
        z0 = zg[:, m, m]                                             # (k, D)

        def op():
            z_op = operations.apply(z0.repeat_interleave(S * S, 0), dy.repeat(k), dx.repeat(k))
            return decode(decoder, z_op)[:, 0] > threshold

        def baseline():
            rec = (recon[i:i + k] if recon is not None
                   else decode(decoder, z0)[:, 0] > threshold)      # (k, H, W)
            return rec.repeat_interleave(S * S, 0)

        pred = {"op": op, "baseline": baseline,
                "ceiling": lambda: decode(decoder, zg.reshape(k * S * S, -1))[:, 0] > threshold}
        for kind in kinds:
            out[kind][i:i + k] = _counts(pred[kind](), target).reshape(k, S * S, 3)
    return {kind: c.reshape(n, S, S, 3) for kind, c in out.items()}


def per_shift_f1(counts: dict) -> dict:
    """{kind: (n, S, S, 3) counts} -> {kind: (S, S) F1 per shift, pooled over the images}."""
    return {kind: f1_from_counts(*c.sum(0).transpose(2, 0, 1)) for kind, c in counts.items()}


def summarise(counts: dict, *, recon_f1: float) -> dict:
    """{kind: (n, S, S, 3) counts} -> the metrics dict (keys in the module docstring)."""
    S = next(iter(counts.values())).shape[1]
    m = S // 2
    s = np.arange(-m, m + 1)
    size = np.maximum(np.abs(s)[:, None], np.abs(s)[None, :])          # (S, S) ring index
    out = {"recon_f1": float(recon_f1)}
    for kind, f1 in per_shift_f1(counts).items():
        key = KEYS[kind]
        out[key] = float(f1[size > 0].mean())
        out[f"{key}_pitch"] = float(f1[s != 0, m].mean())
        out[f"{key}_time"] = float(f1[m, s != 0].mean())
        for k in range(1, m + 1):
            out[f"{key}_s{k}"] = float(f1[size == k].mean())
    return out


def evaluate_operations(encoder, decoder, train_fn, val_fn, *, max_shift: int = 4,
                        wrap: bool = False, seed: int = 0, n_images: int | None = None,
                        method: str = "mean", operations=None, moves: int | None = None,
                        batch_size: int = 2048) -> OperationResult:
    """Fit v and the threshold on training images, score the operations on validation images.

    ``encoder`` (B, C, H, W) -> (B, D) and ``decoder`` (B, D) -> (B, C, H, W) scores: any
    callables. ``train_fn`` / ``val_fn``: ``image_fn(n, generator)`` of binary images;
    ``n_images`` per split (default ``auto_images(max_shift)``: 64 on the toy grid). Each
    image's shift grid is encoded once. ``method``: how v is fitted ("mean", "linear", "auto"),
    or "decoder" to read it from a translating decoder (``OperationVectors.from_decoder``;
    the mean differences are then scored too, on the same grids, as ``op_f1_fitted*``).
    ``operations``: an already fitted ``OperationVectors``
    (or anything with ``apply(z, dy, dx)``) to use instead of fitting one by ``method``;
    ``moves``: the number of leading features v moves (None: all; ``OperationVectors``).
    """
    n = n_images or auto_images(max_shift)
    enc_bs = 4096
    m = max_shift
    images_tr = train_fn(n, torch.Generator().manual_seed(seed)).cpu()
    train = encode_shift_grid(encoder, lambda k, g: images_tr, n_images=n, max_shift=m,
                              wrap=wrap, generator=torch.Generator(), batch_size=enc_bs)
    if operations is None and method == "decoder":
        operations = OperationVectors.from_decoder(decoder, max_shift=m)
    if operations is None:
        operations = OperationVectors(method, max_shift=m, wrap=wrap, n_images=n,
                                      random_state=seed, moves=moves).fit_grid(train.z)
    z_tr = torch.as_tensor(train.z[:, m, m], dtype=torch.float32)
    scores = decode(decoder, z_tr, batch_size=batch_size)
    if scores.shape[1:] != images_tr.shape[1:]:
        raise OpsError(f"the decoder returns images of shape {tuple(scores.shape[1:])}, the data "
                       f"are {tuple(images_tr.shape[1:])}")
    threshold = best_threshold(scores[:, 0].numpy(), images_tr[:, 0].numpy() > 0.5, seed=seed)

    images = val_fn(n, torch.Generator().manual_seed(seed + 1)).cpu()
    val = encode_shift_grid(encoder, lambda k, g: images, n_images=n, max_shift=max_shift,
                            wrap=wrap, generator=torch.Generator(), batch_size=enc_bs)
    z0 = torch.as_tensor(val.z[:, m, m], dtype=torch.float32)
    recon = decode(decoder, z0, batch_size=batch_size)[:, 0] > threshold  # decoded once
    counts = shift_counts(decoder, val.z, images, operations, threshold=threshold, wrap=wrap,
                          batch_size=batch_size, recon=recon)
    metrics = summarise(counts, recon_f1=binary_f1(recon.numpy(), images[:, 0].numpy() > 0.5))
    metrics["recon_threshold"] = float(threshold)
    metrics["op_latent_err"] = latent_error(val.z, operations)
    if method == "decoder":  # the encoder's own mean differences beside the decoder's moves,
        # moving what those move (a spatial translating decoder's: the embedding, not the map)
        fit_moves = moves if moves is not None else getattr(operations, "moves", None)
        fitted = OperationVectors("mean", max_shift=m, wrap=wrap, n_images=n, random_state=seed,
                                  moves=fit_moves).fit_grid(train.z)
        op = shift_counts(decoder, val.z, images, fitted, threshold=threshold, wrap=wrap,
                          batch_size=batch_size, kinds=("op",))
        metrics.update({k.replace("op_f1", "op_f1_fitted", 1): v
                        for k, v in summarise(op, recon_f1=metrics["recon_f1"]).items()
                        if k.startswith("op_f1")})
        metrics["op_latent_err_fitted"] = latent_error(val.z, fitted)
    return OperationResult(metrics=metrics, operations=operations, threshold=threshold,
                           f1=per_shift_f1(counts))


def default_method(decoder) -> str:
    """"decoder" for a translating decoder (it has a ``position`` head), else "mean"."""
    return "decoder" if getattr(decoder, "position", None) is not None else "mean"


def operation_metrics(encoder, decoder, train_fn, val_fn, *, max_shift: int = 4,
                      wrap: bool = False, seed: int = 0, n_images: int | None = None,
                      method: str = "mean") -> dict:
    """The metrics dict of ``evaluate_operations`` (keys in the module docstring)."""
    return evaluate_operations(encoder, decoder, train_fn, val_fn, max_shift=max_shift,
                               wrap=wrap, seed=seed, n_images=n_images, method=method).metrics
