import numpy as np
import pytest
from tests.oracles import OracleEncoder, inner_blobs
from sklearn.decomposition import KernelPCA

from softfact.analysis import RBFKernelPCA, encode_shift_grid, subspace_agreement


@pytest.fixture
def points(gen):
    """Shift-grid embeddings on the scale of a trained ToyEncoder (distances ~0.1-1)."""
    grid = encode_shift_grid(OracleEncoder(), inner_blobs, n_images=10, max_shift=4, generator=gen)
    X, dy, dx = grid.points()
    rng = np.random.default_rng(0)
    return 0.06 * X + 0.01 * rng.normal(size=X.shape), dy, dx   # 810 points


def test_exact_is_sklearn_kernel_pca(points):
    X = points[0][:300]
    ours = RBFKernelPCA(4, gamma=1.0, method="exact").fit(X)
    ref = KernelPCA(4, kernel="rbf", gamma=1.0).fit(X)
    np.testing.assert_allclose(ours.eigenvalues_, ref.eigenvalues_, rtol=1e-6)
    np.testing.assert_allclose(np.abs(ours.embedding_), np.abs(ref.transform(X)), atol=1e-6)


def test_nystroem_agrees_with_exact_on_small_n(points):
    X, dy, dx = points
    exact = RBFKernelPCA(4, method="exact").fit(X)
    approx = RBFKernelPCA(4, method="nystroem", n_landmarks=200).fit(X)   # 200 of 810
    assert exact.method_ == "exact" and approx.method_ == "nystroem"
    assert subspace_agreement(exact.embedding_, approx.embedding_).min() > 0.99
    for i in range(2):  # leading components: same up to sign, same scale
        r = np.corrcoef(exact.embedding_[:, i], approx.embedding_[:, i])[0, 1]
        assert abs(r) > 0.99
    np.testing.assert_allclose(approx.eigenvalues_[:2], exact.eigenvalues_[:2], rtol=0.02)
    # and the agreement measure does tell different subspaces apart
    noise = np.random.default_rng(1).normal(size=exact.embedding_.shape)
    assert subspace_agreement(exact.embedding_, noise).max() < 0.3


def test_leading_kernel_components_follow_the_shifts(points):
    X, dy, dx = points
    z = RBFKernelPCA(4, method="exact").fit(X).embedding_
    # the oracle's embedding is a plane of (row, col) positions: kPC1-2 are functions of it
    r = [max(abs(np.corrcoef(z[:, i], lab)[0, 1]) for i in range(2)) for lab in (dy, dx)]
    assert min(r) > 0.5


def test_auto_switches_to_nystroem_past_the_threshold(points):
    X = points[0]
    assert RBFKernelPCA(method="auto", max_exact=len(X)).fit(X).method_ == "exact"
    kp = RBFKernelPCA(method="auto", max_exact=len(X) - 1, n_landmarks=100).fit(X)
    assert kp.method_ == "nystroem" and kp.embedding_.shape == (len(X), 4)
    np.testing.assert_allclose(kp.transform(X[:5]), kp.embedding_[:5], atol=1e-8)


def test_constant_points_do_not_give_nan():
    X = np.ones((50, 8))
    for method in ("exact", "nystroem"):
        z = RBFKernelPCA(method=method, n_landmarks=20).fit(X).embedding_
        assert np.isfinite(z).all()


@pytest.mark.parametrize("kw, msg", [({"method": "fast"}, "method"),
                                     ({"gamma": 0.0}, "gamma"),
                                     ({"n_components": 0}, "n_components")])
def test_bad_arguments_are_one_line_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        RBFKernelPCA(**kw)


def test_too_few_points():
    with pytest.raises(ValueError, match="N > n_components"):
        RBFKernelPCA(4).fit(np.zeros((3, 2)))


def test_chunked_nystroem_equals_pca_of_all_features(points):
    from sklearn.decomposition import PCA
    X = points[0]
    kp = RBFKernelPCA(4, method="nystroem", n_landmarks=150, chunk_size=100).fit(X)
    ref = PCA(4).fit(kp.feature_map_.transform(X))
    np.testing.assert_allclose(kp.eigenvalues_, ref.singular_values_ ** 2, rtol=1e-6)
    np.testing.assert_allclose(np.abs(kp.embedding_), np.abs(ref.transform(kp.feature_map_.transform(X))),
                               atol=1e-6)
