"""Upscale enhancement: Lanczos upscale, then a low-denoise img2img pass in feathered tiles.

Tiles of ``tile`` px (clamped to the image, multiples of 8) are spread evenly so neighbours overlap
by at least ``overlap`` px. Each tile's output is weighted by a linear ramp over its overlap with
each neighbour (weight → 0 at a tile's inner edges, 1 at the image border) and summed into a
float accumulator with a weight map; dividing by the weights gives a seamless picture.

Tile k (1-based, row by row) uses seed ``seed + k - 1``: each tile gets its own noise, so no noise
pattern repeats from tile to tile, and the run stays reproducible from the one recorded seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
from PIL import Image

from core import __version__
from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import EventCallback, PassResult
from core.hashing import pixel_hash
from core.imaging import MAX_PIXELS, load_mask, normalize_image, resize_to
from core.models import ModelSpec
from core.request_rules import tagged
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, seed_list
from core.workflows.driver import Plan, Unit, run_plan

UPSCALE_STRENGTH = 0.35
VAE_TILING_PIXELS = 1024 * 1024  # auto VAE tiling for tiles larger than this

Box = tuple[int, int, int, int]  # (left, top, right, bottom)


def upscale_refine(
    engine: Engine,
    image: Image.Image,
    request: PassRequest,
    spec: ModelSpec,
    scale: float = 2.0,
    tile: int = 512,
    overlap: int = 64,
    *,
    strength: float = UPSCALE_STRENGTH,
    vae_tiling: bool | None = None,
    on_event: EventCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PassResult:
    """Upscale ``image`` by ``scale`` (≥ 1) with Lanczos, then refine it at ``strength`` tile by
    tile. ``request`` gives prompt, steps, cfg, seed, scheduler (and an optional mask, resized to
    the output); its image, strength and size are ignored. Strength 0 (or 0 effective steps)
    returns the plain upscale without loading a model. ``vae_tiling`` None: on for tiles over
    1 MP. Progress is reported per tile; on cancel PassCancelled is raised and nothing is kept.
    """
    # 1. Validate everything before any model loads.
    source = normalize_image(image)
    size = _output_size(source.size, scale)
    tile, overlap = _check_tiling(tile, overlap)
    if request.strength_map is not None:
        raise UserError("upscale does not take a strength map")
    # Tiles are sized for the model on purpose: each runs at its own size (work size "input").
    base = request.replace(
        image=source, strength=strength, width=None, height=None, work_size="input"
    ).validate()
    started = time.perf_counter()
    big = resize_to(source, size)
    if base.effective_steps == 0:
        return _plain_upscale(base, big, scale, time.perf_counter() - started)
    # 2. Pad to multiples of 8 (edge pixels repeated) and lay out the tiles.
    padded = _pad_to_8(big)
    width, height = padded.size
    boxes = tile_layout((width, height), tile, overlap)
    mask = _padded_mask(base.mask, size) if base.mask is not None else None
    # 3. Refine each tile and blend it into the canvas.
    seeds = seed_list(request.seed, len(boxes))
    info = {
        "type": "upscale",
        "scale": scale,
        "tile": tile,
        "overlap": overlap,
        "tiles": len(boxes),
        "source_size": list(source.size),
        "seed_per_tile": "seed + tile index - 1",
    }
    canvas = _Canvas((width, height), boxes)

    def unit(index: int, box: Box) -> Unit:
        def build(_: Sequence[PassResult]) -> PassRequest:
            workflow, crop = {**info, "index": index}, padded.crop(box)
            return tagged(base, workflow, image=crop, seed=seeds[index - 1], mask=_crop(mask, box))

        return Unit(f"tile {index}/{len(boxes)}", build, partial(canvas.add, box))

    plan = Plan("upscale", [unit(k, box) for k, box in enumerate(boxes, 1)])
    with _vae_tiling(engine, spec, on_event, vae_tiling, _area(boxes[0])):
        outcome = run_plan(
            engine, spec, plan, on_event=on_event, on_progress=on_progress, cancel=cancel
        )
    if outcome.cancelled:
        raise PassCancelled()
    out = canvas.image(size)
    return _result(base, out, outcome.results, info, seeds[0], time.perf_counter() - started)


class _Canvas:
    """A float accumulator and a weight map that feathered tiles are summed into."""

    def __init__(self, size: tuple[int, int], boxes: list[Box]) -> None:
        self.boxes = boxes
        self.total = np.zeros((size[1], size[0], 3), np.float32)
        self.weights = np.zeros((size[1], size[0]), np.float32)

    def add(self, box: Box, result: PassResult) -> PassResult:
        weight = _tile_weight(box, self.boxes)
        area = (slice(box[1], box[3]), slice(box[0], box[2]))
        self.total[area] += np.asarray(result.image, np.float32) * weight[..., None]
        self.weights[area] += weight
        return result

    def image(self, size: tuple[int, int]) -> Image.Image:
        blended = np.rint(self.total / self.weights[..., None]).clip(0, 255).astype(np.uint8)
        return Image.fromarray(blended[: size[1], : size[0]], "RGB")


def _crop(mask: Image.Image | None, box: Box) -> Image.Image | None:
    return mask.crop(box) if mask is not None else None


def _output_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    if not 1.0 <= scale <= 8.0:
        raise UserError(f"scale must be between 1 and 8, got {scale:g}")
    out = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    if out[0] * out[1] > MAX_PIXELS:
        raise UserError(
            f"{size[0]}×{size[1]} × {scale:g} = {out[0]}×{out[1]} is over the "
            f"{MAX_PIXELS / 1_000_000:g} MP limit"
        )
    return out


def _check_tiling(tile: int, overlap: int) -> tuple[int, int]:
    if tile < 64:
        raise UserError(f"tile must be at least 64 px, got {tile}")
    tile = tile // 8 * 8
    if not 0 <= overlap <= tile // 2:
        raise UserError(f"overlap must be between 0 and half the tile ({tile // 2}), got {overlap}")
    return tile, overlap


def _pad_to_8(image: Image.Image) -> Image.Image:
    arr = np.asarray(image)
    pad_h, pad_w = -arr.shape[0] % 8, -arr.shape[1] % 8
    if pad_h == pad_w == 0:
        return image
    return Image.fromarray(np.pad(arr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge"), "RGB")


def _padded_mask(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    arr = np.asarray(load_mask(mask, size))
    arr = np.pad(arr, ((0, -arr.shape[0] % 8), (0, -arr.shape[1] % 8)), mode="edge")
    return Image.fromarray(arr, "L")


def tile_layout(size: tuple[int, int], tile: int, overlap: int) -> list[Box]:
    """Tile boxes (left, top, right, bottom), row by row, over an image of ``size`` (w, h): tiles
    of ``tile`` px clamped to the image, spread evenly so neighbours overlap by ≥ ``overlap``."""
    width, height = size
    tw, th = min(tile, width), min(tile, height)
    return [
        (x, y, x + tw, y + th)
        for y in _starts(height, th, overlap)
        for x in _starts(width, tw, overlap)
    ]


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _starts(length: int, size: int, overlap: int) -> list[int]:
    """Tile origins spread evenly over ``length`` so neighbours overlap by ≥ ``overlap``."""
    if size >= length:
        return [0]
    count = math.ceil((length - overlap) / (size - overlap))
    count = max(count, 2)
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def _ramp_1d(start: int, end: int, spans: list[tuple[int, int]]) -> np.ndarray:
    """Weights along one axis: 1, ramping linearly to ~0 over the overlap with each neighbour."""
    weight = np.ones(end - start, np.float32)
    before = [s for s in spans if s[0] < start < s[1]]
    after = [s for s in spans if s[0] < end < s[1]]
    if before:
        length = max(s[1] for s in before) - start
        ramp = (np.arange(length, dtype=np.float32) + 0.5) / length
        weight[:length] = np.minimum(weight[:length], ramp)
    if after:
        length = end - min(s[0] for s in after)
        ramp = (np.arange(length, dtype=np.float32)[::-1] + 0.5) / length
        weight[-length:] = np.minimum(weight[-length:], ramp)
    return weight


def _tile_weight(box: Box, boxes: list[Box]) -> np.ndarray:
    columns = sorted({(b[0], b[2]) for b in boxes})
    rows = sorted({(b[1], b[3]) for b in boxes})
    wx = _ramp_1d(box[0], box[2], [c for c in columns if c != (box[0], box[2])])
    wy = _ramp_1d(box[1], box[3], [r for r in rows if r != (box[1], box[3])])
    return np.outer(wy, wx)


@contextmanager
def _vae_tiling(
    engine: Engine,
    spec: ModelSpec,
    on_event: EventCallback | None,
    wanted: bool | None,
    pixels: int,
) -> Iterator[None]:
    """Turn the VAE's own tiling on for large tiles (restored afterwards)."""
    if not (wanted or (wanted is None and pixels > VAE_TILING_PIXELS)):
        yield
        return
    vae = getattr(engine.models.load(spec, on_event).base_pipe, "vae", None)
    previous = getattr(vae, "use_tiling", True)
    if vae is not None and not previous:
        vae.enable_tiling()
    try:
        yield
    finally:
        if vae is not None and not previous:
            vae.disable_tiling()


