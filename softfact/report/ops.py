"""Report parts about shifts: the seed's shift figure, "Latent operations" and MIDI files.

- "Zero-filled shifts": the seed notebook's first figure (one image, dy and dx = -4, -2, +2,
  +4); on piano-roll runs one validation crop transposed and delayed the same way.
- "Latent operations" (only when the run has a decoder, ``run.decoder``): a few validation
  crops with their true shifts and the decoded latent shifts decode(z(x) + v(dy, dx)), and a
  table of the operation metrics per shift size.
- On piano-roll runs, and on toy runs with a decoder (a blob read as a small piano roll),
  every example is also written as a .mid file into the run's ``ops/`` folder (and as .wav
  with a user's SoundFont), linked from the page; so are the training triplets the report draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from softfact.data.blobs import translate
from softfact.data.midi_write import WavRenderer, roll_to_score
from softfact.data.triplets import sample_triplets
from softfact.ops import (default_example_shifts, default_method, evaluate_operations,
                          operation_examples)
from softfact.plotting import (figure_png_bytes, plot_latent_operations, plot_operation_f1,
                               plot_shift_examples)
from softfact.plotting.io import write_file
from softfact.report import html as H

SEED_SHIFTS = (-4, -2, 2, 4)   # the seed notebook's first figure


@dataclass
class OpsReport:
    """What the report adds: figures, sections and the links of the triplets' MIDI files."""
    pngs: dict = field(default_factory=dict)
    before_triplets: list = field(default_factory=list)   # (anchor, title, body)
    before_timings: list = field(default_factory=list)
    triplet_links: str = ""
    files: list = field(default_factory=list)             # every file written under ops/


def crops_with_pitch(source, n: int, generator: torch.Generator):
    """``n`` images and, for piano-roll crops, each crop's lowest MIDI pitch (else None)."""
    if hasattr(source, "draw_windows") and hasattr(source, "window"):
        t0, p0 = source.draw_windows(n, generator)
        return source.window(t0, p0).cpu(), p0.cpu().numpy().astype(np.int64)
    return source(n, generator).cpu(), None


