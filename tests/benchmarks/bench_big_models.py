"""Big-model options on the CPU, side by side in one run (``make bench``):

- Speed (step caching) on the tiny FLUX model: for off / fast / fastest, the steps the last
  transformer block really computed (a counting hook on its attention), the pass time, and the
  pixel difference to off (mean and max, 0–255);
- Weights on an SD 1.5-size UNet (860 M parameters, random, bundled config): fp32, bf16 and
  torchao int8 weight-only (on bf16 activations): parameter bytes as stored and seconds per CFG
  step at 256² (``--side 512`` for the real size);
- switching models: the process RSS after loading the SD 1.5-size model and after switching to
  the tiny one (the first must be freed).

``python -m tests.benchmarks.bench_big_models --out bench-out/big-models.json``
"""

from __future__ import annotations

import argparse
import gc
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.timing import write_report


def _rss_gb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    import os

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


def _step_seconds(unet: Any, latents: Any, text: Any, repeat: int) -> float:
    import torch

    times = []
    with torch.inference_mode():
        unet(latents, 500, encoder_hidden_states=text)  # warm
        for _ in range(repeat):
            started = time.perf_counter()
            unet(latents, 500, encoder_hidden_states=text)
            times.append(time.perf_counter() - started)
    return round(min(times), 3)


def bench_weights(side: int, repeat: int) -> dict[str, Any]:
    import torch
    from diffusers import UNet2DConditionModel
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    from core.models.files import BUNDLED_CONFIGS
    from core.models.memory_modes import module_bytes

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(
        UNet2DConditionModel.load_config(BUNDLED_CONFIGS / "sd15" / "unet")
    ).eval()
    out: dict[str, Any] = {"model": "SD 1.5-size UNet (random)", "size": f"{side}²", "cfg_batch": 2}
    latents = torch.randn(2, 4, side // 8, side // 8)
    text = torch.randn(2, 77, 768)
    out["fp32"] = {
        "bytes": module_bytes(unet),
        "step_s": _step_seconds(unet, latents, text, repeat),
    }
    unet.to(torch.bfloat16)
    bf16 = (latents.bfloat16(), text.bfloat16())
    out["bf16"] = {"bytes": module_bytes(unet), "step_s": _step_seconds(unet, *bf16, repeat)}
    quantize_(unet, Int8WeightOnlyConfig())
    out["int8"] = {"bytes": module_bytes(unet), "step_s": _step_seconds(unet, *bf16, repeat)}
    for name in ("bf16", "int8"):
        out[name]["memory_vs_fp32"] = round(out[name]["bytes"] / out["fp32"]["bytes"], 3)
        out[name]["speed_vs_fp32"] = round(out["fp32"]["step_s"] / out[name]["step_s"], 2)
    out["int8"]["speed_vs_bf16"] = round(out["bf16"]["step_s"] / out["int8"]["step_s"], 2)
    return out


def bench_switch(work: Path) -> dict[str, Any]:
    from core.models import ModelManager, ModelSpec
    from tests.benchmarks.sd15_size import build_sd15_size
    from tests.tiny_models.tiny_model import build_tiny_model

    big = build_sd15_size(work / "sd15")
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
    parser.add_argument("--side", type=int, default=256, help="UNet benchmark side (256)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    work = Path(tempfile.mkdtemp())
    report: dict[str, Any] = {
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
        "speed": bench_speed(work, args.steps),
        "weights": bench_weights(args.side, args.repeat),
        "switch": bench_switch(work),
    }
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
