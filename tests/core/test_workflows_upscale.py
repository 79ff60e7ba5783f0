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
from core.testing.images import make_image
from core.workflows.upscale import tile_layout, upscale_refine

MEMORY_BOUND_MB = 1024  # RSS growth allowed for the 512² → 2048² run (measured ~250 MB)


def _request(**changes) -> PassRequest:
    values = {"image": make_image(8, 8), "prompt": "a cat", "steps": 4, "cfg": 1.0, "seed": 3}
    values.update(changes)
    return PassRequest(**values)


def _border_ratio(image, boxes) -> float:
    """Mean |gradient| across the tile borders divided by the mean |gradient| elsewhere."""
    a = np.asarray(image, np.float32)
    gx = np.abs(np.diff(a, axis=1)).mean(axis=(0, 2))  # gx[i]: between columns i and i+1
    gy = np.abs(np.diff(a, axis=0)).mean(axis=(1, 2))
    xs = {b[0] - 1 for b in boxes if b[0] > 0} | {b[2] - 1 for b in boxes if b[2] < a.shape[1]}
    ys = {b[1] - 1 for b in boxes if b[1] > 0} | {b[3] - 1 for b in boxes if b[3] < a.shape[0]}
    border = np.mean([gx[i] for i in xs] + [gy[i] for i in ys])
    inner = np.mean(
        [gx[i] for i in range(len(gx)) if i not in xs]
        + [gy[i] for i in range(len(gy)) if i not in ys]
    )
    return float(border / inner)


def test_tile_layout_covers_the_image_with_overlaps():
    boxes = tile_layout((1000, 520), 512, 64)
    assert {b[2] - b[0] for b in boxes} == {512} and {b[3] - b[1] for b in boxes} == {512}
    xs = sorted({b[0] for b in boxes})
    assert xs[0] == 0 and xs[-1] == 1000 - 512
    assert all(b - a <= 512 - 64 for a, b in zip(xs, xs[1:], strict=False))
    assert tile_layout((96, 96), 512, 64) == [(0, 0, 96, 96)]


class _ShiftingEngine:
    """Stands in for the model: returns each tile brightened by its own amount (the usual cause
    of visible tile seams: every tile drifts a little differently)."""

    def __init__(self) -> None:
        self.calls = 0

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.calls += 1
        shift = 12.0 if self.calls % 2 else -12.0
        out = np.clip(np.asarray(request.image, np.float32) + shift, 0, 255).astype(np.uint8)
        image = Image.fromarray(out, "RGB")
        record = {"kind": "img2img", "strength": request.strength, "seed": request.seed}
        return PassResult(image, request, request.seed, 1, 0.0, "fake", "", record)


def _smooth(size: int) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size]
    return Image.fromarray(np.stack([x + 40, y + 60, 200 - (x + y) // 2], -1).astype(np.uint8))


def test_feathered_overlaps_hide_per_tile_drift():
    source = _smooth(96)
    feathered = upscale_refine(_ShiftingEngine(), source, _request(), None, tile=96, overlap=32)
    hard = upscale_refine(_ShiftingEngine(), source, _request(), None, tile=96, overlap=0)
    # Without feathering the 24-level step between tiles is a seam: the gradient across the
    # tile borders is many times the interior's; with feathered overlaps it stays close.
    assert _border_ratio(hard.image, tile_layout((192, 192), 96, 0)) > 5
    assert _border_ratio(feathered.image, tile_layout((192, 192), 96, 32)) < 1.5
    steps = np.abs(np.diff(np.asarray(feathered.image, np.float32), axis=1)).max()
    assert steps <= 24 / 48 * 2 + 3  # the drift spread over the 48-px overlap, plus the ramp


def test_tiny_model_tiles_are_seamless(engine, spec):
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
    assert 0.8 < _border_ratio(result.image, boxes) < 1.25
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
