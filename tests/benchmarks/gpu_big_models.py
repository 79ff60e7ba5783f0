"""bench_gpu's big-model section: a FLUX.1-dev-size transformer (12 B parameters, random
weights, bf16) at 1024² for 28 steps and a FLUX.2 Klein 4B-size one (3.9 B, 4 steps, the
picture as its edit reference: twice the image tokens), with each option the app offers on them:

- eager (SDPA), the baseline; Speed fast (First-Block Cache) and fastest (TaylorSeer): steps
  computed and seconds (random weights change a lot from step to step, so First-Block Cache
  skips less than on a trained model: its figure here is a floor);
- Weights: torchao fp8 and int8 weight-only (quantized in place), nf4 is not run (bitsandbytes
  needs its own load);
- compile: regional compilation of the repeated blocks (its compile time apart);
- memory: group offloading with CUDA streams (the model in CPU memory, one block on the GPU)
  and fp8 storage between layers (diffusers' layerwise casting: what ``auto`` adds to an
  offloaded big transformer), and the peak GPU memory of each.

Klein 4B's dimensions are not bundled: ``KLEIN_4B`` holds them (5 double + 20 single blocks,
24 heads of 128, Qwen3-4B's three hidden layers of 2560 as text input, no guidance embedding;
from InvokeAI's FLUX.2 Klein presets, matching the 4B checkpoint's parameter count).

Each transformer is called as its pipeline calls it (FLUX.1: packed latents, T5 and pooled
CLIP embeddings, guidance; Klein: latents then the reference's tokens, Qwen3 embeddings, 4-axis
position ids, no guidance); between steps the latents move by a flow-matching Euler update.
``tiny`` runs the same code on the tiny transformers on a CPU (fp8 weights, compile and group
offload are skipped there; int8 and fp8 storage run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

STEPS = {"flux": 28, "klein": 4}  # FLUX.1-dev's default; Klein 4B is distilled to 4 steps
NOT_ON_CPU = "not run: CUDA only"
LABELS = {
    "flux": ("tiny FLUX.1", "FLUX.1-dev-size transformer (12 B, random, bf16)"),
    "klein": ("tiny FLUX.2 Klein", "FLUX.2 Klein 4B-size transformer (3.9 B, random, bf16)"),
}
KLEIN_4B: dict[str, Any] = {  # Flux2Transformer2DModel keywords (see the module doc)
    "patch_size": 1, "in_channels": 128, "num_layers": 5, "num_single_layers": 20,
    "attention_head_dim": 128, "num_attention_heads": 24, "joint_attention_dim": 7680,
    "timestep_guidance_channels": 256, "mlp_ratio": 3.0, "axes_dims_rope": (32, 32, 32, 32),
    "rope_theta": 2000, "guidance_embeds": False,
}  # fmt: skip


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _transformer(kind: str, tiny: bool, device: str, dtype: Any) -> Any:
    import torch
    from diffusers import Flux2Transformer2DModel, FluxTransformer2DModel

    if tiny:
        from tests.tiny_models.tiny_flux import build_flux_components
        from tests.tiny_models.tiny_flux2_klein import build_flux2_klein_components

        build = build_flux_components if kind == "flux" else build_flux2_klein_components
        return build()["transformer"].to(device, dtype).eval()
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in bf16: 24 GB, not 48 GB of fp32 first
    try:
        with torch.device(device):  # FLUX.1-dev's defaults: 19 double + 38 single blocks
            if kind == "flux":
                model = FluxTransformer2DModel(guidance_embeds=True)
            else:
                model = Flux2Transformer2DModel(**KLEIN_4B)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def _inputs(kind: str, transformer: Any, side: int, device: str, dtype: Any) -> dict[str, Any]:
    """The transformer's keyword arguments for one step (``_reference``: Klein's reference
    tokens, appended to the latents at every step and never updated)."""
    import torch

    config = transformer.config
    grid = side // 16  # 8× VAE, 2×2 packing
    tokens = grid * grid
    generator = torch.Generator(device).manual_seed(0)

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator, device=device, dtype=dtype)

    text_tokens = 512 if config.joint_attention_dim >= 4096 else 16
    rows = torch.arange(tokens, device=device) // grid
    cols = torch.arange(tokens, device=device) % grid
    if kind == "flux":
        ids = torch.zeros(tokens, 3, device=device)
        ids[:, 1], ids[:, 2] = rows, cols
        return {
            "hidden_states": randn(1, tokens, config.in_channels),
            "encoder_hidden_states": randn(1, text_tokens, config.joint_attention_dim),
            "pooled_projections": randn(1, config.pooled_projection_dim),
            "guidance": torch.full((1,), 3.5, device=device, dtype=dtype),
            "txt_ids": torch.zeros(text_tokens, 3, device=device),
            "img_ids": ids,
        }
    latent_ids = torch.zeros(tokens, 4, dtype=torch.long, device=device)
    latent_ids[:, 1], latent_ids[:, 2] = rows, cols
    reference_ids = latent_ids.clone()
    reference_ids[:, 0] = 10  # the pipeline's time coordinate for the first reference
    text_ids = torch.zeros(text_tokens, 4, dtype=torch.long, device=device)
    text_ids[:, 3] = torch.arange(text_tokens, device=device)
    return {
        "hidden_states": randn(1, tokens, config.in_channels),
        "_reference": randn(1, tokens, config.in_channels),
        "encoder_hidden_states": randn(1, text_tokens, config.joint_attention_dim),
        "guidance": None,
        "txt_ids": text_ids.unsqueeze(0),
        "img_ids": torch.cat([latent_ids, reference_ids]).unsqueeze(0),
    }


def _denoise(transformer: Any, inputs: dict[str, Any], steps: int) -> float:
    """Seconds for ``steps`` flow-matching Euler steps, as a pipeline's loop runs them."""
    import torch

    fixed = {k: v for k, v in inputs.items() if k != "_reference"}
    reference = inputs.get("_reference")
    latents = inputs["hidden_states"].clone()
    sigmas = torch.linspace(1.0, 0.0, steps + 1).tolist()
    _sync()
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(steps):
            timestep = torch.full((1,), sigmas[i], device=latents.device, dtype=latents.dtype)
            hidden = latents if reference is None else torch.cat([latents, reference], dim=1)
            kwargs = {**fixed, "hidden_states": hidden, "timestep": timestep}
            velocity = transformer(**kwargs, return_dict=False)[0][:, : latents.shape[1]]
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


