import matplotlib.colors as mcolors
import numpy as np
import pytest
import torch
from tests.oracles import blobs, inner_blobs

from softfact.analysis import analyse
from softfact.data.triplets import SCHEMES, sample_triplets
from softfact.plotting import (SCHEME_COLORS, plot_cosine_cross, plot_kernel_pca,
                               plot_loss_curve, plot_svd_spectra, plot_triplets, plot_umap2d,
                               save_figure, write_umap3d_html)

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000, path
    assert not list(path.parent.glob("*.tmp")), "temporary files left behind"


@pytest.fixture(scope="module")
def analysis():
    from tests.oracles import OracleEncoder
    a = analyse(OracleEncoder(), inner_blobs, max_shift=4, n_probe=60, n_svd=3, n_points_images=3, umap=False)
    rng = np.random.default_rng(0)
    a.umap = {2: rng.normal(size=(len(a.points_dy), 2)), 3: rng.normal(size=(len(a.points_dy), 3))}
    return a


def test_triplet_figure_labels_and_colours(tmp_path, gen):
    batch = sample_triplets(blobs, 6, max_shift=4, generator=gen, schemes=SCHEMES)
    fig = plot_triplets(batch, n_rows=6)
    axes = np.array(fig.axes).reshape(6, 3)
    for i in range(6):
        color = SCHEME_COLORS[SCHEMES[int(batch.scheme[i])]]
        dy, dx = batch.delta2[i].tolist()
        assert axes[i, 2].get_ylabel() == f"Δ({dy:+d},{dx:+d})"
        assert mcolors.same_color(axes[i, 0].spines["left"].get_edgecolor(), color)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:3] == ["Pitch only", "Time only", "Pitch + Time"]
    assert axes[0, 0].get_title() == "Anchor"
    save_figure(fig, tmp_path / "triplets.png")
    assert_png(tmp_path / "triplets.png")
    assert axes[0, 0].images[0].origin == "upper"  # blobs as the seed draws them
    rolls = np.array(plot_triplets(batch, n_rows=6, origin="lower").axes).reshape(6, 3)
    assert rolls[0, 0].images[0].origin == "lower"  # piano rolls: high notes on top


def test_loss_curve_raw_and_moving_average(tmp_path):
    rows = [{"step": s, "loss": 1.0 / (s + 1), "fact": 1.0 / (s + 1)} for s in range(200)]
    fig = plot_loss_curve(rows)
    ax = fig.axes[0]
    raw, smooth = ax.lines[:2]
    assert len(raw.get_xdata()) == 200 and len(smooth.get_ydata()) == 200 - 49
    np.testing.assert_allclose(smooth.get_ydata()[0], np.mean([1.0 / (s + 1) for s in range(50)]))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    save_figure(fig, tmp_path / "loss.png")
    assert_png(tmp_path / "loss.png")
    with pytest.raises(ValueError, match="no 'loss' values"):
        plot_loss_curve([])


def test_loss_curve_shows_the_factorization_term_with_jepa():
    rows = [{"step": s, "loss": 2.0, "fact": 1.0, "jepa": 1.0} for s in range(60)]
    assert len(plot_loss_curve(rows).axes[0].lines) == 3


def test_geometry_figures_write_images(tmp_path, analysis):
    a = analysis
    figs = {"cross": plot_cosine_cross(a.cross, a.cosines),
            "svd": plot_svd_spectra(a.svd),
            "kpca": plot_kernel_pca(a.kpca, dy=a.points_dy, dx=a.points_dx),
            "umap2d": plot_umap2d(a.umap[2], dy=a.points_dy, dx=a.points_dx)}
    # panel counts (colour bars are axes too): 2, 2, 4 + 4, 2 + 2
    assert [len(f.axes) for f in figs.values()] == [2, 2, 8, 4]
    legend = [t.get_text() for t in figs["cross"].axes[1].get_legend().get_texts()]
    assert any("mean +1.000" in t for t in legend) and any("mean -1.000" in t for t in legend)
    assert figs["kpca"].axes[0].collections[0].get_cmap().name == "coolwarm"
    assert figs["kpca"].axes[1].collections[0].get_cmap().name == "PiYG"
    for name, fig in figs.items():
        save_figure(fig, tmp_path / f"{name}.png")
        assert_png(tmp_path / f"{name}.png")


def test_kernel_pca_figure_needs_four_components():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        plot_kernel_pca(np.zeros((10, 2)), dy=np.zeros(10), dx=np.zeros(10))


def test_umap3d_pages_work_offline(tmp_path, analysis):
    a = analysis
    paths = write_umap3d_html(a.umap[3], dy=a.points_dy, dx=a.points_dx, out_dir=tmp_path)
    assert set(paths) == {"pitch", "time"}
    bundle = tmp_path / "plotly.min.js"
    assert bundle.stat().st_size > 1_000_000
    for name, path in paths.items():
        page = path.read_text()
        assert '<script charset="utf-8" src="plotly.min.js"></script>' in page
        assert "cdn.plot.ly" not in page and 'src="http' not in page
        assert f"dy={int(a.points_dy[0])}, dx={int(a.points_dx[0])}" in page
        assert f"colored by {name}" in page
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        write_umap3d_html(np.zeros((5, 2)), dy=np.zeros(5), dx=np.zeros(5), out_dir=tmp_path)


def test_loss_curve_draws_each_optional_term():
    """A joint run with the operation loss: total, its average, the factorization term, recon, op."""
    rows = [{"step": s, "loss": 3.0, "fact": 1.0, "recon": 0.5, "op": 0.7} for s in range(60)]
    ax = plot_loss_curve(rows).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels[2:] == ["factorization term (smoothed)", "recon term (smoothed, unweighted)",
                          "op term (smoothed, unweighted)"]
    np.testing.assert_allclose(ax.lines[4].get_ydata(), 0.7)
    assert ax.get_title() == "Training loss"
    seed = [{"step": s, "loss": 1.0, "fact": 1.0} for s in range(60)]
    assert plot_loss_curve(seed).axes[0].get_title() == "Factorization Loss"
