"""The decoder: round trip, its checkpoint (resume, refusal), and joint training in the loop."""
import pytest
import torch
from torch import nn

from softfact.cli import main as cli_main
from softfact.config import ConfigError, resolve
from softfact.data.blobs import make_blobs, translate
from softfact.models import ConvDecoder, build_decoder
from softfact.run import Run
from softfact.training import CheckpointError, load_checkpoint, train
from softfact.training import loop as loop_mod
from softfact.training.decoder import (DecoderConfig, load_decoder_checkpoint,
                                       save_decoder_checkpoint, train_decoder)
from softfact.training.runlog import read_metrics


def cfg_for(tmp_path, name="run", **kw):
    base = dict(steps=6, batch_size=16, log_every=1, ckpt_every=3, device="cpu",
                out_dir=str(tmp_path / name))
    base.update(kw)
    return resolve("seed", None, {k: str(v) for k, v in base.items()})


class FixedImages:
    """image_fn drawing from a few fixed images."""

    def __init__(self, images):
        self.images = images

    def __call__(self, n, generator):
        return self.images[torch.randint(0, len(self.images), (n,), generator=generator)]


def test_decoder_shapes_and_bad_input():
    assert ConvDecoder(latent_dim=8, image_size=16, width=8)(torch.zeros(3, 8)).shape == (3, 1, 16, 16)
    assert ConvDecoder(latent_dim=8, image_size=64, width=8)(torch.zeros(2, 8)).shape == (2, 1, 64, 64)
    assert ConvDecoder(latent_dim=8, image_size=24, width=8)(torch.zeros(2, 8)).shape == (2, 1, 24, 24)
    with pytest.raises(ValueError, match=r"got shape \(3, 5\)"):
        ConvDecoder(latent_dim=8, image_size=16)(torch.zeros(3, 5))


def test_decoder_round_trips_a_trivially_encodable_set():
    # four images, each encoded by its own one-hot code: the decoder alone must give them back
    torch.manual_seed(0)
    images = make_blobs(4, generator=torch.Generator().manual_seed(1))
    dec, z = ConvDecoder(latent_dim=4, image_size=16, width=16), torch.eye(4)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2)
    for _ in range(120):
        loss = nn.functional.binary_cross_entropy_with_logits(dec(z), images)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal((dec(z) > 0).float(), images)


def test_frozen_decoder_training_fits_shifted_images(tmp_path):
    # the encoder is the identity on pixels, so every shifted crop is encodable
    images = make_blobs(4, generator=torch.Generator().manual_seed(1))
    encoder = nn.Flatten()
    cfg = DecoderConfig(latent_dim=256, image_size=16, width=8, max_shift=1, steps=60,
                        batch_size=16, lr=2e-2)
    path = train_decoder(encoder, FixedImages(images), cfg, tmp_path / "decoder.pt", progress=False)
    state = load_decoder_checkpoint(path, expect={"latent_dim": 256})
    assert state["step"] == 60
    torch.manual_seed(cfg.seed)  # the same initial weights as the trained one
    dec = ConvDecoder(latent_dim=256, image_size=16, width=8)
    x = torch.cat([translate(images, dy, dx) for dy, dx in ((0, 0), (1, 0), (0, -1), (-1, 1))])
    with torch.no_grad():
        before = nn.functional.binary_cross_entropy_with_logits(dec(encoder(x)), x)
        dec.load_state_dict(state["decoder"])
        after = nn.functional.binary_cross_entropy_with_logits(dec(encoder(x)), x)
    assert after < 0.4 * before, (float(before), float(after))


