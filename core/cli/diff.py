"""``diff A B``: how two pictures differ (counts, mean/max change, ΔE), with a mask the colour step
across its edge in B and in A (the seam measure), and an optional heat map."""

from __future__ import annotations

import argparse
import json

from PIL import Image, PngImagePlugin

from core.atomic_io import atomic_save_image, write_error
from core.cli.common import EXIT_OK, check_output_path
from core.errors import UserError
from core.imaging import load_image, load_mask, load_mask_file, resize_to
from core.imaging.difference import MAX_GAIN, difference_stats, heat_map_image
from core.imaging.seam import seam_figures

DIFF_CHUNK = "img2img-studio-diff"  # the figures, as JSON, in the heat map PNG


def add_diff_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``diff`` subcommand."""
    diff = sub.add_parser(
        "diff", help="compare two pictures: changed pixels, ΔE, seam across a mask, heat map"
    )
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B", help="resized to A's size if needed")
    diff.add_argument("-o", "--output", metavar="HEATMAP.png", help="write a heat map here")
    diff.add_argument(
        "--mask",
        metavar="MASK",
        help="split the counts by this mask (white = in); measure the seam across its edge",
    )
    diff.add_argument("--gain", type=float, default=4.0, help=f"heat map gain, 1–{MAX_GAIN} (4)")
    diff.add_argument(
        "--outside-only", action="store_true", help="heat map: only changes outside the mask"
    )
    diff.add_argument("--json", action="store_true", help="print the figures as JSON")
    diff.add_argument("--overwrite", action="store_true", help="replace an existing heat map")
    diff.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    """Print the figures (and write the heat map with ``-o``); exit 0 whatever they are."""
    if not 1 <= args.gain <= MAX_GAIN:
        raise UserError(f"--gain must be between 1 and {MAX_GAIN}, got {args.gain:g}")
    if args.outside_only and not args.mask:
        raise UserError("--outside-only needs --mask")
    out = None
    if args.output:
        out = check_output_path(args.output, [args.a, args.b, args.mask], args.overwrite)
    a, b = load_image(args.a), load_image(args.b)
    mask = load_mask_file(args.mask) if args.mask else None
    stats = difference_stats(a, b, mask)
    figures: dict[str, float | int | None] = {**stats.to_dict(), **_seam(a, b, mask)}
    if out is not None:
        heat = heat_map_image(a, b, args.gain, mask, args.outside_only)
        info = PngImagePlugin.PngInfo()
        info.add_text(DIFF_CHUNK, json.dumps({**figures, "gain": args.gain}))
        try:
            atomic_save_image(out, heat, format="PNG", pnginfo=info)
        except OSError as exc:
            raise write_error(out, exc) from None
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{stats.width}×{stats.height}: {stats.changed_pixels} pixels changed "
            f"({stats.changed_inside_mask} inside the mask, {stats.changed_outside_mask} outside); "
            f"mean |A−B| {stats.mean_change:.2f}, max {stats.max_change}, "
            f"mean ΔE {stats.delta_e:.2f}"
        )
        if figures["seam_delta_e"] is not None:
            print(
                f"seam: ΔE {figures['seam_delta_e']:.2f} across the mask's edge in B "
                f"(A's own step there: {figures['seam_delta_e_original']:.2f})"
            )
        if out is not None:
            print(f"heat map: {out}")
    return EXIT_OK


def _seam(a: Image.Image, b: Image.Image, mask: Image.Image | None) -> dict[str, float | None]:
    """``seam_delta_e`` (B's colour step across the mask's edge) and ``seam_delta_e_original``
    (A's across the same line), as a pass records them; None without a mask or an edge."""
    figures: dict[str, float | None] = {"seam_delta_e": None, "seam_delta_e_original": None}
    if mask is not None:
        after = resize_to(b.convert("RGB"), a.size)
        figures.update(seam_figures(a.convert("RGB"), after, load_mask(mask, a.size)))
    return figures
