"""The app against bare diffusers, side by side: ``python -m tests.benchmarks.bench_app``.

Each comparison is the median of ``--rounds`` (≥ 5) alternating runs in one process, so machine
noise hits both sides alike; the numbers that matter are the ratios. The app works at the input's
size (``work_size="input"``), as the bare call does (``auto`` would run the tiny model small).
- tiny model at 512²: an app pass vs a bare diffusers call (same weights, sampler, seed, steps),
  previews on vs off (cost per step), a batch folder vs a bare diffusers loop writing PNGs;
- SD 1.5-size random weights (bundled config) at ``--sd15-side`` with few steps (a 2-core CPU
  takes tens of seconds per step): app vs bare, and on a CPU with fast bf16 the split precision
  (bf16 UNet, fp32 VAE) vs fp32: speed and mean pixel difference;
- peak RSS of one app pass vs one bare pass (each in its own subprocess).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.bare import bare_call, bare_pipeline
from tests.benchmarks.machine import machine_info
from tests.benchmarks.timing import alternate


def _bare_pipe(folder: Path) -> Any:
    """A bare fp32 img2img pipeline loaded from ``folder`` (a process without the app)."""
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(
        folder, dtype=torch.float32, safety_checker=None, feature_extractor=None
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


class _TimedPreviewer:
    """Wraps the engine's step previewer, adding up the seconds its calls take."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds, self.calls = inner, 0.0, 0

    def __call__(self, latents: Any) -> Any:
        start = time.perf_counter()
        image = self.inner(latents)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return image


def compare_passes(folder: Path, side: int, steps: int, rounds: int) -> dict[str, Any]:
    """App (previews off and on) vs a bare diffusers call on the same weights."""
    from core.engine import Engine
    from core.models import ModelSpec
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    spec = ModelSpec(str(folder), device="cpu", dtype="fp32")
    engine = Engine(previews=True)
    quiet = Engine(models=engine.models, previews=False)
    request = PassRequest(
        make_image(side, side), "a house", strength=1.0, steps=steps, seed=1, work_size="input"
    )
    quiet.run_pass(request, spec)
    pipe = bare_pipeline(engine.models.loaded.base_pipe)  # same weights and sampler
    timed = _TimedPreviewer(engine.previewer_for(engine.models.loaded))
    engine.previewer_for = lambda _model: timed  # type: ignore[method-assign]
    medians = alternate(
        {
            "bare": lambda: bare_call(pipe, request),
            "app": lambda: quiet.run_pass(request, spec),
            "app_previews": lambda: engine.run_pass(request, spec),
        },
        rounds,
    )
    step = medians["app"] / request.effective_steps
    return {
        # the previewer timed around each call: its share of a step (the difference of the
        # two medians below says the same, but within the machine's noise)
        "previewer_share_of_step_pct": round(100 * timed.seconds / timed.calls / step, 3),
        "image": f"{side}x{side}",
        "steps": request.effective_steps,
        "bare_seconds": round(medians["bare"], 4),
        "app_seconds": round(medians["app"], 4),
        "app_over_bare": round(medians["app"] / medians["bare"], 3),
        "previews_over_plain": round(medians["app_previews"] / medians["app"], 3),
        "preview_cost_per_step_pct": round(
            100 * (medians["app_previews"] - medians["app"]) / request.effective_steps / step, 2
        ),
    }


def compare_precision(folder: Path, side: int, steps: int, rounds: int) -> dict[str, Any]:
    """fp32 vs the CPU split (bf16 UNet, fp32 VAE): speed and mean absolute pixel difference."""
    import numpy as np

    from core.engine import Engine
    from core.models import ModelManager, ModelSpec
    from core.models import device as device_module
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    request = PassRequest(
        make_image(side, side), "a house", strength=1.0, steps=steps, seed=1, work_size="input"
    )
    fp32, fp32_spec = Engine(ModelManager()), ModelSpec(str(folder), device="cpu", dtype="fp32")
    split, split_spec = Engine(ModelManager()), ModelSpec(str(folder), device="cpu", dtype="auto")
    fast = device_module.fast_cpu_bf16()
    fp32.models.load(fp32_spec)
    split.models.load(split_spec)
    used = str(split.models.loaded.base_pipe.unet.dtype)
    results: dict[str, Any] = {}
    medians = alternate(
        {
            "fp32": lambda: results.__setitem__("fp32", fp32.run_pass(request, fp32_spec)),
            "split": lambda: results.__setitem__("split", split.run_pass(request, split_spec)),
        },
        rounds,
    )
    a = np.asarray(results["fp32"].image, np.float32)
    b = np.asarray(results["split"].image, np.float32)
    return {
        "cpu_fast_bf16": fast,
        "auto_unet_dtype": used,
        "fp32_seconds": round(medians["fp32"], 3),
        "auto_seconds": round(medians["split"], 3),
        "auto_over_fp32": round(medians["split"] / medians["fp32"], 3),
        "mean_abs_pixel_difference": round(float(np.abs(a - b).mean()), 2),
        "max_abs_pixel_difference": int(np.abs(a - b).max()),
    }


