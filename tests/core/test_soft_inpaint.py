"""Soft inpainting: the blurred mask × strength runs as a per-pixel strength map."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import Engine
from core.engine.soft_inpaint import soft_strength_map
from core.metadata.infotext import build_infotext
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image, make_mask


def test_map_ramps_across_the_blur_band_without_a_hard_edge():
    mask = make_mask(128, 64, box=(40, 0, 88, 63))
    row = np.asarray(soft_strength_map(mask, 8, 0.6), np.int32)[32]
    assert row[64] == round(0.6 * 255)  # the centre runs at the chosen strength
    assert row[0] == 0 and row[127] == 0  # far outside: strength 0
    ramp = row[20:64]
    assert np.all(np.diff(ramp) >= 0)  # rises monotonically into the mask
    assert len(set(ramp.tolist())) > 10  # many intermediate values: a ramp
    assert np.abs(np.diff(row)).max() <= 20  # no hard edge anywhere


def test_map_uses_a_given_strength_map_inside_the_mask():
    mask = Image.new("L", (32, 32), 255)
    strength_map = Image.new("L", (32, 32), 100)
    assert np.all(np.asarray(soft_strength_map(mask, 0, 0.9, strength_map)) == 100)


@pytest.fixture(scope="module")
def engine():
    return Engine()


@pytest.mark.parametrize("variant", ["tiny_model_dir", "tiny_inpaint_dir"])
def test_soft_inpaint_keeps_outside_and_changes_the_centre(engine, request, variant):
    spec = ModelSpec(str(request.getfixturevalue(variant)))
    image, mask = make_image(128, 64), make_mask(128, 64, box=(48, 16, 80, 48))
    req = PassRequest(
        image, "a cat", strength=0.8, steps=10, seed=3, mask=mask, mask_blur=4, soft_inpaint=True
    )
    result = engine.run_pass(req, spec)
    before, after = np.asarray(image), np.asarray(result.image)
    changed = np.any(before != after, axis=-1)
    blurred_support = np.asarray(soft_strength_map(mask, 4, 1.0)) > 0
    assert not changed[~blurred_support].any()  # outside the blurred mask: byte-identical
    assert changed[24:40, 56:72].mean() > 0.9  # the centre changes
    assert result.effective_steps == 8
    assert result.record["soft_inpaint"] is True and result.record["kind"] == "inpaint"
    assert "Soft inpainting enabled: True" in build_infotext(result.record)
    hard = engine.run_pass(req.replace(soft_inpaint=False), spec)
    assert hard.image.tobytes() != result.image.tobytes()
    assert "soft_inpaint" not in hard.record
