"""A text-to-image ControlNet pipeline started at a strength: the img2img pass it stands for.

diffusers 0.42's ``QwenImageControlNetPipeline`` and ``ZImageControlNetPipeline`` take no
strength and no picture. An img2img pass at strength s runs the tail of the schedule: the
family's img2img pipeline (``QwenImageImg2ImgPipeline``, ``ZImageImg2ImgPipeline``) makes the
sigmas ``linspace(1, 1/N, N)``, shifts them by ``mu`` (from the work size), drops the first
``N − int(N·s)`` (``get_timesteps``) and starts from the picture's latents noised to the first
remaining sigma (``prepare_latents``: the VAE's sample, then the noise, from the pass's
generator). Here the img2img pipeline's own steps make that schedule and those latents, and the
ControlNet pipeline gets the latents (``latents=``) and the unshifted tail of the sigmas
(``sigmas=``): it computes the same ``mu`` from the same size, and the time shift (and the
stretch to the terminal sigma) is elementwise, so it runs exactly the img2img pass's last
``int(N·s)`` steps (``tests/core/test_controlnet_started.py`` checks the output byte for byte
against a plain img2img pass at conditioning scale 0). No model code of our own: only
diffusers' functions, called in the order its img2img pipelines call them.

SD 3.5's ``StableDiffusion3ControlNetPipeline`` is started the same way from
``StableDiffusion3Img2ImgPipeline``, whose schedule is the scheduler's own (no sigmas given),
shifted in float64 where given sigmas are shifted in float32: the ControlNet pipeline gets the
shifted tail itself, with a copy of the pass's scheduler that shifts nothing
(:func:`started_scheduler`), so the sigmas are the img2img pass's, bit for bit.

A masked pass (the inpaint path) runs the same way, with the latents outside the mask held at the
re-noised picture after every step (:class:`~core.engine.latent_hold.LatentHold`: the blend
diffusers' inpaint pipelines do); the engine then pastes the result back through the blurred
mask, so pixels outside it keep the input's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.engine.family_call import flow_strength
from core.engine.latent_hold import LatentHold


def started_arguments(
    img2img_pipe: Any,
    scheduler: Any,
    arguments: dict[str, Any],
    steps: int,
    steps_to_run: int,
) -> dict[str, Any]:
    """``arguments`` of an img2img call (``image``, ``strength``, ``generator``…) turned into the
    ControlNet pipeline's: ``latents`` (noised to the pass's first step, in the pipeline's
    layout), ``sigmas`` (the schedule's last ``steps_to_run``), ``height``/``width``;
    ``mask_image`` is left to :func:`mask_hold`. ``scheduler`` becomes ``img2img_pipe``'s (the
    pass's scheduler)."""
    import torch

    started = {k: v for k, v in arguments.items() if k not in ("image", "strength", "mask_image")}
    image = arguments["image"]
    width, height = image.size
    pipe = img2img_pipe
    pipe.scheduler = scheduler
    device = pipe._execution_device
    if type(pipe).__name__ == "StableDiffusion3Img2ImgPipeline":
        latents, sigmas = _sd3_start(pipe, image, arguments.get("generator"), steps, steps_to_run)
        started.update(latents=latents, sigmas=sigmas, height=height, width=width)
        return started
    recipe = _recipe(pipe, steps, height, width)
    # 1. The img2img schedule (its __call__'s "prepare timesteps"), cut where the strength
    #    starts it.
    factor = pipe.vae_scale_factor
    mu = recipe.module.calculate_shift(
        (height // factor // 2) * (width // factor // 2),
        scheduler.config.get("base_image_seq_len", 256),
        scheduler.config.get("max_image_seq_len", 4096),
        scheduler.config.get("base_shift", 0.5),
        scheduler.config.get("max_shift", 1.15),
    )
    recipe.module.retrieve_timesteps(scheduler, steps, device, sigmas=recipe.sigmas, mu=mu)
    strength = flow_strength(steps, steps_to_run)  # the strength fit_call gives img2img
    timesteps, count = pipe.get_timesteps(steps, strength, device)
    # 2. The picture's latents noised to the first remaining step ("prepare latents").
    picture = pipe.image_processor.preprocess(image, **recipe.preprocess)
    latents = pipe.prepare_latents(
        picture.to(dtype=torch.float32),
        timesteps[:1],
        1,
        recipe.channels,
        height,
        width,
        pipe.text_encoder.dtype,  # the prompt embeddings' dtype, as the pipeline passes it
        device,
        arguments.get("generator"),
    )
    started.update(
        latents=latents,
        sigmas=[float(sigma) for sigma in recipe.sigmas[steps - count :]],
        height=height,
        width=width,
    )
    return started


def _sd3_start(
    pipe: Any, image: Any, generator: Any, steps: int, steps_to_run: int
) -> tuple[Any, list[float]]:
    """SD3's img2img start: its schedule is the scheduler's own (no sigmas given), shifted in
    float64, so the ControlNet pipeline gets the shifted tail as it is, for the scheduler of
    :func:`started_scheduler`, which shifts nothing."""
    from diffusers.pipelines.stable_diffusion_3 import pipeline_stable_diffusion_3_img2img as sd3

    scheduler, device = pipe.scheduler, pipe._execution_device
    width, height = image.size
    # 1. The img2img schedule (its __call__'s "prepare timesteps"), cut at the strength.
    extra = {}
    if scheduler.config.get("use_dynamic_shifting", None):
        patch = pipe.transformer.config.patch_size
        factor = pipe.vae_scale_factor
        extra["mu"] = sd3.calculate_shift(
            (height // factor // patch) * (width // factor // patch),
            scheduler.config.get("base_image_seq_len", 256),
            scheduler.config.get("max_image_seq_len", 4096),
            scheduler.config.get("base_shift", 0.5),
            scheduler.config.get("max_shift", 1.16),
        )
    sd3.retrieve_timesteps(scheduler, steps, device, **extra)
    strength = flow_strength(steps, steps_to_run)
    timesteps, count = pipe.get_timesteps(steps, strength, device)
    sigmas = [float(sigma) for sigma in scheduler.sigmas[steps - count : steps]]
    # 2. The picture's latents noised to the first remaining step ("prepare latents").
    picture = pipe.image_processor.preprocess(image, height=height, width=width)
    dtype = pipe.text_encoder.dtype  # the prompt embeddings' dtype, as the pipeline passes it
    latents = pipe.prepare_latents(picture, timesteps[:1], 1, 1, dtype, device, generator)
    return latents, sigmas


def started_scheduler(img2img_pipe: Any, scheduler: Any) -> Any:
    """The scheduler the started ControlNet pipeline runs: the pass's own, or for SD3 a copy
    that takes the (already shifted) sigmas as they are: no shift, no terminal stretch, no
    Karras/exponential/beta conversion."""
    if type(img2img_pipe).__name__ != "StableDiffusion3Img2ImgPipeline":
        return scheduler
    unchanged = {
        "shift": 1.0,
        "use_dynamic_shifting": False,
        "shift_terminal": None,
        "use_karras_sigmas": False,
        "use_exponential_sigmas": False,
        "use_beta_sigmas": False,
    }
    config = dict(scheduler.config)
    config.update({k: v for k, v in unchanged.items() if k in config})
    return type(scheduler).from_config(config)


@dataclass(frozen=True)
class _Recipe:
    """What one family's img2img pipeline does its own way: the module whose
    ``calculate_shift``/``retrieve_timesteps`` it calls, its default sigmas, its latent
    channels, the preprocessing arguments it passes."""

    module: Any
    sigmas: Any
    channels: int
    preprocess: dict[str, int]


def _recipe(pipe: Any, steps: int, height: int, width: int) -> _Recipe:
    if type(pipe).__name__ == "ZImageImg2ImgPipeline":
        from diffusers.pipelines.z_image import pipeline_z_image_img2img as zimage

        default_sigmas = zimage.get_default_z_image_sigmas(steps)  # a list
        return _Recipe(zimage, default_sigmas, pipe.transformer.in_channels, {})
    import numpy as np
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_img2img as qwen

    sigmas = np.linspace(1.0, 1 / steps, steps)  # an ndarray, as the pipeline passes it
    channels = pipe.transformer.config.in_channels // 4
    return _Recipe(qwen, sigmas, channels, {"height": height, "width": width})


def mask_hold(
    pipe: Any, arguments: dict[str, Any], steps: int, steps_to_run: int, generator: Any
) -> LatentHold | None:
    """For a masked call (``mask_image`` in ``arguments``): the filter that holds the latents
    outside the mask at the re-noised picture; None without a mask."""
    mask = arguments.get("mask_image")
    if mask is None:
        return None
    return LatentHold(pipe, arguments["image"], mask.convert("L"), steps, steps_to_run, generator)