def compare_batch(folder: Path, count: int, side: int, steps: int, rounds: int) -> dict:
    """A batch folder through the app vs a bare diffusers loop writing PNGs (images per second)."""
    import shutil

    from core.engine import Engine
    from core.models import ModelSpec
    from core.requests import PassRequest
    from core.workflows.batch import run_batch
    from tests.tiny_models.images import make_image

    work = Path(tempfile.mkdtemp())
    inputs = work / "in"
    inputs.mkdir()
    for i in range(count):
        make_image(side, side, seed=i).save(inputs / f"{i:03d}.png")
    spec = ModelSpec(str(folder), device="cpu", dtype="fp32")
    engine = Engine(previews=False)
    template = PassRequest(
        make_image(side, side), "a house", strength=1.0, steps=steps, seed=1, work_size="input"
    )
    engine.run_pass(template, spec)
    pipe = bare_pipeline(engine.models.loaded.base_pipe)

    def app() -> None:
        out = work / "app"
        shutil.rmtree(out, ignore_errors=True)
        run_batch(engine, inputs, out, template, spec)

    def bare() -> None:
        from PIL import Image

        out = work / "bare"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for path in sorted(inputs.glob("*.png")):
            image = Image.open(path).convert("RGB")
            bare_call(pipe, template.replace(image=image)).save(out / path.name)

    medians = alternate({"bare": bare, "app": app}, rounds)
    return {
        "images": count,
        "image": f"{side}x{side}",
        "bare_images_per_s": round(count / medians["bare"], 3),
        "app_images_per_s": round(count / medians["app"], 3),
        "app_throughput_over_bare": round(medians["bare"] / medians["app"], 3),
    }


_RSS_CHILD = """
import resource, sys
from pathlib import Path
from tests.tiny_models.images import make_image
from core.requests import PassRequest
request = PassRequest(
    make_image({side}, {side}), "a house", strength=1.0, steps={steps}, seed=1, work_size="input"
)
if sys.argv[1] == "app":
    from core.engine import Engine
    from core.models import ModelSpec
    Engine(previews=True).run_pass(request, ModelSpec({folder!r}, device="cpu", dtype="fp32"))
else:
    from tests.benchmarks.bare import bare_call
    from tests.benchmarks.bench_app import _bare_pipe
    bare_call(_bare_pipe(Path({folder!r})), request)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def compare_rss(folder: Path, side: int, steps: int) -> dict[str, Any]:
    """Peak RSS (MB) of one app pass and one bare pass, each in a fresh subprocess."""
    code = _RSS_CHILD.format(folder=str(folder), side=side, steps=steps)
    peaks = {}
    for kind in ("bare", "app"):
        run = subprocess.run(
            [sys.executable, "-c", code, kind], capture_output=True, text=True, check=True
        )
        peaks[kind] = int(run.stdout.split()[-1]) / 1024
    return {
        "bare_mb": round(peaks["bare"], 1),
        "app_mb": round(peaks["app"], 1),
        "app_over_bare": round(peaks["app"] / peaks["bare"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_app")
    parser.add_argument("--out", default="bench-out/app.json")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sd15-side", type=int, default=512)
    parser.add_argument("--sd15-steps", type=int, default=2)
    parser.add_argument("--skip-sd15", action="store_true")
    args = parser.parse_args(argv)

    from tests.benchmarks.sd15_size import build_sd15_size
    from tests.tiny_models.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine_info(), "rounds": args.rounds}

    def record(name: str, value: dict[str, Any]) -> None:  # written as it goes (slow CPUs)
        report[name] = value
        out.write_text(json.dumps(report, indent=2))
        print(json.dumps({name: value}, indent=2), flush=True)

    tiny = build_tiny_model(work / "tiny")
    record("tiny_pass", compare_passes(tiny, 512, 10, args.rounds))
    record("tiny_batch", compare_batch(tiny, 6, 256, 4, args.rounds))
    record("tiny_rss", compare_rss(tiny, 512, 10))
    if not args.skip_sd15:
        sd15 = build_sd15_size(work / "sd15")
        side, steps = args.sd15_side, args.sd15_steps
        record("sd15_pass", compare_passes(sd15, side, steps, args.rounds))
        record("sd15_precision", compare_precision(sd15, side, steps, args.rounds))
        record("sd15_rss", compare_rss(sd15, side, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