def test_frozen_decoder_amp_draws_in_bf16_and_still_fits(tmp_path, monkeypatch):
    """--amp: the frozen encoder and the decoder's convolutions run under bf16 autocast, the loss
    in float32; the decoder still learns the shifted images, and the checkpoint records amp."""
    images = make_blobs(4, generator=torch.Generator().manual_seed(1))
    encoder = nn.Flatten()
    seen = set()
    real = ConvDecoder._draw

    def spy(self, z, size):
        out = real(self, z, size)
        seen.add(out.dtype)
        return out

    monkeypatch.setattr(ConvDecoder, "_draw", spy)
    kw = dict(latent_dim=256, image_size=16, width=8, max_shift=1, steps=60, batch_size=16, lr=2e-2)
    path = train_decoder(encoder, FixedImages(images), DecoderConfig(amp=True, **kw),
                         tmp_path / "decoder.pt", progress=False)
    assert seen == {torch.bfloat16}
    state = load_decoder_checkpoint(path)
    assert state["config"]["amp"] is True and state["step"] == 60
    torch.manual_seed(0)
    dec = ConvDecoder(latent_dim=256, image_size=16, width=8)
    x = torch.cat([translate(images, dy, dx) for dy, dx in ((0, 0), (1, 0), (0, -1), (-1, 1))])
    with torch.no_grad():
        before = nn.functional.binary_cross_entropy_with_logits(dec(encoder(x)).float(), x)
        dec.load_state_dict(state["decoder"])
        after = nn.functional.binary_cross_entropy_with_logits(dec(encoder(x)).float(), x)
    assert after < 0.4 * before, (float(before), float(after))
    seen.clear()
    train_decoder(encoder, FixedImages(images), DecoderConfig(**{**kw, "steps": 2}),
                  tmp_path / "f32.pt", progress=False)
    assert seen == {torch.float32}  # off by default


def test_frozen_decoder_amp_keeps_the_encoders_embedding_float32(tmp_path):
    """The precision rule of training holds for the frozen encoder too: under --amp its
    embedding layer writes float32, so the decoder learns the latent it will be given."""
    images = make_blobs(8, generator=torch.Generator().manual_seed(3))
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(256, 32), nn.GELU(), nn.Linear(32, 8))
    seen = []
    encoder[-1].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    cfg = DecoderConfig(latent_dim=8, image_size=16, width=8, steps=2, batch_size=4, amp=True)
    train_decoder(encoder, FixedImages(images), cfg, tmp_path / "d.pt", progress=False)
    assert seen and set(seen) == {torch.float32}


def test_decoder_resume_is_bit_exact(tmp_path):
    images = make_blobs(32, generator=torch.Generator().manual_seed(2))
    enc = nn.Sequential(nn.Flatten(), nn.Linear(256, 8))
    src = FixedImages(images)
    kw = dict(latent_dim=8, image_size=16, width=8, batch_size=8)
    train_decoder(enc, src, DecoderConfig(steps=8, **kw), tmp_path / "a.pt", progress=False)
    train_decoder(enc, src, DecoderConfig(steps=4, **kw), tmp_path / "b.pt", progress=False)
    train_decoder(enc, src, DecoderConfig(steps=8, **kw), tmp_path / "b.pt", resume=True, progress=False)
    a, b = load_decoder_checkpoint(tmp_path / "a.pt"), load_decoder_checkpoint(tmp_path / "b.pt")
    assert a["step"] == b["step"] == 8
    for k in a["decoder"]:
        assert torch.equal(a["decoder"][k], b["decoder"][k]), k
    with pytest.raises(CheckpointError, match="already exists; pass --resume"):
        train_decoder(enc, src, DecoderConfig(steps=8, **kw), tmp_path / "a.pt", progress=False)


