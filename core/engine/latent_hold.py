"""Holding latents at the re-noised source: the per-step blend of differential diffusion and of
diffusers' inpaint pipelines, as a ``latent_filter`` for the step hooks.

After every step, latents whose own strength has not yet been reached are reset to the source
re-noised to the next step's noise level (flow-matching models mix it with the noise at the next
step's σ), so each region follows the denoiser for exactly ``int(steps × its strength)`` steps;
latents that never start end at the source itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from core.engine.vae import encode


def latent_start_steps(
    strength_map: Image.Image, latent_size: tuple[int, int], steps: int, steps_to_run: int
) -> np.ndarray:
    """Per latent: the step index (0-based within the pass) from which it follows the denoiser."""
    small = np.asarray(strength_map.resize(latent_size, Image.Resampling.BOX), dtype=np.float64)
    own_steps = np.minimum(np.floor(steps * small / 255.0 + 1e-9), steps).astype(np.int64)
    return steps_to_run - own_steps  # ≥ steps_to_run means "never": the source is kept


class LatentHold:
    """``latent_filter`` for StepHooks: holds not-yet-started latents at the re-noised source
    (``strength_map``: mode "L" at ``source``'s size, 255 = strength 1)."""

    def __init__(
        self,
        pipe: Any,
        source: Image.Image,
        strength_map: Image.Image,
        steps: int,
        steps_to_run: int,
        generator: Any,
    ) -> None:
        import torch

        latents = encode(pipe, source)
        self.source_latents = latents
        self.noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32)
        self.noise = self.noise.to(latents.device, latents.dtype)
        h, w = latents.shape[-2:]
        start = latent_start_steps(strength_map, (w, h), steps, steps_to_run)
        self.start = torch.from_numpy(start).to(latents.device)
        self.steps_to_run = steps_to_run

    def __call__(self, pipe: Any, step_index: int, timestep: Any, latents: Any) -> Any:
        import torch

        waiting = (self.start > step_index)[None, None]  # still held at the source
        if not bool(waiting.any()):
            return latents
        if step_index + 1 < self.steps_to_run:
            held = self._renoised(pipe.scheduler, step_index + 1)
        else:
            held = self.source_latents
        return torch.where(waiting, held.to(latents.dtype), latents)

    def _renoised(self, scheduler: Any, step: int) -> Any:
        """The source at the noise level the pass's ``step`` (0-based) starts from."""
        import torch

        timesteps = scheduler.timesteps
        index = len(timesteps) - self.steps_to_run + step
        if "FlowMatch" in type(scheduler).__name__:  # x_t = (1 − σ)·x0 + σ·noise
            sigma = float(scheduler.sigmas[index])
            return (1.0 - sigma) * self.source_latents + sigma * self.noise
        next_t = torch.tensor([timesteps[index]])
        return scheduler.add_noise(self.source_latents, self.noise, next_t)
