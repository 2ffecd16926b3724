"""Analyses of any encoder ((B, 1, H, W) -> (B, D)) on images with known shifts.

Every analysis starts from one batched encoding (``softfact.models.encode``, shift grids from
``softfact.evaluation.grid``) and returns arrays or fitted scikit-learn-style objects;
``softfact.plotting`` draws them.
"""
from softfact.analysis.diffs import cosine_groups, pca_cross
from softfact.analysis.embed2d import umap_embeddings
from softfact.analysis.kpca import RBFKernelPCA, subspace_agreement
from softfact.analysis.suite import Analysis, analyse, where_analogies_hold
from softfact.metrics.svd import grid_svd
from softfact.evaluation.grid import ShiftGrid, encode_shift_grid, grid_images
from softfact.models.encode import encode

__all__ = ["Analysis", "RBFKernelPCA", "ShiftGrid", "analyse", "cosine_groups", "encode",
           "encode_shift_grid", "grid_images", "grid_svd", "pca_cross", "subspace_agreement",
           "umap_embeddings", "where_analogies_hold"]
