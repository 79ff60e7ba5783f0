"""GPU benchmark: SD 1.5-size and SDXL-size pipelines with random weights (bundled configs, no
downloads), each optimisation on and off, side by side in one run.

``bash tests/benchmarks/gpu.sh`` (or ``python -m tests.benchmarks.bench_gpu --out gpu.json``;
``--tiny`` runs the same on the tiny models, a CPU smoke test). Per model:
- the denoiser alone, CFG batch (2×): it/s eager (SDPA, torch 2's default), with the classic
  attention (what SDPA saves), channels_last, and ``torch.compile(mode="reduce-overhead")``
  (CUDA graphs; its compile cost reported once);
- whole passes, interleaved rounds: a bare diffusers call (plain and channels_last) against the
  app's engine (previews off and on); the app against its own bare pipeline is the 3% target;
- latency: click → first preview on a warm model, img2img → inpaint → strength-map switches on
  the loaded model (shared weights), whether a second pass reloads anything; peak GPU memory.
Then (``gpu_big_models``) a FLUX.1-dev-size transformer at 1024², 28 steps, and a FLUX.2 Klein
4B-size one, 4 steps: eager, Speed fast/fastest, fp8/int8 weights, fp8 storage, regional
compilation, group offloading, peak memory of each. ``--smoke``: the tiny models, one round, on
whatever device there is (a test runs it, so the script cannot rot between GPU sessions).
Writes JSON naming the card.
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

from tests.benchmarks.gpu_big_models import bench_big_transformer
from tests.benchmarks.timing import alternate, seconds, write_report

MODELS = {  # family: (pipeline class, side, steps, strength)
    "sd15": ("StableDiffusionImg2ImgPipeline", 512, 30, 0.6),
    "sdxl": ("StableDiffusionXLImg2ImgPipeline", 1024, 20, 0.6),
}


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _seconds(fn: Any) -> float:
    return seconds(fn, _sync)


def _build(family: str, folder: Path, device: str, dtype: Any) -> Path:
    """A random-weight pipeline of the family's real architecture, saved as a folder."""
    import diffusers
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    from core.models.files import BUNDLED_CONFIGS

    config = BUNDLED_CONFIGS / family
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it runs: minutes faster for SDXL
        parts: dict[str, Any] = {
            "unet": UNet2DConditionModel.from_config(
                UNet2DConditionModel.load_config(config / "unet")
            ),
            "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(config / "vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(config / "text_encoder")),
        }
        if family == "sdxl":
            parts["text_encoder_2"] = CLIPTextModelWithProjection(
                CLIPTextConfig.from_pretrained(config / "text_encoder_2")
            )
            parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(config / "tokenizer_2")
    scheduler = diffusers.EulerDiscreteScheduler.from_pretrained(config / "scheduler")
    pipe_class = getattr(diffusers, MODELS[family][0])
    extra = {} if family == "sdxl" else {"safety_checker": None, "feature_extractor": None}
    if family != "sdxl":
        extra["requires_safety_checker"] = False
    pipe = pipe_class(
        tokenizer=CLIPTokenizer.from_pretrained(config / "tokenizer"),
        scheduler=scheduler,
        **parts,
        **extra,
    )
    pipe.to(dtype=dtype).save_pretrained(folder, safe_serialization=True)
    return folder


