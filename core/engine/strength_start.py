"""A text-to-image ControlNet pipeline started at a strength: the img2img pass it stands for.

diffusers 0.42's ``QwenImageControlNetPipeline`` takes no strength and no picture. An img2img
pass at strength s runs the tail of the schedule: ``QwenImageImg2ImgPipeline`` makes the sigmas
``linspace(1, 1/N, N)``, shifts them by ``mu`` (from the work size), drops the first
``N − int(N·s)`` (``get_timesteps``) and starts from the picture's latents noised to the first
remaining sigma (``prepare_latents``: the VAE's sample, then the noise, from the pass's
generator). Here the img2img pipeline's own steps 4–5 make that schedule and those latents, and
the ControlNet pipeline gets the latents (``latents=``) and the unshifted tail of the sigmas
(``sigmas=``): it computes the same ``mu`` from the same size, and the time shift (and the
stretch to the terminal sigma) is elementwise, so it runs exactly the img2img pass's last
``int(N·s)`` steps (``tests/core/test_controlnet_qwen_image.py`` checks the output byte for byte
against a plain img2img pass at conditioning scale 0). No model code of our own: only diffusers'
functions, called in the order its img2img pipeline calls them.

A masked pass (the inpaint path) runs the same way, with the latents outside the mask held at the
re-noised picture after every step (:class:`~core.engine.latent_hold.LatentHold`: the blend
diffusers' inpaint pipelines do); the engine then pastes the result back through the blurred
mask, so pixels outside it keep the input's bytes.
"""

from __future__ import annotations

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
    ControlNet pipeline's: ``latents`` (packed, noised to the pass's first step), ``sigmas`` (the
    schedule's last ``steps_to_run``), ``height``/``width``; ``mask_image`` is left to
    :func:`mask_hold`. ``scheduler`` becomes ``img2img_pipe``'s (the pass's scheduler)."""
    import numpy as np
    import torch
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_img2img as img2img

    started = {k: v for k, v in arguments.items() if k not in ("image", "strength", "mask_image")}
    image = arguments["image"]
    width, height = image.size
    pipe = img2img_pipe
    pipe.scheduler = scheduler
    device = pipe._execution_device
    # 1. The img2img schedule (its __call__'s step 4), cut where the strength starts it.
    sigmas = np.linspace(1.0, 1 / steps, steps)
    factor = pipe.vae_scale_factor
    mu = img2img.calculate_shift(
        (height // factor // 2) * (width // factor // 2),
        scheduler.config.get("base_image_seq_len", 256),
        scheduler.config.get("max_image_seq_len", 4096),
        scheduler.config.get("base_shift", 0.5),
        scheduler.config.get("max_shift", 1.15),
    )
    # (an ndarray, as the pipeline passes it; typed list[float] in diffusers)
    img2img.retrieve_timesteps(scheduler, steps, device, sigmas=sigmas, mu=mu)  # type: ignore[arg-type]
    strength = flow_strength(steps, steps_to_run)  # the strength fit_call gives img2img
    timesteps, count = pipe.get_timesteps(steps, strength, device)
    # 2. The picture's latents noised to the first remaining step (its step 5).
    picture = pipe.image_processor.preprocess(image, height=height, width=width)
    latents = pipe.prepare_latents(
        picture.to(dtype=torch.float32),
        timesteps[:1],
        1,
        pipe.transformer.config.in_channels // 4,
        height,
        width,
        pipe.text_encoder.dtype,  # the prompt embeddings' dtype, as the pipeline passes it
        device,
        arguments.get("generator"),
    )
    started.update(
        latents=latents, sigmas=list(sigmas[steps - count :]), height=height, width=width
    )
    return started


def mask_hold(
    pipe: Any, arguments: dict[str, Any], steps: int, steps_to_run: int, generator: Any
) -> LatentHold | None:
    """For a masked call (``mask_image`` in ``arguments``): the filter that holds the latents
    outside the mask at the re-noised picture; None without a mask."""
    mask = arguments.get("mask_image")
    if mask is None:
        return None
    return LatentHold(pipe, arguments["image"], mask.convert("L"), steps, steps_to_run, generator)
