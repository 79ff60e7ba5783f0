"""Aligning an edit's output with its input (core.imaging.align): known shifts and scales are
recovered within half a pixel from the unmasked area, undone by apply_alignment, and the cases
that cannot be measured say why instead of moving anything."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core.imaging.align import Alignment, apply_alignment, estimate_alignment, move
from tests.tiny_models.images import make_mask, make_textured_image

W, H = 256, 192


def edited(moved: Image.Image, mask: Image.Image, seed: int = 1) -> Image.Image:
    """``moved`` with the masked area repainted (what the edit changed) and a little noise
    everywhere (what a VAE round trip adds)."""
    rng = np.random.default_rng(seed)
    arr = np.asarray(moved, np.int16) + rng.integers(-2, 3, (H, W, 3))
    inside = np.asarray(mask) > 0
    arr[inside] = rng.integers(0, 256, (int(inside.sum()), 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def worst_error_px(found: Alignment, dx: float, dy: float, scale: float) -> float:
    """The largest displacement error over the picture (at its corners) in pixels."""
    half_diagonal = np.hypot((W - 1) / 2, (H - 1) / 2)
    shift_error = np.hypot(found.dx - dx, found.dy - dy)
    return float(shift_error + abs(found.scale - scale) * half_diagonal)


@pytest.mark.parametrize(
    ("dx", "dy", "scale"),
    [(3.4, -2.2, 1.01), (-5.7, 4.1, 0.985), (0.6, 0.3, 1.0), (0.0, 0.0, 1.02), (0.0, 0.0, 1.0)],
)
def test_a_known_shift_and_scale_is_recovered_within_half_a_pixel(dx, dy, scale):
    picture = make_textured_image(W, H)
    mask = make_mask(W, H)
    output = edited(move(picture, dx, dy, scale), mask)
    found = estimate_alignment(picture, output, mask)
    assert found.estimated, found.reason
    assert worst_error_px(found, dx, dy, scale) < 0.5
    assert found.confidence > 0.9


def test_without_a_mask_the_whole_picture_is_used():
    picture = make_textured_image(W, H, seed=3)
    found = estimate_alignment(picture, move(picture, 2.5, 1.5, 0.99))
    assert found.estimated and worst_error_px(found, 2.5, 1.5, 0.99) < 0.5


def test_applying_the_correction_puts_the_unmasked_area_back():
    picture = make_textured_image(W, H)
    mask = make_mask(W, H)
    output = edited(move(picture, 3.4, -2.2, 1.01), mask)
    aligned = apply_alignment(output, estimate_alignment(picture, output, mask))
    outside = np.asarray(mask) == 0
    inner = np.zeros_like(outside)
    inner[8:-8, 8:-8] = True  # the border repeats edge pixels the model cut off

    def error(image: Image.Image) -> float:
        diff = np.abs(np.asarray(image, int) - np.asarray(picture, int))
        return float(diff[outside & inner].mean())

    assert error(aligned) < 3.0 < 4 * 3.0 < error(output)


def test_a_flat_picture_cannot_be_aligned():
    flat = Image.new("RGB", (W, H), (120, 130, 140))
    found = estimate_alignment(flat, flat)
    assert not found.estimated and "too flat" in found.reason


def test_too_little_unmasked_area_cannot_be_aligned():
    picture = make_textured_image(W, H)
    almost_all = make_mask(W, H, box=(2, 2, W - 3, H - 3))
    found = estimate_alignment(picture, move(picture, 1, 1, 1.0), almost_all)
    assert not found.estimated and "too little unmasked area" in found.reason


def test_an_unrelated_output_is_not_aligned_and_left_alone():
    picture = make_textured_image(W, H, seed=0)
    other = make_textured_image(W, H, seed=9)
    found = estimate_alignment(picture, other)
    assert not found.estimated and found.reason
    assert apply_alignment(other, found) is other


def test_a_size_mismatch_is_a_reason_not_an_exception():
    found = estimate_alignment(make_textured_image(W, H), make_textured_image(W, H + 16))
    assert not found.estimated and "the output is" in found.reason


def test_the_record_holds_the_correction_or_the_reason():
    kept = Alignment(1.23456, -2.0, 1.0100001, 0.99).record()["alignment"]
    assert kept == {"estimated": True, "dx": 1.235, "dy": -2.0, "scale": 1.01, "confidence": 0.99}
    assert Alignment(reason="too flat").record() == {
        "alignment": {"estimated": False, "reason": "too flat"}
    }


def test_alignment_needs_no_torch():
    code = "import sys, core.imaging.align; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
