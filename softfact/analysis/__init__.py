"""Analyses of any encoder ((B, 1, H, W) -> (B, D)) on images with known shifts.

Every analysis encodes once, in batches (``encode``), and returns arrays or fitted
scikit-learn-style objects; ``softfact.plotting`` draws them. Names are imported lazily:
``softfact.evaluation`` imports ``softfact.analysis.encode``, and the analyses import it back.
"""
from importlib import import_module

_WHERE = {
    "encode": "encode", "Analysis": "suite", "analyse": "suite",
    "ShiftGrid": "grids", "encode_shift_grid": "grids", "grid_images": "grids",
    "grid_svd": "grids", "RBFKernelPCA": "kpca", "subspace_agreement": "kpca",
    "cosine_groups": "diffs", "pca_cross": "diffs", "umap_embeddings": "embed2d",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'softfact.analysis' has no attribute '{name}'")
    return getattr(import_module(f"softfact.analysis.{_WHERE[name]}"), name)
