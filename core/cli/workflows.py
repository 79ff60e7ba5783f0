"""``upscale`` (Lanczos, then a tiled low-denoise refine) and ``batch`` (a folder, one recipe)."""

from __future__ import annotations

import argparse
import json
import sys

from PIL import Image

from core.batch import BatchItem, BatchReport
from core.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    check_output_path,
    request_from_args,
    session,
    spec_from_args,
    write_result,
)
from core.cli.faces import face_settings_from_args
from core.errors import UserError
from core.imaging import load_image
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.batch import run_batch
from core.workflows.common import WorkflowProgress
from core.workflows.faces import FaceSettings
from core.workflows.upscale import upscale_refine

LOCAL_RAY = "local"  # ``--ray`` without an address: start a local Ray instance


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
    with session() as run:
        result = upscale_refine(
            run.engine,
            request.image,
            request,
            spec,
            args.scale,
            args.tile,
            args.overlap,
            strength=args.strength,
            **run.callbacks(),
        )
    return write_result(args, result, out)


def cmd_batch(args: argparse.Namespace) -> int:
    """``batch IN_DIR OUT_DIR [--in-place] [--ray [ADDRESS]]``: exit 1 (and a summary) when any
    item failed; with ``--ray``, ``OUT_DIR/report.jsonl`` lists every item."""
    # 1. The shared settings, validated on a placeholder image; the runners check the folders.
    request = request_from_args(args, Image.new("RGB", (64, 64)))
    spec = spec_from_args(args)
    faces = face_settings_from_args(args) if args.fix_faces else None
    if args.ray is None and (args.actors is not None or args.gpus_per_actor is not None):
        raise UserError("--actors and --gpus-per-actor go with --ray")
    # 2. Run; a bad file is reported and the rest go on.
    runner = _run_on_ray if args.ray is not None else _run_locally
    report = runner(args, request, spec, faces)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
        for item in report.failed:
            print(f"failed: {item.source.name}: {item.message}")
    if report.cancelled:
        return EXIT_CANCELLED
    return EXIT_FAILED if report.failed else EXIT_OK


def _run_on_ray(
    args: argparse.Namespace, request: PassRequest, spec: ModelSpec, faces: FaceSettings | None
) -> BatchReport:
    from core.scaleout.ray_batch import run_ray_batch  # Ray loads only for --ray

    def on_item(item: BatchItem, finished: int, total: int) -> None:
        message = f": {item.message}" if item.message else ""
        line = f"[{finished}/{total}] {item.source.name} {item.status}{message}"
        print(f"{line} ({item.duration:.1f} s)", file=sys.stderr)

    return run_ray_batch(
        args.in_dir,
        args.out_dir,
        request,
        spec,
        address=None if args.ray == LOCAL_RAY else args.ray,
        actors=args.actors,
        gpus_per_actor=args.gpus_per_actor,
        overwrite=args.overwrite,
        allow_in_place=args.in_place,
        fix_faces=faces,
        on_item=on_item,
    )


def _run_locally(
    args: argparse.Namespace, request: PassRequest, spec: ModelSpec, faces: FaceSettings | None
) -> BatchReport:
    with session() as run:

        def on_item(update: WorkflowProgress) -> None:
            run.progress.label = f"[{update.index}/{update.total}] {update.label}"
            if update.status != "running":
                print(_item_line(update), file=sys.stderr)

        return run_batch(
            run.engine,
            args.in_dir,
            args.out_dir,
            request,
            spec,
            overwrite=args.overwrite,
            allow_in_place=args.in_place,
            fix_faces=faces,
            on_event=run.progress,
            on_item=on_item,
            cancel=run.token,
        )


def _item_line(update: WorkflowProgress) -> str:
    eta = f", eta {update.eta:.0f} s" if update.eta is not None else ""
    message = f": {update.message}" if update.message else ""
    return (
        f"[{update.index}/{update.total}] {update.label} {update.status}{message}"
        f" ({update.elapsed:.1f} s{eta})"
    )
