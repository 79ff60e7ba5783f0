"""Big-model options on the CPU, side by side in one run (``make bench``):

- Speed (step caching) on the tiny FLUX model: for off / fast / fastest, the steps the last
  transformer block really computed (a counting hook on its attention), the pass time, and the
  pixel difference to off (mean and max, 0–255);
- Weights on an SD 1.5-size pipeline (random weights, bundled configs), loaded by the app: fp32,
  bf16 and torchao int8 weight-only (on fp32 and on bf16 activations), each in its own process:
  load seconds, peak RSS, weight bytes, seconds per step at 256² (``--side``), pixel difference
  to fp32 (``cpu_weights``); on a CPU without bf16 instructions (emulated bf16: at 256² it did
  not finish in 25 minutes) the bf16 row is measured beside fp32 at a small size instead
  (``bf16_emulated``);
- switching models: the process RSS after loading the SD 1.5-size model and after switching to
  the tiny one (the first must be freed).

``python -m tests.benchmarks.bench_big_models --out bench-out/big-models.json``
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.timing import write_report


def _rss_gb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e9, 3)


def bench_speed(work: Path, steps: int) -> dict[str, Any]:
    from core.engine import Engine
    from core.models import ModelSpec
    from core.requests import SPEED_MODES, PassRequest
    from tests.tiny_models.images import make_image
    from tests.tiny_models.step_counting import counting_computed_steps
    from tests.tiny_models.tiny_flux import build_tiny_flux

    folder = build_tiny_flux(work / "tiny-flux")
    engine = Engine(previews=False)
    request = PassRequest(make_image(128, 128), "a red cat", strength=1.0, steps=steps, seed=3)
    out: dict[str, Any] = {"model": "tiny FLUX.1 (random weights)", "steps": steps, "size": "128²"}
    reference = None
    for speed in ("off", *SPEED_MODES[1:], "off"):
        spec = ModelSpec(str(folder), device="cpu", speed=speed)
        engine.run_pass(request, spec)  # warm
        transformer = engine.models.loaded.base_pipe.transformer
        with counting_computed_steps(transformer) as computed:
            started = time.perf_counter()
            result = engine.run_pass(request, spec)
            seconds = time.perf_counter() - started
        pixels = np.asarray(result.image, dtype=np.float64)
        if reference is None:
            reference = pixels
        diff = np.abs(pixels - reference)
        key = "off_again" if speed == "off" and "off" in out else speed
        out[key] = {
            "computed_steps": computed[0],
            "seconds": round(seconds, 3),
            "mean_abs_diff_to_off": round(float(diff.mean()), 2),
            "max_abs_diff_to_off": int(diff.max()),
            "recorded": result.record["model"]["speed"],
        }
    out["off_again_identical"] = out["off_again"]["max_abs_diff_to_off"] == 0
    return out


def bench_switch(work: Path, big: Path) -> dict[str, Any]:
    from core.models import ModelManager, ModelSpec
    from tests.tiny_models.tiny_model import build_tiny_model

    tiny = build_tiny_model(work / "tiny")
    gc.collect()
    manager = ModelManager()
    out = {"baseline_rss_gb": _rss_gb()}
    manager.load(ModelSpec(str(big), device="cpu"))
    out["sd15_loaded_rss_gb"] = _rss_gb()
    manager.load(ModelSpec(str(tiny), device="cpu"))
    gc.collect()
    out["after_switch_to_tiny_rss_gb"] = _rss_gb()
    freed = out["sd15_loaded_rss_gb"] - out["after_switch_to_tiny_rss_gb"]
    out["freed_share"] = round(freed / (out["sd15_loaded_rss_gb"] - out["baseline_rss_gb"]), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--side", type=int, default=256, help="weights benchmark side (256)")
    parser.add_argument("--steps", type=int, default=12, help="Speed benchmark steps (12)")
    parser.add_argument("--weight-steps", type=int, default=4, help="weights benchmark steps (4)")
    args = parser.parse_args(argv)
    from tests.benchmarks.cpu_weights import bench_cpu_weights
    from tests.benchmarks.machine import machine_info
    from tests.benchmarks.sd15_size import build_sd15_size

    work = Path(tempfile.mkdtemp())
    try:
        report: dict[str, Any] = {"machine": machine_info()}
        report["speed"] = bench_speed(work, args.steps)
        started = time.perf_counter()
        sd15 = build_sd15_size(work / "sd15")
        report["sd15_build_s"] = round(time.perf_counter() - started, 1)

        def keep(sections: dict[str, Any]) -> None:  # a long run keeps what it measured
            write_report({**report, **sections}, args.out)

        report.update(bench_cpu_weights(sd15, args.side, args.weight_steps, keep))
        report["switch"] = bench_switch(work, sd15)
        report["machine"]["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    finally:
        shutil.rmtree(work, ignore_errors=True)  # 4 GB of random weights
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
