"""Worker jobs for the workflows: each wraps one ``core.workflows`` call for the PassWorker.

The workflow modules are imported inside the job, on the worker thread. Every job's ``run``
takes ``(engine, spec, *, on_event, on_pass, on_progress, cancel)`` and returns the outcome.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.events import PassStarted, StepPreview
from core.imaging.faces import FaceBox, face_mask
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
    quantize: str = "none"  # core.requests.QUANTIZE_MODES
    speed: str = "off"  # core.requests.SPEED_MODES


@dataclass(frozen=True)
class FaceOptions:
    """Fix-faces settings as plain values; None keeps core.workflows.faces.FaceSettings' default.
    ``boxes`` None detects the faces. The FaceSettings is built on the worker thread."""

    strength: float | None = None
    prompt: str | None = None
    padding: int | None = None
    boxes: tuple[FaceBox, ...] | None = None

    def settings(self) -> Any:
        from core.workflows.faces import FaceSettings  # loads the engine: worker thread only

        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return FaceSettings(**{k: v for k, v in values.items() if v is not None})


SPEC = object()  # stands for the ModelSpec among a workflow function's arguments

# kind → (module, function, name of its progress callback, whether it reports each pass)
_WORKFLOWS = {
    "multipass": ("core.workflows.multipass", "run_schedule", "on_progress", True),
    "sweep": ("core.workflows.sweep", "run_sweep", "on_progress", True),
    "variations": ("core.workflows.variations", "run_variations", "on_progress", True),
    "candidates": ("core.workflows.variations", "run_variations", "on_progress", True),
    "upscale": ("core.workflows.upscale", "upscale_refine", "on_progress", False),
    "batch": ("core.workflows.batch", "run_batch", "on_item", False),
    "outpaint": ("core.workflows.outpaint", "outpaint_sides", "on_progress", False),
    "faces": ("core.workflows.faces", "fix_faces", "on_progress", False),
    "generate_faces": ("core.workflows.faces", "generate_fixing_faces", "on_progress", False),
}


def _worker_side(value: Any, spec: Any) -> Any:
    """An argument as the workflow function takes it (SPEC and FaceOptions become real)."""
    if value is SPEC:
        return spec
    return value.settings() if isinstance(value, FaceOptions) else value


def _job(
    kind: str,
    model: ModelChoice,
    *args: Any,
    events: Callable[[Callable[..., None]], Callable[..., None]] | None = None,
    after: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> WorkflowJob:
    """``events`` wraps the event callback (to hold back some previews); ``after`` turns the
    outcome into what the job returns (both run on the worker thread)."""
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
        forward = events(on_event) if events is not None else on_event
        callbacks = {"on_event": forward, progress_name: on_progress, "cancel": cancel}
        if reports_passes:
            callbacks["on_pass"] = on_pass
        positional = [_worker_side(arg, spec) for arg in args]
        named_args = {name: _worker_side(value, spec) for name, value in kwargs.items()}
        outcome = function(engine, *positional, **named_args, **callbacks)
        return after(outcome) if after is not None else outcome

    m = model
    return WorkflowJob(
        kind, run, m.model, m.config, m.device, m.dtype, m.memory, m.quantize, m.speed
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


def candidates_job(request: PassRequest, model: ModelChoice, count: int) -> WorkflowJob:
    """``count`` candidates at seeds ``request.seed``, +1, …: kept apart from the history until
    one is accepted (gui.live.candidates)."""
    return _job("candidates", model, request, SPEC, count)


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
    fix_faces: bool = False,
) -> WorkflowJob:
    """``fix_faces``: each picture's faces are refined (default settings) before it is written."""
    return _job(
        "batch",
        model,
        input_dir,
        output_dir,
        template,
        SPEC,
        overwrite=overwrite,
        allow_in_place=allow_in_place,
        fix_faces=FaceOptions() if fix_faces else None,
    )


def outpaint_job(
    request: PassRequest, model: ModelChoice, sides: tuple[int, int, int, int], band: int
) -> WorkflowJob:
    """Expand the canvas by ``sides`` (left, right, top, bottom px) and paint the new area."""
    return _job("outpaint", model, request, SPEC, tuple(sides), band)


def faces_job(request: PassRequest, model: ModelChoice, options: FaceOptions) -> WorkflowJob:
    """Refine the faces of ``request.image`` (``options.boxes``, or the detected ones): one
    result, filed with the union of the face masks as its mask."""
    return _job("faces", model, request, SPEC, options, after=_with_face_mask)


def _with_face_mask(result: Any) -> Any:
    """The faces result with the union of its feathered face masks as the request's mask."""
    if result.skipped or not result.record.get("faces"):
        return result
    size = result.image.size
    union = np.zeros((size[1], size[0]), np.uint8)
    for face in result.record["faces"]:
        union = np.maximum(union, np.asarray(face_mask(size, FaceBox(*face["box"]))))
    mask = Image.fromarray(union, "L")
    return dataclasses.replace(result, request=result.request.replace(mask=mask))


def generate_faces_job(request: PassRequest, model: ModelChoice) -> WorkflowJob:
    """One pass, then its faces fixed with the default settings ("fix faces after each pass").
    Step previews are shown for the pass only: the faces' previews are crops."""
    return _job("generate_faces", model, request, SPEC, FaceOptions(), events=_first_pass_previews)


def _first_pass_previews(on_event: Callable[..., None]) -> Callable[..., None]:
    """Forward every event, with the step previews' pictures after the first pass left out."""
    passes = 0

    def forward(event: Any) -> None:
        nonlocal passes
        if isinstance(event, PassStarted):
            passes += 1
        if passes > 1 and isinstance(event, StepPreview) and event.image is not None:
            event = dataclasses.replace(event, image=None)
        on_event(event)

    return forward
