"""``--wandb``: the report's figures and metrics reach wandb (offline mode: no network)."""
import json

from softfact.config import TrainConfig
from softfact.report import build_report
from softfact.training import train


def test_report_logs_figures_and_metrics_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    cfg = TrainConfig(steps=4, batch_size=16, log_every=2, ckpt_every=4, eval_blobs=16,
                      metric_images=8, device="cpu", out_dir=str(out), wandb=True)
    train(cfg, progress=False)
    build_report(out, umap=False, n_probe=16, n_svd=3, n_points_images=4, n_triplets=2)
    # offline runs keep history and summary in their transaction log (protobuf records with
    # the keys and JSON values as plain bytes) and media files beside it
    logs = [p.read_bytes() for p in (out / "wandb").glob("offline-run-*/run-*.wandb")]
    report = next(log for log in logs if b"metrics/cross_abs_cos" in log)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("cross_abs_cos", "additivity_err", "analogy_top1", "analogy_mrr", "svd_sv1_share_pitch"):
        assert f"metrics/{key}".encode() in report and json.dumps(metrics[key]).encode() in report
    names = ("triplets", "cosine_cross", "svd_spectra", "kernel_pca", "loss_curve")
    for name in names:
        assert f"report/{name}".encode() in report
    pngs = list((out / "wandb").glob("offline-run-*/files/media/images/report/*.png"))
    # every figure the report wrote is logged, and only those
    assert {p.name.rsplit("_", 2)[0] for p in pngs} == {p.stem for p in out.glob("*.png")} >= set(names)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
