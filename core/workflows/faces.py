"""Fix faces (a face detailer): refine each face as its own crop at the model's native size.

Faces are found locally (``core.imaging.faces``) or given as boxes. Each face is one inpaint
pass on the result so far: "only masked" with its own padding, an elliptical feathered mask and a
low strength (0.35, the face-preservation range), optionally with its own prompt. The engine's
crop rule gives a small face on a big photo the model's native size, and its paste-back keeps
every pixel outside the feathered ellipses byte-identical. The faces are one job (progress and
cancel between and within faces) and one result: a cancel returns nothing, so the input stays.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import EventCallback, PassResult
from core.hashing import pixel_hash
from core.imaging import normalize_image
from core.imaging.faces import (
    DEFAULT_MIN_CONFIDENCE,
    FaceBox,
    check_face_detector,
    detect_faces,
    face_mask,
)
from core.imaging.seam import seam_figures
from core.models import ModelSpec
from core.request_rules import check_runs_steps, tagged
from core.requests import PassRequest
from core.workflows.common import ProgressCallback
from core.workflows.driver import Plan, Unit, run_plan

FACE_STRENGTH = 0.35
FACE_PADDING = 32
MAX_FACES = 16
NO_FACE_NOTE = "no face found: the picture is returned unchanged"


@dataclass(frozen=True)
class FaceSettings:
    """How faces are refined. ``prompt`` "" keeps the pass's prompt; ``boxes`` None detects."""

    strength: float = FACE_STRENGTH
    prompt: str = ""
    padding: int = FACE_PADDING
    boxes: tuple[FaceBox, ...] | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE

    def check(self) -> FaceSettings:
        """Raise a one-line UserError for a value out of range."""
        if not 0.0 < self.strength <= 1.0:
            raise UserError(f"face strength must be above 0 and at most 1, got {self.strength}")
        if not 0 <= self.padding <= 1024:
            raise UserError(f"face padding must be between 0 and 1024 px, got {self.padding}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise UserError(f"minimum confidence must be 0–1, got {self.min_confidence}")
        if self.boxes is not None and len(self.boxes) > MAX_FACES:
            raise UserError(f"at most {MAX_FACES} faces per pass, got {len(self.boxes)}")
        if self.boxes is None:
            check_face_detector()  # a broken detector file stops before the first pass
        return self


def find_faces(image: Image.Image, settings: FaceSettings) -> list[FaceBox]:
    """The boxes a fix-faces pass works on: the given ones (clamped to the picture) or the
    detected ones, at most :data:`MAX_FACES`."""
    if settings.boxes is not None:
        return [box.clamped(image.size) for box in settings.boxes]
    return detect_faces(image, settings.min_confidence)[:MAX_FACES]


def fix_faces(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    settings: FaceSettings | None = None,
    *,
    on_event: EventCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PassResult:
    """Refine every face of ``request.image``; returns one result (kind "faces").

    ``request`` gives prompt, steps, seed, LoRAs, control layers…; its mask, strength map,
    strength and inpaint area are replaced per face. No face: the input comes back unchanged
    (``skipped``, with a note) and no model loads. Raises PassCancelled on cancel.
    """
    # 1. Check everything and find the faces before any model loads.
    settings = (settings or FaceSettings()).check()
    original = normalize_image(request.image)
    boxes = find_faces(original, settings)
    faces = [box.to_dict() for box in boxes]
    if not boxes:
        return _unchanged(original, request, faces)
    base = request.replace(
        image=original,
        strength=settings.strength,
        prompt=settings.prompt or request.prompt,
        strength_map=None,
        soft_inpaint=False,
        inpaint_area="masked",
        padding=settings.padding,
        mask_blur=0,  # the ellipse is feathered already: outside it, bytes are kept
        width=None,
        height=None,
    )
    base = check_runs_steps(base, "the faces would not change")
    workflow = {"type": "faces", "faces": faces, "strength": settings.strength}

    # 2. One unit per face, each on the result of the one before.
    def unit(index: int, box: FaceBox) -> Unit:
        def build(done: Sequence[PassResult]) -> PassRequest:
            image = done[-1].image if done else original
            return tagged(base, workflow, image=image, mask=face_mask(image.size, box))

        return Unit(f"face {index} of {len(boxes)}", build)

    plan = Plan("faces", [unit(i, box) for i, box in enumerate(boxes, 1)])
    outcome = run_plan(engine, spec, plan, on_event, None, on_progress, cancel)
    if outcome.cancelled or len(outcome.results) != len(boxes):
        raise PassCancelled()
    # 3. One result: the last face's picture, recording every face.
    last = outcome.results[-1]
    union = _union_mask(original.size, boxes)
    record = {
        **last.record,
        "kind": "faces",
        "faces": faces,
        "input_hash": pixel_hash(original),
        "mask_hash": pixel_hash(union),
        "effective_steps": sum(r.effective_steps for r in outcome.results),
        "duration": round(outcome.elapsed, 3),
    }
    for key in ("seam_delta_e", "seam_delta_e_original"):  # the last face's: measure them all
        record.pop(key, None)
    record.update(seam_figures(original, last.image, union))
    steps = record["effective_steps"]
    return dataclasses.replace(
        last, request=request, record=record, effective_steps=steps, duration=outcome.elapsed
    )


def _unchanged(original: Image.Image, request: PassRequest, faces: list) -> PassResult:
    record = {
        "kind": "faces",
        "faces": faces,
        "input_hash": pixel_hash(original),
        "note": NO_FACE_NOTE,
    }
    seed = request.seed or 0
    return PassResult(
        original, request, seed, 0, 0.0, "", "", record, skipped=True, note=NO_FACE_NOTE
    )


def _union_mask(size: tuple[int, int], boxes: Sequence[FaceBox]) -> Image.Image:
    union = np.zeros((size[1], size[0]), np.uint8)
    for box in boxes:
        union = np.maximum(union, np.asarray(face_mask(size, box)))
    return Image.fromarray(union, "L")


def with_faces_fixed(
    engine: Engine,
    spec: ModelSpec,
    result: PassResult,
    settings: FaceSettings | None = None,
    *,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> PassResult:
    """``result`` (a finished pass) with its faces fixed ("fix faces after each pass"): the
    picture is replaced, the record keeps the pass's own values and adds ``fix_faces``."""
    request = result.request.replace(image=result.image, seed=result.seed)
    fixed = fix_faces(engine, request, spec, settings, on_event=on_event, cancel=cancel)
    info = {
        "faces": fixed.record["faces"],
        "strength": fixed.record.get("strength", (settings or FaceSettings()).strength),
        "effective_steps": fixed.effective_steps,
    }
    note = "; ".join(n for n in (result.note, fixed.note) if n)
    return dataclasses.replace(
        result, image=fixed.image, record={**result.record, "fix_faces": info}, note=note
    )


def faces_refiner(
    engine: Engine,
    spec: ModelSpec,
    settings: FaceSettings | None,
    *,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> Callable[[PassResult], PassResult] | None:
    """:func:`with_faces_fixed` for every result of one run (a batch's ``refine``), or None when
    no face fixing was asked."""
    if settings is None:
        return None
    return functools.partial(
        with_faces_fixed, engine, spec, settings=settings, on_event=on_event, cancel=cancel
    )


def generate_fixing_faces(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    settings: FaceSettings | None = None,
    *,
    on_event: EventCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PassResult:
    """One ordinary pass, then its faces fixed (the window's "fix faces after each pass"): one
    result, recording the pass and ``fix_faces``. Raises PassCancelled on cancel."""
    plan = Plan("generate", [Unit("pass", lambda _done: request)])
    outcome = run_plan(engine, spec, plan, on_event, None, on_progress, cancel)
    if outcome.cancelled or not outcome.results:
        raise PassCancelled()
    return with_faces_fixed(
        engine, spec, outcome.results[0], settings, on_event=on_event, cancel=cancel
    )
