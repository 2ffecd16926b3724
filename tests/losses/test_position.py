"""position_loss: a translating decoder's position heads read the crops' known shifts."""
import pytest
import torch

from softfact.config import ConfigError, resolve
from softfact.losses import position_loss


def loop_reference(pa, pc, deltas, scale):
    total, n = 0.0, 0
    for b in range(pc.shape[0]):
        for k in range(pc.shape[1]):
            for a in range(2):
                total += ((pc[b, k, a] - pa[b, a] - deltas[b, k, a]) / scale) ** 2
                n += 1
    return total / n


def test_equals_a_plain_loop_and_is_zero_when_positions_move_by_the_shifts():
    g = torch.Generator().manual_seed(0)
    pa, pc = torch.randn(5, 2, generator=g), torch.randn(5, 4, 2, generator=g)
    deltas = torch.randint(-4, 5, (5, 4, 2), generator=g)
    torch.testing.assert_close(position_loss(p_anchor=pa, p_crops=pc, deltas=deltas, scale=4.0),
                               loop_reference(pa, pc, deltas, 4.0))
    exact = pa[:, None] + deltas + 0.0
    assert position_loss(p_anchor=pa, p_crops=exact, deltas=deltas) < 1e-12


def test_bad_shapes_name_what_they_got():
    pa, pc, d = torch.zeros(3, 2), torch.zeros(3, 2, 2), torch.zeros(3, 2, 2)
    with pytest.raises(ValueError, match=r"p_anchor must be \(B, 2\), got shape \(3, 3\)"):
        position_loss(p_anchor=torch.zeros(3, 3), p_crops=pc, deltas=d)
    with pytest.raises(ValueError, match=r"p_crops must be \(B, K, 2\) with B = 3, got shape \(4, 2, 2\)"):
        position_loss(p_anchor=pa, p_crops=torch.zeros(4, 2, 2), deltas=d)
    with pytest.raises(ValueError, match=r"deltas must have p_crops' shape \(3, 2, 2\), got \(3, 2\)"):
        position_loss(p_anchor=pa, p_crops=pc, deltas=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="scale must be > 0"):
        position_loss(p_anchor=pa, p_crops=pc, deltas=d, scale=0)


def test_a_linear_head_learns_to_read_shifts_from_embeddings_that_carry_them():
    # embeddings z = s A + noise for a random A: a linear head's loss falls with a few Adam steps
    g = torch.Generator().manual_seed(1)
    A = torch.randn(2, 16, generator=g)
    deltas = torch.randint(-4, 5, (32, 4, 2), generator=g).float()
    za = torch.randn(32, 16, generator=g) * 0.1
    zc = za[:, None] + deltas @ A
    head = torch.nn.Linear(16, 2)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        loss = position_loss(p_anchor=head(za), p_crops=head(zc), deltas=deltas, scale=4.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.01 * losses[0]


def test_position_weight_needs_a_joint_translating_decoder():
    with pytest.raises(ConfigError, match="'position_weight' .* needs recon_weight > 0 and decoder_margin > 0"):
        resolve("cpu", None, {"position_weight": "1"})
    with pytest.raises(ConfigError, match="got 1.0 and 0"):
        resolve("rae", None, {"position_weight": "1", "decoder_margin": "0"})
    with pytest.raises(ConfigError, match="'position_weight' must be >= 0"):
        resolve("rae", None, {"position_weight": "-1"})
    assert resolve("rae", None, {}).position_weight == 0.0


def test_crop_major_position_loss_sums_the_heads_over_crop_major_rows():
    from softfact.losses import crop_major_position_loss
    g = torch.Generator().manual_seed(4)
    B, K = 3, 2
    p, q = torch.randn(B * (K + 1), 2, generator=g), torch.randn(B * (K + 1), 2, generator=g)
    deltas = torch.randint(-3, 4, (B, K, 2), generator=g)

    def one(h):  # anchors first, then crop 1 of every anchor, then crop 2
        return position_loss(p_anchor=h[:B], p_crops=torch.stack([h[B:2 * B], h[2 * B:]], 1),
                             deltas=deltas, scale=3.0)
    assert torch.allclose(crop_major_position_loss(positions=(p, None), deltas=deltas, scale=3.0), one(p))
    assert torch.allclose(crop_major_position_loss(positions=(p, q), deltas=deltas, scale=3.0),
                          one(p) + one(q))
    with pytest.raises(ValueError, match=r"must be \(9, 2\) for 3 anchors x 2 crops, got shape \(8, 2\)"):
        crop_major_position_loss(positions=(p[:8],), deltas=deltas)
    with pytest.raises(ValueError, match="no position head"):
        crop_major_position_loss(positions=(None, None), deltas=deltas)
