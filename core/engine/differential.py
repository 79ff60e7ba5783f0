"""Regional denoise by differential diffusion: a per-pixel strength map.

The pass runs at the map's highest strength. After every step, latents whose own strength has not
yet been reached are reset to the source re-noised to the next step's noise level (as diffusers'
inpaint pipeline does outside its mask), so each region follows the denoiser for exactly
``int(steps × its strength)`` steps: a region at 0.8 changes like a global 0.8 pass, and pixels
painted 0 come out byte-identical to the input.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging import composite


def latent_start_steps(
    strength_map: Image.Image, latent_size: tuple[int, int], steps: int, steps_to_run: int
) -> np.ndarray:
    """Per latent: the step index (0-based within the pass) from which it follows the denoiser."""
    small = np.asarray(strength_map.resize(latent_size, Image.Resampling.BOX), dtype=np.float64)
    own_steps = np.minimum(np.floor(steps * small / 255.0 + 1e-9), steps).astype(np.int64)
    return steps_to_run - own_steps  # ≥ steps_to_run means "never": the source is kept


class _RegionalFilter:
    """``latent_filter`` for StepHooks: holds not-yet-started latents at the re-noised source."""

    def __init__(
        self,
        pipe,
        source: Image.Image,
        strength_map: Image.Image,
        steps: int,
        steps_to_run: int,
        generator,
    ) -> None:
        import torch

        vae = pipe.vae
        pixels = pipe.image_processor.preprocess(source).to(vae.device, vae.dtype)
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor
        self.source_latents = latents
        self.noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32)
        self.noise = self.noise.to(latents.device, latents.dtype)
        h, w = latents.shape[-2:]
        start = latent_start_steps(strength_map, (w, h), steps, steps_to_run)
        self.start = torch.from_numpy(start).to(latents.device)
        self.steps_to_run = steps_to_run

    def __call__(self, pipe, step_index: int, timestep, latents):
        import torch

        waiting = (self.start > step_index)[None, None]  # still held at the source
        if not bool(waiting.any()):
            return latents
        if step_index + 1 < self.steps_to_run:
            timesteps = pipe.scheduler.timesteps
            next_t = timesteps[len(timesteps) - self.steps_to_run + step_index + 1]
            held = pipe.scheduler.add_noise(self.source_latents, self.noise, torch.tensor([next_t]))
        else:
            held = self.source_latents
        return torch.where(waiting, held.to(latents.dtype), latents)


def run_differential(
    run, source: Image.Image, strength_map: Image.Image, mask: Image.Image | None
) -> Image.Image:
    """Run a pass of ``run`` (engine._PassRun) with a strength map; returns the composited image."""
    # 1. A mask limits the map: strength 0 wherever the mask is black.
    if mask is not None:
        arr = np.asarray(strength_map, np.uint16) * np.asarray(mask, np.uint16) // 255
        strength_map = Image.fromarray(arr.astype(np.uint8), "L")
    top = strength_map.getextrema()[1] / 255.0
    request = run.request
    model = run.model
    # 2. Denoise at the map's highest strength with the regional latent filter.
    pipe = model.inpaint_pipe if model.is_inpaint_model else model.img2img_pipe
    regional = _RegionalFilter(
        pipe, source, strength_map, request.steps, run.steps_to_run, run.generator()
    )
    kwargs = {"image": source, "strength": top}
    if model.is_inpaint_model:
        kwargs.update(
            mask_image=strength_map.point(lambda v: 255 if v else 0),
            width=source.width,
            height=source.height,
        )
    generated = run.call(pipe, latent_filter=regional, **kwargs)
    # 3. Keep the input's bytes wherever the strength is 0.
    changed = strength_map.point(lambda v: 255 if v else 0)
    return composite(source, generated, changed)
