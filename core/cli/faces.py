"""``faces INPUT -o OUT``: find the faces and refine each at the model's native size."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from core.cli.common import (
    EXIT_OK,
    check_output_path,
    print_summary,
    request_from_args,
    result_summary,
    session,
    spec_from_args,
)
from core.errors import UserError
from core.hashing import complete_model_hash
from core.imaging import load_image
from core.imaging.faces import DEFAULT_MIN_CONFIDENCE, FaceBox
from core.metadata import write_png
from core.workflows.faces import FACE_PADDING, FACE_STRENGTH, FaceSettings, fix_faces


def add_faces(
    sub: argparse._SubParsersAction, add_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Register the ``faces`` subcommand (``add_options`` adds the generation options)."""
    p = sub.add_parser("faces", help="fix faces: refine each face at full detail")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    add_options(p)
    p.add_argument(
        "--box",
        action="append",
        metavar="X,Y,W,H",
        help="a face box in picture pixels (repeatable); without it faces are detected",
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=DEFAULT_MIN_CONFIDENCE,
        metavar="C",
        help=f"ignore detections below this confidence 0–1 ({DEFAULT_MIN_CONFIDENCE})",
    )
    p.set_defaults(handler=cmd_faces, strength=FACE_STRENGTH, padding=FACE_PADDING)


def parse_box(text: str) -> FaceBox:
    """A face box from ``X,Y,W,H``; one-line UserError otherwise."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--box expects X,Y,W,H in pixels, got '{text}'") from None
    if w < 4 or h < 4:
        raise UserError(f"--box {text}: width and height must be at least 4 px")
    return FaceBox(x, y, w, h)


def face_settings_from_args(args: argparse.Namespace) -> FaceSettings:
    """The face settings of ``faces`` (and of ``--fix-faces``): strength, padding, boxes."""
    boxes = tuple(parse_box(b) for b in args.box) if getattr(args, "box", None) else None
    return FaceSettings(
        strength=args.strength if args.command == "faces" else FACE_STRENGTH,
        padding=args.padding if args.command == "faces" else FACE_PADDING,
        boxes=boxes,
        min_confidence=getattr(args, "min_confidence", DEFAULT_MIN_CONFIDENCE),
    ).check()


def cmd_faces(args: argparse.Namespace) -> int:
    """Check everything, find and refine the faces; write OUT (the input unchanged, with a note,
    when no face is found). ``--json`` prints the summary with the boxes."""
    # 1. Check everything before any model loads.
    out = check_output_path(args.output, [args.input], args.overwrite)
    if args.mask or args.strength_map:
        raise UserError("faces makes its own masks; drop --mask/--strength-map")
    image = load_image(args.input)
    request = request_from_args(args, image)
    settings = face_settings_from_args(args)
    spec = spec_from_args(args)
    # 2. Find and refine; Ctrl+C stops within a step and writes nothing.
    with session() as run:
        result = fix_faces(run.engine, request, spec, settings, **run.callbacks())
    # 3. Write atomically, then report the faces.
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    write_png(out, result.image, complete_model_hash(result.record), overwrite=args.overwrite)
    summary = {**result_summary(result, out), "faces": result.record["faces"]}
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    for face in summary["faces"]:
        print(f"face at {face['box']} (confidence {face['confidence']:.2f})")
    print_summary(args, [summary])
    return EXIT_OK
