"""bench_gpu's big-model section: a FLUX.1-dev-size transformer (12 B parameters, random
weights, bf16) at 1024² for 28 steps, with each option the app offers on it:

- eager (SDPA), the baseline; Speed fast (First-Block Cache) and fastest (TaylorSeer): steps
  computed and seconds (random weights change a lot from step to step, so First-Block Cache
  skips less than on a trained model: its figure here is a floor);
- Weights: torchao fp8 and int8 weight-only (quantized in place), nf4 is not run (bitsandbytes
  needs its own load);
- compile: regional compilation of the repeated blocks (its compile time apart);
- memory: group offloading with CUDA streams (the model in CPU memory, one block on the GPU),
  and the peak GPU memory of each.

The transformer is called as the FLUX pipelines call it (packed latents, T5 and pooled CLIP
embeddings, guidance); between steps the latents move by a flow-matching Euler update. ``tiny``
runs the same code on the tiny FLUX transformer on a CPU (the CUDA-only options are skipped).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

STEPS = 28
NOT_ON_CPU = "not run: CUDA only"


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _transformer(tiny: bool, device: str, dtype: Any) -> Any:
    import torch
    from diffusers import FluxTransformer2DModel

    if tiny:
        from tests.tiny_models.tiny_flux import build_flux_components

        return build_flux_components()["transformer"].to(device, dtype)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in bf16: 24 GB, not 48 GB of fp32 first
    try:
        with torch.device(device):  # FLUX.1-dev's defaults: 19 double + 38 single blocks
            model = FluxTransformer2DModel(guidance_embeds=True)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def _inputs(transformer: Any, side: int, device: str, dtype: Any) -> dict[str, Any]:
    import torch

    config = transformer.config
    tokens = (side // 16) ** 2  # 8× VAE, 2×2 packing
    generator = torch.Generator(device).manual_seed(0)

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator, device=device, dtype=dtype)

    text_tokens = 512 if config.joint_attention_dim >= 4096 else 16
    ids = torch.zeros(tokens, 3, device=device)
    ids[:, 1] = torch.arange(tokens, device=device) // (side // 16)
    ids[:, 2] = torch.arange(tokens, device=device) % (side // 16)
    return {
        "hidden_states": randn(1, tokens, config.in_channels),
        "encoder_hidden_states": randn(1, text_tokens, config.joint_attention_dim),
        "pooled_projections": randn(1, config.pooled_projection_dim),
        "guidance": torch.full((1,), 3.5, device=device, dtype=dtype),
        "txt_ids": torch.zeros(text_tokens, 3, device=device),
        "img_ids": ids,
    }


def _denoise(transformer: Any, inputs: dict[str, Any], steps: int) -> float:
    """Seconds for ``steps`` flow-matching Euler steps, as a pipeline's loop runs them."""
    import torch

    latents = inputs["hidden_states"].clone()
    sigmas = torch.linspace(1.0, 0.0, steps + 1).tolist()
    _sync()
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(steps):
            timestep = torch.full((1,), sigmas[i], device=latents.device, dtype=latents.dtype)
            kwargs = {**inputs, "hidden_states": latents, "timestep": timestep}
            velocity = transformer(**kwargs, return_dict=False)[0]
            latents = latents + (sigmas[i + 1] - sigmas[i]) * velocity
    _sync()
    return time.perf_counter() - started


def _peak_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def _reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _measure(transformer: Any, inputs: dict, steps: int, counted: bool = True) -> dict[str, Any]:
    from tests.tiny_models.step_counting import counting_computed_steps

    _reset_peak()
    _denoise(transformer, inputs, 2)  # warm
    with counting_computed_steps(transformer) as computed:
        seconds = _denoise(transformer, inputs, steps)
    out = {"seconds": round(seconds, 3), "it_s": round(steps / seconds, 2)}
    if counted:
        out["computed_steps"] = computed[0]  # counted after the warm-up
    out["peak_gib"] = _peak_gib()
    return out


def _speed(transformer: Any, inputs: dict, steps: int, speed: str) -> dict[str, Any]:
    """The cache hooks on for one run of ``steps`` (the eager run warmed the kernels up)."""
    from core.models.step_cache import cache_config
    from tests.tiny_models.step_counting import counting_computed_steps

    _reset_peak()
    transformer.enable_cache(cache_config(speed))
    try:
        with transformer.cache_context("cond"), counting_computed_steps(transformer) as computed:
            seconds = _denoise(transformer, inputs, steps)
    finally:
        transformer.disable_cache()
    return {
        "seconds": round(seconds, 3),
        "it_s": round(steps / seconds, 2),
        "computed_steps": computed[0],
        "peak_gib": _peak_gib(),
    }


def _guarded(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except Exception as exc:  # a benchmark reports what failed and goes on with the rest
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


def bench_flux_size(tiny: bool, device: str, side: int = 1024, steps: int = STEPS) -> dict:
    """The section described in the module doc, as one JSON-able dict."""
    import torch

    cuda = device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    side = 128 if tiny else side
    started = time.perf_counter()
    transformer = _transformer(tiny, device, dtype)
    out: dict[str, Any] = {
        "model": "tiny FLUX.1" if tiny else "FLUX.1-dev-size transformer (12 B, random, bf16)",
        "size": f"{side}²",
        "steps": steps,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    inputs = _inputs(transformer, side, device, dtype)
    out["eager"] = _measure(transformer, inputs, steps)
    for speed in ("fast", "fastest"):
        out[f"speed_{speed}"] = _guarded(
            speed, lambda s=speed: _speed(transformer, inputs, steps, s)
        )
    if not cuda:
        for key in ("compile_regional", "fp8", "int8", "group_offload"):
            out[key] = NOT_ON_CPU
        return out
    out["compile_regional"] = _guarded("compile", lambda: _compiled(transformer, inputs, steps))
    for mode in ("fp8", "int8"):
        out[mode] = _guarded(mode, lambda m=mode: _quantized(tiny, device, dtype, inputs, steps, m))
    transformer = None  # its 24 GB freed before the offload run
    out["group_offload"] = _guarded("group", lambda: _group(tiny, dtype, inputs, steps))
    return out


def _compiled(transformer: Any, inputs: dict, steps: int) -> dict[str, Any]:
    started = time.perf_counter()
    transformer.compile_repeated_blocks(fullgraph=True)
    _denoise(transformer, inputs, 2)
    compile_seconds = round(time.perf_counter() - started, 1)
    return {"compile_seconds": compile_seconds, **_measure(transformer, inputs, steps, False)}


def _quantized(tiny: bool, device: str, dtype: Any, inputs: dict, steps: int, mode: str) -> dict:
    from torchao.quantization import quantize_

    from core.models.memory_modes import module_bytes
    from core.models.quantize import _torchao_config

    _reset_peak()
    transformer = _transformer(tiny, device, dtype)
    quantize_(transformer, _torchao_config(mode))
    out = {"weights_gib": round(module_bytes(transformer) / 2**30, 2)}
    out.update(_measure(transformer, inputs, steps, False))
    return out


def _group(tiny: bool, dtype: Any, inputs: dict, steps: int) -> dict[str, Any]:
    import torch

    _reset_peak()
    transformer = _transformer(tiny, "cpu", dtype)
    transformer.enable_group_offload(
        onload_device=torch.device("cuda"),
        offload_device=torch.device("cpu"),
        offload_type="block_level",
        num_blocks_per_group=1,
        use_stream=True,
    )
    return _measure(transformer, inputs, max(4, steps // 7), False)