def test_cli_trains_a_run_decoder_and_refuses_one_of_another_model(tmp_path, capsys):
    run_dir = train(cfg_for(tmp_path, steps=2, batch_size=8), progress=False)
    assert Run.load(run_dir).decoder is None
    assert cli_main(["decoder", str(run_dir), "--steps", "3", "--batch-size", "4", "--width", "8",
                     "--threads", "1", "--quiet"]) == 0
    dec = Run.load(run_dir).decoder
    assert isinstance(dec, ConvDecoder) and not dec.training
    assert dec(torch.zeros(1, 16)).shape == (1, 1, 16, 16)
    # a decoder checkpoint of another model (latent_dim 8, the run's is 16)
    other = ConvDecoder(latent_dim=8, image_size=16, width=8)
    save_decoder_checkpoint(run_dir / "decoder.pt", decoder=other,
                            optimizer=torch.optim.Adam(other.parameters()), step=1,
                            cfg=DecoderConfig(latent_dim=8, width=8), rng={})
    capsys.readouterr()
    assert cli_main(["decoder", str(run_dir), "--resume", "--steps", "4", "--width", "8", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("softfact: error: ")
    assert "of another model (latent_dim: checkpoint 8 vs requested 16" in err
    with pytest.raises(CheckpointError, match="latent_dim: checkpoint 8 vs requested 16"):
        Run.load(run_dir).decoder


def test_cli_resume_keeps_the_decoders_own_settings(tmp_path):
    """--resume without the flags continues the decoder as it was trained (margin, position
    weight, width), not with the defaults; a flag given on resume still wins."""
    run_dir = train(cfg_for(tmp_path, steps=2, batch_size=8), progress=False)
    assert cli_main(["decoder", str(run_dir), "--steps", "2", "--batch-size", "4", "--width", "8",
                     "--margin", "2", "--position-weight", "0.5", "--threads", "1", "--quiet"]) == 0
    assert cli_main(["decoder", str(run_dir), "--resume", "--steps", "3", "--lr", "0.001",
                     "--threads", "1", "--quiet"]) == 0
    state = load_decoder_checkpoint(run_dir / "decoder.pt")
    c = state["config"]
    assert (c["margin"], c["position_weight"], c["width"], c["batch_size"]) == (2, 0.5, 8, 4)
    assert (c["steps"], c["lr"], state["step"]) == (3, 0.001, 3)


def test_recon_weight_zero_leaves_the_loop_unchanged(tmp_path, monkeypatch):
    plain = train(cfg_for(tmp_path, "plain"), progress=False)

    def never(*a, **k):
        raise AssertionError("no decoder is built when recon_weight is 0")

    monkeypatch.setattr(loop_mod, "build_decoder", never)
    zero = train(cfg_for(tmp_path, "zero", recon_weight=0), progress=False)
    # the same losses as the seed's path with the option off, and no trace of a decoder
    assert [r["loss"] for r in read_metrics(plain)] == [r["loss"] for r in read_metrics(zero)]
    assert "recon" not in read_metrics(zero)[0] and "decoder" not in load_checkpoint(zero)


def test_compute_losses_adds_weighted_reconstruction():
    from softfact.data.triplets import sample_triplets
    from softfact.data.blobs import BlobSource
    cfg = resolve("seed", None, {"recon_weight": "0.5", "latent_dim": "8"})
    torch.manual_seed(0)
    enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg, width=8)
    batch = sample_triplets(BlobSource(), 8, max_shift=4, generator=torch.Generator().manual_seed(0))
    without = loop_mod.compute_losses(enc, batch, 0, cfg)
    with_dec = loop_mod.compute_losses(enc, batch, 0, cfg, decoder=dec)
    x = torch.cat([batch.anchor, batch.crop1, batch.crop2])
    bce = nn.functional.binary_cross_entropy_with_logits(dec(enc(x)), x)
    assert torch.allclose(with_dec["recon"], bce, atol=1e-6)
    assert torch.allclose(with_dec["loss"], without["loss"] + 0.5 * bce, atol=1e-6)


def test_recon_stride_decodes_every_kth_view_and_one_is_every_view():
    from softfact.data.triplets import sample_triplets
    from softfact.data.blobs import BlobSource
    batch = sample_triplets(BlobSource(), 8, max_shift=4, generator=torch.Generator().manual_seed(0))
    x = torch.cat([batch.anchor, batch.crop1, batch.crop2])
    outs = {}
    for k in (1, 3):
        cfg = resolve("seed", None, {"recon_weight": "0.5", "latent_dim": "8", "recon_stride": str(k)})
        torch.manual_seed(0)
        enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg, width=8)
        seen = []
        dec.register_forward_hook(lambda m, i, o: seen.append(len(i[0])))
        outs[k] = loop_mod.compute_losses(enc, batch, 0, cfg, decoder=dec)
        with torch.no_grad():
            bce = nn.functional.binary_cross_entropy_with_logits(dec(enc(x[::k])), x[::k])
        assert seen[0] == len(x[::k]) == (24 if k == 1 else 8)
        torch.testing.assert_close(outs[k]["recon"], bce, atol=1e-6, rtol=0)
    assert torch.equal(outs[1]["fact"], outs[3]["fact"]) and not torch.equal(outs[1]["recon"], outs[3]["recon"])
    # the operation queries are decoded in the same call, after the strided views
    from softfact.data.multicrop import sample_multicrop
    multi = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4, generator=torch.Generator().manual_seed(1),
                             antithetic=True)
    ops = []
    for k in (1, 2):
        cfg = resolve("rae", None, {"latent_dim": "8", "recon_stride": str(k), "op_weight": "1"})
        torch.manual_seed(0)
        enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg, width=8)
        ops.append(loop_mod.compute_losses(enc, multi, 0, cfg, decoder=dec)["op"])
    torch.testing.assert_close(ops[0], ops[1], atol=1e-6, rtol=0)
    with pytest.raises(ConfigError, match="'recon_stride' must be >= 1, got 0"):
        resolve("rae", None, {"recon_stride": "0"})


