"""Images and masks in, compositing out: the pixel-level helpers of the engine (no Qt, no torch).

Every loaded image becomes 8-bit RGB; every mask becomes mode "L" where white (255) means
"change". Files larger than :data:`MAX_PIXELS` (50 000 000 pixels, i.e. 50 MP) are refused from
their header, before any pixel is decoded. All failures raise :class:`~core.errors.ImageError`
with a one-line message that names the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from core.errors import ImageError

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


def _limit_error(name: str, pixels: int, max_pixels: int, size: tuple[int, int] | None = None):
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
        return Image.fromarray(_lab_image_to_rgb(img), "RGB")
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


def _mask_to_l(img: Image.Image) -> Image.Image:
    if img.mode == "La":
        img = img.convert("LA")
    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
        return _sixteen_bit_to_l(img)
    if _has_alpha(img):
        alpha = img.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 255:
            return alpha
    if img.mode in ("L", "1", "P", "RGB"):
        return img.convert("L")
    return normalize_image(img).convert("L")


def load_mask(source: str | Path | Image.Image, size: tuple[int, int]) -> Image.Image:
    """A mode "L" mask of ``size`` (w, h), white = change, from a path or any Pillow image.

    When the source has an alpha channel with any transparency, the alpha is the mask (opaque =
    change); otherwise its luminance is. Resized with bilinear filtering.
    """
    if isinstance(source, Image.Image):
        mask = _mask_to_l(source)
    else:
        mask = _mask_to_l(_read_file(source, MAX_PIXELS))
    size = (int(size[0]), int(size[1]))
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    return mask


def blur_mask(mask: Image.Image, radius_px: float) -> Image.Image:
    """Gaussian-blurred copy of an L mask; ``radius_px`` 0 returns an unchanged copy."""
    mask = mask if mask.mode == "L" else mask.convert("L")
    if radius_px <= 0:
        return mask.copy()
    return mask.filter(ImageFilter.GaussianBlur(radius_px))


def mask_bbox(mask: Image.Image, threshold: int = 0) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) — right/bottom exclusive — of pixels > ``threshold``, or None."""
    arr = np.asarray(mask if mask.mode == "L" else mask.convert("L")) > threshold
    rows = np.flatnonzero(arr.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(arr.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def mask_is_empty(mask: Image.Image) -> bool:
    """True when no pixel of the mask is above 0 (nothing to change)."""
    return mask_bbox(mask) is None


def composite(original: Image.Image, generated: Image.Image, mask: Image.Image) -> Image.Image:
    """Blend ``generated`` over ``original`` through ``mask`` (255 = generated, 0 = original).

    Pixels where the mask is 0 are byte-identical to ``original``; in between the blend is
    rounded. All three must have the same size (ValueError otherwise).
    """
    if not original.size == generated.size == mask.size:
        raise ValueError(
            f"composite needs equal sizes, got original {original.size}, "
            f"generated {generated.size}, mask {mask.size}"
        )
    orig = np.asarray(original if original.mode == "RGB" else original.convert("RGB"))
    gen = np.asarray(generated if generated.mode == "RGB" else generated.convert("RGB"))
    m = np.asarray(mask if mask.mode == "L" else mask.convert("L"))[..., None]
    m16 = m.astype(np.uint16)
    blended = (gen.astype(np.uint16) * m16 + orig.astype(np.uint16) * (255 - m16) + 127) // 255
    out = np.where(m == 0, orig, np.where(m == 255, gen, blended.astype(np.uint8)))
    return Image.fromarray(out.astype(np.uint8), "RGB")


# sRGB (D65) <-> CIELAB, in numpy (float32; sRGB decoding through a 256-entry table).
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZN = (_RGB_TO_XYZ.T / _WHITE).astype(np.float32)  # linear RGB row → XYZ / white
_XYZN_TO_RGB = np.linalg.inv(_RGB_TO_XYZ.T / _WHITE).astype(np.float32)
_EPS = 216 / 24389
_KAPPA = 24389 / 27
_LEVELS = np.arange(256) / 255.0
_SRGB_TO_LINEAR = np.where(
    _LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4
).astype(np.float32)
_FINE = np.arange(65536) / 65535.0
_LINEAR_TO_SRGB = (
    np.where(_FINE <= 0.0031308, _FINE * 12.92, 1.055 * _FINE ** (1 / 2.4) - 0.055) * 255.0
).astype(np.float32)


def _rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    xyz = _SRGB_TO_LINEAR[rgb.reshape(-1, 3)] @ _RGB_TO_XYZN
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116).astype(np.float32)
    lab = np.empty_like(f)
    lab[:, 0] = 116 * f[:, 1] - 16
    lab[:, 1] = 500 * (f[:, 0] - f[:, 1])
    lab[:, 2] = 200 * (f[:, 1] - f[:, 2])
    return lab


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """(N, 3) Lab → (N, 3) float sRGB in 0..255 (not rounded; out-of-gamut clipped)."""
    lab = lab.astype(np.float32, copy=False)
    f = np.empty_like(lab)
    f[:, 1] = (lab[:, 0] + 16) / 116
    f[:, 0] = f[:, 1] + lab[:, 1] / 500
    f[:, 2] = f[:, 1] - lab[:, 2] / 200
    cube = f * f * f
    xyz = np.where(cube > _EPS, cube, (116 * f - 16) / np.float32(_KAPPA))
    lin = np.clip(xyz @ _XYZN_TO_RGB, 0.0, 1.0)
    lin *= 65535
    return _LINEAR_TO_SRGB[np.rint(lin, out=lin).astype(np.uint16)]


def _lab_image_to_rgb(img: Image.Image) -> np.ndarray:
    """Pillow "LAB" mode (L scaled to 0..255, a/b offset by 128) → uint8 RGB array."""
    arr = np.asarray(img).astype(np.float64).reshape(-1, 3)
    lab = np.stack([arr[:, 0] * 100 / 255, arr[:, 1] - 128, arr[:, 2] - 128], axis=1)
    rgb = np.clip(np.rint(_lab_to_rgb(lab)), 0, 255).astype(np.uint8)
    return rgb.reshape(img.height, img.width, 3)


def _lab_stats(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return lab.mean(axis=0, dtype=np.float64), lab.std(axis=0, dtype=np.float64)


def match_colors(image: Image.Image, reference: Image.Image, amount: float = 1.0) -> Image.Image:
    """Colour-drift guard: match ``image``'s per-channel CIELAB mean and standard deviation to
    ``reference``'s, blended by ``amount`` (0 = unchanged, 1 = fully matched). Returns RGB."""
    src = np.asarray(normalize_image(image))
    amount = float(min(max(amount, 0.0), 1.0))
    if amount == 0.0:
        return Image.fromarray(src, "RGB")
    ref_mean, ref_std = _lab_stats(_rgb_to_lab(np.asarray(normalize_image(reference))))
    lab = _rgb_to_lab(src)
    mean, std = _lab_stats(lab)
    scale = np.where(std > 1e-6, ref_std / np.maximum(std, 1e-6), 1.0).astype(np.float32)
    lab -= mean.astype(np.float32)
    lab *= scale
    lab += ref_mean.astype(np.float32)
    matched = _lab_to_rgb(lab)
    del lab
    flat = src.reshape(-1, 3)
    out = flat + np.float32(amount) * (matched - flat)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(src.shape), "RGB")


def pixel_hash(img: Image.Image) -> str:
    """First 16 hex digits of the sha256 of the image's mode, size and raw pixel bytes."""
    digest = hashlib.sha256(f"{img.mode}:{img.width}x{img.height}:".encode())
    digest.update(img.tobytes())
    return digest.hexdigest()[:16]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Full sha256 hex digest of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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
