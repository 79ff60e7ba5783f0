"""Typed events a pass reports while it runs (the GUI worker forwards them as Qt signals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from core.requests import PassRequest


@dataclass(frozen=True)
class ModelLoading:
    """A model is being resolved/loaded; ``fraction`` is None when unknown."""

    reference: str
    message: str
    fraction: float | None = None


@dataclass(frozen=True)
class PassStarted:
    """Sent before the first step: how many steps will actually run, at what size and seed."""

    effective_steps: int
    total_steps: int
    width: int
    height: int
    seed: int


@dataclass(frozen=True)
class StepPreview:
    """One finished denoising step with a cheap preview of the predicted clean image."""

    step: int
    total: int
    elapsed: float
    image: np.ndarray | None  # H×W×3 uint8, or None when previews are off


@dataclass(frozen=True)
class PassResult:
    """A finished pass: the image plus everything needed to reproduce and describe it."""

    image: Image.Image
    request: PassRequest
    seed: int
    effective_steps: int
    duration: float
    model_name: str
    model_hash: str
    record: dict = field(default_factory=dict)  # the JSON pass record written into PNGs
    skipped: bool = False  # True when 0 steps ran and the input came back unchanged
    note: str = ""
    control_images: tuple[Image.Image, ...] = ()  # one per enabled ControlNet layer, work size


PassEvent = ModelLoading | PassStarted | StepPreview
EventCallback = Callable[[PassEvent], None]
