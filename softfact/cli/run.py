"""``softfact run``: train, evaluate and write the report, the main job."""
from __future__ import annotations

from softfact.cli.common import is_main_process, resolve_train, train_parser


def _parser():
    p = train_parser("softfact run")
    p.description = ("Train, evaluate and write the HTML report (the main job). Any config key "
                     "can be set as --key=value (e.g. --steps 2000 --data midi --midi-dir PATH).")
    p.add_argument("--no-report", action="store_true", help="evaluate only, no report")
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP figures (slowest part)")
    p.add_argument("--soundfont", metavar="PATH",
                   help="a .sf2/.sf3 file: render the report's MIDI files as .wav too")
    p.add_argument("--decoder", action="store_true",
                   help="after training, train a decoder on the frozen encoder (RUN/decoder.pt)")
    p.add_argument("--decoder-steps", type=int, default=None, metavar="N",
                   help="steps of that decoder (default: softfact decoder's)")
    return p


def main(argv: list[str]) -> int:
    cfg, resume, ns = resolve_train(argv, "softfact run", _parser())
    renderer = None
    if ns.soundfont and not ns.no_report and is_main_process():
        from softfact.data.midi_write import WavRenderer
        renderer = WavRenderer(ns.soundfont)  # a bad SoundFont fails now, before any work
    if not is_main_process():
        return _main(cfg, resume, ns, renderer)
    from softfact.utils.lock import run_lock
    with run_lock(cfg.out_dir):  # training, evaluation and report: one writer throughout
        return _main(cfg, resume, ns, renderer)


def _main(cfg, resume: bool, ns, renderer) -> int:
    from softfact.training import train
    out = train(cfg, resume=resume, progress=not ns.quiet)
    if not is_main_process():
        return 0
    from softfact.evaluation import format_table
    from softfact.run import Run
    run = Run.load(out)
    if ns.decoder:  # the frozen-encoder decoder stage, before evaluation and report
        from softfact.cli.decoder import train_run_decoder
        steps = {"steps": ns.decoder_steps} if ns.decoder_steps else {}
        train_run_decoder(run, resume=resume and run.files.decoder.exists(), progress=not ns.quiet,
                          amp=run.config.amp, **steps)  # --amp covers the decoder stage too
    if ns.no_report:
        metrics = run.evaluate(progress=not ns.quiet).metrics
        page = None
    else:
        from softfact.report import build_report
        page = build_report(run, umap=not ns.no_umap, soundfont=renderer,  # evaluates once
                            progress=not ns.quiet)
        metrics = run.metrics()
    print(format_table(metrics, data=run.config.data))
    print(f"written: {run.files.metrics}")
    if page is not None:
        print(f"report: {page}")
    return 0
