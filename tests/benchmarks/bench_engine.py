"""Engine benchmarks: ``python -m tests.benchmarks.bench_engine --out FILE`` (``make bench``).

Everything is measured side by side in one run, so ratios hold on noisy machines:
- tiny model: step time, preview cost as a share of a step, differential and inpaint overheads;
- an SD 1.5-size random-weight UNet/VAE/CLIP (bundled config): preview cost vs a real-size step,
  seconds per step at 256² or 512² (skipped with ``--quick``).
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.timing import alternate, seconds, write_report


def _timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pass_seconds(engine, spec, request) -> float:
    return seconds(lambda: engine.run_pass(request, spec))


def bench_tiny(device: str) -> dict:
    from PIL import Image

    from core.engine import Engine
    from core.models import ModelManager, ModelSpec
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image, make_mask
    from tests.tiny_models.tiny_model import build_tiny_model

    folder = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    spec = ModelSpec(str(folder), device=device)
    image = make_image(128, 128)
    base = PassRequest(image, "a house", strength=1.0, steps=10, seed=1)
    models = ModelManager()  # one loaded model shared by both engines
    with_previews, plain = Engine(models, previews=True), Engine(models, previews=False)
    half = Image.new("L", image.size, 0)
    half.paste(255, (0, 0, 64, 128))
    masked = base.replace(mask=make_mask(128, 128), inpaint_area="masked")
    medians = alternate(
        {
            "plain": lambda: plain.run_pass(base, spec),
            "previews": lambda: with_previews.run_pass(base, spec),
            "differential": lambda: plain.run_pass(base.replace(strength_map=half), spec),
            "inpaint_masked": lambda: plain.run_pass(masked, spec),
        },
        rounds=5,
    )
    modes = {
        "img2img": base,
        "inpaint": base.replace(mask=make_mask(128, 128)),
        "strength_map": base.replace(strength_map=half),
    }
    return {
        "image": "128x128",
        "steps": 10,
        "mode_switch_overhead_s": mode_switches(plain, spec, modes),
        "pass_seconds": round(medians["plain"], 4),
        "with_previews_over_without": round(medians["previews"] / medians["plain"], 3),
        "differential_over_plain": round(medians["differential"] / medians["plain"], 3),
        "inpaint_masked_over_plain": round(medians["inpaint_masked"] / medians["plain"], 3),
    }


def mode_switches(engine, spec, modes: dict, rounds: int = 5) -> dict[str, float]:
    """Extra seconds of a pass in each mode right after a pass in another mode, over the same
    pass after one in its own mode (the loaded weights are shared: nothing should reload)."""
    for request in modes.values():
        engine.run_pass(request, spec)  # every mode once: its pipeline exists
    extra: dict[str, list[float]] = {name: [] for name in modes}
    names = list(modes)
    for _ in range(rounds):
        for i, name in enumerate(names):
            other = modes[names[(i + 1) % len(names)]]
            engine.run_pass(other, spec)
            switched = _pass_seconds(engine, spec, modes[name])
            repeated = _pass_seconds(engine, spec, modes[name])
            extra[name].append(switched - repeated)
    return {name: round(statistics.median(values), 4) for name, values in extra.items()}


def bench_sd15_size(device: str, size: int, dtype_name: str) -> dict:
    import torch
    from diffusers import UNet2DConditionModel

    from core.models.files import BUNDLED_CONFIGS
    from core.sampling.previews import LatentPreviewer

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
    config = UNet2DConditionModel.load_config(BUNDLED_CONFIGS / "sd15" / "unet")
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(config).to(device=device, dtype=dtype).eval()
    latent = size // 8
    x = torch.randn(2, 4, latent, latent, device=device, dtype=dtype)  # CFG doubles the batch
    context = torch.randn(2, 77, 768, device=device, dtype=dtype)
    t = torch.tensor([500], device=device)

    def step():
        with torch.no_grad():
            unet(x, t, encoder_hidden_states=context)
        if device == "cuda":
            torch.cuda.synchronize()

    step()
    step_seconds = _timed(step, repeat=2)
    previewer = LatentPreviewer("sd1")
    preview_seconds = _timed(lambda: previewer(x[:1]), repeat=20)
    return {
        "unet_params_millions": round(sum(p.numel() for p in unet.parameters()) / 1e6, 1),
        "image": f"{size}x{size}",
        "dtype": dtype_name,
        "cfg_step_seconds": round(step_seconds, 4),
        "preview_seconds": round(preview_seconds, 6),
        "preview_share_of_step": float(f"{preview_seconds / step_seconds:.2e}"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_engine")
    parser.add_argument("--out", default="bench-out/bench.json")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="tiny model only")
    parser.add_argument("--size", type=int, default=256, help="SD 1.5-size benchmark resolution")
    parser.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    args = parser.parse_args(argv)

    import torch

    from core.models import resolve_device

    device = resolve_device(args.device)
    dtype = args.dtype if args.dtype != "auto" else ("fp16" if device == "cuda" else "fp32")
    report = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": device,
            "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        },
        "tiny": bench_tiny(device),
    }
    if not args.quick:
        report["sd15_size"] = bench_sd15_size(device, args.size, dtype)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
