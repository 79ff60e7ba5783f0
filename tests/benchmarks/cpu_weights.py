"""Weights on the CPU, the whole SD 1.5-size pipeline through the app (issue 26, req. 6):
fp32, bf16 and torchao int8 weight-only (on fp32 and on bf16 activations), each loaded by the
app's ``ModelManager`` from one random-weight SD 1.5-size folder (the real UNet/VAE/CLIP configs
from ``resources/model_configs/sd15``, built once, never committed) and run as one img2img pass.

Each mode runs in its own process (so its peak RSS is its own) one after the other in one call,
and reports: load seconds, RSS after loading and peak RSS over load + pass, bytes of the weights
as stored (UNet and all parts), seconds per denoising step (the median gap between the engine's
step events after the first step, CFG batch of 2) and the mean / max pixel difference of its
picture to fp32's (same seed, 0–255). A CPU without bf16 instructions emulates bf16 (2.3×
fp32's time per step at 64² on a 2-core EPYC; at 256² it did not finish in 25 minutes): there
the main run is fp32 and int8, and ``bf16_emulated`` measures bf16 beside fp32 at 64², 2 steps,
saying what bf16 costs (``bf16_cost``).

``python -m tests.benchmarks.cpu_weights --out bench-out/cpu-weights.json`` (or through
``bench_big_models``, which ``make bench`` runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# mode → (--dtype, --quantize) as a user would ask for it
MODES: dict[str, tuple[str, str]] = {
    "fp32": ("fp32", "none"),
    "int8": ("fp32", "int8"),
    "bf16": ("bf16", "none"),
    "int8_bf16": ("bf16", "int8"),
}
MODE_TIMEOUT_S = 1500  # a CPU without bf16 instructions emulates it: slow, but not forever
# Such a CPU gets its bf16 row at a small size (``bf16_emulated``): fp32 and bf16 side by side
# there, each within this limit, so ``make bench`` finishes and still says what bf16 costs.
# (2026-12-07, a 2-core AVX2 EPYC under load 10: one bf16 UNet call on 16×16 latents, i.e. a
# 128² picture, did not finish in 14 minutes where fp32 took 15 s.)
EMULATED_BF16_SIDE, EMULATED_BF16_STEPS, EMULATED_BF16_TIMEOUT_S = 64, 2, 600
SECTIONS = ("weights", "bf16_emulated")  # the report's sections with a table each
REPO_ROOT = Path(__file__).resolve().parents[2]


def _rss_gb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e9, 3)


def _peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3)  # kB on Linux


def measure_mode(folder: Path, mode: str, side: int, steps: int, image_out: Path) -> dict:
    """Load ``folder`` in ``mode`` and run one img2img pass (this process); the figures."""
    from core.engine import Engine
    from core.events import StepPreview
    from core.models import ModelSpec
    from core.models.memory_modes import module_bytes
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    dtype, quantize = MODES[mode]
    spec = ModelSpec(str(folder), device="cpu", dtype=dtype, quantize=quantize)
    engine = Engine(previews=False)
    started = time.perf_counter()
    model = engine.models.load(spec)
    load_seconds = time.perf_counter() - started
    loaded_rss = _rss_gb()
    parts = {
        name: module_bytes(part)
        for name, part in model.base_pipe.components.items()
        if hasattr(part, "parameters")
    }
    elapsed: list[float] = []

    def on_event(event: Any) -> None:
        if isinstance(event, StepPreview):
            elapsed.append(event.elapsed)

    request = PassRequest(
        make_image(side, side), "a red cat", strength=1.0, steps=steps, seed=3, work_size="input"
    )
    started = time.perf_counter()
    result = engine.run_pass(request, spec, on_event)
    pass_seconds = time.perf_counter() - started
    result.image.save(image_out)
    gaps = [b - a for a, b in zip(elapsed, elapsed[1:], strict=False)]
    return {
        "dtype": dtype,
        "quantize": result.record["model"].get("quantize", quantize),
        "unet_dtype": str(next(model.base_pipe.unet.parameters()).dtype).replace("torch.", ""),
        "load_s": round(load_seconds, 1),
        "rss_loaded_gb": loaded_rss,
        "peak_rss_gb": _peak_rss_gb(),
        "unet_bytes": parts.get("unet", 0),
        "weights_bytes": sum(parts.values()),
        "step_s": round(statistics.median(gaps), 3) if gaps else None,
        "pass_s": round(pass_seconds, 1),
        "steps": len(elapsed),
    }


def _pixel_difference(image: Path, reference: Path) -> dict[str, float]:
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(image).convert("RGB"), dtype=np.float64)
    b = np.asarray(Image.open(reference).convert("RGB"), dtype=np.float64)
    diff = np.abs(a - b)
    return {
        "mean_abs_diff_to_fp32": round(float(diff.mean()), 2),
        "max_abs_diff_to_fp32": int(diff.max()),
    }


def _run_child(
    folder: Path, mode: str, side: int, steps: int, image: Path, timeout: int = MODE_TIMEOUT_S
) -> dict:
    """``measure_mode`` in a process of its own; its row, or why there is none."""
    command = [sys.executable, "-m", "tests.benchmarks.cpu_weights", "--child", mode]
    command += ["--folder", str(folder), "--side", str(side), "--steps", str(steps)]
    command += ["--image", str(image)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"not finished in {timeout} s on this machine"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {done.returncode}: {last[:300]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_weights(
    folder: Path,
    side: int = 256,
    steps: int = 4,
    modes: tuple[str, ...] = tuple(MODES),
    on_row: Callable[[dict[str, Any]], None] | None = None,
    timeout: int = MODE_TIMEOUT_S,
) -> dict[str, Any]:
    """Every mode in its own process on ``folder`` (an SD 1.5-size pipeline), with ratios to
    fp32 and bf16 (fp32 first: the pixel differences are to its picture), each stopped after
    ``timeout`` s. ``on_row(out)`` after each mode: a long run keeps what it measured."""
    out: dict[str, Any] = {
        "model": "SD 1.5-size pipeline (random weights, bundled configs)",
        "size": f"{side}²",
        "steps": steps,
        "cfg_batch": 2,
    }
    images = folder.parent / f"weights-images-{side}-{steps}"
    images.mkdir(exist_ok=True)
    for mode in modes:
        out[mode] = _run_child(folder, mode, side, steps, images / f"{mode}.png", timeout)
        _compare(out, images)
        if on_row is not None:
            on_row(out)
    return out


def _compare(out: dict[str, Any], images: Path) -> None:
    """Each measured mode's ratios to fp32 and bf16 and its pixel difference to fp32."""
    reference = images / "fp32.png"
    for mode in MODES:
        row = out.get(mode)
        if not row or "error" in row or mode == "fp32" or not reference.is_file():
            continue
        row.update(_pixel_difference(images / f"{mode}.png", reference))
        for base in ("fp32", "bf16"):
            other = out.get(base, {})
            if base == mode or "error" in other or not other:
                continue
            row[f"unet_memory_vs_{base}"] = round(row["unet_bytes"] / other["unet_bytes"], 3)
            row[f"peak_rss_vs_{base}"] = round(row["peak_rss_gb"] / other["peak_rss_gb"], 3)
            if row["step_s"] and other["step_s"]:
                row[f"speed_vs_{base}"] = round(other["step_s"] / row["step_s"], 2)


