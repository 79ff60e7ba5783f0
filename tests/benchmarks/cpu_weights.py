"""Weights on the CPU, the whole SD 1.5-size pipeline through the app (issue 26, req. 6):
fp32, bf16 and torchao int8 weight-only (on fp32 and on bf16 activations), each loaded by the
app's ``ModelManager`` from one random-weight SD 1.5-size folder (the real UNet/VAE/CLIP configs
from ``resources/model_configs/sd15``, built once, never committed) and run as one img2img pass.

Each mode runs in its own process (so its peak RSS is its own) one after the other in one call,
and reports: load seconds, RSS after loading and peak RSS over load + pass, bytes of the weights
as stored (UNet and all parts), seconds per denoising step (the median gap between the engine's
step events after the first step, CFG batch of 2) and the mean / max pixel difference of its
picture to fp32's (same seed, 0–255).

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


def _run_child(folder: Path, mode: str, side: int, steps: int, image: Path) -> dict:
    """``measure_mode`` in a process of its own; its row, or why there is none."""
    command = [sys.executable, "-m", "tests.benchmarks.cpu_weights", "--child", mode]
    command += ["--folder", str(folder), "--side", str(side), "--steps", str(steps)]
    command += ["--image", str(image)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=MODE_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"not finished in {MODE_TIMEOUT_S} s on this machine"}
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
) -> dict[str, Any]:
    """Every mode in its own process on ``folder`` (an SD 1.5-size pipeline), with ratios to
    fp32 and bf16 (fp32 first: the pixel differences are to its picture). ``on_row(out)``
    after each mode: a long run keeps what it measured."""
    out: dict[str, Any] = {
        "model": "SD 1.5-size pipeline (random weights, bundled configs)",
        "size": f"{side}²",
        "steps": steps,
        "cfg_batch": 2,
    }
    images = folder.parent / "weights-images"
    images.mkdir(exist_ok=True)
    for mode in modes:
        out[mode] = _run_child(folder, mode, side, steps, images / f"{mode}.png")
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


LABELS = {
    "fp32": "fp32",
    "int8": "int8 weight-only, fp32 compute",
    "bf16": "bf16",
    "int8_bf16": "int8 weight-only, bf16 compute",
}


def markdown_table(report: dict[str, Any]) -> str:
    """The README's table for a report this module wrote (``--table FILE``)."""
    machine, weights = report["machine"], report["weights"]
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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="the JSON report (parent mode)")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--folder", type=Path, help="an SD 1.5-size folder (built if not given)")
    parser.add_argument("--table", type=Path, help="print the README table of this report")
    parser.add_argument("--child", choices=tuple(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.table.read_text())))
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

    def keep(weights: dict[str, Any]) -> None:
        report["weights"] = weights
        report["machine"]["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
        write_report(report, out)

    bench_weights(folder, args.side, args.steps, on_row=keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
