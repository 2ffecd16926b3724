import json
import re

import pytest

from softfact.config import TrainConfig
from softfact.evaluation import SEED_FIGURES
from softfact.report import build_report
from softfact.training import train

SECTIONS = ("config", "training", "metrics", "shifts", "triplets", "cosines", "svd", "analogies",
            "kpca", "umap", "timings")
FIGURES = ("triplets", "loss_curve", "cosine_cross", "svd_spectra", "analogies", "kernel_pca",
           "umap2d", "shift_examples")
SMALL = dict(n_probe=40, n_svd=3, n_points_images=4, n_triplets=4)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(steps=20, batch_size=64, log_every=5, ckpt_every=20, eval_blobs=40,
                      device="cpu", out_dir=str(out))
    return train(cfg, progress=False)


@pytest.fixture(scope="module")
def report(run_dir):
    # a metric another tool added earlier must survive and appear in the table
    (run_dir / "metrics.json").write_text(json.dumps({"extra_score": 0.4242, "nested": {"r2": 0.5}}))
    return build_report(run_dir, **SMALL)


def test_report_has_every_section_and_figure(run_dir, report):
    assert report == run_dir / "report.html"
    page = report.read_text()
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page, anchor
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    for name in FIGURES:
        assert (run_dir / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("pitch", "time"):
        assert f'href="umap3d_{name}.html"' in page
        assert (run_dir / f"umap3d_{name}.html").exists()
    assert (run_dir / "plotly.min.js").exists()
    assert '<section id="ops">' not in page and not (run_dir / "ops").exists()  # no decoder
    assert not list(run_dir.glob(".*.tmp"))


def test_analogy_section_states_the_metrics_figure_and_the_intact_cases(run_dir, report):
    """The section's overall top-1 is metrics.json's analogy_top1 (the same grid and pairs)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    section = report.read_text().split('<section id="analogies">')[1].split("</section>")[0]
    assert f"<b>{metrics['analogy_top1']:.3f}</b>" in section
    assert "pushes any content off the border" in section


def test_metrics_table_shows_every_numeric_key_beside_the_seed(run_dir, report):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["extra_score"] == 0.4242 and "svd_sv1_share_pitch" in metrics
    assert "cross_abs_cos" in metrics and metrics["step"] == 20
    page = report.read_text()
    table = page.split('<section id="metrics">')[1].split("</section>")[0]
    shown = re.findall(r"<tr><td><code>([^<]+)</code>", table)
    numeric = [k for k, v in metrics.items() if isinstance(v, (int, float))]
    assert set(numeric) | {"nested.r2"} == set(shown)
    row = table.split("<code>cross_abs_cos</code>")[1].split("</tr>")[0]
    assert f"{SEED_FIGURES['cross_abs_cos']:.4f}" in row and ("ok" in row or "miss" in row)


def test_config_and_svd_shares_are_reported(run_dir, report):
    page = report.read_text()
    assert "<code>batch_size</code></td><td>64</td>" in page
    assert "Mean share of the first singular value" in page


def test_report_without_umap(run_dir, report):
    page = build_report(run_dir, umap=False, **SMALL).read_text()
    assert "Skipped (<code>--no-umap</code>)" in page
    assert page.count('src="data:image/png;base64,') == len(FIGURES) - 1


def test_metrics_table_grades_piano_roll_runs_by_the_midi_bar():
    from softfact.report.html import metrics_table
    m = {"cross_abs_cos": 0.14, "same_sign_cos": 0.95, "opposite_sign_cos": -0.85,
         "angle_pitch_deg": 142.5}
    toy, midi = metrics_table(m), metrics_table(m, data="midi")
    assert 'class="miss"' in toy and "toy quality bar" in toy
    assert 'class="miss"' not in midi and midi.count('class="ok"') == 3
    assert "MIDI quality bar" in midi and "toy seed (reference)" in midi
    angle = midi.split("<code>angle_pitch_deg</code>")[1].split("</tr>")[0]
    assert "ok" not in angle and "miss" not in angle  # no angle bar on MIDI
