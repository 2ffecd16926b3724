"""Make ``import torchvision`` work under a CPU torch, for the optional extras that import it.

torchvision's wheels on PyPI are built against a CUDA torch; under a CPU torch their C ops
cannot load and ``import torchvision`` fails while registering fake kernels for ``nms`` and
``qnms`` (torchvision 0.28), though timm and Lightning use only its pure-Python parts.
Defining those two ops' schemas (no kernels: calling them still fails) lets the import finish.
Nothing changes where torchvision imports on its own.
"""
from __future__ import annotations

import sys

import torch

_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_libraries: list = []  # the schemas live as long as their library object


def ensure_torchvision_imports() -> None:
    """Import torchvision (if installed), defining the ops it fails on when its C ops are missing."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return
    except RuntimeError as e:
        if "torchvision::" not in str(e) or _libraries:
            raise
        for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _SCHEMAS:
            lib.define(schema)
        _libraries.append(lib)
        import torchvision  # noqa: F401
