"""Conversions between PIL images, numpy arrays and QImage.

Pure functions that only touch QImage (never QPixmap), so they are safe on any thread. Every
QImage returned owns its memory: the source buffer may be freed right after the call.

``prepare_qimages`` makes a picture's QImage and thumbnails ahead of time (the worker thread does
it for each result); ``pil_to_qimage`` and ``thumbnail_qimage`` then return those for as long as
the PIL image lives, so the GUI thread never converts a big result. Prepared pictures are treated
as immutable (results are).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

# File dialogs' filter for the pictures the app reads (masks too).
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"

HISTORY_THUMBNAIL_SIDE = 64  # the history panel's cards
_FULL = 0
_prepared: dict[int, dict[int, QImage]] = {}  # id(PIL image) → {0: full size, side: thumbnail}
_prepared_lock = threading.Lock()

_PIL_FORMATS = {
    "RGB": (QImage.Format.Format_RGB888, 3),
    "RGBA": (QImage.Format.Format_RGBA8888, 4),
    "L": (QImage.Format.Format_Grayscale8, 1),
}


def prepare_qimages(img: Image.Image, thumbnail_sides: tuple[int, ...] = ()) -> None:
    """Convert ``img`` (and its thumbnails) now, on this thread, for later calls on any thread."""
    made = {_FULL: _convert(img)}
    made.update({side: _thumbnail(img, side) for side in thumbnail_sides})
    key = id(img)
    with _prepared_lock:
        first = key not in _prepared
        _prepared.setdefault(key, {}).update(made)
    if first:
        weakref.finalize(img, _forget, key)


def _forget(key: int) -> None:
    with _prepared_lock:
        _prepared.pop(key, None)


def _ready(img: Image.Image, side: int) -> QImage | None:
    with _prepared_lock:
        return _prepared.get(id(img), {}).get(side)


def pil_to_qimage(img: Image.Image) -> QImage:
    """A QImage copy of ``img``; RGB, RGBA and L map directly, other modes are converted first."""
    ready = _ready(img, _FULL)
    return ready if ready is not None else _convert(img)


def _convert(img: Image.Image) -> QImage:
    if img.mode not in _PIL_FORMATS:
        has_alpha = "A" in img.getbands() or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    fmt, channels = _PIL_FORMATS[img.mode]
    width, height = img.size
    data = img.tobytes()
    return QImage(data, width, height, width * channels, fmt).copy()


def thumbnail_qimage(img: Image.Image, side: int) -> QImage:
    """A QImage of ``img`` scaled down (aspect kept) to fit a ``side``×``side`` square."""
    ready = _ready(img, side)
    return ready if ready is not None else _thumbnail(img, side)


def _thumbnail(img: Image.Image, side: int) -> QImage:
    thumbnail = img.copy()
    thumbnail.thumbnail((side, side))
    return pil_to_qimage(thumbnail)


def qimage_to_pil(qimage: QImage) -> Image.Image:
    """A PIL copy of ``qimage``: mode L for Format_Grayscale8, RGB for everything else."""
    if qimage.isNull():
        raise ValueError("cannot convert a null QImage")
    if qimage.format() == QImage.Format.Format_Grayscale8:
        mode, channels, image = "L", 1, qimage
    else:
        mode, channels = "RGB", 3
        image = qimage.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    rows = rows.reshape(height, image.bytesPerLine())[:, : width * channels]
    shape = (height, width) if channels == 1 else (height, width, channels)
    return Image.fromarray(np.ascontiguousarray(rows).reshape(shape), mode)


def array_to_qimage(arr: np.ndarray) -> QImage:
    """A QImage copy of an HxWx3 uint8 RGB array (HxW grayscale and HxWx4 RGBA also accepted)."""
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise TypeError(f"expected a uint8 array, got {arr.dtype}")
    if arr.ndim == 2:
        fmt, channels = QImage.Format.Format_Grayscale8, 1
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        channels = arr.shape[2]
        fmt = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    else:
        raise ValueError(f"expected an HxWx3 array, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    height, width = arr.shape[:2]
    return QImage(arr.data, width, height, width * channels, fmt).copy()
