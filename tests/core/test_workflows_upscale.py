from __future__ import annotations

import os
import resource
import threading
import time

import numpy as np
import pytest
from PIL import Image

from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import PassResult
from core.requests import PassRequest
from core.workflows.upscale import tile_layout, upscale_refine
from tests.tiny_models.images import make_image

MEMORY_BOUND_MB = 1024  # RSS growth allowed for the 512² → 2048² run (measured ~250 MB)


def _request(**changes) -> PassRequest:
    values = {"image": make_image(8, 8), "prompt": "a cat", "steps": 4, "cfg": 1.0, "seed": 3}
    values.update(changes)
    return PassRequest(**values)


def test_tile_layout_covers_the_image_with_overlaps():
    boxes = tile_layout((1000, 520), 512, 64)
    assert {b[2] - b[0] for b in boxes} == {512} and {b[3] - b[1] for b in boxes} == {512}
    xs = sorted({b[0] for b in boxes})
    assert xs[0] == 0 and xs[-1] == 1000 - 512
    assert all(b - a <= 512 - 64 for a, b in zip(xs, xs[1:], strict=False))
    assert tile_layout((96, 96), 512, 64) == [(0, 0, 96, 96)]


class _FlatTileEngine:
    """Stands in for the model: every tile comes back flat, whatever its input, red ``step × (its
    column + 1)`` and green ``step × (its row + 1)``, so each tile border is a step of ``step``
    that a seam would show (red across columns, green across rows)."""

    def __init__(self, per_row: int, step: int) -> None:
        self.per_row, self.step = per_row, step

    def run_pass(self, request, spec, on_event=None, cancel=None):
        row, column = divmod(request.extra["workflow"]["index"] - 1, self.per_row)
        colour = (self.step * (column + 1), self.step * (row + 1), 128)
        image = Image.new("RGB", request.image.size, colour)
        record = {"kind": "img2img", "strength": request.strength, "seed": request.seed}
        return PassResult(image, request, request.seed, 1, 0.0, "fake", "", record)


