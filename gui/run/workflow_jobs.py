"""The workflows the window runs: one class each, its options as fields (gui.run.jobs.Workflow).

Adding a workflow is one class here (plus its menu entry): ``run`` calls the ``core.workflows``
function, imported inside the method because the workflow modules load torch and ``run`` is only
called on the worker thread; the class attributes and methods tell the workflow controller how
its passes are filed and named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from core.errors import UserError
from core.events import PassEvent, PassResult, PassStarted, StepPreview
from core.imaging.faces import FaceBox, face_mask
from core.model_spec import ModelSpec
from core.requests import MAX_SEED, PassRequest
from gui.run.jobs import Filing, JobCallbacks, Workflow


def _group_id() -> str:
    from core.workflows.common import new_group_id  # imported when used: keeps start-up light

    return new_group_id()


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


@dataclass(frozen=True)
class Multipass(Workflow):
    """A strength schedule: each pass refines the one before."""

    strengths: tuple[float, ...]
    color_match: bool = True
    kind: ClassVar[str] = "multipass"
    chains: ClassVar[bool] = True

    def message(self) -> str:
        return f"Multi-pass {' → '.join(f'{s:.2f}' for s in self.strengths)}…"

    def pass_name(self, index: int, result: PassResult) -> str:
        of = result.record.get("workflow", {}).get("of", "?")
        return f"Refine {index}/{of} · {result.request.strength:.2f}"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.multipass import run_schedule

        return run_schedule(
            engine,
            request,
            spec,
            list(self.strengths),
            color_match=self.color_match,
            **calls.each_pass(),
        )


def _seed_row(request: PassRequest, count: int) -> list[int]:
    first = 0 if request.seed is None else request.seed  # the GUI always sets one
    return [(first + i) % (MAX_SEED + 1) for i in range(count)]


@dataclass(frozen=True)
class Sweep(Workflow):
    """Every strength × seed (the same seed across a row), shown on a contact sheet."""

    strengths: tuple[float, ...]
    seeds: int = 1
    group: str = field(default_factory=_group_id)
    kind: ClassVar[str] = "sweep"
    noun: ClassVar[str] = "sweep cells"

    def message(self) -> str:
        return f"Sweep of {len(self.strengths)} strengths…"

    def group_id(self) -> str | None:
        return self.group

    def grid(self, request: PassRequest) -> tuple[list[float], list[int]] | None:
        return list(self.strengths), _seed_row(request, self.seeds)

    def pass_name(self, index: int, result: PassResult) -> str:
        return f"Sweep {result.request.strength:.2f} · seed {result.seed}"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.sweep import run_sweep

        return run_sweep(
            engine,
            request,
            spec,
            list(self.strengths),
            _seed_row(request, self.seeds),
            group=self.group,
            **calls.each_pass(),
        )


@dataclass(frozen=True)
class Variations(Workflow):
    """``count`` seeds at the current strength, as one group."""

    count: int
    group: str = field(default_factory=_group_id)
    kind: ClassVar[str] = "variations"
    noun: ClassVar[str] = "variations"

    def message(self) -> str:
        return f"{self.count} variations…"

    def group_id(self) -> str | None:
        return self.group

    def pass_name(self, index: int, result: PassResult) -> str:
        return f"Variation {index} · seed {result.seed}"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.variations import run_variations

        return run_variations(
            engine,
            request,
            spec,
            self.count,
            group=self.group,
            **calls.each_pass(),
        )


@dataclass(frozen=True)
class MakeCandidates(Workflow):
    """``count`` candidates at seeds ``request.seed``, +1, …: kept apart from the history until
    one is accepted (gui.live.candidates files it)."""

    count: int
    kind: ClassVar[str] = "candidates"
    filing: ClassVar[Filing] = Filing.APART

    def message(self) -> str:
        return f"{self.count} candidates…"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.variations import run_variations

        return run_variations(
            engine,
            request,
            spec,
            self.count,
            **calls.each_pass(),
        )


@dataclass(frozen=True)
class Upscale(Workflow):
    """Upscale the input and refine it in tiles: one new pass."""

    scale: float
    strength: float
    tile: int = 512
    overlap: int = 64
    kind: ClassVar[str] = "upscale"
    filing: ClassVar[Filing] = Filing.ONE_RESULT
    shows_previews: ClassVar[bool] = False  # the tiles are other pictures than the canvas's

    def message(self) -> str:
        return f"Upscale {self.scale:g}× and refine at {self.strength:.2f}…"

    def result_name(self, outcome: PassResult) -> str:
        return f"Upscale {outcome.record.get('workflow', {}).get('scale', ''):g}×"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.upscale import upscale_refine

        return upscale_refine(
            engine,
            request.image,
            request,
            spec,
            self.scale,
            self.tile,
            self.overlap,
            strength=self.strength,
            **calls.one_result(),
        )


@dataclass(frozen=True)
class Outpaint(Workflow):
    """Expand the canvas by ``sides`` (left, right, top, bottom px) and paint the new area."""

    sides: tuple[int, int, int, int]
    band: int
    strength: float
    kind: ClassVar[str] = "outpaint"
    filing: ClassVar[Filing] = Filing.ONE_RESULT

    def prepare(self, request: PassRequest) -> PassRequest:
        return request.replace(mask=None, strength_map=None, strength=self.strength)

    def message(self) -> str:
        return "Expand canvas {}…".format(" ".join(f"{s:+d}" for s in self.sides))

    def result_name(self, outcome: PassResult) -> str:
        return f"Expand {outcome.image.width}×{outcome.image.height}"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.outpaint import outpaint_sides

        return outpaint_sides(
            engine,
            request,
            spec,
            self.sides,
            self.band,
            **calls.one_result(),
        )


@dataclass(frozen=True)
class FixFaces(Workflow):
    """Refine the faces of the input (``boxes``, one after another): one result, filed with the
    union of the face masks as its mask."""

    boxes: tuple[FaceBox, ...]
    strength: float
    prompt: str = ""
    padding: int | None = None
    kind: ClassVar[str] = "faces"
    filing: ClassVar[Filing] = Filing.ONE_RESULT
    shows_previews: ClassVar[bool] = False  # the previews are face crops

    def check(self) -> None:
        if not self.boxes:
            raise UserError("No face to fix: detect the faces again or draw a box.")

    def prepare(self, request: PassRequest) -> PassRequest:
        # The painted mask and strength map are replaced by each face's ellipse.
        return request.replace(mask=None, strength_map=None)

    def message(self) -> str:
        count = len(self.boxes)
        return f"Fixing {count} face{'' if count == 1 else 's'} at {self.strength:.2f}…"

    def result_name(self, outcome: PassResult) -> str:
        count = len(outcome.record.get("faces", ()))
        return f"Fix {count} face{'' if count == 1 else 's'} · {outcome.request.strength:.2f}"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.faces import fix_faces

        options = FaceOptions(self.strength, self.prompt, self.padding, tuple(self.boxes))
        result = fix_faces(
            engine,
            request,
            spec,
            options.settings(),
            **calls.one_result(),
        )
        return _with_face_mask(result)


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


@dataclass(frozen=True)
class Batch(Workflow):
    """The current settings over a folder into another: files only, no history. ``fix_faces``:
    each picture's faces are refined (default settings) before it is written."""

    input_dir: str
    output_dir: str
    overwrite: bool = False
    allow_in_place: bool = False
    fix_faces: bool = False
    kind: ClassVar[str] = "batch"
    filing: ClassVar[Filing] = Filing.FILES_ONLY
    shows_previews: ClassVar[bool] = False  # the items are other pictures than the canvas's
    needs_image: ClassVar[bool] = False

    def prepare(self, request: PassRequest) -> PassRequest:
        # The open picture's mask and strength map belong to it, not to the folder's images.
        return request.replace(mask=None, strength_map=None)

    def message(self) -> str:
        return f"Batch {self.input_dir} → {self.output_dir}…"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.batch import run_batch

        return run_batch(
            engine,
            self.input_dir,
            self.output_dir,
            request,
            spec,
            overwrite=self.overwrite,
            allow_in_place=self.allow_in_place,
            fix_faces=FaceOptions().settings() if self.fix_faces else None,
            on_event=calls.on_event,
            on_item=calls.on_progress,
            cancel=calls.cancel,
        )


@dataclass(frozen=True)
class GenerateFixingFaces(Workflow):
    """Generate with "fix faces after each pass": one pass, then its faces fixed with the default
    settings. Step previews are shown for the pass only: the faces' previews are crops."""

    kind: ClassVar[str] = "generate_faces"
    filing: ClassVar[Filing] = Filing.APART

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        from core.workflows.faces import generate_fixing_faces

        return generate_fixing_faces(
            engine,
            request,
            spec,
            FaceOptions().settings(),
            on_event=_first_pass_previews(calls.on_event),
            on_progress=calls.on_progress,
            cancel=calls.cancel,
        )


def _first_pass_previews(on_event: Callable[[PassEvent], None]) -> Callable[[PassEvent], None]:
    """Forward every event, with the step previews' pictures after the first pass left out."""
    passes = 0

    def forward(event: PassEvent) -> None:
        nonlocal passes
        if isinstance(event, PassStarted):
            passes += 1
        if passes > 1 and isinstance(event, StepPreview) and event.image is not None:
            event = dataclasses.replace(event, image=None)
        on_event(event)

    return forward
