"""``upscale`` (Lanczos, then a tiled low-denoise refine) and ``batch`` (a folder, one recipe)."""

from __future__ import annotations

import argparse
import json
import sys

from PIL import Image

from core.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    Progress,
    check_output_path,
    new_engine,
    print_summary,
    request_from_args,
    result_summary,
    sigint_cancels,
    spec_from_args,
)
from core.engine import CancelToken
from core.errors import UserError
from core.imaging import load_image
from core.metadata import write_png
from core.workflows.batch import run_batch
from core.workflows.upscale import upscale_refine


def cmd_upscale(args: argparse.Namespace) -> int:
    """``upscale INPUT -o OUT --scale 2 [--strength 0.35] [--tile 512 --overlap 64]``."""
    # 1. Check everything before any model loads (upscale_refine checks scale and tiles).
    out = check_output_path(args.output, [args.input, args.mask], args.overwrite)
    if args.width or args.height:
        raise UserError("upscale sets the size with --scale; drop --width/--height")
    if args.strength_map:
        raise UserError("upscale does not take a strength map")
    request = request_from_args(args, load_image(args.input))
    spec = spec_from_args(args)
    # 2. Upscale and refine tile by tile; Ctrl+C stops within a step and writes nothing.
    engine, token, progress = new_engine(), CancelToken(), Progress()

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


def cmd_batch(args: argparse.Namespace) -> int:
    """``batch IN_DIR OUT_DIR [--in-place]``: exit 1 (and a summary) when any item failed."""
    # 1. The shared settings, validated on a placeholder image; run_batch checks the folders.
    request = request_from_args(args, Image.new("RGB", (64, 64)))
    spec = spec_from_args(args)
    engine, token, progress = new_engine(), CancelToken(), Progress()

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