def _flat_tiles(size: int, tile: int, overlap: int) -> tuple[np.ndarray, int, list]:
    """Upscale a grey (size/2)² picture 2× with flat tiles: (red, green) planes, step, boxes."""
    padded = -(-size // 8) * 8
    boxes = tile_layout((padded, padded), tile, overlap)
    per_row = len({b[0] for b in boxes})
    step = 240 // per_row
    source = Image.new("RGB", (size // 2, size // 2), (128, 128, 128))
    engine = _FlatTileEngine(per_row, step)
    result = upscale_refine(engine, source, _request(), None, 2.0, tile, overlap)
    planes = np.asarray(result.image, np.float32)[..., :2].transpose(2, 0, 1)
    return planes, step, boxes


def test_feathered_overlaps_ramp_linearly_and_leave_no_step():
    # 256² in 96-px tiles, overlap ≥ 16: a 3 × 3 grid starting at 0, 80, 160 (16-px overlaps).
    (red, green), step, boxes = _flat_tiles(256, 96, 16)
    assert sorted({b[0] for b in boxes}) == [0, 80, 160] and step == 80
    # Red rises column by column, green row by row; the blend keeps both monotonic, never
    # changes red down a column or green along a row, and spreads each border's full step evenly
    # over the 16-px overlap: no two neighbouring pixels differ by more than step / 16 (+1).
    dx, dy = np.diff(red, axis=1), np.diff(green, axis=0)
    assert dx.min() >= 0 and dy.min() >= 0
    assert dx.max() <= step / 16 + 1 and dy.max() <= step / 16 + 1
    assert not np.diff(red, axis=0).any() and not np.diff(green, axis=1).any()
    # Outside the overlaps each tile keeps its own colour; across an overlap the profile is a
    # straight line from one tile's colour to the next.
    assert (red[:, 96:160] == 2 * step).all() and (green[96:160, :] == 2 * step).all()
    assert (red[:, :80] == step).all() and (red[:, 176:] == 3 * step).all()
    line = step + step * (np.arange(16) + 0.5) / 16
    assert np.abs(red[:, 80:96] - line).max() <= 1
    assert np.abs(green[160:176, :].T - (line + step)).max() <= 1


def test_tiles_without_overlap_show_their_seams():
    """The measure sees a seam: with overlap 0 each border is one whole step in one pixel."""
    (red, green), step, boxes = _flat_tiles(256, 128, 0)
    assert boxes == [(0, 0, 128, 128), (128, 0, 256, 128), (0, 128, 128, 256), (128, 128, 256, 256)]
    assert np.diff(red, axis=1).max() == step == 120
    assert np.diff(green, axis=0).max() == step


@pytest.mark.parametrize(
    "size,tile,overlap",
    [(192, 96, 32), (200, 96, 48), (154, 64, 16), (400, 96, 48), (300, 128, 40)],
)
def test_uneven_layouts_blend_without_steps(size, tile, overlap):
    """Uneven spreads too: padding to 8, rounded starts, three tiles over one pixel (200 and 400
    px: there the two cross-fades share the room, so a step is spread over no less than half
    the overlap, not the whole of it)."""
    (red, green), step, boxes = _flat_tiles(size, tile, overlap)
    dx, dy = np.diff(red, axis=1), np.diff(green, axis=0)
    assert dx.min() >= 0 and dy.min() >= 0
    assert dx.max() <= 2 * step / overlap + 1 and dy.max() <= 2 * step / overlap + 1
    assert red.max() == step * len({b[0] for b in boxes}) and red.min() == step


def test_tiny_model_tiles_report_progress_and_one_record(engine, spec):
    # Seams are measured with flat tiles above: the tiny model's noise would hide a missing blend.
    progress = []
    result = upscale_refine(
        engine,
        make_image(96, 96),
        _request(),
        spec,
        tile=96,
        overlap=32,
        strength=0.5,
        on_progress=progress.append,
    )
    boxes = tile_layout((192, 192), 96, 32)
    assert result.image.size == (192, 192) and len(boxes) == 9
    done = [(p.index, p.total) for p in progress if p.status == "done"]
    assert done == [(k, 9) for k in range(1, 10)] and progress[0].label == "tile 1/9"
    record = result.record
    assert record["width"] == 192 and record["seed"] == 3 and record["strength"] == 0.5
    assert record["workflow"]["type"] == "upscale" and record["workflow"]["tiles"] == 9


def test_odd_sizes_and_fractional_scale(engine, spec):
    result = upscale_refine(
        engine, make_image(50, 30), _request(), spec, scale=1.5, tile=64, overlap=16
    )
    assert result.image.size == (75, 45)
    assert result.effective_steps == 1  # 4 steps × 0.35


def test_strength_zero_is_a_plain_upscale_without_a_model(spec):
    fresh = Engine(previews=False)
    result = upscale_refine(fresh, make_image(40, 40), _request(), spec, scale=4, strength=0)
    assert result.image.size == (160, 160) and result.skipped
    assert result.record["kind"] == "upscale"
    assert fresh.models.loaded is None


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scale": 0.5}, "scale must be between 1 and 8"),
        ({"tile": 32}, "tile must be at least 64"),
        ({"tile": 128, "overlap": 80}, "overlap must be between 0 and half the tile"),
        ({"strength": 1.5}, "strength must be between 0 and 1"),
        ({"scale": 8.0, "image": make_image(1000, 1000)}, "over the 50 MP limit"),
    ],
)
def test_bad_settings_are_refused_before_loading(spec, kwargs, match):
    fresh = Engine(previews=False)
    image = kwargs.pop("image", make_image(64, 64))
    with pytest.raises(UserError, match=match):
        upscale_refine(fresh, image, _request(), spec, **kwargs)
    assert fresh.models.loaded is None


def test_cancel_raises_and_returns_nothing(engine, spec):
    token = CancelToken()

    def on_progress(update):
        if update.status == "done":
            token.cancel()

    with pytest.raises(PassCancelled):
        upscale_refine(
            engine,
            make_image(96, 96),
            _request(),
            spec,
            tile=96,
            overlap=32,
            on_progress=on_progress,
            cancel=token,
        )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_512_to_2048_runs_within_the_memory_bound(engine, spec):
    """512² → 2048² on CPU with the tiny model in 256-px tiles (overlap 32: 9 × 9 = 81 tiles),
    1 denoising step each. 512-px tiles work too but cost ~6 s each on a 2-core CPU (the tiny
    UNet's 4096-token attention), 256-px ones ~0.15 s, so the test uses 256.

    The RSS is sampled every 5 ms during the run; its growth over the RSS before the run must
    stay under MEMORY_BOUND_MB = 1 GiB (measured: ~250 MB growth, ~700 MB peak process RSS with
    512-px or 256-px tiles). ru_maxrss is printed too.
    """
    engine.run_pass(_request(image=make_image(64, 64)), spec)  # load the model first
    before = _rss_bytes()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = upscale_refine(
            engine, make_image(512, 512), _request(steps=3), spec, scale=4.0, tile=256, overlap=32
        )
    finally:
        done.set()
        sampler.join()
    growth_mb = (peak[0] - before) / 2**20
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RSS growth {growth_mb:.0f} MB, ru_maxrss {max_rss_mb:.0f} MB")
    assert result.image.size == (2048, 2048)
    assert result.record["workflow"]["tiles"] == 81
    assert growth_mb < MEMORY_BOUND_MB