def bench_denoiser(pipe: Any, side: int, compile_it: bool, iters: int) -> dict[str, Any]:
    """The UNet alone at the pass's size with a CFG batch of 2: iterations per second."""
    import torch
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    unet = pipe.unet
    device, dtype = unet.device, unet.dtype
    latent = side // 8
    x = torch.randn(2, 4, latent, latent, device=device, dtype=dtype)
    context = torch.randn(2, 77, unet.config.cross_attention_dim, device=device, dtype=dtype)
    t = torch.tensor([500], device=device)
    kwargs: dict[str, Any] = {}
    if unet.config.addition_embed_type == "text_time":
        cfg = unet.config
        text_dim = cfg.projection_class_embeddings_input_dim - 6 * cfg.addition_time_embed_dim
        kwargs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, text_dim, device=device, dtype=dtype),
            "time_ids": torch.tensor([[side, side, 0, 0, side, side]] * 2, device=device),
        }

    def rate() -> float:
        with torch.no_grad():
            unet(x, t, encoder_hidden_states=context, **kwargs)  # warm-up
            seconds = _seconds(
                lambda: [unet(x, t, encoder_hidden_states=context, **kwargs) for _ in range(iters)]
            )
        return round(iters / seconds, 2)

    out: dict[str, Any] = {"sdpa_it_s": rate()}
    unet.set_attn_processor(AttnProcessor())
    out["classic_attention_it_s"] = rate()
    unet.set_attn_processor(AttnProcessor2_0())
    unet.to(memory_format=torch.channels_last)
    out["sdpa_channels_last_it_s"] = rate()
    unet.to(memory_format=torch.contiguous_format)
    if compile_it and device.type == "cuda":
        original = unet.forward
        unet.compile(mode="reduce-overhead")
        with torch.no_grad():
            out["compile_seconds"] = round(
                _seconds(lambda: [unet(x, t, encoder_hidden_states=context, **kwargs)] * 3), 1
            )
        out["compiled_cuda_graphs_it_s"] = rate()
        unet.forward = original  # eager again for what follows
        unet._compiled_call_impl = None
    return out


