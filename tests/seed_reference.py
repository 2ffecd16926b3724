"""The seed notebook's per-sample data code, kept verbatim as the reference distribution."""
import numpy as np
import torch


def make_blob(sz=16, n_blobs=3):
    img = torch.zeros(1, sz, sz)
    for _ in range(n_blobs):
        r, c = torch.randint(0, sz - 3, (2,))
        h, w = torch.randint(1, 4, (2,))
        img[0, r:r + h, c:c + w] = 1.0
    if torch.rand(1) > 0.5:
        img = torch.flip(img, [1])
    if torch.rand(1) > 0.5:
        img = torch.flip(img, [2])
    return img


def shift_no_wrap(x, shifts, dims):
    if shifts == 0:
        return x
    out = torch.roll(x, shifts=shifts, dims=dims)
    n = abs(shifts)
    if shifts > 0:
        out.narrow(dims, 0, n).zero_()
    else:
        out.narrow(dims, out.size(dims) - n, n).zero_()
    return out


def seed_triplet(sz=16, ms=4):
    """BlobShiftDataset.__getitem__, plus the number of redraws it needed."""
    redraws = 0
    while True:
        img = make_blob(sz)
        scheme = torch.randint(0, 3, (1,)).item()
        s1 = torch.randint(1, ms + 1, (1,)).item()
        s2 = torch.randint(1, ms + 1, (1,)).item()
        sign1 = 1 if torch.rand(1) > 0.5 else -1
        sign2 = 1 if torch.rand(1) > 0.5 else -1
        if scheme == 0:
            dy1, dx1, dy2, dx2 = sign1 * s1, 0, sign2 * s2, 0
        elif scheme == 1:
            dy1, dx1, dy2, dx2 = 0, sign1 * s1, 0, sign2 * s2
        else:
            dy1, dx1, dy2, dx2 = sign1 * s1, 0, 0, sign2 * s2
        c1 = shift_no_wrap(shift_no_wrap(img, shifts=dy1, dims=1), shifts=dx1, dims=2)
        c2 = shift_no_wrap(shift_no_wrap(img, shifts=dy2, dims=1), shifts=dx2, dims=2)
        if not torch.equal(c1, c2):
            break
        redraws += 1
    target = float(np.sign(sign1 * sign2)) if scheme < 2 else 0.0
    return img, c1, c2, target, scheme, (dy1, dx1), (dy2, dx2), redraws
