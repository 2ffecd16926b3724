import numpy as np
import pytest

from metric_grids import factor_grid, orthogonal_directions


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def oracle_grid(rng):
    """Z = identity(image) + A [dy, dx]: exactly linear, orthogonal factors at a random angle."""
    n, m, D = 24, 3, 8
    A = orthogonal_directions(rng, D, scale=(2.0, 0.5))
    return rng.normal(size=(n, 1, 1, D)) * 3 + factor_grid(m) @ A


@pytest.fixture
def random_grid(rng):
    """Embeddings unrelated to the shift."""
    return rng.normal(size=(24, 7, 7, 8))
