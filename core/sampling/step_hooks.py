"""Per-step hooks for a diffusers call: previews of the predicted clean image, cancel, timing."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from core.errors import PassCancelled
from core.events import EventCallback, StepPreview


class StepHooks:
    """Installs itself on a pipeline's scheduler and serves as ``callback_on_step_end``.

    After every scheduler step it records the clean-image estimate (``pred_original_sample`` where
    the scheduler returns it, else x0 derived from the noise prediction), reports a
    :class:`StepPreview`, and raises :class:`PassCancelled` once the token is cancelled.
    """

    def __init__(
        self,
        pipe,
        total: int,
        emit: EventCallback,
        cancel,
        previewer=None,
        latent_filter: Callable | None = None,
    ) -> None:
        self.total = total
        self.emit = emit
        self.cancel = cancel
        self.previewer = previewer
        self.latent_filter = latent_filter  # (pipe, step_index, timestep, latents) -> latents
        self.steps_done = 0
        self.preview_seconds = 0.0
        self._x0 = None
        self._start = time.perf_counter()
        self._wrap_scheduler(pipe.scheduler)

    def _wrap_scheduler(self, scheduler) -> None:
        original_step = scheduler.step

        @functools.wraps(original_step)  # keeps the signature: diffusers inspects it
        def step(model_output, timestep, sample, *args, **kwargs):
            out = original_step(model_output, timestep, sample, *args, **kwargs)
            x0 = None if isinstance(out, tuple) else getattr(out, "pred_original_sample", None)
            if x0 is None and self.previewer is not None:
                x0 = _x0_from_alphas(scheduler, model_output, timestep, sample)
            self._x0 = x0
            return out

        scheduler.step = step

    def __call__(self, pipe, step_index: int, timestep, callback_kwargs: dict) -> dict:
        if self.cancel is not None and self.cancel.cancelled:
            raise PassCancelled()
        latents = callback_kwargs.get("latents")
        if self.latent_filter is not None and latents is not None:
            latents = self.latent_filter(pipe, step_index, timestep, latents)
            callback_kwargs["latents"] = latents
        self.steps_done = step_index + 1
        image = None
        if self.previewer is not None:
            t = time.perf_counter()
            source = self._x0 if self._x0 is not None else latents
            if source is not None:
                image = self.previewer(source[:1])
            self.preview_seconds += time.perf_counter() - t
        elapsed = time.perf_counter() - self._start
        self.emit(StepPreview(self.steps_done, self.total, elapsed, image))
        if self.cancel is not None and self.cancel.cancelled:
            raise PassCancelled()
        return callback_kwargs


def _x0_from_alphas(scheduler, model_output, timestep, sample):
    """x0 = (x_t − √(1−ᾱ)·ε)/√ᾱ (or the v-prediction form) for DDPM-space schedulers."""
    alphas = getattr(scheduler, "alphas_cumprod", None)
    if alphas is None:
        return None
    t = int(timestep.item() if hasattr(timestep, "item") else timestep)
    t = max(0, min(t, len(alphas) - 1))
    a = alphas[t].to(sample.device, sample.dtype)
    kind = scheduler.config.get("prediction_type", "epsilon")
    if kind == "v_prediction":
        return a.sqrt() * sample - (1 - a).sqrt() * model_output
    if kind == "sample":
        return model_output
    return (sample - (1 - a).sqrt() * model_output) / a.sqrt()