@pytest.mark.parametrize("amp", [False, True])
def test_amp_draws_the_joint_decoder_in_bf16_and_the_losses_in_float32(amp):
    from softfact.data.multicrop import sample_multicrop
    from softfact.data.blobs import BlobSource
    cfg = resolve("rae", None, {"decoder_margin": "2", "amp": str(amp), "latent_dim": "8"})
    torch.manual_seed(0)
    enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg, width=8)
    seen = []
    dec.blocks.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    batch = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4, generator=torch.Generator().manual_seed(0),
                             antithetic=True)
    out = loop_mod.compute_losses(enc, batch, 0, cfg, decoder=dec)
    assert seen == [torch.bfloat16 if amp else torch.float32]
    assert out["recon"].dtype == out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])


def test_joint_training_saves_and_restores_the_decoder(tmp_path):
    kw = dict(recon_weight=1.0, decoder_width=8)
    straight = train(cfg_for(tmp_path, "a", **kw), progress=False)
    train(cfg_for(tmp_path, "b", steps=3, **kw), progress=False)
    resumed = train(cfg_for(tmp_path, "b", **kw), resume=True, progress=False)
    sa, sb = load_checkpoint(straight), load_checkpoint(resumed)
    for k in sa["decoder"]:
        assert torch.equal(sa["decoder"][k], sb["decoder"][k]), k
    assert [r["recon"] for r in read_metrics(straight)] == [r["recon"] for r in read_metrics(resumed)]
    dec = Run.load(straight).decoder
    for k, v in dec.state_dict().items():
        assert torch.equal(v, sa["decoder"][k]), k
    # a checkpoint without a decoder cannot be resumed as a joint run
    train(cfg_for(tmp_path, "c", steps=3), progress=False)
    with pytest.raises(CheckpointError, match="holds no decoder"):
        train(cfg_for(tmp_path, "c", **kw), resume=True, progress=False)
    with pytest.raises(CheckpointError, match="holds a decoder; resume with recon_weight > 0"):
        train(cfg_for(tmp_path, "a", steps=8), resume=True, progress=False)


def test_run_command_adds_the_decoder_stage(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main(["run", "--steps", "2", "--batch-size", "8", "--device", "cpu", "--quiet",
                     "--no-report", "--eval-blobs", "16", "--metric-images", "4", "--decoder",
                     "--decoder-steps", "2", "--out-dir", str(out)]) == 0
    state = load_decoder_checkpoint(out / "decoder.pt", expect={"latent_dim": 16, "image_size": 16})
    assert state["step"] == 2 and state["config"]["encoder_step"] == 2
    assert state["config"]["amp"] is False
    assert (out / "metrics.json").exists()
    # --amp trains the run and its decoder stage under bf16 autocast
    assert cli_main(["run", "--steps", "2", "--batch-size", "8", "--device", "cpu", "--quiet",
                     "--no-report", "--eval-blobs", "16", "--metric-images", "4", "--decoder",
                     "--decoder-steps", "2", "--amp", "--out-dir", str(tmp_path / "amp")]) == 0
    assert load_decoder_checkpoint(tmp_path / "amp" / "decoder.pt")["config"]["amp"] is True


def test_op_weight_adds_the_operation_loss_to_the_joint_decoder():
    """op_weight x BCE(decode(z(anchor) + batch mean d of the crop's shift), crop), beside recon."""
    from softfact.data.multicrop import sample_multicrop
    from softfact.data.blobs import BlobSource
    from softfact.losses import operation_loss
    cfg = resolve("cpu", None, {"recon_weight": "1", "op_weight": "0.25", "latent_dim": "8"})
    torch.manual_seed(0)
    enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg, width=8)
    batch = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4, generator=torch.Generator().manual_seed(0),
                             antithetic=True)
    out = loop_mod.compute_losses(enc, batch, 0, cfg, decoder=dec)
    za = enc(batch.anchor)
    zc = enc(batch.crops.flatten(0, 1)).view(8, 6, -1)
    op = operation_loss(decode=dec, z_anchor=za, z_crops=zc, deltas=batch.deltas, crops=batch.crops)
    assert torch.allclose(out["op"], op, atol=1e-5)
    assert torch.allclose(out["loss"], out["fact"] + out["recon"] + 0.25 * out["op"], atol=1e-5)
    # off by default: no operation term in a joint run
    plain = loop_mod.compute_losses(enc, batch, 0, resolve("cpu", None, {"recon_weight": "1", "latent_dim": "8"}),
                                    decoder=dec)
    assert "op" not in plain


