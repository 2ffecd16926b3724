"""Figures of the seed, drawn from the arrays that ``softfact.analysis`` computes.

Each ``plot_*`` function returns a matplotlib Figure (Agg backend); ``save_figure`` writes it
atomically and closes it. ``write_umap3d_html`` writes the interactive 3-D views.
"""
from softfact.plotting.geometry import (plot_analogies, plot_cosine_cross, plot_kernel_pca,
                                        plot_svd_spectra, plot_umap2d)
from softfact.plotting.interactive import umap3d_figures, write_umap3d_html
from softfact.plotting.io import figure_png_bytes, save_figure
from softfact.plotting.ops import plot_latent_operations, plot_operation_f1, plot_shift_examples
from softfact.plotting.training import SCHEME_COLORS, plot_loss_curve, plot_triplets

__all__ = ["SCHEME_COLORS", "figure_png_bytes", "plot_analogies", "plot_cosine_cross", "plot_kernel_pca",
           "plot_latent_operations", "plot_loss_curve", "plot_operation_f1", "plot_shift_examples",
           "plot_svd_spectra", "plot_triplets", "plot_umap2d", "save_figure", "umap3d_figures", "write_umap3d_html"]
