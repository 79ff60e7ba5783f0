"""The public A1111 client (``webuiapi``) pointed at a worker, and pictures as A1111 clients
send them, for the A1111 API tests."""

from __future__ import annotations

import base64
import io

import numpy as np
import webuiapi
from PIL import Image

TOKEN = "a1111-s3cret"


def client(url: str) -> webuiapi.WebUIApi:
    """webuiapi's client for the worker, sending the worker's token."""
    host, port = url.removeprefix("http://").split(":")
    api = webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=4)
    api.session.headers["Authorization"] = f"Bearer {TOKEN}"
    api.check_extensions()
    return api


def b64_png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def square_mask(size: int = 64, box: tuple[int, int, int, int] = (16, 16, 48, 48)) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, box)
    return mask
