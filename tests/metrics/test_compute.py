import pytest
import torch

from softfact.data.blobs import make_blobs, translate
from softfact.metrics import compute_metrics
from softfact.evaluation.grid import grid_images

D = 8


def marked_blobs(n, generator):
    """Blobs with a marker pixel (value 2) at the centre: its position reveals the shift."""
    x = make_blobs(n, generator=generator)
    x[:, 0, 8, 8] = 2.0
    return x


class OracleEncoder(torch.nn.Module):
    """z = A [dy, dx] + u * (blob mass): exact under wrap-around shifts."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        q, _ = torch.linalg.qr(torch.randn(D, 3, generator=g))
        self.register_buffer("A", q.T[:2] * torch.tensor([[1.5], [0.7]]))
        self.register_buffer("u", q.T[2])

    def forward(self, x):
        B, _, H, W = x.shape
        pos = (x.flatten(1) == 2).float().argmax(1)
        s = torch.stack([pos // W - H // 2, pos % W - W // 2], 1).float()
        mass = (x == 1).flatten(1).sum(1, keepdim=True).float()
        return s @ self.A + mass * self.u


def test_grid_images_order():
    x = marked_blobs(2, torch.Generator().manual_seed(0))
    g = grid_images(x, max_shift=2, wrap=True)
    assert g.shape == (2 * 25, 1, 16, 16)
    # image 1, dy = -1 (row 1), dx = +2 (col 4)
    assert torch.equal(g[25 + 1 * 5 + 4], translate(x[1:2], -1, 2, wrap=True)[0])


def test_oracle_encoder_scores_perfectly():
    m = compute_metrics(OracleEncoder(), marked_blobs, max_shift=3, wrap=True, n_images=16)
    for k in ("r2", "r2_dy", "r2_dx", "factor_acc", "analogy_top1", "analogy_mrr", "mig",
              "dci_disentanglement", "dci_completeness"):
        assert m[k] == pytest.approx(1.0, abs=1e-6), k
    assert m["dci_informativeness"] == pytest.approx(1.0, abs=1e-3)
    assert m["additivity_err"] < 1e-6


def test_random_encoder_scores_at_chance():
    g = torch.Generator().manual_seed(5)
    m = compute_metrics(lambda x: torch.randn(x.shape[0], D, generator=g), marked_blobs,
                        max_shift=3, wrap=True, n_images=16)
    assert abs(m["r2"]) < 0.05 and m["dci_informativeness"] < 0.05
    assert m["factor_acc"] < 0.45 and m["mig"] < 0.05
    assert m["additivity_err"] > 1.2 and m["analogy_top1"] < 0.1


def test_compute_metrics_rejects_too_few_images():
    with pytest.raises(ValueError, match="n_images"):
        compute_metrics(OracleEncoder(), marked_blobs, max_shift=3, n_images=2)
