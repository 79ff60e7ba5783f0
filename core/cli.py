"""Headless command line: ``generate``, ``info``, ``upscale``, ``batch``.

User mistakes exit 2 with one ``error: …`` line on stderr and write nothing; Ctrl+C stops within a
step and leaves no partial file (exit 130).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from core import __version__
from core.errors import PassCancelled, UserError
from core.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage + message)
        raise UserError(message)


def _strength_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got '{text}'"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one strength")
    return values


def add_generation_options(p: argparse.ArgumentParser) -> None:
    """The options shared by generate, upscale and batch."""
    p.add_argument("--model", required=True, help="diffusers folder, .safetensors file or hub id")
    p.add_argument("--model-config", metavar="DIR", help="diffusers config folder (single files)")
    p.add_argument("--prompt", default="", help="what the picture should show")
    p.add_argument("--negative-prompt", default="", metavar="TEXT")
    p.add_argument("--strength", type=float, default=0.5, help="denoise strength 0–1 (%(default)s)")
    p.add_argument("--steps", type=int, default=30, help="sampling steps before strength (30)")
    p.add_argument("--cfg", type=float, default=7.0, help="CFG scale (7)")
    p.add_argument("--seed", type=int, default=None, help="seed (random when omitted)")
    p.add_argument("--scheduler", default=DEFAULT_SCHEDULER, help=", ".join(SCHEDULER_NAMES))
    p.add_argument("--mask", metavar="MASK", help="inpaint mask image (white = change)")
    p.add_argument("--mask-blur", type=int, default=4, metavar="PX")
    p.add_argument("--inpaint-area", choices=("whole", "masked"), default="whole")
    p.add_argument("--padding", type=int, default=32, metavar="PX", help="only-masked padding")
    p.add_argument("--strength-map", metavar="MAP", help="grayscale per-pixel strength, 255 = 1.0")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument(
        "--no-color-match",
        dest="color_match",
        action="store_false",
        default=None,
        help="multi-pass: do not match colours to the source",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="img2img-studio", description="Img2Img Studio (headless commands)")
    parser.add_argument("--version", action="version", version=f"img2img-studio {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, required=True)

    gen = sub.add_parser("generate", help="run one img2img/inpaint pass (or a workflow)")
    gen.add_argument("input", metavar="INPUT")
    gen.add_argument("-o", "--output", required=True, metavar="OUT.png")
    add_generation_options(gen)
    gen.add_argument(
        "--passes",
        type=_strength_list,
        metavar="S1,S2,..",
        help="multi-pass schedule, e.g. 0.7,0.4,0.2 (writes OUT-1.png, OUT-2.png…)",
    )
    gen.add_argument(
        "--sweep",
        type=_strength_list,
        metavar="S1,S2,..",
        help="strength sweep (writes each image and a contact sheet)",
    )
    gen.add_argument("--seeds", type=int, default=1, metavar="N", help="sweep: seeds per strength")
    gen.add_argument("--variations", type=int, metavar="N", help="N seeds at one strength")

    info = sub.add_parser("info", help="show the generation parameters stored in an image")
    info.add_argument("image", metavar="IMAGE")
    info.add_argument("--json", action="store_true")

    from core.cli_workflows import add_workflow_commands

    add_workflow_commands(sub)
    return parser


@contextmanager
def sigint_cancels(token):
    """First Ctrl+C cancels the pass (it stops within a step); a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        print("\ncancelling…", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args) if hasattr(args, "handler") else _dispatch(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (PassCancelled, KeyboardInterrupt):
        print("cancelled: no output written", file=sys.stderr)
        return EXIT_CANCELLED


def _dispatch(args) -> int:
    if args.command == "info":
        return cmd_info(args)
    from core.cli_generate import cmd_generate

    return cmd_generate(args)


def cmd_info(args) -> int:
    from core.metadata import format_summary, read_metadata

    meta = read_metadata(args.image)
    if args.json:
        print(json.dumps({k: v for k, v in meta.items()}, indent=2, default=str))
    else:
        print(format_summary(meta))
    return EXIT_OK


def check_output_path(output: str | Path, inputs: list[str | Path], overwrite: bool) -> Path:
    """Refuse writing over an input or (without --overwrite) over an existing file."""
    out = Path(output)
    if out.suffix.lower() != ".png":
        raise UserError(f"output must be a .png file (metadata is stored as PNG text): {out}")
    for source in inputs:
        if source and Path(source).exists() and out.resolve() == Path(source).resolve():
            raise UserError(f"refusing to write over the input {source} (originals are preserved)")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists (use --overwrite to replace it)")
    if out.exists() and out.is_dir():
        raise UserError(f"{out} is a folder")
    return out
