"""Each speed / quantize / memory option side by side with bare diffusers, on the tiny FLUX.1 and
FLUX.2 Klein models on the CPU (``make bench``):
``python -m tests.benchmarks.bench_options --out bench-out/options.json``.

Per option, an app img2img pass with it and a bare diffusers call doing the same thing
(:mod:`tests.benchmarks.bare`) run in alternating rounds: the speed options put diffusers' own
cache config on the bare pipeline's transformer (First-Block Cache, TaylorSeer); int8 (torchao
weight-only) and VAE tiling are models the app loaded that way, the bare pipeline runs on those
same modules. Each row: median seconds of both, app / bare, the steps the last transformer block
really computed on each side, the pixel difference of the app's picture to the plain app pass
(option ``off``: mean / max, 0–255) and whether app and bare gave the same bytes. An option that
cannot run on a CPU (fp8, nf4, offload, group offload, sequential offload, compile) is listed as
not measured with the reason; one that fails says why.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.bare import bare_cache, bare_call, bare_pipeline
from tests.benchmarks.bench_families import build_family, guarded, pixel_difference, the_request
from tests.benchmarks.timing import alternate, write_report

# option → the ModelSpec fields the app gets (a speed option shares the plain load)
OPTIONS: dict[str, dict[str, str]] = {
    "off": {},
    "fast": {"speed": "fast"},
    "fastest": {"speed": "fastest"},
    "int8": {"quantize": "int8"},
    "tiling": {"memory": "tiling"},
}
CUDA_ONLY: dict[str, str] = {
    "fp8": "not measured: --quantize fp8 needs a CUDA GPU (torchao fp8 matmuls)",
    "nf4": "not measured: --quantize nf4 needs a CUDA GPU (bitsandbytes)",
    "offload": "not measured: model CPU offload moves parts to a CUDA GPU; on a CPU it is none",
    "group": "not measured: group offload prefetches on CUDA streams; on a CPU it is none",
    "sequential": "not measured: sequential offload needs a CUDA GPU; on a CPU it is none",
    "compile": "not measured: regional compilation runs on CUDA only (make bench-gpu)",
}
OPTION_FAMILIES = ("flux", "flux2_klein")
SIDE, STEPS = 128, 12  # enough steps for the caches to skip some


def _counted(pipe: Any, run: Callable[[], Any]) -> tuple[Any, int]:
    """``run()``'s picture and the steps ``pipe``'s transformer computed during it."""
    from tests.tiny_models.step_counting import counting_computed_steps

    with counting_computed_steps(pipe.transformer) as computed:
        picture = run()
    return picture, computed[0]


def _in_use(record: dict[str, Any]) -> str:
    """What the app's record says ran: speed, quantization and memory mode."""
    model = record["model"]
    return ", ".join(f"{key} {model.get(key)}" for key in ("speed", "quantize", "memory"))


def compare_option(engine: Any, spec: Any, request: Any, rounds: int) -> dict[str, Any]:
    """App with ``spec``'s option vs bare diffusers doing the same, on the modules the app loaded
    (a bare side diffusers cannot run says why; the app's is still timed); the picture of one
    more, counted, app run is kept as ``_app``."""
    from core.models.step_cache import cache_config

    passes = [engine.run_pass(request, spec)]  # loads (or reuses) the model
    app_pipe = engine.models.loaded.img2img_pipe
    bare = bare_pipeline(app_pipe)
    config = cache_config(spec.speed)

    def app() -> Any:
        passes.append(engine.run_pass(request, spec))
        return passes[-1].image

    def bare_run() -> Any:
        with bare_cache(bare, config):
            return bare_call(bare, request)

    row: dict[str, Any] = {}
    variants = {"bare": bare_run, "app": app}
    try:
        bare_run()
    except Exception as error:  # noqa: BLE001 — diffusers' own fault, reported
        row["bare_error"] = f"{type(error).__name__}: {str(error)[:200]}"
        del variants["bare"]
    medians = alternate(variants, rounds)
    app_picture, app_steps = _counted(app_pipe, app)
    row.update(app_s=round(medians["app"], 4), app_computed_steps=app_steps,
               app_in_use=_in_use(passes[-1].record))  # fmt: skip
    if "bare" in medians:
        bare_picture, bare_steps = _counted(bare, bare_run)
        row.update(
            bare_s=round(medians["bare"], 4),
            app_over_bare=round(medians["app"] / medians["bare"], 3),
            bare_computed_steps=bare_steps,
            app_same_bytes_as_bare=pixel_difference(app_picture, bare_picture)["identical"],
        )
    return {**row, "_app": app_picture}


