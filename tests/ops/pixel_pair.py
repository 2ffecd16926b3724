"""An encoder/decoder pair that is exactly equivariant by construction, for the ops tests.

Images: H x H, one pixel on at (r, c), both in [m, H - 1 - m], so every shift up to m keeps it
inside. Encoder: z = (sum_ij x_ij i, sum_ij x_ij j, sum_ij x_ij) = (r, c, 1): a linear map,
and z(shift(x, dy, dx)) = z(x) + (dy, dx, 0) exactly (integers in float32).
Decoder: draws the pixel at (r, c) and, when r is even, a wrong extra one at (r, c + 1): its
F1 is below 1 and varies with the shift (the parity of r + dy), so equalities are not 1 == 1.
"""
import torch

from softfact.evaluation.grid import grid_images

SIZE, M = 12, 3


def images(n: int, generator: torch.Generator) -> torch.Tensor:
    pos = torch.randint(M, SIZE - M, (n, 2), generator=generator)
    x = torch.zeros(n, 1, SIZE, SIZE)
    x[torch.arange(n), 0, pos[:, 0], pos[:, 1]] = 1.0
    return x


_ROWS = torch.arange(SIZE, dtype=torch.float32).repeat_interleave(SIZE)
_COLS = torch.arange(SIZE, dtype=torch.float32).repeat(SIZE)
_CODE = torch.stack([_ROWS, _COLS, torch.ones(SIZE * SIZE)], 1)       # (H W, 3)


def encoder(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1) @ _CODE


def decoder(z: torch.Tensor) -> torch.Tensor:
    r, c = z[:, 0].round(), z[:, 1].round()
    i = torch.arange(SIZE, dtype=torch.float32)
    row = i[None, :, None] == r[:, None, None]
    at = row & (i[None, None, :] == c[:, None, None])
    extra = row & (i[None, None, :] == c[:, None, None] + 1) & (r % 2 == 0)[:, None, None]
    return torch.where(at | extra, 1.0, -1.0).unsqueeze(1)             # logits (B, 1, H, W)


def translate_grid(x: torch.Tensor) -> torch.Tensor:
    """One image (1, H, W) -> its shift grid (S * S, 1, H, W), dy-major, S = 2 M + 1."""
    return grid_images(x[None], max_shift=M)
