"""The working resolution: the size a pass is generated at, chosen for the model.

A 12-megapixel photo is never sent to an SD 1.5 model at full size (out of memory on a GPU, hours
on a CPU, repeated subjects when it fits). ``auto`` keeps the picture's size while its pixel count
is within half to twice the model's native area (512² for SD 1.x, 768² for SD 2.x-v, 1024² for
SDXL) and otherwise scales it to about the native area, keeping the aspect ratio; the result is
resized back to the picture's own size by the engine. Before a model loads, the window guesses
its native size with ``core.library.native_size``.
"""

from __future__ import annotations

import math
import re

from core.errors import InvalidRequest

AUTO, INPUT = "auto", "input"
COMFORT_RANGE = (0.5, 2.0)  # pixel count relative to the native area that is kept as is
_EXPLICIT = re.compile(r"^\s*(\d+)\s*[x×]\s*(\d+)\s*$")
MIN_SIDE, MAX_SIDE = 64, 8192


def parse_work_size(setting: str) -> tuple[int, int] | str:
    """``auto``, ``input`` or an explicit ``(w, h)``; raises InvalidRequest otherwise."""
    text = setting.strip().lower()
    if text in (AUTO, INPUT):
        return text
    match = _EXPLICIT.match(text)
    if not match:
        raise InvalidRequest(
            f"work size must be 'auto', 'input' or WxH (e.g. 768x512), got {setting!r}"
        )
    w, h = int(match.group(1)), int(match.group(2))
    for name, value in (("width", w), ("height", h)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise InvalidRequest(
                f"work size {name} must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {value}"
            )
    return w, h


def snap(value: float, multiple: int) -> int:
    """``value`` rounded to the nearest multiple (at least one multiple)."""
    return max(multiple, int(value / multiple + 0.5) * multiple)


def scale_to_area(size: tuple[int, int], area: float, multiple: int) -> tuple[int, int]:
    """``size`` scaled (up or down) to about ``area`` pixels, aspect kept, sides snapped."""
    w, h = size
    scale = math.sqrt(area / max(1, w * h))
    return snap(w * scale, multiple), snap(h * scale, multiple)


def choose_work_size(
    size: tuple[int, int], setting: str, native: int, multiple: int = 8
) -> tuple[int, int]:
    """The (w, h) a picture of ``size`` is generated at, for a model of ``native`` px."""
    parsed = parse_work_size(setting)
    if isinstance(parsed, tuple):
        return snap(parsed[0], multiple), snap(parsed[1], multiple)
    w, h = size
    if parsed == INPUT:
        return snap(w, multiple), snap(h, multiple)
    low, high = COMFORT_RANGE
    if low * native * native <= w * h <= high * native * native:
        return snap(w, multiple), snap(h, multiple)
    return scale_to_area(size, native * native, multiple)


def crop_work_size(
    crop: tuple[int, int], setting: str, native: int, multiple: int = 8
) -> tuple[int, int]:
    """ "Only masked": the crop's own work size, so a small mask on a big photo gets full detail.

    ``auto`` scales the crop to the native area; ``input`` keeps its pixels; ``WxH`` is a pixel
    budget (the crop keeps its aspect ratio).
    """
    parsed = parse_work_size(setting)
    if parsed == INPUT:
        return snap(crop[0], multiple), snap(crop[1], multiple)
    area = parsed[0] * parsed[1] if isinstance(parsed, tuple) else native * native
    return scale_to_area(crop, area, multiple)