def bench_big_transformer(
    kind: str, tiny: bool, device: str, side: int = 1024, steps: int | None = None
) -> dict[str, Any]:
    """The section described in the module doc for ``kind`` ("flux" or "klein"), as one
    JSON-able dict; an option that fails says why and the others still run."""
    import torch

    from core.models.step_cache import NO_FIRST_BLOCK_CACHE

    cuda = device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    side = 128 if tiny else side
    steps = steps or (min(STEPS[kind], 6) if tiny else STEPS[kind])
    started = time.perf_counter()
    transformer = _transformer(kind, tiny, device, dtype)
    out: dict[str, Any] = {
        "model": LABELS[kind][0 if tiny else 1],
        "parameters_b": round(sum(p.numel() for p in transformer.parameters()) / 1e9, 3),
        "size": f"{side}²",
        "steps": steps,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    inputs = _inputs(kind, transformer, side, device, dtype)
    out["eager"] = _measure(transformer, inputs, steps)
    for speed in ("fast", "fastest"):
        if speed == "fast" and type(transformer).__name__ in NO_FIRST_BLOCK_CACHE:
            out["speed_fast"] = "not run: First-Block Cache cannot wrap it (the app skips it)"
            continue
        out[f"speed_{speed}"] = _guarded(
            speed, lambda s=speed: _speed(transformer, inputs, steps, s)
        )
    out["compile_regional"] = (
        _guarded("compile", lambda: _compiled(transformer, inputs, steps)) if cuda else NOT_ON_CPU
    )
    transformer = None  # freed before the next copy is built
    for mode in ("fp8", "int8"):
        if mode == "fp8" and not cuda:
            out[mode] = NOT_ON_CPU
            continue
        out[mode] = _guarded(
            mode, lambda m=mode: _quantized(kind, tiny, device, dtype, inputs, steps, m)
        )
    out["fp8_storage"] = _guarded(
        "fp8_storage", lambda: _fp8_storage(kind, tiny, device, dtype, inputs, steps)
    )
    out["group_offload"] = (
        _guarded("group", lambda: _group(kind, tiny, dtype, inputs, steps)) if cuda else NOT_ON_CPU
    )
    return out


def _compiled(transformer: Any, inputs: dict, steps: int) -> dict[str, Any]:
    started = time.perf_counter()
    transformer.compile_repeated_blocks(fullgraph=True)
    _denoise(transformer, inputs, 2)
    compile_seconds = round(time.perf_counter() - started, 1)
    return {"compile_seconds": compile_seconds, **_measure(transformer, inputs, steps, False)}


def _quantized(
    kind: str, tiny: bool, device: str, dtype: Any, inputs: dict, steps: int, mode: str
) -> dict[str, Any]:
    from torchao.quantization import quantize_

    from core.models.memory_modes import module_bytes
    from core.models.quantize import _torchao_config

    _reset_peak()
    transformer = _transformer(kind, tiny, device, dtype)
    quantize_(transformer, _torchao_config(mode))
    out = {"weights_gib": round(module_bytes(transformer) / 2**30, 3)}
    out.update(_measure(transformer, inputs, steps, False))
    return out


def _fp8_storage(
    kind: str, tiny: bool, device: str, dtype: Any, inputs: dict, steps: int
) -> dict[str, Any]:
    """Weights stored in fp8, each layer cast up to compute (diffusers' layerwise casting, the
    app's ``+fp8`` memory modes)."""
    import torch

    from core.models.memory_modes import module_bytes

    _reset_peak()
    transformer = _transformer(kind, tiny, device, dtype)
    transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
    out = {"weights_gib": round(module_bytes(transformer) / 2**30, 3)}
    out.update(_measure(transformer, inputs, steps, False))
    return out


def _group(kind: str, tiny: bool, dtype: Any, inputs: dict, steps: int) -> dict[str, Any]:
    import torch

    _reset_peak()
    transformer = _transformer(kind, tiny, "cpu", dtype)
    transformer.enable_group_offload(
        onload_device=torch.device("cuda"),
        offload_device=torch.device("cpu"),
        offload_type="block_level",
        num_blocks_per_group=1,
        use_stream=True,
    )
    return _measure(transformer, inputs, max(4, steps // 7), False)
