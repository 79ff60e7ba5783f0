"""Pictures in A1111 requests: base64 text (raw or a ``data:image/…;base64,`` URI), bounded before
anything is decoded, and the result PNGs back as base64.

The length is checked before the base64 is decoded and the pixel count from the picture's header
before its pixels are (:func:`core.remote.protocol.read_png`); callers run this off the event loop.
URLs are never fetched.
"""

from __future__ import annotations

import base64
import binascii

from PIL import Image, ImageOps

from core.imaging import MAX_PIXELS
from core.remote.a1111.schema import invalid
from core.remote.protocol import MAX_REQUEST_BYTES, ProtocolError, read_png

FORMATS = ("PNG", "JPEG", "WEBP")  # what A1111 clients send
MAX_BASE64_CHARS = MAX_REQUEST_BYTES  # one picture's text; the request as a whole is bounded too


def decode_picture(text: str, *loc: str | int, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The picture a base64 field holds; A1111Invalid (422, at ``body.<loc…>``) otherwise."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        raise invalid("pictures must be sent as base64; this worker fetches no URL", *loc)
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    if len(text) > MAX_BASE64_CHARS:
        limit = MAX_BASE64_CHARS // (1024 * 1024)
        raise invalid(f"the picture is over the {limit} MB limit", *loc)
    try:
        data = base64.b64decode(text)
    except (binascii.Error, ValueError):
        raise invalid("not valid base64", *loc) from None
    name = ".".join(str(part) for part in loc)
    try:
        return read_png(data, name, max_pixels, FORMATS)
    except ProtocolError as exc:
        raise invalid(str(exc), *loc) from None


def encode_base64(png: bytes) -> str:
    """PNG bytes as A1111 returns them: plain base64, no data URI."""
    return base64.b64encode(png).decode("ascii")


def resized(image: Image.Image, size: tuple[int, int], resize_mode: int) -> Image.Image:
    """A1111's resize modes, done before the pass: 1 crops to fill ``size`` (centred); 2 fits
    the picture inside ``size`` over a stretched copy of itself (A1111 stretches the edges into
    the gaps). 0 and 3 are left to the pass, which stretches the picture to ``size``."""
    if resize_mode == 1:
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    if resize_mode == 2:
        background = image.resize(size, Image.Resampling.LANCZOS)
        inner = ImageOps.contain(image, size, Image.Resampling.LANCZOS)
        offset = ((size[0] - inner.width) // 2, (size[1] - inner.height) // 2)
        background.paste(inner, offset)
        return background
    return image
