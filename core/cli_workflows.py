"""CLI front-ends of the workflows: ``generate --passes|--sweep|--variations``, ``upscale``,
``batch``.

Files are written next to ``OUT`` (``out.png`` → ``out-1.png``, ``out-s0.30-seed42.png``,
``out-sheet.png``, ``out-v1.png``), each as soon as its pass is done. Every output path is checked
before anything runs; Ctrl+C keeps the finished files and writes no partial one (exit 130).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def add_workflow_commands(sub) -> None:
    """Add the ``upscale`` and ``batch`` subcommands."""
    from core.cli import add_generation_options
    from core.workflows.upscale import UPSCALE_STRENGTH

    up = sub.add_parser("upscale", help="Lanczos upscale, then a low-denoise tiled refine")
    up.add_argument("input", metavar="INPUT")
    up.add_argument("-o", "--output", required=True, metavar="OUT.png")
    add_generation_options(up)
    up.add_argument("--scale", type=float, default=2.0, help="upscale factor, 1–8 (2)")
    up.add_argument("--tile", type=int, default=512, metavar="PX", help="tile size (512)")
    up.add_argument("--overlap", type=int, default=64, metavar="PX", help="tile overlap (64)")
    up.set_defaults(handler=cmd_upscale, strength=UPSCALE_STRENGTH)

    batch = sub.add_parser("batch", help="run one set of settings over a folder of images")
    batch.add_argument("in_dir", metavar="IN_DIR")
    batch.add_argument("out_dir", metavar="OUT_DIR")
    add_generation_options(batch)
    batch.add_argument(
        "--in-place",
        action="store_true",
        help="allow OUT_DIR = IN_DIR (outputs are named <stem>_img2img.png)",
    )
    batch.set_defaults(handler=cmd_batch)


# -- generate --passes / --sweep / --variations ------------------------------------------------
def run_generate_workflow(args, name: str, request, spec) -> int:
    """Run ``generate`` with ``--passes``, ``--sweep`` or ``--variations`` (``name``)."""
    from core.cli import check_output_path, sigint_cancels
    from core.cli_generate import Progress
    from core.engine import CancelToken, Engine

    # 1. Plan and check every output path before anything runs.
    plan = _plan(name, args, request)
    inputs = [args.input, args.mask, args.strength_map]
    for path in plan.paths:
        check_output_path(path, inputs, args.overwrite)
    # 2. Run; each pass is written as soon as it is done.
    engine, token, progress = Engine(), CancelToken(), Progress(quiet=False)
    writer = _Writer(args, plan)

    def on_progress(update) -> None:
        progress.label = update.label

    try:
        with sigint_cancels(token):
            extra = plan.run(engine, request, spec, progress, writer, on_progress, token)
    finally:
        progress.close()
    if token.cancelled:
        print(f"cancelled: kept {len(writer.items)} finished file(s)", file=sys.stderr)
        return EXIT_CANCELLED
    if extra is not None:
        path = plan.paths[-1]
        _write(path, extra, {"kind": "contact-sheet", "workflow": writer.sheet_info}, args)
    _report(args, name, writer.items, plan.paths[-1] if extra is not None else None)
    return EXIT_OK


class _Plan:
    def __init__(self, paths: list[Path], run) -> None:
        self.paths, self.run = paths, run


def _plan(name: str, args, request) -> _Plan:
    from core.workflows.common import seed_list

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise UserError(f"output must be a .png file (metadata is stored as PNG text): {out}")
    stem = out.with_suffix("")
    if name == "passes":
        paths = [Path(f"{stem}-{k}.png") for k in range(1, len(args.passes) + 1)]
        return _Plan(paths, lambda *a: _run_passes(args, *a))
    if name == "variations":
        if args.variations < 1:
            raise UserError(f"--variations must be at least 1, got {args.variations}")
        seeds = seed_list(request.seed, args.variations)
        paths = [Path(f"{stem}-v{k}.png") for k in range(1, len(seeds) + 1)]
        return _Plan(paths, lambda *a: _run_variations(seeds, *a))
    seeds = seed_list(request.seed, args.seeds)
    paths = [Path(f"{stem}-s{s:.2f}-seed{seed}.png") for seed in seeds for s in args.sweep]
    if len(set(paths)) != len(paths):
        raise UserError("--sweep lists the same strength twice (to 2 decimals)")
    paths.append(Path(f"{stem}-sheet.png"))
    return _Plan(paths, lambda *a: _run_sweep(args, seeds, *a))


class _Writer:
    """Writes each finished pass to its planned path (atomically) and keeps its summary."""

    def __init__(self, args, plan: _Plan) -> None:
        self.args, self.plan = args, plan
        self.items: list[dict] = []
        self.sheet_info: dict = {}

    def __call__(self, index: int, result, parent: str | None = None) -> None:
        from core.cli_generate import result_summary

        path = self.plan.paths[index - 1]
        record = dict(result.record)
        if parent is not None:
            record["parent"] = parent
        _write(path, result.image, record, self.args)
        self.items.append(result_summary(result, path))


def _write(path: Path, image, record: dict, args) -> None:
    from core.metadata import write_png

    write_png(path, image, record, overwrite=args.overwrite)


def _run_passes(args, engine, request, spec, progress, writer, on_progress, token):
    from core.workflows.multipass import run_schedule

    names = [Path(args.input).name] + [p.name for p in writer.plan.paths]
    color_match = args.color_match is not False
    run_schedule(
        engine,
        request,
        spec,
        args.passes,
        color_match=color_match,
        on_event=progress,
        on_pass=lambda k, r: writer(k, r, parent=names[k - 1]),
        on_progress=on_progress,
        cancel=token,
    )


def _run_variations(seeds, engine, request, spec, progress, writer, on_progress, token):
    from core.workflows.variations import run_variations

    run_variations(
        engine,
        request,
        spec,
        len(seeds),
        seeds=seeds,
        on_event=progress,
        on_pass=writer,
        on_progress=on_progress,
        cancel=token,
    )


def _run_sweep(args, seeds, engine, request, spec, progress, writer, on_progress, token):
    from core.workflows.sweep import run_sweep

    sweep = run_sweep(
        engine,
        request,
        spec,
        args.sweep,
        seeds,
        on_event=progress,
        on_pass=writer,
        on_progress=on_progress,
        cancel=token,
    )
    if sweep.cancelled or not sweep.complete:
        return None
    writer.sheet_info = {
        "type": "sweep",
        "group": sweep.group,
        "strengths": sweep.strengths,
        "seeds": sweep.seeds,
        "cells": [p.name for p in writer.plan.paths[:-1]],
    }
    return sweep.sheet()


def _report(args, name: str, items: list[dict], sheet: Path | None) -> None:
    from core.cli_generate import print_summary

    if args.json:
        print(
            json.dumps({"workflow": name, "outputs": items, "sheet": str(sheet) if sheet else None})
        )
        return
    print_summary(args, items)
    if sheet is not None:
        print(f"wrote {sheet} (contact sheet)")


# -- upscale ------------------------------------------------------------------------------------
def cmd_upscale(args) -> int:
    """``upscale INPUT -o OUT --scale 2 [--strength 0.35] [--tile 512 --overlap 64]``."""
    from core.cli import check_output_path, sigint_cancels
    from core.cli_generate import (
        Progress,
        print_summary,
        request_from_args,
        result_summary,
        spec_from_args,
    )
    from core.engine import CancelToken, Engine
    from core.imaging import load_image
    from core.metadata import write_png
    from core.workflows.upscale import upscale_refine

    # 1. Check everything before any model loads (upscale_refine checks scale and tiles).
    out = check_output_path(args.output, [args.input, args.mask], args.overwrite)
    if args.width or args.height:
        raise UserError("upscale sets the size with --scale; drop --width/--height")
    if args.strength_map:
        raise UserError("upscale does not take a strength map")
    request = request_from_args(args, load_image(args.input))
    spec = spec_from_args(args)
    # 2. Upscale and refine tile by tile; Ctrl+C stops within a step and writes nothing.
    engine, token, progress = Engine(), CancelToken(), Progress(quiet=False)

    def on_progress(update) -> None:
        progress.label = update.label

    try:
        with sigint_cancels(token):
            result = upscale_refine(
                engine,
                request.image,
                request,
                spec,
                args.scale,
                args.tile,
                args.overlap,
                strength=args.strength,
                on_event=progress,
                on_progress=on_progress,
                cancel=token,
            )
    finally:
        progress.close()
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    write_png(out, result.image, result.record, overwrite=args.overwrite)
    print_summary(args, [result_summary(result, out)])
    return EXIT_OK


# -- batch ----------------------------------------------------------------------------------------
def cmd_batch(args) -> int:
    """``batch IN_DIR OUT_DIR [--in-place]``: exit 1 (and a summary) when any item failed."""
    from PIL import Image

    from core.cli import sigint_cancels
    from core.cli_generate import Progress, request_from_args, spec_from_args
    from core.engine import CancelToken, Engine
    from core.workflows.batch import run_batch

    # 1. The shared settings, validated on a placeholder image; run_batch checks the folders.
    request = request_from_args(args, Image.new("RGB", (64, 64)))
    spec = spec_from_args(args)
    engine, token, progress = Engine(), CancelToken(), Progress(quiet=False)

    def on_item(update) -> None:
        progress.label = f"[{update.index}/{update.total}] {update.label}"
        if update.status != "running":
            eta = f", eta {update.eta:.0f} s" if update.eta is not None else ""
            message = f": {update.message}" if update.message else ""
            print(
                f"[{update.index}/{update.total}] {update.label} {update.status}{message}"
                f" ({update.elapsed:.1f} s{eta})",
                file=sys.stderr,
            )

    # 2. Run; a bad file is reported and the rest go on.
    try:
        with sigint_cancels(token):
            report = run_batch(
                engine,
                args.in_dir,
                args.out_dir,
                request,
                spec,
                overwrite=args.overwrite,
                allow_in_place=args.in_place,
                on_event=progress,
                on_item=on_item,
                cancel=token,
            )
    finally:
        progress.close()
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
        for item in report.failed:
            print(f"failed: {item.source.name}: {item.message}")
    if report.cancelled:
        return EXIT_CANCELLED
    return EXIT_FAILED if report.failed else EXIT_OK
