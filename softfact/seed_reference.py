"""The seed notebook's code, copied as it is: the one reference that tests and benchmarks use.

Data: per-sample ``BlobShiftDataset.__getitem__`` (Python loop, one image at a time) behind a
``DataLoader`` with worker processes. Model step: three separate encoder calls (anchor, crop1,
crop2), the factorization loss, Adam. Evaluation: ``collect_diff_vectors`` and
``collect_signed_diffs`` encode one image at a time. Nothing here is used by softfact's own training or evaluation; tests check softfact's
batched code against it and benchmarks time it beside softfact.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

device = "cpu"


# -- data (seed: make_blob, shift_no_wrap, BlobShiftDataset) ---------------------------------

def make_blob(sz=16, n_blobs=3):
    """Generate a random binary blob image (1, sz, sz)."""
    img = torch.zeros(1, sz, sz)
    for _ in range(n_blobs):
        r, c = torch.randint(0, sz-3, (2,))
        h, w = torch.randint(1, 4, (2,))
        img[0, r:r+h, c:c+w] = 1.0
    if torch.rand(1) > 0.5: img = torch.flip(img, [1])
    if torch.rand(1) > 0.5: img = torch.flip(img, [2])
    return img


def shift_no_wrap(x, shifts, dims):
    """Drop-in replacement for torch.roll with zero-fill instead of wrap."""
    if shifts == 0: return x
    out = torch.roll(x, shifts=shifts, dims=dims)
    n = abs(shifts)
    if shifts > 0:
        out.narrow(dims, 0, n).zero_()
    else:
        out.narrow(dims, out.size(dims)-n, n).zero_()
    return out


class BlobShiftDataset(torch.utils.data.Dataset):
    def __init__(self, epoch_size=8192, sz=16, max_shift=4):
        self.epoch_size = epoch_size
        self.sz = sz
        self.max_shift = max_shift

    def __len__(self): return self.epoch_size

    def __getitem__(self, idx):
        sz, ms = self.sz, self.max_shift
        while True:
            img = make_blob(sz)
            scheme = torch.randint(0, 3, (1,)).item()
            s1 = torch.randint(1, ms+1, (1,)).item()
            s2 = torch.randint(1, ms+1, (1,)).item()
            sign1 = 1 if torch.rand(1) > 0.5 else -1
            sign2 = 1 if torch.rand(1) > 0.5 else -1
            if scheme == 0:    dy1, dx1, dy2, dx2 = sign1*s1, 0, sign2*s2, 0
            elif scheme == 1:  dy1, dx1, dy2, dx2 = 0, sign1*s1, 0, sign2*s2
            else:              dy1, dx1, dy2, dx2 = sign1*s1, 0, 0, sign2*s2
            c1 = shift_no_wrap(shift_no_wrap(img, shifts=dy1, dims=1), shifts=dx1, dims=2)
            c2 = shift_no_wrap(shift_no_wrap(img, shifts=dy2, dims=1), shifts=dx2, dims=2)
            if not torch.equal(c1, c2): break
        target = float(np.sign(sign1 * sign2)) if scheme < 2 else 0.0
        return img, c1, c2, torch.tensor(target), torch.tensor(scheme), (dy1, dx1), (dy2, dx2)



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


# -- model and loss (seed: ToyEncoder, factorization_loss) -----------------------------------

class ToyEncoder(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.GELU(),          # 16x16
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),  # 8x8
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),  # 4x4
            nn.Conv2d(64,  64, 3, padding=1), nn.GELU(),           # 4x4
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, latent_dim),
        )
    def forward(self, x): return self.net(x)


def factorization_loss(z_anchor, z_crop1, z_crop2, targets):
    """Cosine-similarity loss on difference vectors.
    targets: +1 (parallel), -1 (anti-parallel), 0 (orthogonal)"""
    d1 = z_crop1 - z_anchor  # (B, D)
    d2 = z_crop2 - z_anchor  # (B, D)
    cos = F.cosine_similarity(d1, d2, dim=-1)  # (B,)
    return ((cos - targets) ** 2).mean()


# -- training (the body of the seed's train(), without logging) -------------------------------

def make_loader(batch_size=1024, n_steps=1000, num_workers=2):
    """The seed's DataLoader: epoch of n_steps batches, worker processes, no shuffling."""
    ds = BlobShiftDataset(epoch_size=n_steps * batch_size)
    return DataLoader(ds, batch_size=batch_size, num_workers=num_workers,
                      pin_memory=(device != 'cpu'))


def model_step(enc, opt, a, c1, c2, t):
    """One seed step on a collated batch: three encoder calls, loss, backward, Adam."""
    a, c1, c2, t = a.to(device), c1.to(device), c2.to(device), t.to(device)
    za, z1, z2 = enc(a), enc(c1), enc(c2)
    fact_loss = factorization_loss(za, z1, z2, t)
    loss = fact_loss
    opt.zero_grad(); loss.backward(); opt.step()
    return loss


