"""Analyses of any encoder ((B, 1, H, W) -> (B, D)) on images with known shifts.

Every analysis encodes once, in batches (``encode``), and returns arrays or fitted
scikit-learn-style objects; ``softfact.plotting`` draws them.
"""
from softfact.analysis.diffs import cosine_groups, pca_cross
from softfact.analysis.encode import encode
from softfact.analysis.grids import ShiftGrid, encode_shift_grid, grid_images, grid_svd
from softfact.analysis.kpca import RBFKernelPCA, subspace_agreement
from softfact.analysis.suite import Analysis, analyse

__all__ = ["Analysis", "RBFKernelPCA", "ShiftGrid", "analyse", "cosine_groups", "encode",
           "encode_shift_grid", "grid_images", "grid_svd", "pca_cross", "subspace_agreement"]
