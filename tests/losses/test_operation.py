import pytest
import torch
import torch.nn.functional as F

from softfact.data.blobs import translate
from softfact.losses import operation_loss


def test_equals_loop_reference(gen):
    """decode(z_anchor + the mean d of the crop's shift over the batch) against each crop."""
    B, K, D = 4, 3, 5
    za, zc = torch.randn(B, D, generator=gen), torch.randn(B, K, D, generator=gen)
    s = torch.tensor([[[1, 0], [0, 2], [1, 0]], [[1, 0], [0, 2], [0, -1]],
                      [[0, 2], [2, 0], [1, 0]], [[1, 0], [0, -1], [0, 2]]])
    crops = (torch.rand(B, K, 1, 3, 3, generator=gen) > 0.5).float()
    lin = torch.nn.Linear(D, 9)
    dec = lambda z: lin(z).view(-1, 1, 3, 3)
    got = operation_loss(decode=dec, z_anchor=za, z_crops=zc, deltas=s, crops=crops)
    terms = []
    for a in range(B):
        for i in range(K):
            same = [zc[b, j] - za[b] for b in range(B) for j in range(K) if s[b, j].tolist() == s[a, i].tolist()]
            v = torch.stack(same).mean(0)
            terms.append(F.binary_cross_entropy_with_logits(dec((za[a] + v)[None])[0], crops[a, i]))
    assert got.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)


def test_zero_for_an_exactly_equivariant_pair():
    """z = (row of the single lit pixel) one-hot scaled; decode reads it back: z + v decodes exactly."""
    H = 8
    rows = torch.tensor([2, 3, 4, 5])
    x = torch.zeros(4, 1, H, 1)
    x[torch.arange(4), 0, rows, 0] = 1
    enc = lambda img: (img[:, 0, :, 0] * torch.arange(H)).sum(-1, keepdim=True)          # z = row
    dec = lambda z: 60.0 * (1 - 2 * (z - torch.arange(H)).abs().clamp(max=1)).view(-1, 1, H, 1)
    s = torch.tensor([[[1, 0], [-2, 0]]] * 4)
    crops = torch.stack([translate(x, 1, 0), translate(x, -2, 0)], 1)
    zc = torch.stack([enc(crops[:, 0]), enc(crops[:, 1])], 1)
    loss = operation_loss(decode=dec, z_anchor=enc(x), z_crops=zc, deltas=s, crops=crops)
    assert loss.item() < 1e-6


def test_bad_crop_shape_is_named(gen):
    za, zc = torch.randn(2, 3, generator=gen), torch.randn(2, 2, 3, generator=gen)
    s = torch.tensor([[[1, 0], [0, 1]]] * 2)
    with pytest.raises(ValueError, match=r"crops must be \(B, K, \*image\) = \(2, 2, ...\), got \(2, 1, 4, 4\)"):
        operation_loss(decode=lambda z: z, z_anchor=za, z_crops=zc, deltas=s, crops=torch.zeros(2, 1, 4, 4))
