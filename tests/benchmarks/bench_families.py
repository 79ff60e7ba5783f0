"""The app against bare diffusers on every family's tiny model, on the CPU (``make bench``):
``python -m tests.benchmarks.bench_families --out bench-out/families.json``.

For each family (SD 1.5, SDXL, SD 3, FLUX.1, FLUX.2 Klein, Z-Image, Chroma, Qwen-Image,
Qwen-Image-Edit) its tiny random-weight model is built and loaded once by the app (fp32); then an
app img2img pass and a bare diffusers call of the same pipeline class on the same loaded modules
(:mod:`tests.benchmarks.bare`) run in alternating rounds with the same seed, steps, strength, CFG
and size. Each row: the median seconds of both, the ratio app / bare, and whether the two pictures
are byte-identical (else the mean / max pixel difference, 0–255). Tiny models run in well under a
second, so a few rounds suffice; on a shared machine the ratios are the numbers that matter.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.bare import bare_call, bare_pipeline, small_qwen_edit_area
from tests.benchmarks.timing import alternate, write_report

# family → (label, "tests.tiny_models.<module>:<builder>", builder keyword arguments)
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sd15": ("SD 1.5", "tiny_model:build_tiny_model", {}),
    "sdxl": ("SDXL", "tiny_sdxl:build_tiny_sdxl", {}),
    "sd3": ("SD 3", "tiny_sd3:build_tiny_sd3", {}),
    "flux": ("FLUX.1", "tiny_flux:build_tiny_flux", {}),
    "flux2_klein": ("FLUX.2 Klein", "tiny_flux2_klein:build_tiny_flux2_klein", {}),
    "zimage": ("Z-Image", "tiny_zimage:build_tiny_zimage", {}),
    "chroma": ("Chroma", "tiny_chroma:build_tiny_chroma", {}),
    "qwen_image": ("Qwen-Image", "tiny_qwen_image:build_tiny_qwen_image", {}),
    "qwen_image_edit": ("Qwen-Image-Edit", "tiny_qwen_image:build_tiny_qwen_image_edit", {}),
}
# steps × strength is whole: diffusers' flow-matching img2img pipelines run one step more than
# int(steps × strength) otherwise, which the app corrects (core.engine.family_call.flow_strength)
SIDE, STEPS, STRENGTH, SEED = 64, 4, 0.75, 3


def build_family(family: str, folder: Path) -> Path:
    """The tiny model of ``family`` written to ``folder``."""
    _label, where, kwargs = FAMILIES[family]
    module, builder = where.split(":")
    build: Callable[..., Path] = getattr(
        importlib.import_module(f"tests.tiny_models.{module}"), builder
    )
    return build(folder, **kwargs)


def the_request(side: int = SIDE, steps: int = STEPS) -> Any:
    """The pass every row runs: the test picture at its own size, fixed seed, steps, strength."""
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    return PassRequest(
        make_image(side, side), "a red cat", strength=STRENGTH, steps=steps, seed=SEED,
        work_size="input",
    )  # fmt: skip


def pixel_difference(a: Any, b: Any) -> dict[str, Any]:
    """Byte identity of two pictures, else their mean / max absolute difference (0–255)."""
    if a.tobytes() == b.tobytes():
        return {"identical": True}
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return {"identical": False, "mean_abs_diff": round(float(diff.mean()), 3),
            "max_abs_diff": int(diff.max())}  # fmt: skip


def compare_family(family: str, folder: Path, rounds: int, side: int, steps: int) -> dict:
    """App vs bare diffusers on ``family``'s tiny model in ``folder`` (see the module doc)."""
    from core.engine import Engine
    from core.models import ModelSpec

    spec = ModelSpec(str(folder), device="cpu", dtype="fp32")
    engine = Engine(previews=False)
    request = the_request(side, steps)
    pictures: dict[str, Any] = {}
    with small_qwen_edit_area(side):
        pictures["app"] = engine.run_pass(request, spec).image  # loads the model
        model = engine.models.loaded
        bare = bare_pipeline(model.img2img_pipe)
        medians = alternate(
            {
                "bare": lambda: pictures.__setitem__("bare", bare_call(bare, request)),
                "app": lambda: pictures.__setitem__("app", engine.run_pass(request, spec).image),
            },
            rounds,
        )
    return {
        "label": FAMILIES[family][0],
        "pipeline": type(bare).__name__,
        "image": f"{side}x{side}",
        "steps": steps,
        "strength": request.strength,
        "bare_s": round(medians["bare"], 4),
        "app_s": round(medians["app"], 4),
        "app_over_bare": round(medians["app"] / medians["bare"], 3),
        **pixel_difference(pictures["app"], pictures["bare"]),
    }


def guarded(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``measure()``, or ``{"error": why}`` when it fails: the report says why, the rest runs."""
    try:
        return measure()
    except Exception as error:  # noqa: BLE001 — any failure is a row of the report
        return {"error": f"{type(error).__name__}: {str(error)[:300]}"}


def bench_families(
    work: Path,
    families: tuple[str, ...] = tuple(FAMILIES),
    rounds: int = 5,
    side: int = SIDE,
    steps: int = STEPS,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every family's row (a family that fails says why instead); ``on_row(rows)`` after each."""
    rows: dict[str, Any] = {}
    for family in families:

        def measure(family: str = family) -> dict[str, Any]:
            folder = build_family(family, work / family)
            return compare_family(family, folder, rounds, side, steps)

        rows[family] = {"label": FAMILIES[family][0], **guarded(measure)}
        shutil.rmtree(work / family, ignore_errors=True)
        if on_row is not None:
            on_row(rows)
    return rows


def markdown_table(report: dict[str, Any]) -> str:
    """The README's table for a report this module wrote."""
    machine = report["machine"]
    lines = [
        f"App vs bare diffusers, each family's tiny model, fp32, {report['image']}, "
        f"{report['steps']} steps, strength {STRENGTH}, median of {report['rounds']} alternating "
        f"rounds: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, "
        f"{machine['torch_threads']} torch thread(s), {machine['date']}, load average "
        f"{machine['load_average'][0]}.",
        "",
        "| Family | Pipeline | Bare s | App s | App / bare | Same bytes |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["families"].values():
        if "error" in row:
            lines.append(f"| {row['label']} | {row['error']} | | | | |")
            continue
        same = "yes" if row["identical"] else f"no ({row['mean_abs_diff']} mean)"
        lines.append(
            f"| {row['label']} | {row['pipeline']} | {row['bare_s']} | {row['app_s']} "
            f"| {row['app_over_bare']}× | {same} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-out/families.json"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--families", nargs="*", choices=tuple(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--table", type=Path, help="print the README table of this report")
    parser.add_argument("--threads", type=int, help="torch threads (a shared machine: 1)")
    args = parser.parse_args(argv)
    if args.table:
        import json

        print(markdown_table(json.loads(args.table.read_text())))
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from tests.benchmarks.machine import machine_info

    report: dict[str, Any] = {"machine": machine_info(), "rounds": args.rounds,
                              "image": f"{SIDE}x{SIDE}", "steps": STEPS}  # fmt: skip

    def keep(rows: dict[str, Any]) -> None:  # a long run keeps what it measured
        report["families"] = rows
        report["machine"]["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
        write_report(report, args.out)

    work = Path(tempfile.mkdtemp())
    try:
        bench_families(work, tuple(args.families), args.rounds, on_row=keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
