"""``outpaint INPUT -o OUT --left/--right/--top/--bottom PX [--band PX]``: expand the canvas."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.cli.common import (
    check_output_path,
    request_from_args,
    session,
    spec_from_args,
    write_result,
)
from core.errors import UserError
from core.imaging import load_image
from core.workflows.outpaint import (
    DEFAULT_BAND,
    OUTPAINT_STRENGTH,
    Margins,
    check_outpaint,
    outpaint,
)


def add_outpaint(
    sub: argparse._SubParsersAction, add_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Register the ``outpaint`` subcommand (``add_options`` adds the generation options)."""
    p = sub.add_parser("outpaint", help="extend the picture on any side and paint the new area")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    add_options(p)
    for side in ("left", "right", "top", "bottom"):
        p.add_argument(f"--{side}", type=int, default=0, metavar="PX", help=f"px added {side} (0)")
    p.add_argument(
        "--band",
        type=int,
        default=DEFAULT_BAND,
        metavar="PX",
        help=f"soft band repainted inside the old picture ({DEFAULT_BAND})",
    )
    p.set_defaults(handler=cmd_outpaint, strength=OUTPAINT_STRENGTH)


def cmd_outpaint(args: argparse.Namespace) -> int:
    """Check everything, expand and paint; write OUT with the pass record (kind "outpaint")."""
    # 1. Check everything before any model loads.
    out = check_output_path(args.output, [args.input], args.overwrite)
    if args.width or args.height:
        raise UserError("outpaint sets the size with --left/--right/--top/--bottom")
    if args.mask or args.strength_map:
        raise UserError("outpaint makes its own mask; drop --mask/--strength-map")
    margins = Margins(args.left, args.right, args.top, args.bottom)
    image = load_image(args.input)
    check_outpaint(image.size, margins, args.band)
    request = request_from_args(args, image)
    spec = spec_from_args(args)
    # 2. Expand and paint; Ctrl+C stops within a step and writes nothing.
    with session() as run:
        result = outpaint(run.engine, request, spec, margins, args.band, **run.callbacks())
    return write_result(args, result, out)
