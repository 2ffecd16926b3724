"""A conv decoder: (B, latent_dim) embeddings -> (B, 1, H, W) logits of a binary image.

The mirror of ``ConvEncoder``: a linear layer spreads the embedding over a 4 x 4 map of
``width * 2**(stages-2)`` channels, then ``stages - 1`` blocks each double the resolution
(nearest upsampling, 3 x 3 conv, GroupNorm, GELU) and halve the channels down to ``width``,
and a last 4 x 4 stride-2 transposed conv gives the full-resolution logits (train with
``binary_cross_entropy_with_logits``). 16 x 16 images take 2 stages, 64 x 64 crops 4. There
is no full-resolution conv with many channels: measured on the 2-core CPU at batch 896, a
3 x 3 conv of 32 channels at 16 x 16 made the decoder 4.7x the ToyEncoder's time, the
transposed conv to one channel costs little. A side that is not 4 * 2**k is reached by
resizing the logits. Row/column coordinate channels join the input of every layer
(CoordConv), so the decoder places content by position as easily as the encoder reads it.

With ``map_channels=C`` (a spatial latent, ``ConvEncoder(latent_map=C)``) the input is the
pooled embedding followed by a flattened C x m x m map: the decoder starts at m x m, where the
map joins the embedding's linear spread as C more channels.

With ``margin=M > 0`` it is a *translating* decoder: a linear head reads a 2-d position p(z)
(rows, columns, in pixels) from the embedding, the stages draw the content on a canvas M pixels
larger on every side from the embedding with p's two directions projected out, and the image is
the canvas window moved by p (bilinear, what leaves the canvas reads as empty). Adding a vector
along p's directions then moves the drawing, and what moves past the border is cut off as a
zero-filled shift cuts it, whatever the content: the decoder is equivariant to moves of p by
construction, so a latent operation z + v(s) needs only the encoder to move p by s. The encoder
is not constrained: what p reads is learned, and nothing ties it to the factorization loss.

Both together (``map_channels=C, margin=M > 0``), a *spatial translating* decoder: the map
already says where the notes are, so the drawing is made at the image's size from the map and the
embedding with p's directions projected out, and moved by p(embedding) - q(map), q a second
linear head reading the map. Reconstruction asks the two heads to agree (a move of zero for what
the encoder gives); a latent operation adds a vector along p's directions to the embedding alone
and moves the drawing by exactly that many pixels (M only turns this on: what a shift brings in
is outside the crop, empty, as a zero-filled shift has it). Measured on POP909 64 x 64 crops
(benchmarks/results/decoder.md): a pooled embedding decodes to F1 0.21; a spatial latent to
0.85, but additive operations on it do nothing; the two with this decoder: 0.86, and moves of
1-12 steps or semitones at the ceiling (``configs/pop909_rae.yaml``).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from softfact.models.activations import gelu
from softfact.models.conv import _groups, map_side, with_coords

_OFF = 30.0  # the logit of "empty" off the translating decoder's canvas (sigmoid: ~1e-13)


def position_moves(weight: torch.Tensor) -> torch.Tensor:
    """(W W^T)^-1 W for a position head's (2, D) weight W: its rows move the position by one
    pixel along rows and along columns and change nothing W's directions do not span.

    >>> w = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    >>> position_moves(w) @ w.T
    tensor([[1., 0.],
            [0., 1.]])
    """
    return torch.linalg.solve(weight @ weight.T, weight)


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in + 2, c_out, 3, padding=1)
        self.norm = nn.GroupNorm(_groups(c_out), c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return gelu(self.norm(self.conv(with_coords(x))))


class ConvDecoder(nn.Module):
    """(B, latent_dim) -> (B, 1, image_size, image_size) logits.

    >>> dec = ConvDecoder(latent_dim=16, image_size=16, width=8)
    >>> dec(torch.zeros(2, 16)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, latent_dim: int = 16, image_size: int = 16, width: int = 32, *,
                 map_channels: int = 0, map_size: int = 4, margin: int = 0):
        super().__init__()
        if latent_dim < 1 or image_size < 4 or width < 1 or map_channels < 0 or not 1 <= map_size < image_size:
            raise ValueError(f"latent_dim >= 1, image_size >= 4, width >= 1, map_channels >= 0 and "
                             f"1 <= map_size < image_size needed, got {latent_dim}, {image_size}, "
                             f"{width}, {map_channels}, {map_size}")
        if margin < 0:
            raise ValueError(f"margin >= 0 needed, got margin {margin}")
        self.latent_dim, self.image_size, self.width = latent_dim, image_size, width
        self.map_channels, self.map_size = map_channels, map_size if map_channels else 4
        self.margin = margin
        # a spatial latent's map is where the crop is: its drawing is the image's size
        self.canvas_size = image_size + 2 * margin * (not map_channels)
        self.in_dim = latent_dim + map_channels * self.map_size ** 2
        self.stages = max(1, math.ceil(math.log2(image_size / self.map_size)))
        self.side = self.map_size  # the side the linear spread starts at
        if margin and not map_channels:  # start at the side that doubles into the canvas without resizing
            self.stages = max(1, math.floor(math.log2(self.canvas_size / 4)))
            self.side = math.ceil(self.canvas_size / 2 ** self.stages)
        c = width * 2 ** max(0, self.stages - 2)
        self.start = c
        self.fc = nn.Linear(latent_dim, c * self.side ** 2)
        blocks, c_in = [], c + map_channels
        for _ in range(self.stages - 1):
            blocks.append(_UpBlock(c_in, max(width, c // 2)))
            c = c_in = max(width, c // 2)
        c = c_in
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.ConvTranspose2d(c + 2, 1, 4, stride=2, padding=1)
        self.position = nn.Linear(latent_dim, 2) if margin else None
        self.map_position = None
        if margin and map_channels:  # q(map): zero at the start, so the first moves are p's alone
            self.map_position = nn.Linear(map_channels * self.map_size ** 2, 2)
            nn.init.zeros_(self.map_position.weight)
            nn.init.zeros_(self.map_position.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"ConvDecoder expects (B, {self.in_dim}) embeddings, "
                             f"got shape {tuple(z.shape)}")
        if self.position is not None:
            return self._translate(z)
        return self._draw(z, self.image_size)

    def _draw(self, z: torch.Tensor, size: int) -> torch.Tensor:
        m = self.side
        x = gelu(self.fc(z[:, :self.latent_dim]).view(-1, self.start, m, m))
        if self.map_channels:
            x = torch.cat([x, z[:, self.latent_dim:].reshape(-1, self.map_channels, m, m)], dim=1)
        x = self.out(with_coords(self.blocks(x)))
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return x

    def _translate(self, z: torch.Tensor) -> torch.Tensor:
        # the position and the move stay float32 under bf16 autocast (a bf16 p is off by up to
        # ~1/64 pixel); only the drawing follows the caller's autocast
        D = self.latent_dim
        with torch.autocast(z.device.type, enabled=False):
            w = self.position.weight.float()                    # (2, D): p's directions
            z32 = z.float()
            emb = z32[:, :D]
            p, q = self.positions(z32)                          # (B, 2) rows, columns (pixels)
            if q is not None:                                   # the map's own position
                p = p - q
            # content: z with p's directions projected out, (W W^T + eps)^-1 keeps W = 0 finite
            gram = w @ w.T + 1e-6 * torch.eye(2, device=w.device)
            coef = torch.linalg.solve(gram, (emb @ w.T).T).T   # (B, 2)
            content = torch.cat([emb - coef @ w, z32[:, D:]], dim=1)
        canvas = self._draw(content.to(z.dtype), self.canvas_size).float()
        # output pixel (i, j) reads canvas (i + margin - p_r, j + margin - p_c); grid_sample
        # wants (x = column, y = row) in [-1, 1] (align_corners: -1, 1 = first, last pixel)
        S, H = self.canvas_size, self.image_size
        offset = (S - H) // 2
        ar = (torch.arange(H, device=z.device, dtype=torch.float32) + offset) * (2 / (S - 1)) - 1
        base = torch.stack(torch.meshgrid(ar, ar, indexing="ij")[::-1], dim=-1)   # (H, W, 2) x, y
        grid = base - p.flip(1)[:, None, None, :] * (2 / (S - 1))
        # off the canvas is empty: sample (logit + OFF) with zero padding, then take OFF away
        with torch.autocast(z.device.type, enabled=False):
            return F.grid_sample(canvas + _OFF, grid, mode="bilinear", padding_mode="zeros",
                                 align_corners=True) - _OFF

    def positions(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(p, q) of a translating decoder's input z: p (B, 2) read from the embedding, q (B, 2)
        from a spatial latent's map (None without one); the drawing moves by p - q."""
        p = self.position(z[:, :self.latent_dim])
        q = self.map_position(z[:, self.latent_dim:]) if self.map_position is not None else None
        return p, q

    def move(self, z: torch.Tensor, shift) -> torch.Tensor:
        """z moved along p's directions by ``shift`` = (rows, columns) pixels (translating decoder):
        ``decode(move(z, s))`` is ``decode(z)`` shifted by s, zero-filled at the border."""
        if self.position is None:
            raise ValueError("move needs a translating decoder (margin > 0)")
        s = torch.as_tensor(shift, dtype=torch.float32, device=z.device).expand(z.shape[0], 2)
        v = s @ position_moves(self.position.weight.float())   # the embedding's move; a map stays
        return torch.cat([z[:, :self.latent_dim].float() + v, z[:, self.latent_dim:].float()],
                         dim=1).to(z.dtype)

    def config(self) -> dict:
        """The arguments that rebuild this decoder's shape."""
        return {"latent_dim": self.latent_dim, "image_size": self.image_size, "width": self.width,
                "map_channels": self.map_channels, "map_size": self.map_size, "margin": self.margin}


def build_decoder(cfg, *, width: int | None = None) -> nn.Module:
    """The decoder for a TrainConfig's latent (latent_dim, and latent_map's map) and image_size
    (width: ``decoder_width``)."""
    w = width if width is not None else cfg.decoder_width
    return ConvDecoder(latent_dim=cfg.latent_dim, image_size=cfg.image_size, width=w,
                       map_channels=cfg.latent_map, map_size=map_side(cfg.image_size, cfg.depth),
                       margin=cfg.decoder_margin)
