"""GPU benchmark: an SD 1.5-size pipeline with random weights (no downloads) on CUDA.

``python -m tests.benchmarks.bench_gpu --out gpu.json`` (``--tiny`` runs the same on the tiny
model, for a CPU smoke test). Measured side by side in one run: the engine against a bare
diffusers call (same steps, sampler, seed), previews on and off, click → first preview on a warm
model, a 4000×3000 photo with a mask (auto work size) end to end, and peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _build_sd15(folder: Path, device: str, dtype: Any) -> Path:
    """An SD 1.5-architecture pipeline (bundled config) with random weights, saved as a folder."""
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        StableDiffusionImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from core.models.files import BUNDLED_CONFIGS

    config = BUNDLED_CONFIGS / "sd15"
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(config / "unet"))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(config / "vae"))
    text = CLIPTextModel(CLIPTextConfig.from_pretrained(config / "text_encoder"))
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=CLIPTokenizer.from_pretrained(config / "tokenizer"),
        unet=unet,
        scheduler=DPMSolverMultistepScheduler.from_pretrained(config / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(dtype=dtype).save_pretrained(folder, safe_serialization=True)
    return folder


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _median_seconds(fn: Any, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(tiny: bool, rounds: int) -> dict[str, Any]:
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline
    from PIL import Image

    from core.engine import Engine
    from core.events import StepPreview
    from core.models import ModelSpec, resolve_device, resolve_dtype
    from core.requests import PassRequest
    from core.testing.images import make_image
    from core.testing.tiny_model import build_tiny_model

    device = resolve_device("auto")
    dtype = resolve_dtype("auto", device)
    work = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    if tiny:
        folder, side, steps = build_tiny_model(work / "model"), 64, 10
    else:
        folder, side, steps = _build_sd15(work / "model", device, dtype), 512, 30
    results: dict[str, Any] = {"build_seconds": round(time.perf_counter() - started, 2)}
    spec = ModelSpec(str(folder))
    engine = Engine(previews=True)
    quiet = Engine(models=engine.models, previews=False)  # the same loaded weights
    image = make_image(side, side)
    request = PassRequest(image, "a castle", strength=0.6, steps=steps, cfg=7.0, seed=1)
    started = time.perf_counter()
    engine.run_pass(request, spec)  # load + warm-up
    results["first_pass_seconds_cold"] = round(time.perf_counter() - started, 3)

    # 1. The engine against a bare diffusers call on the same weights, interleaved.
    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(folder, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = engine.models.loaded.base_pipe.scheduler.__class__.from_config(
        pipe.scheduler.config
    )

    def bare() -> None:
        pipe(
            "a castle",
            image=image,
            strength=0.6,
            num_inference_steps=steps,
            guidance_scale=7.0,
            generator=torch.Generator("cpu").manual_seed(1),
        )

    bare()
    timings: dict[str, list[float]] = {"engine_previews": [], "engine_no_previews": [], "bare": []}
    for _ in range(rounds):
        for name, fn in (
            ("engine_previews", lambda: engine.run_pass(request, spec)),
            ("engine_no_previews", lambda: quiet.run_pass(request, spec)),
            ("bare", bare),
        ):
            timings[name].append(_median_seconds(fn, 1))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    results["pass_512_seconds" if not tiny else "pass_seconds"] = {
        k: round(v, 4) for k, v in medians.items()
    }
    results["engine_vs_bare"] = round(medians["engine_no_previews"] / medians["bare"], 3)
    results["previews_cost"] = round(medians["engine_previews"] / medians["engine_no_previews"], 3)
    results["steps_run"] = request.effective_steps
    results["seconds_per_step"] = round(medians["engine_previews"] / request.effective_steps, 4)

    # 2. Click → first preview on the warm model.
    firsts = []
    for _ in range(rounds):
        marks: list[float] = []

        def first_preview(event: Any, marks: list[float] = marks) -> None:
            if isinstance(event, StepPreview) and not marks:
                marks.append(time.perf_counter())

        start = time.perf_counter()
        engine.run_pass(request, spec, on_event=first_preview)
        firsts.append(marks[0] - start)
    results["first_preview_seconds"] = round(statistics.median(firsts), 4)

    # 3. A phone photo with a mask: auto work size, full-size result, protected pixels exact.
    photo = make_image(4000, 3000)
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (1200, 900, 2800, 2100))
    big = PassRequest(photo, "a castle", strength=0.6, steps=steps, seed=2, mask=mask)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = engine.run_pass(big, spec)
    results["photo_4000x3000_masked"] = {
        "seconds": round(time.perf_counter() - started, 3),
        "work_size": result.record["work_size"],
        "result_size": list(result.image.size),
    }
    if torch.cuda.is_available():
        results["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        results["device"] = torch.cuda.get_device_name(0)
    else:
        results["device"] = platform.processor() or platform.machine()
    results["dtype"] = str(dtype)
    results["torch"] = torch.__version__
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="the tiny model (CPU smoke test)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    results = run(args.tiny, args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
