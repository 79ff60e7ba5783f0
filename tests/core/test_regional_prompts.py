"""Regional prompts on the tiny SD 1.x model: identity, locality, clean-up, record, validation.

The same processor on a tiny SDXL: tests/core/test_regional_prompts_sdxl.py.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image

from core.conditioning.regional import RegionalAttnProcessor, grid_for
from core.conditioning.regions import MAX_REGIONS, Region
from core.engine import Engine
from core.errors import InvalidRequest
from core.hashing import pixel_hash
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core.regional_helpers import H, W, left_half, run_pass
from tests.tiny_models.images import make_image


@pytest.fixture(scope="module")
def engine():
    return Engine()


run = functools.partial(run_pass, steps=6, strength=0.7)


def test_region_with_the_base_prompt_changes_nothing(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir))
    plain, _ = run(engine, spec)
    same, _ = run(engine, spec, regions=(Region(left_half(), "a red house"),))
    assert same.image.tobytes() == plain.image.tobytes()


def test_region_prompt_acts_mostly_inside_its_region(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir))
    low = {"steps": 2, "strength": 0.5}  # one step: before self-attention spreads the change
    plain, plain_latents = run(engine, spec, **low)
    region = Region(left_half(), "a blue ocean with many fish")
    other, other_latents = run(engine, spec, regions=(region,), **low)
    assert other.image.tobytes() != plain.image.tobytes()
    diff = np.abs(other_latents - plain_latents).mean(axis=2)  # latent-resolution previews
    half = diff.shape[1] // 2
    inside, outside = diff[:, :half].mean(), diff[:, half:].mean()
    assert inside > 1.5 * outside, (inside, outside)
    pixels = np.abs(np.asarray(other.image, np.float64) - np.asarray(plain.image, np.float64)).mean(
        axis=2
    )
    assert pixels[:, : W // 2].mean() > pixels[:, W // 2 :].mean()


def test_processor_is_removed_after_the_pass(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir))
    run(engine, spec, regions=(Region(left_half(), "a blue ocean"),))
    unet = engine.models.load(spec, lambda e: None, None).base_pipe.unet
    assert not any(isinstance(p, RegionalAttnProcessor) for p in unet.attn_processors.values())
    after, _ = run(engine, spec, seed=5)
    fresh, _ = run(Engine(), spec, seed=5)
    assert after.image.tobytes() == fresh.image.tobytes()


def test_soft_masks_inpaint_crop_and_record(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir))
    soft = Region(left_half(128).convert("RGB"), "a blue ocean", "blurry")  # any mode
    mask = Image.new("L", (W, H), 0)
    mask.paste(255, (16, 16, 80, 80))
    plain, _ = run(engine, spec, mask=mask, inpaint_area="masked", steps=4)
    result, _ = run(engine, spec, regions=(soft,), mask=mask, inpaint_area="masked", steps=4)
    assert result.image.size == (W, H) and result.image.tobytes() != plain.image.tobytes()
    assert result.record["regions"] == [
        {"prompt": "a blue ocean", "negative": "blurry", "mask_hash": pixel_hash(soft.mask)}
    ]


def test_grid_for_follows_the_unet_blocks():
    assert grid_for(16 * 12, (12, 16)) == (12, 16)
    assert grid_for(8 * 6, (12, 16)) == (6, 8)
    assert grid_for(3 * 2, (5, 9)) == (2, 3)  # odd sizes round up
    with pytest.raises(ValueError):
        grid_for(7, (12, 16))


def test_regions_are_validated():
    image = make_image(64, 64)
    region = Region(Image.new("L", (8, 8)), "x")
    with pytest.raises(InvalidRequest, match="at most 8 regions"):
        PassRequest(image=image, regions=(region,) * (MAX_REGIONS + 1)).validate()
    with pytest.raises(InvalidRequest, match="no mask image"):
        PassRequest(image=image, regions=(Region("mask.png", "x"),)).validate()  # type: ignore[arg-type]
