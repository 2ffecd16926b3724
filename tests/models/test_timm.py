"""``--encoder timm:NAME``: any timm backbone, one input channel, the run's size, no download."""
import pytest
import torch

from softfact.cli import main
from softfact.config import ConfigError, TrainConfig, apply, resolve
from softfact.losses import factorization_loss
from softfact.models import build_encoder, embedding_layer
from softfact.models.timm import TimmEncoder

# timm's smallest registered models (test_*: a few hundred thousand parameters), random weights


@pytest.mark.parametrize("name, n_tokens", [("test_vit", 4), ("test_convnext", 1), ("test_resnet", 1)])
def test_pooled_and_token_outputs(name, n_tokens):
    cfg = apply(TrainConfig(), {"encoder": f"timm:{name}", "latent_dim": 12, "image_size": 32}).validate()
    enc = build_encoder(cfg).eval()
    assert isinstance(enc, TimmEncoder)
    assert enc.model.pretrained_cfg is not None and not getattr(enc.model, "_loaded_pretrained", False)
    x = torch.randn(3, 1, 32, 32)
    z = enc(x)
    assert z.shape == (3, 12)
    tokens = enc.forward_tokens(x)
    assert tokens.shape == (3, n_tokens, 12)  # 32 x 32: 2 x 2 patches of 16; a 1 x 1 map at stride 32
    # the head that writes the embedding is the one the precision rule keeps in float32
    assert embedding_layer(enc) is enc.embedding_layer and enc.embedding_layer.out_features == 12
    # token output feeds the token-level loss and trains the backbone
    tok = TimmEncoder(name, latent_dim=12, image_size=32, output="tokens")
    za, z1, z2 = (tok(torch.randn(2, 1, 32, 32)) for _ in range(3))
    factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=torch.tensor([1.0, 0.0]),
                       mask=torch.ones(za.shape[:2], dtype=torch.bool)).backward()
    stem = next(tok.model.parameters())          # the first layer (patch embedding / stem)
    assert stem.grad is not None and stem.grad.abs().sum() > 0


def test_vit_takes_the_run_image_size():
    enc = TimmEncoder("test_vit", latent_dim=4, image_size=48)
    assert tuple(enc.model.patch_embed.img_size) == (48, 48)
    assert enc.model.patch_embed.proj.in_channels == 1
    vit_tokens = enc.forward_tokens(torch.randn(1, 1, 48, 48))
    assert vit_tokens.shape[1] == enc.model.patch_embed.num_patches  # no class token


def test_config_and_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="needs a model name"):
        resolve(overrides={"encoder": "timm:"})
    with pytest.raises(ConfigError, match="must be one of"):
        resolve(overrides={"encoder": "vit"})
    with pytest.raises(ConfigError, match="timm has no model 'no_such_net'"):
        build_encoder(resolve(overrides={"encoder": "timm:no_such_net"}))
    assert main(["train", "--quiet", "--encoder=timm:no_such_net", f"--out-dir={tmp_path / 'r'}"]) == 2
    assert "timm has no model 'no_such_net'" in capsys.readouterr().err


def test_trains_saves_and_reloads(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--encoder=timm:test_vit", "--image-size=32", "--steps=2",
                 "--batch-size=4", "--metric-images=8", "--eval-blobs=8", "--device=cpu",
                 f"--out-dir={out}"]) == 0
    from softfact import Run
    run = Run.load(out)
    assert isinstance(run.encoder, TimmEncoder) and run.config.encoder == "timm:test_vit"
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert run.encoder(x).shape == (2, 16)
