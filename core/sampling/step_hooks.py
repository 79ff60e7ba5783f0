"""Per-step hooks for a diffusers call: previews of the predicted clean image, cancel, timing."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from core.errors import PassCancelled
from core.events import EventCallback, StepPreview
from core.sampling.latent_layout import LatentLayout


class StepHooks:
    """Installs itself on a pipeline's scheduler and serves as ``callback_on_step_end``.

    After every scheduler step it records the clean-image estimate (``pred_original_sample`` where
    the scheduler returns it, else x0 derived from the noise prediction), reports a
    :class:`StepPreview`, and raises :class:`PassCancelled` once the token is cancelled.
    """

    def __init__(
        self,
        pipe: Any,
        total: int,
        emit: EventCallback,
        cancel: Any,
        previewer: Any = None,
        latent_filter: Callable[..., Any] | None = None,
        layout: LatentLayout | None = None,
    ) -> None:
        self.total = total
        self.emit = emit
        self.cancel = cancel
        self.previewer = previewer
        self.latent_filter = latent_filter  # (pipe, step_index, timestep, latents) -> latents
        self.layout = layout or LatentLayout()  # the filter and previews see (B, C, h, w)
        self.steps_done = 0
        self.preview_seconds = 0.0
        self._x0: Any = None
        self.last_latents: Any = None  # (B, C, h, w) after the last step (to re-decode them)
        self._start = time.perf_counter()
        self._wrap_scheduler(pipe.scheduler)

    def _wrap_scheduler(self, scheduler: Any) -> None:
        original_step = scheduler.step

        @functools.wraps(original_step)  # keeps the signature: diffusers inspects it
        def step(model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
            sigma = current_sigma(scheduler, timestep) if self.previewer is not None else None
            out = original_step(model_output, timestep, sample, *args, **kwargs)
            x0 = returned_x0(scheduler, out)
            if x0 is None and self.previewer is not None:
                x0 = estimate_x0(scheduler, model_output, timestep, sample, sigma)
            self._x0 = x0
            return out

        scheduler.step = step

    def __call__(
        self, pipe: Any, step_index: int, timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if self.cancel is not None and self.cancel.cancelled:
            raise PassCancelled()
        latents = callback_kwargs.get("latents")
        if latents is not None:
            latents = self.layout.unpack(latents)
            if self.latent_filter is not None:
                latents = self.latent_filter(pipe, step_index, timestep, latents)
                callback_kwargs["latents"] = self.layout.pack(latents)
        self.last_latents = latents
        self.steps_done = step_index + 1
        image = None
        if self.previewer is not None:
            t = time.perf_counter()
            source = self.layout.unpack(self._x0) if self._x0 is not None else latents
            if source is not None:
                image = self.previewer(source[:1])
            self.preview_seconds += time.perf_counter() - t
        elapsed = time.perf_counter() - self._start
        self.emit(StepPreview(self.steps_done, self.total, elapsed, image))
        if self.cancel is not None and self.cancel.cancelled:
            raise PassCancelled()
        return callback_kwargs


# Schedulers whose step(return_dict=False) tuple holds the clean-image estimate second.
_X0_SECOND = {
    "DDIMScheduler",
    "DDPMScheduler",
    "EulerAncestralDiscreteScheduler",
    "EulerDiscreteScheduler",
    "LCMScheduler",
}


def returned_x0(scheduler: Any, out: Any) -> Any:
    """The clean-image estimate the scheduler returned itself, or None."""
    if isinstance(out, tuple):
        return out[1] if len(out) > 1 and type(scheduler).__name__ in _X0_SECOND else None
    return getattr(out, "pred_original_sample", None) or getattr(out, "denoised", None)


def current_sigma(scheduler: Any, timestep: Any) -> float | None:
    """σ of the step about to run, for sigma-space and flow-matching schedulers (else None)."""
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is None or not _sigma_space(scheduler):
        return None
    index = getattr(scheduler, "step_index", None)
    if index is None:
        index = getattr(scheduler, "begin_index", None)
    if index is None and hasattr(scheduler, "index_for_timestep"):
        index = scheduler.index_for_timestep(timestep)
    if index is None or index >= len(sigmas):
        return None
    return float(sigmas[index])


def _sigma_space(scheduler: Any) -> bool:
    flow = "FlowMatch" in type(scheduler).__name__
    return flow or float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0


def estimate_x0(
    scheduler: Any, model_output: Any, timestep: Any, sample: Any, sigma: float | None
) -> Any:
    """x0 from the model's prediction, in the scheduler's own space.

    Flow matching: x_t = (1−σ)·x0 + σ·noise, so x0 = x_t − σ·v. Sigma space (k-diffusion):
    x_t = x0 + σ·ε, so x0 = x_t − σ·ε (v-prediction: x_t/(σ²+1) − σ·v/√(σ²+1)). Otherwise the
    variance-preserving formula with ᾱ of the timestep.
    """
    kind = scheduler.config.get("prediction_type", "epsilon")
    if sigma is not None and "FlowMatch" in type(scheduler).__name__:
        return sample - sigma * model_output
    if sigma is not None:
        if kind == "v_prediction":
            return sample / (sigma**2 + 1) - sigma * model_output / (sigma**2 + 1) ** 0.5
        if kind == "sample":
            return model_output
        return sample - sigma * model_output
    return _x0_from_alphas(scheduler, model_output, timestep, sample)


def _x0_from_alphas(scheduler: Any, model_output: Any, timestep: Any, sample: Any) -> Any:
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
