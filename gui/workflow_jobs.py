"""Worker jobs for the workflows: each wraps one ``core.workflows`` call for the PassWorker.

The workflow modules are imported inside the job, on the worker thread. Every job's ``run``
takes ``(engine, spec, *, on_event, on_pass, on_progress, cancel)`` and returns the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.requests import PassRequest
from gui.worker import WorkflowJob


@dataclass(frozen=True)
class ModelChoice:
    """The model reference (and optional config folder) a job runs on."""

    model: str
    config: str | None = None


def multipass_job(
    request: PassRequest, model: ModelChoice, strengths: Sequence[float], color_match: bool
) -> WorkflowJob:
    def run(engine, spec, *, on_event, on_pass, on_progress, cancel):
        from core.workflows.multipass import run_schedule

        return run_schedule(
            engine,
            request,
            spec,
            list(strengths),
            color_match=color_match,
            on_event=on_event,
            on_pass=on_pass,
            on_progress=on_progress,
            cancel=cancel,
        )

    return WorkflowJob("multipass", run, model.model, model.config)


def sweep_job(
    request: PassRequest,
    model: ModelChoice,
    strengths: Sequence[float],
    seeds: Sequence[int] | int,
    group: str,
) -> WorkflowJob:
    def run(engine, spec, *, on_event, on_pass, on_progress, cancel):
        from core.workflows.sweep import run_sweep

        return run_sweep(
            engine,
            request,
            spec,
            list(strengths),
            seeds if isinstance(seeds, int) else list(seeds),
            group=group,
            on_event=on_event,
            on_pass=on_pass,
            on_progress=on_progress,
            cancel=cancel,
        )

    return WorkflowJob("sweep", run, model.model, model.config)


def variations_job(request: PassRequest, model: ModelChoice, count: int, group: str) -> WorkflowJob:
    def run(engine, spec, *, on_event, on_pass, on_progress, cancel):
        from core.workflows.variations import run_variations

        return run_variations(
            engine,
            request,
            spec,
            count,
            group=group,
            on_event=on_event,
            on_pass=on_pass,
            on_progress=on_progress,
            cancel=cancel,
        )

    return WorkflowJob("variations", run, model.model, model.config)


def upscale_job(
    request: PassRequest,
    model: ModelChoice,
    scale: float,
    strength: float,
    tile: int,
    overlap: int,
) -> WorkflowJob:
    def run(engine, spec, *, on_event, on_pass, on_progress, cancel):
        from core.workflows.upscale import upscale_refine

        return upscale_refine(
            engine,
            request.image,
            request,
            spec,
            scale,
            tile,
            overlap,
            strength=strength,
            on_event=on_event,
            on_progress=on_progress,
            cancel=cancel,
        )

    return WorkflowJob("upscale", run, model.model, model.config)


def batch_job(
    template: PassRequest,
    model: ModelChoice,
    input_dir: str,
    output_dir: str,
    overwrite: bool,
    allow_in_place: bool,
) -> WorkflowJob:
    def run(engine, spec, *, on_event, on_pass, on_progress, cancel):
        from core.workflows.batch import run_batch

        return run_batch(
            engine,
            input_dir,
            output_dir,
            template,
            spec,
            overwrite=overwrite,
            allow_in_place=allow_in_place,
            on_event=on_event,
            on_item=on_progress,
            cancel=cancel,
        )

    return WorkflowJob("batch", run, model.model, model.config)