def test_op_weight_needs_the_joint_decoder():
    with pytest.raises(ConfigError, match="'op_weight' .* needs recon_weight > 0"):
        resolve("cpu", None, {"op_weight": "1"})


# -- the spatial latent (latent_map): the losses see the embedding, the decoder reads the map too --

SPATIAL = dict(encoder="conv", width=4, depth=2, latent_dim=8, latent_map=2, recon_weight=1.0,
               decoder_width=8)


def test_spatial_latent_feeds_the_decoder_and_leaves_the_losses_on_the_embedding():
    from softfact.data.multicrop import sample_multicrop
    from softfact.data.blobs import BlobSource
    from softfact.losses import factorization_loss, operation_loss, pairwise_factorization_loss
    cfg = resolve("cpu", None, {**{k: str(v) for k, v in SPATIAL.items()}, "op_weight": "1"})
    torch.manual_seed(0)
    enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg)
    assert dec.in_dim == 8 + 2 * 4 * 4
    batch = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4,
                             generator=torch.Generator().manual_seed(0), antithetic=True)
    out = loop_mod.compute_losses(loop_mod.decoder_input(enc), batch, 0, cfg, decoder=dec)
    za, zc = enc(batch.anchor), enc(batch.crops.flatten(0, 1)).view(8, 6, -1)
    fact = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=batch.deltas,
                                       valid=batch.distinct, cross_weight=cfg.cross_weight)
    assert torch.allclose(out["fact"], fact, atol=1e-5)
    la, lc = enc.latent(batch.anchor), enc.latent(batch.crops.flatten(0, 1)).view(8, 6, -1)
    recon = nn.functional.binary_cross_entropy_with_logits(
        dec(torch.cat([la, lc.transpose(0, 1).flatten(0, 1)])),
        torch.cat([batch.anchor, batch.crops.transpose(0, 1).flatten(0, 1)]))
    assert torch.allclose(out["recon"], recon, atol=1e-5)
    op = operation_loss(decode=dec, z_anchor=la, z_crops=lc, deltas=batch.deltas, crops=batch.crops)
    assert torch.allclose(out["op"], op, atol=1e-5)


def test_op_moves_embedding_moves_the_embedding_and_keeps_the_anchors_map():
    from softfact.data.multicrop import sample_multicrop
    from softfact.data.blobs import BlobSource
    from softfact.losses import operation_queries
    cfg = resolve("cpu", None, {**{k: str(v) for k, v in SPATIAL.items()}, "op_weight": "1",
                                "op_moves": "embedding"})
    torch.manual_seed(0)
    enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg)
    batch = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4,
                             generator=torch.Generator().manual_seed(0), antithetic=True)
    out = loop_mod.compute_losses(loop_mod.decoder_input(enc), batch, 0, cfg, decoder=dec)
    la, lc = enc.latent(batch.anchor), enc.latent(batch.crops.flatten(0, 1)).view(8, 6, -1)
    q = operation_queries(z_anchor=la[:, :8], z_crops=lc[:, :, :8], deltas=batch.deltas)
    q = torch.cat([q, la[:, 8:].repeat_interleave(6, 0)], 1)        # anchor-major, map kept
    op = nn.functional.binary_cross_entropy_with_logits(dec(q), batch.crops.flatten(0, 1))
    assert torch.allclose(out["op"], op, atol=1e-5)
    with pytest.raises(ConfigError, match="'op_moves' must be latent or embedding, got 'map'"):
        resolve("cpu", None, {"op_moves": "map"})


