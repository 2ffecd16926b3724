"""The learning-rate schedule shared by the encoder's and the decoder's training loops."""
from __future__ import annotations

import math


def cosine_lr(step: int, *, lr: float, steps: int, warmup: int, floor_ratio: float) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``floor_ratio`` x ``lr``.

    >>> cosine_lr(0, lr=1.0, steps=10, warmup=2, floor_ratio=0.1), cosine_lr(10, lr=1.0, steps=10, warmup=2, floor_ratio=0.1)
    (0.5, 0.1)
    """
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    floor = lr * floor_ratio
    return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))
