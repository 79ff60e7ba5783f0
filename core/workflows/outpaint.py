"""Outpainting ("expand canvas"): grow the picture on any side and paint the new area.

The new area is pre-filled from the picture's edges (repeated, then blurred more with
distance), so the model starts from continuing colours, not black; one inpaint pass then
repaints it through a mask that also reaches a soft band (``band`` px, a linear ramp) into
the old picture so the seam blends. The engine composites through that mask (its own blur is
set to 0: the band *is* the soft edge), so
every original pixel outside the band comes back byte-identical at its new offset; the engine's
working-resolution rule applies to the enlarged picture as to any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import EventCallback, PassResult
from core.hashing import pixel_hash
from core.imaging import MAX_PIXELS, normalize_image
from core.imaging.fill import edge_fill
from core.models import ModelSpec
from core.request_rules import check_runs_steps, tagged
from core.requests import PassRequest
from core.workflows.common import ProgressCallback
from core.workflows.driver import Plan, Unit, run_plan

MAX_MARGIN = 4096
MAX_BAND = 512
DEFAULT_BAND = 64
OUTPAINT_STRENGTH = 0.85


@dataclass(frozen=True)
class Margins:
    """Pixels added on each side."""

    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0

    def check(self) -> Margins:
        """Raise a one-line UserError unless each side is 0–4096 px and one is above 0."""
        for side, value in dataclasses.asdict(self).items():
            if not 0 <= value <= MAX_MARGIN:
                raise UserError(f"{side} margin must be between 0 and {MAX_MARGIN} px, got {value}")
        if not any(dataclasses.astuple(self)):
            raise UserError("expanding the canvas needs at least one margin above 0 px")
        return self

    def new_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The expanded canvas's (width, height)."""
        return size[0] + self.left + self.right, size[1] + self.top + self.bottom


def expand_canvas(image: Image.Image, margins: Margins) -> Image.Image:
    """``image`` on a larger canvas, the new area pre-filled from its edges (repeated, blurred
    progressively); the original's bytes are kept at their new offset."""
    m = margins
    return edge_fill(image.convert("RGB"), m.left, m.top, m.right, m.bottom)


def outpaint_mask(size: tuple[int, int], margins: Margins, band: int = DEFAULT_BAND) -> Image.Image:
    """255 over the new area; inside the old picture (``size``) a ramp from 255 at the seam down
    to 0 at ``band`` px from each expanded side; 0 beyond (those pixels are kept)."""
    width, height = size
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    inf = np.full(1, np.inf)
    dx = np.minimum(xs if margins.left else inf, (width - 1 - xs) if margins.right else inf)
    dy = np.minimum(ys if margins.top else inf, (height - 1 - ys) if margins.bottom else inf)
    distance = np.minimum(dx[None, :], dy[:, None])
    inner = np.clip((band - distance) / band, 0.0, 1.0) if band > 0 else np.zeros_like(distance)
    full_w, full_h = margins.new_size(size)
    mask = np.full((full_h, full_w), 255, np.uint8)
    mask[margins.top : margins.top + height, margins.left : margins.left + width] = np.rint(
        inner * 255
    ).astype(np.uint8)
    return Image.fromarray(mask, "L")


def check_outpaint(size: tuple[int, int], margins: Margins, band: int) -> None:
    """Everything checked before a model loads: margins, band and the result's size."""
    margins.check()
    if not 0 <= band <= MAX_BAND:
        raise UserError(f"band must be between 0 and {MAX_BAND} px, got {band}")
    width, height = margins.new_size(size)
    if width * height > MAX_PIXELS:
        raise UserError(
            f"the expanded picture ({width}x{height}) is over {MAX_PIXELS // 1_000_000} MP"
        )


def outpaint(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    margins: Margins,
    band: int = DEFAULT_BAND,
    *,
    on_event: EventCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PassResult:
    """Expand ``request.image`` by ``margins`` and paint the new area (one inpaint pass).

    ``request`` gives prompt, strength, steps, seed…; its mask, strength map and size are
    replaced. Raises UserError before any model loads for bad margins or a pass of 0 steps, and
    PassCancelled on cancel. The record has ``kind: "outpaint"`` and ``outpaint`` (the margins
    and band); its ``input_hash`` is the original picture's.
    """
    original = normalize_image(request.image)
    check_outpaint(original.size, margins, band)
    canvas = expand_canvas(original, margins)
    mask = outpaint_mask(original.size, margins, band)
    info = {**dataclasses.asdict(margins), "band": band}
    base = request.replace(
        image=canvas,
        mask=mask,
        mask_blur=0,  # the band is the soft edge: pixels outside it keep their bytes
        strength_map=None,
        width=None,
        height=None,
        extra={k: v for k, v in request.extra.items() if k != "workflow"},
    )
    base = check_runs_steps(base, "the new area would stay a blurred fill")
    workflow = {"type": "outpaint", **info}

    def build(_: Sequence[PassResult]) -> PassRequest:
        return tagged(base, workflow)

    def after(result: PassResult) -> PassResult:
        record = {
            **result.record,
            "kind": "outpaint",
            "outpaint": info,
            "input_hash": pixel_hash(original),
        }
        return dataclasses.replace(result, record=record)

    label = f"expand to {canvas.width}x{canvas.height}"
    plan = Plan("outpaint", [Unit(label, build, after)])
    outcome = run_plan(engine, spec, plan, on_event, None, on_progress, cancel)
    if outcome.cancelled or not outcome.results:
        raise PassCancelled()
    return outcome.results[0]


def outpaint_sides(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    sides: tuple[int, int, int, int],
    band: int = DEFAULT_BAND,
    **callbacks: Any,
) -> PassResult:
    """:func:`outpaint` with the margins as a (left, right, top, bottom) tuple."""
    return outpaint(engine, request, spec, Margins(*sides), band, **callbacks)