def test_spatial_run_trains_resumes_evaluates_and_refuses_another_map(tmp_path, capsys):
    kw = dict(SPATIAL, op_weight=1.0, eval_blobs=32, metric_images=4)
    straight = train(cfg_for(tmp_path, "a", **kw), progress=False)
    train(cfg_for(tmp_path, "b", steps=3, **kw), progress=False)
    resumed = train(cfg_for(tmp_path, "b", **kw), resume=True, progress=False)
    sa, sb = load_checkpoint(straight), load_checkpoint(resumed)
    for part in ("model", "decoder"):
        for k in sa[part]:
            assert torch.equal(sa[part][k], sb[part][k]), (part, k)
    assert any(k.startswith("to_map") for k in sa["model"])
    run = Run.load(straight)
    assert run.op_moves is None  # op_moves "latent" (the default): v moves the whole latent
    x = torch.rand(3, 1, 16, 16)
    assert run.encoder(x).shape == (3, 8) and run.latent_encoder(x).shape == (3, 8 + 32)
    assert run.decoder(run.latent_encoder(x)).shape == (3, 1, 16, 16)
    m = run.evaluate(n=32).metrics
    assert 0 <= m["recon_f1"] <= 1 and "op_f1_ceiling" in m and "cross_abs_cos" in m
    # the frozen-decoder stage reads the same latent
    assert cli_main(["decoder", str(straight), "--steps", "2", "--batch-size", "4", "--width", "8",
                     "--quiet"]) == 0
    state = load_decoder_checkpoint(straight / "decoder.pt", expect={"map_channels": 2})
    assert state["config"]["map_size"] == 4 and Run.load(straight).decoder.in_dim == 40
    # a checkpoint with another map is another model
    with pytest.raises(CheckpointError, match="latent_map: checkpoint 2 vs requested 3"):
        train(cfg_for(tmp_path, "a", **{**kw, "latent_map": 3, "steps": 8}), resume=True, progress=False)
    with pytest.raises(CheckpointError, match="map_channels: checkpoint 2 vs requested 3"):
        load_decoder_checkpoint(straight / "decoder.pt", expect={"map_channels": 3})
    # op_moves embedding: the evaluation's operations move the embedding, not the map
    emb = Run.load(train(cfg_for(tmp_path, "e", **{**kw, "op_moves": "embedding", "steps": 3}),
                         progress=False))
    assert emb.op_moves == 8
    emb.evaluate(n=32)
    v = emb.latent_operations.operations.vectors_
    assert v.shape[-1] == 40 and not v[..., 8:].any() and v[..., :8].any()


def test_spatial_run_with_a_translating_decoder_trains_evaluates_with_its_moves_and_freezes(tmp_path):
    """latent_map + decoder_margin (configs/pop909_rae.yaml's design): the joint loop trains
    q(map) beside p(embedding), resumes it, and the evaluation's operations are the decoder's
    moves of the embedding alone, which decode as zero-filled shifts of the reconstruction."""
    from softfact.seed_reference import shift_no_wrap
    kw = dict(SPATIAL, op_weight=1.0, op_moves="embedding", decoder_margin=3, eval_blobs=32,
              metric_images=4)
    straight = train(cfg_for(tmp_path, "a", **kw), progress=False)
    train(cfg_for(tmp_path, "b", steps=3, **kw), progress=False)
    resumed = train(cfg_for(tmp_path, "b", **kw), resume=True, progress=False)
    sa, sb = load_checkpoint(straight), load_checkpoint(resumed)
    assert any(k.startswith("map_position") for k in sa["decoder"])
    for k in sa["decoder"]:
        assert torch.equal(sa["decoder"][k], sb["decoder"][k]), k
    run = Run.load(straight)
    dec = run.decoder
    assert dec.map_position is not None and dec.canvas_size == 16
    assert sa["decoder"]["map_position.weight"].abs().sum() > 0          # q trained
    m = run.evaluate(n=32).metrics
    ops = run.latent_operations.operations
    assert ops.method_ == "decoder" and ops.vectors_.shape[-1] == 40 and not ops.vectors_[..., 8:].any()
    assert {"op_f1_fitted", "op_f1_ceiling_s4"} <= set(m)
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        z = run.latent_encoder(x)
        base = dec(z)
        moved = dec(ops.apply(z, 2, -1))
    inside = shift_no_wrap(shift_no_wrap(base, 2, 2), -1, 3)[..., 2:, :-1]
    torch.testing.assert_close(moved[..., 2:, :-1], inside, atol=2e-3, rtol=0)
    # the frozen stage trains the same kind of decoder on a spatial run
    assert cli_main(["decoder", str(straight), "--steps", "2", "--batch-size", "4", "--width", "8",
                     "--margin", "2", "--quiet"]) == 0
    assert Run.load(straight).decoder.map_position is not None


