"""Outpainting: expand the canvas, pre-fill from the edges, inpaint the new area plus a band."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import Engine
from core.errors import UserError
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.outpaint import Margins, expand_canvas, outpaint, outpaint_mask
from tests.tiny_models.images import make_image


def test_mask_covers_the_new_area_and_a_soft_band_only_on_expanded_sides():
    mask = np.asarray(outpaint_mask((100, 60), Margins(left=20, bottom=10), band=16))
    assert mask.shape == (70, 120)
    assert np.all(mask[:, :20] == 255) and np.all(mask[60:, :] == 255)
    old = mask[:60, 20:]
    row = old[10]  # a row far from the bottom seam: the left band ramps down over 16 px
    assert row[0] == 255 and row[16] == 0 and np.all(np.diff(row[:17].astype(int)) < 0)
    assert np.all(old[:44, 16:] == 0)  # beyond the band (right and top were not expanded)
    assert np.all(old[:, -1][:44] == 0)


def test_band_zero_keeps_the_whole_original():
    mask = np.asarray(outpaint_mask((40, 30), Margins(top=8), band=0))
    assert np.all(mask[:8] == 255) and np.all(mask[8:] == 0)


def test_prefill_continues_the_edges_and_keeps_the_original_bytes():
    image = Image.new("RGB", (40, 30), (200, 40, 10))
    image.paste((10, 40, 200), (20, 0, 40, 30))  # left half red, right half blue
    canvas = expand_canvas(image, Margins(top=20, bottom=20))
    arr = np.asarray(canvas)
    assert canvas.size == (40, 70)
    assert np.array_equal(arr[20:50], np.asarray(image))
    assert arr[0, 2, 0] > 150 and arr[0, 37, 2] > 150  # the columns' colours carry on
    assert np.asarray(expand_canvas(image, Margins(left=5))).std(axis=(0, 1)).max() < 100


class _NoEngine:
    def run_pass(self, *args, **kwargs):
        raise AssertionError("no pass may run")


@pytest.mark.parametrize(
    ("margins", "band", "message"),
    [
        (Margins(), 64, "at least one margin"),
        (Margins(left=-1), 64, "left margin must be between 0 and 4096"),
        (Margins(bottom=5000), 64, "bottom margin"),
        (Margins(left=8), -3, "band must be between"),
    ],
)
def test_bad_settings_are_refused_before_any_pass(margins, band, message):
    request = PassRequest(make_image(32, 32), strength=0.8)
    with pytest.raises(UserError, match=message):
        outpaint(_NoEngine(), request, ModelSpec("unused"), margins, band)  # type: ignore[arg-type]


def test_zero_steps_is_refused_before_any_pass():
    request = PassRequest(make_image(32, 32), strength=0.01, steps=10)
    with pytest.raises(UserError, match="0 denoising steps"):
        outpaint(_NoEngine(), request, ModelSpec("unused"), Margins(right=8))  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", ["tiny_model_dir", "tiny_inpaint_dir"])
def test_outpaint_grows_the_picture_and_keeps_the_original_outside_the_band(request, variant):
    spec = ModelSpec(str(request.getfixturevalue(variant)))
    image = make_image(64, 48)
    margins, band = Margins(left=32, top=16, right=8), 12
    req = PassRequest(image, "a cat", strength=0.9, steps=6, seed=5)
    result = outpaint(Engine(), req, spec, margins, band)
    out = np.asarray(result.image)
    assert result.image.size == (64 + 40, 48 + 16)
    old = out[16:, 32:96]
    kept = np.asarray(image)
    # outside the band (12 px from the left, top and right seams; the bottom was not expanded)
    assert np.array_equal(old[band:, band:-band], kept[band:, band:-band])
    assert not np.array_equal(old[:, :band], kept[:, :band])  # the band blends
    prefill = np.asarray(expand_canvas(image, margins))
    assert (out[:, :32] != prefill[:, :32]).mean() > 0.5  # the new area was painted
    record = result.record
    assert record["kind"] == "outpaint"
    assert record["outpaint"] == {"left": 32, "right": 8, "top": 16, "bottom": 0, "band": 12}
    assert record["width"] == 104 and record["height"] == 64
    assert record["mask_blur"] == 0
    assert record["color_match"] is True and "seam_delta_e" in record  # on by default
