"""Worker jobs for the workflows: each wraps one ``core.workflows`` call for the PassWorker.

The workflow modules are imported inside the job, on the worker thread. Every job's ``run``
takes ``(engine, spec, *, on_event, on_pass, on_progress, cancel)`` and returns the outcome.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.requests import PassRequest
from gui.run.worker import WorkflowJob


@dataclass(frozen=True)
class ModelChoice:
    """The model a job runs on: reference, optional config folder, device and dtype."""

    model: str
    config: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    memory: str = "auto"  # core.models.memory_modes.MEMORY_MODES


SPEC = object()  # stands for the ModelSpec among a workflow function's arguments

# kind → (module, function, name of its progress callback, whether it reports each pass)
_WORKFLOWS = {
    "multipass": ("core.workflows.multipass", "run_schedule", "on_progress", True),
    "sweep": ("core.workflows.sweep", "run_sweep", "on_progress", True),
    "variations": ("core.workflows.variations", "run_variations", "on_progress", True),
    "upscale": ("core.workflows.upscale", "upscale_refine", "on_progress", False),
    "batch": ("core.workflows.batch", "run_batch", "on_item", False),
    "outpaint": ("core.workflows.outpaint", "outpaint_sides", "on_progress", False),
}


def _job(kind: str, model: ModelChoice, *args: Any, **kwargs: Any) -> WorkflowJob:
    module_name, function_name, progress_name, reports_passes = _WORKFLOWS[kind]

    def run(
        engine: Any,
        spec: Any,
        *,
        on_event: Callable[..., None],
        on_pass: Callable[..., None],
        on_progress: Callable[..., None],
        cancel: Any,
    ) -> Any:
        function = getattr(importlib.import_module(module_name), function_name)
        callbacks = {"on_event": on_event, progress_name: on_progress, "cancel": cancel}
        if reports_passes:
            callbacks["on_pass"] = on_pass
        positional = [spec if arg is SPEC else arg for arg in args]
        return function(engine, *positional, **kwargs, **callbacks)

    return WorkflowJob(
        kind, run, model.model, model.config, model.device, model.dtype, model.memory
    )


def multipass_job(
    request: PassRequest, model: ModelChoice, strengths: Sequence[float], color_match: bool
) -> WorkflowJob:
    return _job("multipass", model, request, SPEC, list(strengths), color_match=color_match)


def sweep_job(
    request: PassRequest,
    model: ModelChoice,
    strengths: Sequence[float],
    seeds: Sequence[int] | int,
    group: str,
) -> WorkflowJob:
    seeds = seeds if isinstance(seeds, int) else list(seeds)
    return _job("sweep", model, request, SPEC, list(strengths), seeds, group=group)


def variations_job(request: PassRequest, model: ModelChoice, count: int, group: str) -> WorkflowJob:
    return _job("variations", model, request, SPEC, count, group=group)


def upscale_job(
    request: PassRequest,
    model: ModelChoice,
    scale: float,
    strength: float,
    tile: int,
    overlap: int,
) -> WorkflowJob:
    return _job(
        "upscale", model, request.image, request, SPEC, scale, tile, overlap, strength=strength
    )


def batch_job(
    template: PassRequest,
    model: ModelChoice,
    input_dir: str,
    output_dir: str,
    overwrite: bool,
    allow_in_place: bool,
) -> WorkflowJob:
    return _job(
        "batch",
        model,
        input_dir,
        output_dir,
        template,
        SPEC,
        overwrite=overwrite,
        allow_in_place=allow_in_place,
    )


def outpaint_job(
    request: PassRequest, model: ModelChoice, sides: tuple[int, int, int, int], band: int
) -> WorkflowJob:
    """Expand the canvas by ``sides`` (left, right, top, bottom px) and paint the new area."""
    return _job("outpaint", model, request, SPEC, tuple(sides), band)