@pytest.mark.parametrize("spatial", [False, True])
def test_position_weight_adds_the_heads_position_loss_and_weight_zero_changes_nothing(spatial):
    from softfact.data.blobs import BlobSource
    from softfact.data.multicrop import sample_multicrop
    from softfact.losses import position_loss
    base = {k: str(v) for k, v in SPATIAL.items()} if spatial else {"latent_dim": "8", "decoder_width": "8"}
    cfg0 = resolve("rae", None, base)
    cfg = resolve("rae", None, {**base, "position_weight": "0.5"})
    torch.manual_seed(0)
    enc, dec = loop_mod.build_encoder(cfg), build_decoder(cfg)
    assert (dec.map_position is not None) == spatial
    batch = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4,
                             generator=torch.Generator().manual_seed(0), antithetic=True)
    net = loop_mod.decoder_input(enc)
    plain = loop_mod.compute_losses(net, batch, 0, cfg0, decoder=dec)
    out = loop_mod.compute_losses(net, batch, 0, cfg, decoder=dec)
    assert "position" not in plain
    z = net(torch.cat([batch.anchor, batch.crops.flatten(0, 1)]))
    za, zc = z[:8], z[8:].view(8, 6, -1)
    expect = position_loss(p_anchor=dec.position(za[:, :8]), p_crops=dec.position(zc[..., :8]),
                           deltas=batch.deltas, scale=4.0)
    if spatial:
        expect = expect + position_loss(p_anchor=dec.map_position(za[:, 8:]),
                                        p_crops=dec.map_position(zc[..., 8:]), deltas=batch.deltas, scale=4.0)
    torch.testing.assert_close(out["position"], expect, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["loss"], plain["loss"] + 0.5 * expect, atol=1e-5, rtol=1e-5)
    # gradients reach the encoder through the position term alone
    enc.zero_grad()
    out["position"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_spatial_latent_needs_the_conv_encoder_and_the_joint_decoder():
    with pytest.raises(ConfigError, match="'latent_map' .* needs encoder: conv \\(got 'toy'\\)"):
        resolve("cpu", None, {"latent_map": "4", "recon_weight": "1"})
    with pytest.raises(ConfigError, match="recon_weight > 0 \\(got 0.0\\)"):
        resolve("cpu", None, {"latent_map": "4", "encoder": "conv"})
    with pytest.raises(ConfigError, match="'latent_map' \\(-1\\) must be >= 0"):
        resolve("cpu", None, {"latent_map": "-1"})


def test_decoder_checkpoints_from_before_the_spatial_latent_still_load(tmp_path):
    dec = ConvDecoder(latent_dim=8, image_size=16, width=8)
    cfg = DecoderConfig(latent_dim=8, width=8)
    save_decoder_checkpoint(tmp_path / "d.pt", decoder=dec, optimizer=torch.optim.Adam(dec.parameters()),
                            step=1, cfg=cfg, rng={})
    state = torch.load(tmp_path / "d.pt", weights_only=True)
    for k in ("map_channels", "map_size", "margin"):
        del state["config"][k]
    torch.save(state, tmp_path / "d.pt")
    state = load_decoder_checkpoint(tmp_path / "d.pt", expect={"latent_dim": 8, "map_channels": 0})
    from softfact.training.decoder import decoder_from_state
    assert decoder_from_state(state).in_dim == 8


def test_translating_decoders_frozen_and_joint_save_load_and_refuse_another_margin(tmp_path, capsys):
    run_dir = train(cfg_for(tmp_path, steps=2, batch_size=8), progress=False)
    assert cli_main(["decoder", str(run_dir), "--steps", "2", "--batch-size", "4", "--width", "8",
                     "--margin", "3", "--threads", "1", "--quiet"]) == 0
    dec = Run.load(run_dir).decoder
    assert dec.margin == 3 and dec.position is not None and dec(torch.zeros(1, 16)).shape == (1, 1, 16, 16)
    capsys.readouterr()
    assert cli_main(["decoder", str(run_dir), "--resume", "--steps", "3", "--margin", "0",
                     "--quiet"]) == 2  # another margin asked for on resume
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "margin: checkpoint 3 vs requested 0" in err
    assert cli_main(["decoder", str(run_dir), "--margin", "-1", "--quiet"]) == 2
    assert "--margin must be >= 0" in capsys.readouterr().err
    # joint: the loop builds it from decoder_margin, saves it and resumes it
    joint = train(cfg_for(tmp_path, "joint", steps=4, recon_weight=1, op_weight=1, decoder_margin=2,
                          decoder_width=8, eval_blobs=32, metric_images=4), progress=False)
    dec = Run.load(joint).decoder
    assert dec.margin == 2 and dec.canvas_size == 20
    assert "position.weight" in load_checkpoint(joint / "checkpoint.pt")["decoder"]
    cfg = cfg_for(tmp_path, "joint", steps=6, recon_weight=1, op_weight=1, decoder_margin=2,
                  decoder_width=8, eval_blobs=32, metric_images=4)
    assert read_metrics(train(cfg, resume=True, progress=False))[-1]["step"] == 6
    # evaluated with the decoder's own moves, the encoder's mean differences beside them
    run = Run.load(joint)
    m = run.evaluate(n=32).metrics
    assert run.latent_operations.operations.method_ == "decoder"
    for k in ("op_f1", "op_f1_s4", "op_f1_pitch", "op_latent_err"):
        assert k in m and k.replace("op_f1", "op_f1_fitted").replace("err", "err_fitted") in m, k
    assert m["op_f1"] != m["op_f1_fitted"] and "op_f1_fitted_ceiling" not in m


def _dots(n=12, size=16):
    """Single-pixel images inside the border, so a shift of up to 2 keeps the dot."""
    x = torch.zeros(n, 1, size, size)
    g = torch.Generator().manual_seed(3)
    for i, (r, c) in enumerate(torch.randint(4, size - 4, (n, 2), generator=g).tolist()):
        x[i, 0, r, c] = 1
    return x


def _position_error(decoder, encoder, images):
    """Mean |p(shift(x)) - p(x) - s| over the images and a few shifts, in pixels."""
    errs = []
    with torch.no_grad():
        p0 = decoder.positions(encoder(images))[0]
        for s in ((2, 0), (0, -1), (-1, 2)):
            p1 = decoder.positions(encoder(translate(images, *s)))[0]
            errs.append((p1 - p0 - torch.tensor(s, dtype=torch.float32)).abs().mean())
    return float(torch.stack(errs).mean())


class CoordinateEncoder(nn.Module):
    """A frozen encoder whose embedding holds the dot's row and column, then its pixels."""

    def forward(self, x):
        rows = torch.arange(x.shape[-2], dtype=x.dtype)[:, None]
        cols = torch.arange(x.shape[-1], dtype=x.dtype)[None, :]
        where = torch.stack([(x[:, 0] * rows).sum((1, 2)), (x[:, 0] * cols).sum((1, 2))], 1)
        return torch.cat([where, x.flatten(1)], 1)


def test_frozen_translating_decoder_position_weight_teaches_p_the_encoders_shifts(tmp_path):
    """position_weight on a frozen encoder: p(crop) - p(anchor) comes to read the crop's shift,
    so the encoder's own differences move the drawing; weight 0 leaves p to reconstruction."""
    images, encoder = _dots(), CoordinateEncoder()
    errors = {}
    for w in (0.0, 1.0):
        cfg = DecoderConfig(latent_dim=258, image_size=16, width=8, margin=2, max_shift=2, steps=80,
                            batch_size=16, lr=5e-2, position_weight=w)
        path = train_decoder(encoder, FixedImages(images), cfg, tmp_path / f"w{w}.pt", progress=False)
        state = load_decoder_checkpoint(path)
        assert state["config"]["position_weight"] == w
        dec = ConvDecoder(latent_dim=258, image_size=16, width=8, margin=2)
        dec.load_state_dict(state["decoder"])
        errors[w] = _position_error(dec, encoder, images)
    assert errors[1.0] < 0.25 * errors[0.0] and errors[1.0] < 0.3, errors


def test_cli_position_weight_needs_a_translating_decoder(tmp_path, capsys):
    run_dir = train(cfg_for(tmp_path, steps=2, batch_size=8), progress=False)
    assert cli_main(["decoder", str(run_dir), "--position-weight", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--position-weight needs a translating decoder" in err
    assert cli_main(["decoder", str(run_dir), "--margin", "2", "--position-weight", "-1", "--quiet"]) == 2
    assert "--position-weight must be >= 0" in capsys.readouterr().err
    assert not (run_dir / "decoder.pt").exists()
    assert cli_main(["decoder", str(run_dir), "--steps", "2", "--batch-size", "4", "--width", "8",
                     "--margin", "2", "--position-weight", "0.5", "--threads", "1", "--quiet"]) == 0
    assert load_decoder_checkpoint(run_dir / "decoder.pt")["config"]["position_weight"] == 0.5