def bench_passes(
    family: str, folder: Path, tiny: bool, rounds: int, smoke: bool = False
) -> dict[str, Any]:
    import diffusers
    import torch
    from PIL import Image

    from core.engine import Engine
    from core.events import StepPreview
    from core.models import ModelSpec
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    _, side, steps, strength = MODELS[family]
    side = 64 if tiny else side
    steps = 4 if smoke else steps
    spec = ModelSpec(str(folder))
    engine = Engine(previews=True)
    quiet = Engine(models=engine.models, previews=False)  # the same loaded weights
    image = make_image(side, side)
    request = PassRequest(
        image, "a castle", strength=strength, steps=steps, cfg=7.0, seed=1, scheduler="Euler"
    )
    out: dict[str, Any] = {"image": f"{side}x{side}", "steps_run": request.effective_steps}
    out["first_pass_cold_seconds"] = round(_seconds(lambda: engine.run_pass(request, spec)), 3)
    loaded = engine.models.loaded
    device, dtype = loaded.device, loaded.dtype

    # 1. A bare diffusers pipeline on the same weights, same scheduler; plain and channels_last.
    pipe = getattr(diffusers, MODELS[family][0]).from_pretrained(folder, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = type(loaded.base_pipe.scheduler).from_config(pipe.scheduler.config)

    def bare() -> None:
        pipe(
            "a castle",
            image=image,
            strength=strength,
            num_inference_steps=steps,
            guidance_scale=7.0,
            generator=torch.Generator("cpu").manual_seed(1),
        )

    def bare_channels_last() -> None:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        bare()
        pipe.unet.to(memory_format=torch.contiguous_format)
        pipe.vae.to(memory_format=torch.contiguous_format)

    variants = {
        "bare": bare,
        "bare_channels_last": bare_channels_last,
        "app_no_previews": lambda: quiet.run_pass(request, spec),
        "app_previews": lambda: engine.run_pass(request, spec),
    }
    medians = alternate(variants, rounds, _sync)
    out["pass_seconds"] = {name: round(value, 4) for name, value in medians.items()}
    own_bare = medians["bare_channels_last"] if device == "cuda" else medians["bare"]
    out["app_vs_own_bare"] = round(medians["app_no_previews"] / own_bare, 3)
    out["app_vs_plain_bare"] = round(medians["app_no_previews"] / medians["bare"], 3)
    out["previews_cost"] = round(medians["app_previews"] / medians["app_no_previews"], 3)
    out["pass_it_s"] = round(request.effective_steps / medians["app_previews"], 2)

    # 2. Latency on the warm model: first preview, mode switches, no reload on a second pass.
    firsts = []
    for _ in range(rounds):
        marks: list[float] = []

        def first(event: Any, marks: list[float] = marks) -> None:
            if isinstance(event, StepPreview) and not marks:
                _sync()
                marks.append(time.perf_counter())

        start = time.perf_counter()
        engine.run_pass(request, spec, on_event=first)
        firsts.append(marks[0] - start)
    step = medians["app_previews"] / request.effective_steps
    out["click_to_first_preview_s"] = round(statistics.median(firsts), 4)
    out["first_preview_minus_one_step_ms"] = round((statistics.median(firsts) - step) * 1000, 1)
    out["inpaint_pipe_build_s"] = round(_seconds(lambda: loaded.inpaint_pipe), 4)
    mask = Image.new("L", image.size, 0)
    mask.paste(255, (side // 4, side // 4, 3 * side // 4, 3 * side // 4))
    one_step = request.replace(steps=2, strength=0.5)
    switch = {
        "img2img": one_step,
        "inpaint": one_step.replace(mask=mask),
        "strength_map": one_step.replace(strength_map=mask),
    }
    for req in switch.values():
        quiet.run_pass(req, spec)  # each mode once (pipelines built)
    times: dict[str, list[float]] = {name: [] for name in switch}
    for _ in range(rounds):
        for name, req in switch.items():
            times[name].append(_seconds(lambda req=req: quiet.run_pass(req, spec)))
    base = statistics.median(times["img2img"])
    out["mode_switch_overhead_s"] = {
        name: round(statistics.median(values) - base, 4) for name, values in times.items()
    }
    out["second_pass_reloads"] = engine.models.loaded is not loaded
    if torch.cuda.is_available():
        out["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    out["denoiser"] = bench_denoiser(
        loaded.base_pipe, side, compile_it=not tiny, iters=2 if smoke else 5 if tiny else 30
    )
    engine.models.unload()
    return out


def run(tiny: bool, rounds: int, families: list[str], smoke: bool = False) -> dict[str, Any]:
    import torch

    from core.models import resolve_device, resolve_dtype
    from tests.tiny_models.tiny_model import build_tiny_model
    from tests.tiny_models.tiny_sdxl import build_tiny_sdxl

    device = resolve_device("auto")
    dtype = resolve_dtype("auto", device)
    cuda = torch.cuda.is_available()
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
        "dtype": str(dtype),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "tiny": tiny,
    }
    work = Path(tempfile.mkdtemp())
    for family in [f for f in families if f in MODELS]:
        started = time.perf_counter()
        if tiny:
            builder = build_tiny_sdxl if family == "sdxl" else build_tiny_model
            folder = builder(work / family)
        else:
            folder = _build(family, work / family, device, dtype)
        build_seconds = round(time.perf_counter() - started, 1)
        results[family] = {
            "build_seconds": build_seconds,
            **bench_passes(family, folder, tiny, rounds, smoke),
        }
        print(json.dumps({family: results[family]}, indent=2), flush=True)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    for kind in ("flux", "klein"):  # gpu_big_models.py: FLUX.1-dev / Klein 4B-size, each option
        if kind in families:
            steps = 4 if smoke else None
            results[f"{kind}_size"] = bench_big_transformer(kind, tiny, device, steps=steps)
            print(json.dumps({f"{kind}_size": results[f"{kind}_size"]}, indent=2), flush=True)
            if cuda:
                torch.cuda.empty_cache()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="the tiny models (CPU smoke test)")
    parser.add_argument(
        "--smoke", action="store_true", help="--tiny with one round: every path once, any device"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="sd15,sdxl,flux,klein")
    args = parser.parse_args(argv)
    rounds = 1 if args.smoke else args.rounds
    families = args.models.split(",")
    write_report(run(args.tiny or args.smoke, rounds, families, args.smoke), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
