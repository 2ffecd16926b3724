"""Any timm backbone as the encoder: ``--encoder timm:NAME`` (ViT, Swin, ConvNeXt, ResNet ...).

The model is made by ``timm.create_model(NAME, pretrained=False, in_chans=1,
num_classes=latent_dim)`` and, where the architecture takes one (ViT, Swin, ...), the run's
``img_size``: nothing is downloaded, one input channel (a piano roll), and timm's own pooling and
classifier head give the (B, latent_dim) embedding. ``output="tokens"`` returns one embedding per
token instead, (B, N, latent_dim), the same head applied to every token of
``forward_features`` (ViT: patch tokens without the class token; conv nets and Swin: every cell
of the last feature map), for ``factorization_loss(..., mask=...)``.

timm is an optional extra (``pip install 'softfact[timm]'``); softfact imports it only here.
"""
from __future__ import annotations

import torch
from torch import nn

from softfact.config import ConfigError
from softfact.utils.vision import ensure_torchvision_imports


def import_timm():
    """``import timm``, or a ConfigError saying how to install it."""
    ensure_torchvision_imports()
    try:
        import timm
    except ImportError:
        raise ConfigError("encoder 'timm:NAME' needs timm: pip install 'softfact[timm]'") from None
    return timm


def _classifier_linear(model: nn.Module) -> nn.Linear:
    head = model.get_classifier()
    if isinstance(head, nn.Linear):
        return head
    fc = getattr(head, "fc", None)
    if isinstance(fc, nn.Linear):
        return fc
    raise ConfigError(f"timm model {type(model).__name__} has no linear classifier to project "
                      f"tokens with (its head is {type(head).__name__})")


class TimmEncoder(nn.Module):
    """(B, 1, H, W) -> (B, latent_dim) (``output="pooled"``) or (B, N, latent_dim) (``"tokens"``).

    >>> enc = TimmEncoder("test_vit", latent_dim=8, image_size=32)   # timm's smallest ViT
    >>> enc(torch.zeros(2, 1, 32, 32)).shape, enc.forward_tokens(torch.zeros(2, 1, 32, 32)).shape
    (torch.Size([2, 8]), torch.Size([2, 4, 8]))
    """

    def __init__(self, name: str, *, latent_dim: int = 16, image_size: int = 64,
                 output: str = "pooled", in_chans: int = 1):
        super().__init__()
        if output not in ("pooled", "tokens"):
            raise ValueError(f"output must be 'pooled' or 'tokens', got {output!r}")
        timm = import_timm()
        if not timm.is_model(name):
            hint = timm.list_models(f"*{name.split('_')[0]}*")[:5]
            raise ConfigError(f"config key 'encoder': timm has no model {name!r}"
                              + (f" (e.g. {', '.join(hint)})" if hint else ""))
        kw = dict(pretrained=False, in_chans=in_chans, num_classes=latent_dim)
        try:  # ViT, Swin, ... take the input size; conv nets take any size and no such argument
            self.model = timm.create_model(name, img_size=image_size, **kw)
        except TypeError as e:
            if "img_size" not in str(e):
                raise
            self.model = timm.create_model(name, **kw)
        self.name, self.output = name, output
        # the head writes the embedding: the precision rule keeps it in float32 under autocast
        self.embedding_layer = _classifier_linear(self.model)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, latent_dim): the head on every token of the last features."""
        f = self.model.forward_features(x)
        if f.dim() == 4:                       # conv nets: (B, C, h, w); Swin: (B, h, w, C)
            nhwc = str(getattr(self.model, "output_fmt", "NCHW")).endswith("NHWC")
            f = f.flatten(1, 2) if nhwc else f.flatten(2).transpose(1, 2)
        elif f.dim() == 3:                     # ViT-like: (B, prefix + N, C)
            f = f[:, getattr(self.model, "num_prefix_tokens", 0):]
        else:
            raise ValueError(f"timm model {self.name} gave features of shape {tuple(f.shape)}")
        return self.embedding_layer(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(x) if self.output == "tokens" else self.model(x)
