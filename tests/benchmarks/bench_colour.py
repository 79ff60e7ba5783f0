"""Colour match benchmark: ``python -m tests.benchmarks.bench_colour --out FILE`` (``make bench``).

1. Repeated passes: ten successive inpaint passes on one mask with the tiny model (random colours,
   far from the picture's), colour match on and off: per pass, the masked area's mean colour
   distance (CIE76 ΔE) from the first pass's, the seam step across the mask's edge and the
   picture's own step there (``seam_delta_e``, ``seam_delta_e_original`` of each pass record).
2. Cost: colour match and the seam measure on a 1 MP and a 4 MP picture with a mask over the
   middle third (what every masked pass adds), median of 3.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from tests.benchmarks.machine import machine_info
from tests.benchmarks.timing import seconds, write_report

PASSES = 10


def repeated_passes(device: str, size: int = 128, steps: int = 4) -> dict:
    from core.engine import Engine
    from core.imaging.lab import image_lab
    from core.models import ModelSpec
    from core.requests import PassRequest
    from tests.tiny_models.images import make_calm_image, make_mask
    from tests.tiny_models.tiny_model import build_tiny_model

    spec = ModelSpec(str(build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")), device=device)
    engine = Engine(previews=False)
    image = make_calm_image(size, size)
    third = size // 3
    mask = make_mask(size, size, box=(third, third, 2 * third, 2 * third))
    inside = np.asarray(mask) > 0
    curves: dict[str, dict[str, list[float]]] = {}
    for name, color_match in (("on", True), ("off", False)):
        picture, means, seams, own = image, [], [], []
        for _ in range(PASSES):
            request = PassRequest(
                image=picture, mask=mask, strength=0.5, steps=steps, seed=7, color_match=color_match
            )
            result = engine.run_pass(request, spec)
            picture = result.image
            means.append(image_lab(np.asarray(picture))[inside].mean(axis=0))
            seams.append(result.record["seam_delta_e"])
            own.append(result.record["seam_delta_e_original"])
        curves[name] = {
            "mean_delta_e_from_first": [
                round(float(np.linalg.norm(m - means[0])), 3) for m in means
            ],
            "seam_delta_e": seams,
            "seam_delta_e_original": own,
        }
    return {"size": size, "steps": steps, "strength": 0.5, "passes": PASSES, "curves": curves}


def _median(fn, repeat: int = 3) -> float:
    return round(statistics.median(seconds(fn) for _ in range(repeat)), 3)


def cost(sides: tuple[int, ...] = (1024, 2048)) -> dict:
    from core.imaging import blur_mask
    from core.imaging.colour import match_to_surroundings
    from core.imaging.seam import seam_figures
    from tests.tiny_models.images import make_calm_image, make_mask

    out = {}
    for side in sides:
        source, generated = make_calm_image(side, side), make_calm_image(side, side, seed=1)
        used = blur_mask(make_mask(side, side), 4)
        out[f"{side}x{side}"] = {
            "colour_match_s": _median(partial(match_to_surroundings, source, generated, used)),
            "seam_measure_s": _median(partial(seam_figures, source, generated, used)),
        }
    return out


def colour_rows(report: dict | None) -> list[tuple[str, ...]]:
    """The README table's rows for a colour report (``tests.benchmarks.report``)."""
    if not report:
        return []
    runs = report["repeated_passes"]
    on, off = runs["curves"]["on"], runs["curves"]["off"]
    where = f"tiny model (random colours), {runs['size']}², {runs['passes']} passes"
    rows = [
        (
            f"Repeated inpaint on one mask, {where}: masked mean colour's largest ΔE from "
            "the first pass, colour match on / off",
            f"{max(on['mean_delta_e_from_first']):.2f} / {max(off['mean_delta_e_from_first']):.2f}",
            "on < off",
            "yes"
            if max(on["mean_delta_e_from_first"]) < max(off["mean_delta_e_from_first"])
            else "**no**",
        ),
        (
            f"Seam ΔE across the mask's edge, first pass, {where.split(',')[0]}: colour match on "
            "/ off (the picture's own)",
            f"{on['seam_delta_e'][0]:.2f} / {off['seam_delta_e'][0]:.2f} "
            f"({on['seam_delta_e_original'][0]:.2f})",
            "on ≤ own + 1.5",
            "yes" if on["seam_delta_e"][0] <= on["seam_delta_e_original"][0] + 1.5 else "**no**",
        ),
    ]
    for size, cost in report["cost"].items():
        rows.append(
            (
                f"Colour match / seam measure, {size} picture, mask over the middle third",
                f"{cost['colour_match_s']} / {cost['seam_measure_s']} s",
                "—",
                "—",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_colour")
    parser.add_argument("--out", default="bench-out/colour.json")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    report = {
        "machine": machine_info(),
        "repeated_passes": repeated_passes(args.device),
        "cost": cost(),
    }
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
