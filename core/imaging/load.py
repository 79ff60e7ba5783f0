"""Pictures in: any file a user drops becomes 8-bit RGB, or a one-line ImageError.

Files larger than :data:`MAX_PIXELS` (50 000 000 pixels, i.e. 50 MP) are refused from their
header, before any pixel is decoded. Every failure names the file.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageError
from core.imaging.lab import lab_image_to_rgb

MAX_PIXELS = 50_000_000
"""Largest image (width × height) that :func:`load_image` accepts: 50 MP."""

SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
_FORMAT_NAMES = "PNG, JPEG, WebP, BMP or TIFF"
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f} MP"


def _limit_error(
    name: str, pixels: int, max_pixels: int, size: tuple[int, int] | None = None
) -> ImageError:
    dims = f"{size[0]}×{size[1]} = " if size else ""
    limit = f"{max_pixels / 1_000_000:g} MP"
    return ImageError(f"{name} is {dims}{_megapixels(pixels)}, over the {limit} limit")


@contextlib.contextmanager
def open_image(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> Iterator[Image.Image]:
    """Open an image file lazily (header only), mapping every failure to one-line ImageError.

    Checks the pixel count from the header against ``max_pixels`` (None: no check beyond
    Pillow's own decompression-bomb guard, which is also reported as ImageError). Errors raised
    inside the ``with`` block while decoding are reported as a damaged file.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise ImageError(f"no such file: {name}")
    if p.is_dir():
        raise ImageError(f"{name} is a folder, not an image file")
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p, formats=SUPPORTED_FORMATS)
    except Image.DecompressionBombError as exc:
        match = _BOMB_PIXELS.search(str(exc))
        pixels = int(match.group(1)) if match else 0
        raise _limit_error(name, pixels, limit) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"cannot read image {name}: not a supported image file ({_FORMAT_NAMES})"
        ) from None
    except PermissionError:
        raise ImageError(f"cannot read image {name}: permission denied") from None
    except Exception as exc:
        raise ImageError(f"cannot read image {name}: damaged file ({_one_line(exc)})") from None
    with img:
        w, h = img.size
        if max_pixels is not None and w * h > max_pixels:
            raise _limit_error(name, w * h, max_pixels, (w, h))
        if w < 1 or h < 1:
            raise ImageError(f"cannot read image {name}: it has no pixels ({w}×{h})")
        try:
            yield img
        except ImageError:
            raise
        except Exception as exc:
            reason = _one_line(exc) or type(exc).__name__
            raise ImageError(
                f"cannot read image {name}: damaged or truncated file ({reason})"
            ) from None


def _read_file(path: str | Path, max_pixels: int | None) -> Image.Image:
    """Decode the whole file and apply its EXIF orientation; returns an image that owns its data."""
    with open_image(path, max_pixels) as img:
        img.load()
        try:
            return ImageOps.exif_transpose(img)
        except Exception:  # a broken EXIF block should not cost the picture
            return img.copy()


def _sixteen_bit_to_l(img: Image.Image) -> Image.Image:
    """I;16 / I;16B / I (assumed 0..65535) → L with value >> 8; F scaled by its apparent range."""
    arr = np.asarray(img)
    if img.mode == "F":
        arr = np.nan_to_num(arr.astype(np.float64))
        peak = float(arr.max()) if arr.size else 0.0
        scale = 255.0 if peak <= 1.0 else (1.0 if peak <= 255.0 else 255.0 / 65535.0)
        out = np.clip(np.rint(arr * scale), 0, 255)
    else:
        out = np.clip(arr.astype(np.int64), 0, 65535) >> 8
    return Image.fromarray(out.astype(np.uint8), "L")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in _ALPHA_MODES or (
        img.mode in ("P", "L", "RGB", "1") and img.info.get("transparency") is not None
    )


def normalize_image(img: Image.Image) -> Image.Image:
    """Return an 8-bit RGB copy of any Pillow image.

    Alpha (including palette / tRNS transparency) is flattened onto white; grayscale, palette,
    CMYK and 16-bit modes are converted (16-bit values map to 8 bits as ``value >> 8``).
    """
    if img.mode == "RGB" and img.info.get("transparency") is None:
        return img.copy()
    if img.mode == "La":
        img = img.convert("LA")
    if img.mode == "LAB":
        return Image.fromarray(lab_image_to_rgb(img), "RGB")
    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
        return _sixteen_bit_to_l(img).convert("RGB")
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(f"unsupported colour mode {img.mode}: {_one_line(exc)}") from None


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Load PNG / JPEG / WebP / BMP / TIFF as 8-bit RGB, EXIF orientation applied.

    Raises :class:`ImageError` (one line naming the file) for a missing file, a folder, an
    unreadable / truncated file, or one over ``max_pixels`` (checked before decoding).
    """
    img = _read_file(path, max_pixels)
    try:
        return normalize_image(img)
    except ImageError as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None


def resize_to(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to exactly ``size`` (w, h) with Lanczos filtering (a copy if already that size)."""
    size = (int(size[0]), int(size[1]))
    if img.size == size:
        return img.copy()
    return img.resize(size, Image.Resampling.LANCZOS)


def fit_within(img: Image.Image, max_side: int) -> Image.Image:
    """Scale down (never up), keeping the aspect ratio, so the longer side is ≤ ``max_side``."""
    w, h = img.size
    if max(w, h) <= max_side:
        return img.copy()
    scale = max_side / max(w, h)
    return resize_to(img, (max(1, round(w * scale)), max(1, round(h * scale))))