# -- evaluation (seed: collect_diff_vectors, collect_signed_diffs) ----------------------------
# The notebook's calls use dims=2/3 on (1, 1, H, W) images: rows (pitch) and columns (time).

@torch.no_grad()
def collect_diff_vectors(enc, n=500, sz=16, max_shift=4):
    """Collect difference vectors, with same-sign and opposite-sign pairs from the SAME base image."""
    pitch_same, pitch_opp, time_same, time_opp = [], [], [], []
    pitch_d, time_d = [], []
    for _ in range(n):
        img = make_blob(sz).unsqueeze(0).to(device)
        s1 = torch.randint(1, max_shift+1, (1,)).item()
        s2 = torch.randint(1, max_shift+1, (1,)).item()
        while s2 == s1: s2 = torch.randint(1, max_shift+1, (1,)).item()
        za = enc(img)
        for dim, same_list, opp_list, d_list in [
            (2, pitch_same, pitch_opp, pitch_d),
            (3, time_same, time_opp, time_d)]:
            zp1 = enc(shift_no_wrap(img, shifts=+s1, dims=dim))
            zp2 = enc(shift_no_wrap(img, shifts=+s2, dims=dim))
            zn1 = enc(shift_no_wrap(img, shifts=-s1, dims=dim))
            d1, d2, d3 = zp1 - za, zp2 - za, zn1 - za
            same_list.append(F.cosine_similarity(d1, d2, dim=-1).item())  # same sign
            opp_list.append(F.cosine_similarity(d1, d3, dim=-1).item())   # opposite sign
            d_list.append(d1.squeeze().cpu())
            d_list.append(d3.squeeze().cpu())
    pitch_d, time_d = torch.stack(pitch_d), torch.stack(time_d)
    cos_cross = F.cosine_similarity(pitch_d[:len(time_d)], time_d[:len(pitch_d)], dim=-1).numpy()
    return pitch_d, time_d, np.array(pitch_same), np.array(pitch_opp), np.array(time_same), np.array(time_opp), cos_cross


@torch.no_grad()
def collect_signed_diffs(enc, n=500, sz=16, max_shift=4):
    """Collect diff vectors split by sign for both pitch and time."""
    results = {'pitch_pos': [], 'pitch_neg': [], 'time_pos': [], 'time_neg': []}
    for _ in range(n):
        img = make_blob(sz).unsqueeze(0).to(device)
        s = torch.randint(1, max_shift+1, (1,)).item()
        za = enc(img)
        for dim, name in [(2, 'pitch'), (3, 'time')]:
            for sign, label in [(1, 'pos'), (-1, 'neg')]:
                zs = enc(shift_no_wrap(img, shifts=sign*s, dims=dim))
                results[f'{name}_{label}'].append((zs - za).squeeze().cpu())
    return {k: torch.stack(v) for k, v in results.items()}


@torch.no_grad()
def grid_embeddings(enc, n_blobs=50, sz=16, max_shift=4):
    """Encode a grid of (dy, dx) shifts for each blob (the SVD analysis' input)."""
    shifts = list(range(-max_shift, max_shift+1))  # e.g. -4..+4 = 9 values
    all_Z = []
    for _ in range(n_blobs):
        img = make_blob(sz).unsqueeze(0).to(device)
        Z = []
        for dy in shifts:
            for dx in shifts:
                shifted = shift_no_wrap(shift_no_wrap(img, shifts=dy, dims=2), shifts=dx, dims=3)
                z = enc(shifted).squeeze().cpu()
                Z.append(z)
        all_Z.append(torch.stack(Z).reshape(len(shifts), len(shifts), -1))
    return torch.stack(all_Z), shifts  # (n_blobs, n_dy, n_dx, latent_dim)


def seed_metrics(enc, n=500):
    """The notebook's printed figures from its two collectors (the protocol softfact batches)."""
    enc.eval()
    from sklearn.decomposition import PCA
    pitch_d, time_d, ps, po, ts, to_, cos_cross = collect_diff_vectors(enc, n=n)
    evr = PCA(n_components=2).fit(torch.cat([pitch_d, time_d], dim=0).numpy()).explained_variance_ratio_
    diffs = collect_signed_diffs(enc, n=n)
    out = {"cross_abs_cos": float(np.abs(cos_cross).mean()),
           "same_sign_cos": float(np.concatenate([ps, ts]).mean()),
           "opposite_sign_cos": float(np.concatenate([po, to_]).mean()),
           "pca_evr_1": float(evr[0]), "pca_evr_2": float(evr[1])}
    for name in ("pitch", "time"):
        mp, mn = diffs[f"{name}_pos"].mean(0), diffs[f"{name}_neg"].mean(0)
        cos = F.cosine_similarity(mp[None], mn[None]).item()
        out[f"angle_{name}_deg"] = float(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    enc.train()
    return out
