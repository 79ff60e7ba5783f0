"""The command line: ``generate``, ``info``, ``upscale``, ``batch``, ``outpaint``, ``faces``,
``diff``, ``models``, ``serve``."""

from __future__ import annotations

import argparse
from typing import NoReturn

from core import __version__
from core.cli.big_models import add_big_model_options
from core.cli.conditioning_args import add_conditioning_options
from core.cli.diff import add_diff_parser
from core.cli.faces import add_faces
from core.cli.generate import cmd_generate
from core.cli.info import cmd_info
from core.cli.models import add_models_parser
from core.cli.outpaint import add_outpaint
from core.cli.regions import REGION_HELP
from core.cli.serve import add_serve_parser
from core.cli.workflows import LOCAL_RAY, cmd_batch, cmd_upscale
from core.errors import UserError
from core.models.memory_modes import MEMORY_MODES
from core.requests import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from core.workflows.upscale import UPSCALE_STRENGTH

FIX_FACES_HELP = "then refine each face at full detail (strength 0.35; see the faces command)"
WINDOW_EPILOG = (
    "Without a command the window opens: python main.py [IMAGE | PROJECT.i2i] [--model M] "
    "[--model-config DIR] (img2img-studio [IMAGE] [--model M] once installed)."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage + message)
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
    p.add_argument(
        "--soft-inpaint",
        action="store_true",
        help="blend the mask's blurred edge as per-pixel strength (no seam)",
    )
    p.add_argument("--strength-map", metavar="MAP", help="grayscale per-pixel strength, 255 = 1.0")
    p.add_argument("--region", action="append", metavar="MASK:PROMPT[|NEG]", help=REGION_HELP)
    p.add_argument("--width", type=int, help="resize the picture to this width first")
    p.add_argument("--height", type=int, help="resize the picture to this height first")
    p.add_argument(
        "--work-size",
        default="auto",
        metavar="auto|input|WxH",
        help="size the model works at; the result returns at the picture's size (auto)",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument(
        "--memory",
        default="auto",
        choices=MEMORY_MODES,
        help="how the model is placed in memory: offload, VAE tiling… (auto: from free memory)",
    )
    add_big_model_options(p)
    add_conditioning_options(p)
    p.add_argument(
        "--color-match",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="match a masked pass's repainted area to the picture around it (default: on with "
        "a mask; whole-picture passes only when given; multi-pass: to the source, on)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand sets ``handler``."""
    parser = _Parser(
        prog="img2img-studio",
        description="Img2Img Studio: the window, or one of the headless commands below.",
        epilog=WINDOW_EPILOG,
    )
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
    gen.add_argument("--fix-faces", action="store_true", help=FIX_FACES_HELP)
    gen.add_argument("--worker", metavar="URL", help="run the pass on a worker (see serve)")
    gen.add_argument("--token", help="the worker's token (or --token-file, or the environment)")
    gen.add_argument("--token-file", metavar="PATH", help="read the worker's token from this file")

    info = sub.add_parser("info", help="show the generation parameters stored in an image")
    info.add_argument("image", metavar="IMAGE")
    info.add_argument("--json", action="store_true")

    gen.set_defaults(handler=cmd_generate)
    info.set_defaults(handler=cmd_info)
    _add_upscale(sub)
    _add_batch(sub)
    add_outpaint(sub, add_generation_options)
    add_faces(sub, add_generation_options)
    add_diff_parser(sub)
    add_models_parser(sub)
    add_serve_parser(sub)
    _say_how_to_open_the_window(parser)
    return parser


def _say_how_to_open_the_window(parser: argparse.ArgumentParser) -> None:
    """Every subcommand's help (nested ones too) ends with how to start the window."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.epilog = (
                    f"{command.epilog}\n\n{WINDOW_EPILOG}" if command.epilog else WINDOW_EPILOG
                )
                _say_how_to_open_the_window(command)


def _add_upscale(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("upscale", help="Lanczos upscale, then a low-denoise tiled refine")
    up.add_argument("input", metavar="INPUT")
    up.add_argument("-o", "--output", required=True, metavar="OUT.png")
    add_generation_options(up)
    up.add_argument("--scale", type=float, default=2.0, help="upscale factor, 1–8 (2)")
    up.add_argument("--tile", type=int, default=512, metavar="PX", help="tile size (512)")
    up.add_argument("--overlap", type=int, default=64, metavar="PX", help="tile overlap (64)")
    up.set_defaults(handler=cmd_upscale, strength=UPSCALE_STRENGTH)


def _add_batch(sub: argparse._SubParsersAction) -> None:
    batch = sub.add_parser(
        "batch",
        help="run one set of settings over a folder of images",
        description="Run one set of settings over a folder of images. With an edit model "
        "(Qwen-Image-Edit, FLUX.2 Klein) --prompt is one instruction that edits every picture, "
        "and each --reference given before any --ip-adapter goes with every picture.",
    )
    batch.add_argument("in_dir", metavar="IN_DIR")
    batch.add_argument("out_dir", metavar="OUT_DIR")
    add_generation_options(batch)
    batch.add_argument(
        "--in-place",
        action="store_true",
        help="allow OUT_DIR = IN_DIR (outputs are named <stem>_img2img.png)",
    )
    batch.add_argument("--fix-faces", action="store_true", help=FIX_FACES_HELP)
    batch.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        metavar="ADDRESS",
        help="run on Ray: no address starts a local instance, 'auto' joins the running cluster, "
        "ray://HOST:10001 connects through Ray Client (pip install 'img2img-studio[ray]')",
    )
    batch.add_argument("--actors", type=int, metavar="N", help="--ray: actors (one per GPU)")
    batch.add_argument(
        "--gpus-per-actor", type=float, metavar="G", help="--ray: GPUs per actor (1; 0 on CPU)"
    )
    batch.set_defaults(handler=cmd_batch)
