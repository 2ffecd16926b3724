"""``softfact report RUN_DIR``: evaluate a run, run every analysis, write figures and one page.

Written into the run folder (each file atomically): ``metrics.json`` (merged), one PNG per
figure, ``umap3d_pitch.html`` / ``umap3d_time.html`` (+ ``plotly.min.js``) and ``report.html``,
which embeds the PNGs and so opens on its own; on piano-roll runs also MIDI files in ``ops/``
(``softfact.report.ops``: the shift figure, latent operations, training triplets).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from softfact.analysis import analyse
from softfact.data.midi_write import WavRenderer
from softfact.data.triplets import sample_triplets
from softfact.evaluation import describe_bar
from softfact.plotting import (figure_png_bytes, plot_analogies, plot_cosine_cross, plot_kernel_pca,
                               plot_loss_curve, plot_svd_spectra, plot_triplets, plot_umap2d,
                               write_umap3d_html)
from softfact.plotting.io import write_file
from softfact.report import html as H
from softfact.report.ops import ops_report, place
from softfact.run import Run
from softfact.utils.progress import phase


def _figures(a, cfg, source, rows, *, seed: int, n_triplets: int) -> dict:
    """Draw every figure -> {name: PNG bytes}; the loss curve only when metrics were logged."""
    g = torch.Generator().manual_seed(seed + 2)
    batch = sample_triplets(source, n_triplets, max_shift=cfg.max_shift, generator=g,
                            wrap=cfg.wrap, schemes=cfg.scheme_list())
    origin = "upper" if cfg.data == "blobs" else "lower"  # piano rolls: high notes on top
    figs = {"triplets": plot_triplets(batch, n_rows=n_triplets, origin=origin)}
    if rows:
        figs["loss_curve"] = plot_loss_curve(rows)
    figs["cosine_cross"] = plot_cosine_cross(a.cross, a.cosines)
    figs["svd_spectra"] = plot_svd_spectra(a.svd)
    if a.analogies:
        figs["analogies"] = plot_analogies(a.analogies)
    figs["kernel_pca"] = plot_kernel_pca(a.kpca, dy=a.points_dy, dx=a.points_dx)
    if 2 in a.umap:
        figs["umap2d"] = plot_umap2d(a.umap[2], dy=a.points_dy, dx=a.points_dx)
    return {name: figure_png_bytes(fig) for name, fig in figs.items()}


def build_report(run: str | Path | Run, *, seed: int = 0, umap: bool = True,
                 n_probe: int | None = None, n_svd: int = 50, n_points_images: int = 200,
                 n_triplets: int = 8, kpca_max_exact: int = 6000,
                 kpca_landmarks: int = 1000,
                 soundfont: str | Path | WavRenderer | None = None, progress: bool = False) -> Path:
    """Evaluate ``run`` (a run folder or a loaded ``Run``) and write its report; returns the
    report.html path.

    Sizes default to the seed's (probe: the run's ``eval_blobs``; SVD grid 50 images; kernel
    PCA / UMAP 200 images x (2 max_shift + 1)^2 shifts, capped at 16,200 points stratified by
    shift: ``softfact.analysis.suite``); smaller values make quick reports.
    ``soundfont``: a .sf2/.sf3 file (or a ``WavRenderer``) to render the MIDI files as .wav too.
    ``progress``: a bar per phase.
    """
    t0 = time.perf_counter()
    renderer = (soundfont if isinstance(soundfont, WavRenderer)   # fails before any work
                else WavRenderer(soundfont) if soundfont else None)
    run = run if isinstance(run, Run) else Run.load(run)
    out, cfg, model = run.root, run.config, run.encoder
    ev = run.evaluate(n=n_probe, seed=seed, progress=progress)
    t_probe = time.perf_counter() - t0
    source = run.source("val")
    a = analyse(model, source, max_shift=cfg.max_shift, wrap=cfg.wrap, seed=seed,
                n_svd=n_svd, n_points_images=n_points_images, kpca_max_exact=kpca_max_exact,
                kpca_landmarks=kpca_landmarks, umap=umap, probe=(ev.metrics, ev.probe),
                grid=ev.grid, progress=progress)
    a.timings["probes"] = t_probe
    metrics = run.metrics()  # evaluate wrote them; the report adds none of its own

    t = time.perf_counter()
    rows = run.log()
    with phase("report: figures", enabled=progress):
        pngs = _figures(a, cfg, source, rows, seed=seed, n_triplets=n_triplets)
        shifts = ops_report(run, source, seed=seed, n_triplets=n_triplets, renderer=renderer)
    pngs.update(shifts.pngs)  # the seed's shift figure; latent operations and MIDI (ops/)
    for name, data in pngs.items():
        write_file(out / f"{name}.png", data)
    if cfg.wandb:  # --wandb: the figures and every metric go to the wandb project too
        from softfact.report.wandb_log import log_report
        log_report(cfg, out, {name: out / f"{name}.png" for name in pngs}, metrics)
    links = {}
    if 3 in a.umap:
        links = write_umap3d_html(a.umap[3], dy=a.points_dy, dx=a.points_dx, out_dir=out)
    a.timings["figures"] = time.perf_counter() - t
    a.timings["total"] = time.perf_counter() - t0

    facts = dict(step=run.step, data=cfg.data, encoder=cfg.encoder,
                 probe_images=n_probe or cfg.eval_blobs, svd_grid_images=min(n_svd, ev.grid.n_images),
                 grid_images=ev.grid.n_images, points=_points_note(a),
                 max_shift=cfg.max_shift, wrap=cfg.wrap,
                 kernel_pca=_kpca_note(len(a.points_dy), kpca_max_exact, kpca_landmarks))
    page = H.page(f"softfact report: {out.name}",
                  f"{H.esc(cfg.encoder)} encoder on {H.esc(cfg.data)}, step {run.step:,}",
                  place(_sections(cfg, metrics, a, pngs, links, facts), shifts))
    return write_file(run.files.report, page)


def _analogies_text(an: dict) -> str:
    text = (f"<p>Analogy top-1 over every shift of {an['pairs']} held-out image pairs: "
            f"<b>{an['top1']:.3f}</b> (chance {1 / len(an['shifts']) ** 2:.4f}).")
    intact = an["by_border"][0] if an["by_border"] else None
    if intact and intact["n"]:
        text += (f" Where neither shift pushes any content off the border "
                 f"({intact['share']:.1%} of the cases): <b>{intact['top1']:.3f}</b>. Content a "
                 "shift loses is the input's own, so no one vector per shift can carry it; the "
                 "two figures side by side say how much of the misses the border accounts for.")
    return text + "</p>"


def _points_note(a) -> str:
    n = len(a.points_dy)
    if n == a.points_total:
        return f"{n:,}"
    cells = len(set(zip(a.points_dy.tolist(), a.points_dx.tolist())))
    return f"{n:,} of {a.points_total:,} ({n // cells} per (dy, dx) cell, drawn at random)"


def _kpca_note(n: int, max_exact: int, landmarks: int) -> str:
    if n <= max_exact:
        return "exact (sklearn KernelPCA, RBF, gamma 1.0)"
    return f"Nystroem approximation, {min(landmarks, n):,} landmarks (RBF, gamma 1.0)"


def _sections(cfg, metrics, a, pngs, links, facts) -> list[tuple[str, str, str]]:
    fig = H.figure
    s = [("config", "Run configuration",
          H.dict_table(cfg.to_dict(), ("config key", "value"), per_row=3)
          + "<h3>Analysis settings</h3>" + H.dict_table(facts, ("setting", "value"), per_row=2))]
    body = (fig(pngs["loss_curve"], "Raw loss and its 50-step moving average (log-log), "
                "from <code>metrics.jsonl</code>.", "loss curve")
            if "loss_curve" in pngs else "<p>No per-step metrics were logged for this run.</p>")
    s.append(("training", "Training curve", body))
    s.append(("metrics", "Metrics beside the seed",
              "<p>Every number in <code>metrics.json</code> beside the seed notebook's "
              "published figures (5,000 steps, batch 1024) and the quality bar for this run's "
              f"data. {H.esc(describe_bar(cfg.data))}.</p>"
              + H.metrics_table(metrics, data=cfg.data)))
    s.append(("triplets", "Training triplets",
              fig(pngs["triplets"], "Anchor, crop 1 and crop 2 drawn from the run's own image "
                  "source; border colour = scheme, labels = Δ(dy, dx) of each crop.", "triplets")))
    ev = a.cross["evr"]
    s.append(("cosines", "Difference vectors: PCA cross and cosines",
              fig(pngs["cosine_cross"], f"Left: PCA of pitch and time difference vectors "
                  f"(explained variance {ev[0]:.3f}, {ev[1]:.3f}). Right: cross-type, same-sign "
                  "and opposite-sign cosines; dashed lines are the means.", "PCA cross")))
    s.append(("svd", "SVD of shift grids",
              f"<p>Mean share of the first singular value: <b>{a.svd['pitch_sv1_share']:.3f}</b> "
              f"as (pitch, time·latent), <b>{a.svd['time_sv1_share']:.3f}</b> as "
              "(time, pitch·latent); the seed reports 0.6–0.8 (near tensor-product "
              "structure).</p>" + fig(pngs["svd_spectra"], "Normalised singular values of "
                                      "every image's shift grid (thin) and their mean (red).",
                                      "SVD spectra")))
    if "analogies" in pngs:
        s.append(("analogies", "Latent arithmetic: where analogies hold",
                  _analogies_text(a.analogies)
                  + fig(pngs["analogies"], "Left: top-1 of the analogy z(B) + (z(T A) − z(A)) "
                        "→ z(T B) per shift T (the metrics' held-out pairs). Right: the same "
                        "cases grouped by how much of A's or B's content the zero-filled shift "
                        "pushes off the border.", "analogies")))
    s.append(("kpca", "RBF kernel PCA",
              fig(pngs["kernel_pca"], f"{facts['kernel_pca']}, {facts['points']} points; "
                  "top: kPC1-2, bottom: kPC3-4; coloured by dy (coolwarm) and dx (PiYG).",
                  "kernel PCA")))
    if "umap2d" in pngs:
        views = "".join(f'<li><a href="{H.esc(p.name)}">UMAP 3-D coloured by {H.esc(k)}</a></li>'
                        for k, p in links.items())
        s.append(("umap", "UMAP",
                  fig(pngs["umap2d"], "UMAP 2-D (n_neighbors 15, min_dist 0.1, random_state "
                      "42), coloured by dy and dx.", "UMAP 2-D")
                  + f"<p>Interactive 3-D views (open from the run folder):</p><ul>{views}</ul>"))
    else:
        s.append(("umap", "UMAP", "<p>Skipped (<code>--no-umap</code>).</p>"))
    s.append(("timings", "Analysis timings",
              H.dict_table({k: f"{v:.1f} s" for k, v in a.timings.items()}, ("step", "time"))))
    return s
