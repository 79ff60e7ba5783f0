"""Shared by the ControlNet, IP-Adapter and conditioning CLI tests: tiny models, pictures, a runner.

Each test module builds its tiny ControlNet / IP-Adapter once (a module-scoped fixture calling
:func:`make_controlnet` / :func:`make_ip_adapter`), from the session's tiny SD 1.x model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image

SIZE = 64


def make_controlnet(tmp_path_factory, model_dir) -> Path:
    """A tiny ControlNet for the tiny SD 1.x model in ``model_dir`` (built from its UNet)."""
    from tests.tiny_models.tiny_controlnet import build_tiny_controlnet

    out = tmp_path_factory.mktemp("controlnet") / "tiny-controlnet"
    return build_tiny_controlnet(out, model_dir=model_dir)


def make_ip_adapter(tmp_path_factory, model_dir) -> Path:
    """A tiny IP-Adapter (weights file path; ``image_encoder/`` next to it) for ``model_dir``."""
    from tests.tiny_models.tiny_ip_adapter import build_tiny_ip_adapter

    out = tmp_path_factory.mktemp("ip-adapter") / "tiny-ip-adapter"
    return build_tiny_ip_adapter(out, model_dir=model_dir)


def cpu_spec(model_dir) -> ModelSpec:
    return ModelSpec(str(model_dir), device="cpu")


def picture(seed: int = 0) -> Image.Image:
    return make_image(SIZE, SIZE, seed=seed)


def square_mask(box: tuple[int, int, int, int] = (16, 16, 40, 40)) -> Image.Image:
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def drawing() -> Image.Image:
    """Dark strokes on white paper (a scribble as people draw it)."""
    paper = Image.new("RGB", (SIZE, SIZE), "white")
    pen = ImageDraw.Draw(paper)
    pen.line((8, 8, 56, 50), fill="black", width=3)
    pen.ellipse((20, 30, 44, 54), outline="black", width=2)
    return paper


def base_request(**changes) -> PassRequest:
    values = {"image": picture(), "prompt": "a house", "steps": 3, "strength": 0.8, "seed": 7}
    return PassRequest(**{**values, **changes})


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))