def bench_emulated_bf16(
    folder: Path,
    side: int = EMULATED_BF16_SIDE,
    steps: int = EMULATED_BF16_STEPS,
    timeout: int = EMULATED_BF16_TIMEOUT_S,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """fp32 and bf16 side by side at a size small enough for emulated bf16 to finish (a CPU
    without bf16 instructions), and a sentence saying what bf16 costs there."""
    out = bench_weights(folder, side, steps, ("fp32", "bf16"), on_row, timeout)
    out["why"] = (
        "this CPU has no bf16 instructions (torch emulates bf16): measured at a small size, "
        "fp32 beside it in the same run"
    )
    bf16, fp32 = out["bf16"], out["fp32"]
    if "error" in bf16 or "error" in fp32:
        out["bf16_cost"] = f"not measured: {bf16.get('error') or fp32.get('error')}"
    else:
        key = "step_s" if bf16["step_s"] and fp32["step_s"] else "pass_s"
        what = "per step" if key == "step_s" else "per pass"
        out["bf16_cost"] = (
            f"bf16 takes {bf16[key] / fp32[key]:.1f}× fp32's time {what} on this CPU "
            f"({bf16[key]} s vs {fp32[key]} s at {side}², {steps} step{'s' * (steps != 1)})"
        )
    if on_row is not None:
        on_row(out)
    return out


def bench_cpu_weights(
    folder: Path, side: int, steps: int, keep: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """``weights``: every mode at ``side``² and ``steps``; on a CPU that emulates bf16, only fp32
    and int8 there, and ``bf16_emulated`` (:func:`bench_emulated_bf16`) beside it. ``keep``
    hears the sections after each row."""
    from core.models.device import fast_cpu_bf16

    sections: dict[str, Any] = {}

    def keeper(key: str) -> Callable[[dict[str, Any]], None]:
        def kept(rows: dict[str, Any]) -> None:
            sections[key] = rows
            if keep is not None:
                keep(sections)

        return kept

    if fast_cpu_bf16():
        bench_weights(folder, side, steps, on_row=keeper("weights"))
    else:
        bench_weights(folder, side, steps, ("fp32", "int8"), on_row=keeper("weights"))
        bench_emulated_bf16(folder, on_row=keeper("bf16_emulated"))
    return sections


LABELS = {
    "fp32": "fp32",
    "int8": "int8 weight-only, fp32 compute",
    "bf16": "bf16",
    "int8_bf16": "int8 weight-only, bf16 compute",
}


def markdown_table(report: dict[str, Any], key: str = "weights") -> str:
    """The README's table for a report this module wrote (``--table FILE``): its ``key``
    section (``weights``, or ``bf16_emulated`` where a CPU emulates bf16)."""
    machine, weights = report["machine"], report[key]
    bf16 = "yes" if machine.get("cpu_fast_bf16") else "no: emulated"
    lines = [
        f"CPU weights, {weights['model']}, {weights['size']}, {weights['steps']} steps, CFG: "
        f"{machine['cpu']}, {machine['cores']} cores (fast bf16: {bf16}), torch "
        f"{machine['torch']}, {machine['date']}; load average {machine['load_average'][0]} at "
        f"the start, {machine.get('load_average_after', ['?'])[0]} at the end.",
        "",
        "| Weights | Load | Peak RSS | UNet bytes | All weights | s / step | Speed vs fp32 "
        "| Pixel diff. to fp32 (mean / max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        row = weights.get(mode)
        if row is None:
            continue
        if "error" in row:
            lines.append(f"| {LABELS[mode]} | {row['error']} | | | | | | |")
            continue
        speed = row.get("speed_vs_fp32", 1.0)
        diff = (
            f"{row['mean_abs_diff_to_fp32']} / {row['max_abs_diff_to_fp32']}"
            if "mean_abs_diff_to_fp32" in row
            else "—"
        )
        lines.append(
            f"| {LABELS[mode]} | {row['load_s']} s | {row['peak_rss_gb']} GB "
            f"| {row['unet_bytes'] / 1e9:.2f} GB | {row['weights_bytes'] / 1e9:.2f} GB "
            f"| {row['step_s']} s | {speed}× | {diff} |"
        )
    if "bf16_cost" in weights:
        why = weights["why"]
        lines += ["", f"{why[:1].upper()}{why[1:]}: {weights['bf16_cost']}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="the JSON report (parent mode)")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--folder", type=Path, help="an SD 1.5-size folder (built if not given)")
    parser.add_argument("--table", type=Path, help="print the README table of this report")
    parser.add_argument(
        "--emulated-bf16", action="store_true", help="only fp32 vs bf16 at the small size"
    )
    parser.add_argument("--child", choices=tuple(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table:
        report = json.loads(args.table.read_text())
        print("\n\n".join(markdown_table(report, key) for key in SECTIONS if key in report))
        return 0
    if args.child:
        row = measure_mode(args.folder, args.child, args.side, args.steps, args.image)
        print(json.dumps(row))
        return 0
    from tests.benchmarks.machine import machine_info
    from tests.benchmarks.sd15_size import build_sd15_size
    from tests.benchmarks.timing import write_report

    out = args.out or Path("bench-out/cpu-weights.json")
    folder = args.folder or build_sd15_size(Path(tempfile.mkdtemp()) / "sd15")
    report: dict[str, Any] = {"machine": machine_info()}

    def keep(sections: dict[str, Any]) -> None:
        report.update(sections)
        report["machine"]["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
        write_report(report, out)

    if args.emulated_bf16:
        bench_emulated_bf16(folder, on_row=lambda rows: keep({"bf16_emulated": rows}))
    else:
        bench_cpu_weights(folder, args.side, args.steps, keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