def bench_options(folder: Path, family: str, rounds: int, side: int, steps: int) -> dict:
    """Every option's row for ``family``'s tiny model in ``folder``."""
    from core.engine import Engine
    from core.models import ModelSpec

    request = the_request(side, steps)
    out: dict[str, Any] = {"image": f"{side}x{side}", "steps": steps, "strength": request.strength}
    engines: dict[tuple[str, str], Any] = {}  # one load per (quantize, memory)
    plain = None  # the picture of the plain app pass (option "off", run first)
    for option, fields in OPTIONS.items():
        spec = ModelSpec(str(folder), device="cpu", dtype="fp32", **fields)
        engine = engines.setdefault((spec.quantize, spec.memory), Engine(previews=False))
        row = guarded(lambda: compare_option(engine, spec, request, rounds))  # noqa: B023
        if "_app" in row:
            picture = row.pop("_app")
            plain = plain or picture
            diff = pixel_difference(picture, plain)
            row["mean_abs_diff_to_off"] = diff.get("mean_abs_diff", 0.0)
            row["max_abs_diff_to_off"] = diff.get("max_abs_diff", 0)
        out[option] = row
    out.update(CUDA_ONLY)
    return out


LABELS = {"flux": "FLUX.1", "flux2_klein": "FLUX.2 Klein"}


def markdown_table(report: dict[str, Any]) -> str:
    """The README's table for a report this module wrote (``--table FILE``)."""
    machine = report["machine"]
    lines = [
        f"Options vs bare diffusers, tiny models, fp32, median of {report['rounds']} alternating "
        f"rounds: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, "
        f"{machine['torch_threads']} torch thread(s), {machine['date']}, load average "
        f"{machine['load_average'][0]}.",
        "",
        "| Model | Option | App s | Bare s | App / bare | Steps computed (app / bare) "
        "| Same bytes as bare | Diff. to off (mean / max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for family in (f for f in report if f in LABELS):
        out = report[family]
        name = f"{LABELS[family]} {out['image']}, {out['steps']} steps, strength {out['strength']}"
        for option in (*OPTIONS, *CUDA_ONLY):
            row = out[option]
            if isinstance(row, str):
                lines.append(f"| {name} | {option} | {row} | | | | | |")
            elif "error" in row:
                lines.append(f"| {name} | {option} | failed: {row['error']} | | | | | |")
            else:
                bare = row.get("bare_error")
                lines.append(
                    f"| {name} | {option} | {row['app_s']} "
                    f"| {'not run: ' + bare if bare else row['bare_s']} "
                    f"| {'—' if bare else str(row['app_over_bare']) + '×'} "
                    f"| {row['app_computed_steps']} / {row.get('bare_computed_steps', '—')} "
                    f"| {'—' if bare else ('yes' if row['app_same_bytes_as_bare'] else 'no')} "
                    f"| {row['mean_abs_diff_to_off']} / {row['max_abs_diff_to_off']} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-out/options.json"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--families", nargs="*", default=list(OPTION_FAMILIES))
    parser.add_argument("--threads", type=int, help="torch threads (a shared machine: 1)")
    parser.add_argument("--table", type=Path, help="print the README table of this report")
    args = parser.parse_args(argv)
    if args.table:
        import json

        print(markdown_table(json.loads(args.table.read_text())))
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from tests.benchmarks.machine import machine_info

    report: dict[str, Any] = {"machine": machine_info(), "rounds": args.rounds}
    work = Path(tempfile.mkdtemp())
    try:
        for family in args.families:
            folder = build_family(family, work / family)
            report[family] = bench_options(folder, family, args.rounds, SIDE, STEPS)
            report["machine"]["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
            write_report(report, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