def nominal_lowest_pitch(size: int) -> int:
    """A register for crops whose pitch is not known (the training triplets): centred."""
    return max(0, (128 - size) // 2)


class MidiFiles:
    """Writes rolls as .mid (and .wav with a SoundFont) under the run's ``ops/`` folder."""

    def __init__(self, run, renderer: WavRenderer | None):
        self.dir = run.files.ops
        self.spq = int(run.config.steps_per_quarter)
        self.renderer = renderer
        self.written: list = []

    def write(self, name: str, roll, lowest_pitch: int) -> str:
        """Write ``name``.mid (+ .wav); returns the page's links to them."""
        score = roll_to_score(roll, steps_per_quarter=self.spq, lowest_pitch=int(lowest_pitch))
        mid = self.dir / f"{name}.mid"
        write_file(mid, score.dumps_midi())
        self.written.append(mid)
        links = f'<a href="{H.esc(mid.parent.name)}/{H.esc(mid.name)}">mid</a>'
        if self.renderer is not None:
            wav = self.renderer.render(score, self.dir / f"{name}.wav")
            self.written.append(wav)
            links += f' <a href="{H.esc(wav.parent.name)}/{H.esc(wav.name)}">wav</a>'
        return links


def _seed_shifts(source, seed: int, piano_roll: bool, midi: MidiFiles | None):
    g = torch.Generator().manual_seed(seed + 3)
    x, low = crops_with_pitch(source, 1, g)
    rows = {"dy": [], "dx": []}
    for s in SEED_SHIFTS:
        rows["dy"].append((s, translate(x, s, 0)[0, 0].numpy()))
        rows["dx"].append((s, translate(x, 0, s)[0, 0].numpy()))
    lowest = None if low is None else int(low[0])
    fig = plot_shift_examples(x[0, 0].numpy(), rows["dy"], rows["dx"], piano_roll=piano_roll,
                              lowest_pitch=lowest)
    links = ""
    if midi is not None:
        p = lowest if lowest is not None else nominal_lowest_pitch(x.shape[-1])
        items = [("original", midi.write("shifts_original", x[0, 0], p))]
        for var, name in (("dy", "transposed"), ("dx", "delayed")):
            items += [(f"{name} {var}={s:+d}", midi.write(f"shifts_{var}{s:+d}", img, p))
                      for s, img in rows[var]]
        links = ("<p>As MIDI (files in <code>ops/</code>): "
                 + " &middot; ".join(f"{H.esc(k)} {v}" for k, v in items) + "</p>")
    return figure_png_bytes(fig), links


def _ops_table(metrics: dict, max_shift: int) -> str:
    fitted = "op_f1_fitted" in metrics  # a translating decoder: the encoder's mean differences too
    head = ("<tr><th>shifts</th><th>op_f1</th><th>ceiling</th><th>baseline</th>"
            "<th>op / ceiling</th>" + ("<th>op_f1, v fitted</th><th>fitted / ceiling</th>"
                                       if fitted else "") + "</tr>")
    rows = [("all", ""), ("pitch only", "_pitch"), ("time only", "_time")]
    rows += [(f"size {k}", f"_s{k}") for k in range(1, max_shift + 1)]
    body = []
    for label, suffix in rows:
        op, ceil, base = (metrics.get(f"op_f1{kind}{suffix}")
                          for kind in ("", "_ceiling", "_baseline"))
        if op is None:
            continue
        ratio = op / ceil if ceil else float("nan")
        cells = [op, ceil, base, ratio]
        if fitted:
            fit = metrics.get(f"op_f1_fitted{suffix}", float("nan"))
            cells += [fit, fit / ceil if ceil else float("nan")]
        body.append(f"<tr><td>{H.esc(label)}</td>" + "".join(
            f"<td class=num>{H.fmt(v)}</td>" for v in cells) + "</tr>")
    return "<table>" + head + "".join(body) + "</table>"


def _latent_operations(run, decoder, source, *, seed: int, piano_roll: bool,
                       midi: MidiFiles | None, n_examples: int):
    cfg = run.config
    result = getattr(run, "latent_operations", None)
    if result is None:  # a Run whose evaluate() did not see the decoder
        result = evaluate_operations(run.latent_encoder, decoder, run.source("train"), source,
                                     max_shift=cfg.max_shift, wrap=cfg.wrap, seed=seed,
                                     moves=run.op_moves, method=default_method(decoder))
    images, low = crops_with_pitch(source, n_examples, torch.Generator().manual_seed(seed + 4))
    shifts = default_example_shifts(cfg.max_shift)
    ex = operation_examples(run.latent_encoder, decoder, result.operations, images, shifts=shifts,
                            threshold=result.threshold, wrap=cfg.wrap, lowest_pitch=low)
    png = figure_png_bytes(plot_latent_operations(ex, piano_roll=piano_roll))
    m = result.metrics
    ops = result.operations
    how = {"mean": "the mean difference z(shift(x)) - z(x) per shift",
           "linear": "dy a + dx b, a linear map fitted to every difference",
           "decoder": "the translating decoder's own move: z shifted by (dy, dx) pixels along "
                      "the directions its position head reads (the encoder's mean differences "
                      "are scored beside it as <i>v fitted</i>)"}.get(
        getattr(ops, "method_", ""), H.esc(type(ops).__name__))
    if hasattr(ops, "scores_"):
        how += (" (chosen by <code>method=\"auto\"</code>; held-out latent errors " + ", ".join(
            f"{k} {v:.3f}" for k, v in ops.scores_.items()) + ")")
    source = ("read from the decoder" if getattr(ops, "method_", "") == "decoder"
              else f"fitted on {getattr(ops, 'n_images_', '?')} training images")
    err = f"<b>{m['op_latent_err']:.3f}</b>"
    if "op_latent_err_fitted" in m:
        err += (f" (how far the encoder's own differences are from the decoder's moves; "
                f"{m['op_latent_err_fitted']:.3f} with v fitted)")
    body = (f"<p>v(dy, dx) = {how}, {source}; decoded pixels are on "
            f"above the threshold {m['recon_threshold']:.3g} that maximises F1 on training "
            f"reconstructions. Reconstruction F1 <b>{m['recon_f1']:.3f}</b>; latent error "
            f"||z+v-z(shift)|| / ||z(shift)-z|| {err}.</p>"
            "<p>F1 of the decoded latent shift against the true shift (op_f1), of the decoded "
            "true shift (ceiling) and of the unshifted reconstruction (baseline), pooled over "
            "validation images per shift and averaged over shifts; size = max(|dy|, |dx|):</p>"
            + _ops_table(m, cfg.max_shift))
    f1_png = None
    if getattr(result, "f1", None):
        f1_png = figure_png_bytes(plot_operation_f1(result.f1, piano_roll=piano_roll))
        body += H.figure(f1_png, "F1 per shift (dy up, dx to the right), pooled over the "
                         "validation images: where the latent operation holds and where it "
                         "breaks down, beside its ceiling and the do-nothing baseline.",
                         "F1 per shift")
    body += H.figure(png, "Validation examples: top rows the original and its true "
                     "(zero-filled) shifts, bottom rows the reconstruction and the decoded "
                     "latent shifts. Shifts are "
                     + ", ".join(f"({dy:+d}, {dx:+d})" for dy, dx in shifts) + ".",
                     "latent operations")
    if midi is not None:
        rows = []
        for i in range(len(ex.original)):
            p = int(low[i]) if low is not None else nominal_lowest_pitch(images.shape[-1])
            cells = [midi.write(f"op{i + 1}_original", ex.original[i], p),
                     midi.write(f"op{i + 1}_recon", ex.recon[i], p)]
            for j, (dy, dx) in enumerate(shifts):
                tag = f"dy{dy:+d}_dx{dx:+d}"
                cells.append(midi.write(f"op{i + 1}_true_{tag}", ex.true[i, j], p) + " / "
                             + midi.write(f"op{i + 1}_latent_{tag}", ex.latent[i, j], p))
            rows.append(f"<tr><td>#{i + 1}</td>" + "".join(f"<td>{c}</td>" for c in cells)
                        + "</tr>")
        head = ("<tr><th></th><th>original</th><th>decode z(x)</th>"
                + "".join(f"<th>({dy:+d}, {dx:+d})<br>true / latent</th>" for dy, dx in shifts)
                + "</tr>")
        body += ("<p>The same examples as MIDI (files in <code>ops/</code>; (dy, dx) = "
                 "(semitones, grid steps)):</p><table>" + head + "".join(rows) + "</table>")
    return png, f1_png, body


def _triplet_links(run, source, *, seed: int, n_triplets: int, midi: MidiFiles) -> str:
    """The report's triplets (the same draw as its figure) as .mid files."""
    cfg = run.config
    g = torch.Generator().manual_seed(seed + 2)
    batch = sample_triplets(source, n_triplets, max_shift=cfg.max_shift, generator=g,
                            wrap=cfg.wrap, schemes=cfg.scheme_list())
    p = nominal_lowest_pitch(batch.anchor.shape[-1])
    rows = []
    for i in range(len(batch)):
        cells = [midi.write(f"triplet{i + 1}_{name}", img[i, 0], p)
                 for name, img in (("anchor", batch.anchor), ("crop1", batch.crop1),
                                   ("crop2", batch.crop2))]
        rows.append(f"<tr><td>#{i + 1}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<p>The triplets as MIDI (files in <code>ops/</code>; lowest row = MIDI pitch {p}, "
            "since a crop's register is not kept by the sampler):</p><table><tr><th></th>"
            "<th>anchor</th><th>crop 1</th><th>crop 2</th></tr>" + "".join(rows) + "</table>")


def ops_report(run, source, *, seed: int = 0, n_triplets: int = 8, n_examples: int = 3,
               renderer: WavRenderer | None = None) -> OpsReport:
    """Draw the shift figures, write the MIDI files; sections for ``build_report`` to place."""
    piano_roll = run.config.data != "blobs"
    decoder = getattr(run, "decoder", None)
    # piano-roll runs, and toy runs with a decoder (a blob read as a roll of its side in pitches
    # and grid steps), so that a latent operation can be heard, not only seen
    midi = MidiFiles(run, renderer) if piano_roll or decoder is not None else None
    out = OpsReport()
    png, links = _seed_shifts(source, seed, piano_roll, midi)
    out.pngs["shift_examples"] = png
    what = ("one validation crop transposed (top) and delayed (bottom) by -4, -2, +2, +4 "
            "semitones / grid steps" if piano_roll else "one blob shifted vertically (dy, "
            "pitch) and horizontally (dx, time) by -4, -2, +2, +4 pixels")
    out.before_triplets.append(("shifts", "Zero-filled shifts", H.figure(
        png, f"The seed notebook's first figure: {what}; vacated cells are zero "
        "(<code>shift_no_wrap</code>).", "shift examples") + links))
    if decoder is not None:
        png, f1_png, body = _latent_operations(run, decoder, source, seed=seed,
                                               piano_roll=piano_roll, midi=midi,
                                               n_examples=n_examples)
        out.pngs["latent_operations"] = png
        if f1_png is not None:
            out.pngs["operation_f1"] = f1_png
        out.before_timings.append(("ops", "Latent operations", body))
    if midi is not None:
        out.triplet_links = _triplet_links(run, source, seed=seed, n_triplets=n_triplets,
                                           midi=midi)
        out.files = list(midi.written)
    return out


def place(sections: list, extra: OpsReport) -> list:
    """Insert ``extra``'s sections into the report's list: the shift figure before
    "triplets", the latent operations before "timings" (at the end if a anchor is missing)."""
    out, todo = [], {"triplets": extra.before_triplets, "timings": extra.before_timings}
    for anchor, title, body in sections:
        if anchor == "triplets":
            body += extra.triplet_links
        out += todo.pop(anchor, [])
        out.append((anchor, title, body))
    return out + [s for rest in todo.values() for s in rest]
