"""One batch type: K shifted crops of each anchor. The seed's triplet is the K = 2 case."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from softfact.utils.geometry import shift_cosine


@dataclass
class CropBatch:
    """B anchors with K shifted crops each; shifts are (dy, dx) in pixels, dy along rows (pitch).

    ``sample_triplets`` (the seed's sampler) gives K = 2 with the seed's ``scheme`` per row;
    ``sample_multicrop`` gives K >= 2 with ``distinct`` (which crops differ). For K = 2,
    ``crop1``, ``crop2``, ``delta1``, ``delta2`` and ``target`` name the seed's fields.
    """
    anchor: torch.Tensor                   # (B, C, H, W)
    crops: torch.Tensor                    # (B, K, C, H, W)
    deltas: torch.Tensor                   # (B, K, 2) long, [dy, dx] of each crop
    distinct: torch.Tensor | None = None   # (B, K, K) bool: crops i and j differ
    scheme: torch.Tensor | None = None     # (B,) long, the seed's scheme (triplets only)
    redraws: int = 0                       # triplets drawn and rejected (crop1 == crop2)

    @classmethod
    def triplet(cls, anchor, crop1, crop2, scheme, delta1, delta2, *, redraws: int = 0) -> "CropBatch":
        """The seed's triplet (anchor, crop1, crop2) as a K = 2 batch."""
        return cls(anchor, torch.stack([crop1, crop2], 1), torch.stack([delta1, delta2], 1),
                   scheme=scheme, redraws=redraws)

    def __len__(self) -> int:
        return self.anchor.shape[0]

    @property
    def k(self) -> int:
        return self.crops.shape[1]

    crop1 = property(lambda self: self.crops[:, 0])
    crop2 = property(lambda self: self.crops[:, 1])
    delta1 = property(lambda self: self.deltas[:, 0])
    delta2 = property(lambda self: self.deltas[:, 1])

    @property
    def target(self) -> torch.Tensor:
        """(B,) the seed's loss target for crops 1 and 2: the cosine of their shifts."""
        return shift_cosine(self.delta1, self.delta2)

    def to(self, device) -> "CropBatch":
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return CropBatch(**{k: v.to(device) if torch.is_tensor(v) else v for k, v in kw.items()})