def _plain_upscale(
    base: PassRequest, big: Image.Image, scale: float, duration: float
) -> PassResult:
    record = {
        "app": "Img2Img Studio",
        "app_version": __version__,
        "kind": "upscale",
        "prompt": base.prompt,
        "width": big.width,
        "height": big.height,
        "strength": 0.0,
        "input_hash": pixel_hash(base.image),
        "duration": round(duration, 3),
        "workflow": {"type": "upscale", "scale": scale, "tiles": 0},
    }
    note = "0 denoising steps: plain Lanczos upscale"
    return PassResult(
        big,
        base,
        base.seed if base.seed is not None else 0,
        0,
        duration,
        "",
        "",
        record,
        skipped=True,
        note=note,
    )


def _result(
    base: PassRequest,
    image: Image.Image,
    results: list[PassResult],
    info: dict[str, Any],
    seed: int,
    duration: float,
) -> PassResult:
    first = results[0]
    steps = max(r.effective_steps for r in results)
    tile_only = ("seam_delta_e", "seam_delta_e_original")  # one tile's seam, not the picture's
    record = {
        **{key: value for key, value in first.record.items() if key not in tile_only},
        "width": image.width,
        "height": image.height,
        "seed": seed,
        "effective_steps": steps,
        "input_hash": pixel_hash(base.image),
        "duration": round(duration, 3),
        "workflow": info,
    }
    return PassResult(
        image, base, seed, steps, duration, first.model_name, first.model_hash, record
    )
