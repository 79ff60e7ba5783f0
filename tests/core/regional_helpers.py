"""Shared by the regional-prompt tests: the picture size, a left-half mask, a pass with previews."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.events import StepPreview
from core.requests import PassRequest
from tests.tiny_models.images import make_image

W, H = 128, 96  # latent 16×12 → cross-attention blocks of 16×12, 8×6, 4×3


def left_half(value: int = 255) -> Image.Image:
    mask = Image.new("L", (W, H), 0)
    mask.paste(value, (0, 0, W // 2, H))
    return mask


def run_pass(engine, spec, **kw):
    """(result, last latent preview as float64 or None) of a pass on a W×H picture."""
    events: list = []
    kw.setdefault("prompt", "a red house")
    kw.setdefault("seed", 11)
    kw.setdefault("work_size", "input")
    request = PassRequest(image=make_image(W, H), **kw)
    result = engine.run_pass(request, spec, on_event=events.append)
    latents = [e.image for e in events if isinstance(e, StepPreview) and e.image is not None]
    return result, (latents[-1].astype(np.float64) if latents else None)
