"""Regional prompts and the plain pass paths on the tiny SDXL model (tests.tiny_models.tiny_sdxl).

SDXL differs from SD 1.x in its two text encoders (2048-dim text, here 64), the pooled
``added_cond_kwargs`` and cross-attention only in the lower UNet levels; these tests check that
the regional processor, img2img, inpaint (``from_pipe``) and differential paths all handle it.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image

from core.conditioning.regional import RegionalAttnProcessor
from core.conditioning.regions import Region
from core.engine import Engine
from core.models import ModelSpec
from tests.core.regional_helpers import H, W, left_half, run_pass
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_sdxl import build_tiny_sdxl


@pytest.fixture(scope="module")
def sdxl_spec(tmp_path_factory):
    folder = build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")
    return ModelSpec(str(folder), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews: the regional tests read the latent-resolution previews


run = functools.partial(run_pass, steps=4, strength=0.5)


def test_the_tiny_model_loads_as_sdxl(engine, sdxl_spec):
    model = engine.models.load(sdxl_spec, lambda e: None, None)
    assert model.family == "sdxl"
    assert type(model.img2img_pipe).__name__ == "StableDiffusionXLImg2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "StableDiffusionXLInpaintPipeline"
    assert model.inpaint_pipe.unet is model.img2img_pipe.unet  # from_pipe shares the weights


def test_region_with_the_base_prompt_changes_nothing(engine, sdxl_spec):
    plain, _ = run(engine, sdxl_spec)
    same, _ = run(engine, sdxl_spec, regions=(Region(left_half(), "a red house"),))
    assert same.image.tobytes() == plain.image.tobytes()


def test_region_prompt_acts_mostly_inside_its_region(engine, sdxl_spec):
    low = {"steps": 2, "strength": 0.5}  # one step: before self-attention spreads the change
    plain, plain_latents = run(engine, sdxl_spec, **low)
    region = Region(left_half(), "a blue ocean with many fish")
    other, other_latents = run(engine, sdxl_spec, regions=(region,), **low)
    assert other.image.tobytes() != plain.image.tobytes()
    assert plain_latents is not None and other_latents is not None
    diff = np.abs(other_latents - plain_latents).mean(axis=2)  # latent-resolution previews
    # The outer quarters: SDXL attends to text only at 8×6, whose convolutions smear the change
    # a few latents across the middle (halves alone give ratios of 1.2–1.8 over seeds 1–7).
    quarter = diff.shape[1] // 4
    inside, outside = diff[:, :quarter].mean(), diff[:, -quarter:].mean()
    assert inside > 1.5 * outside, (inside, outside)
    pixels = np.abs(np.asarray(other.image, np.float64) - np.asarray(plain.image, np.float64))
    pixels = pixels.mean(axis=2)
    assert pixels[:, : W // 2].mean() > pixels[:, W // 2 :].mean()


def test_processor_is_removed_after_the_pass(engine, sdxl_spec):
    run(engine, sdxl_spec, regions=(Region(left_half(), "a blue ocean"),))
    unet = engine.models.load(sdxl_spec, lambda e: None, None).base_pipe.unet
    assert not any(isinstance(p, RegionalAttnProcessor) for p in unet.attn_processors.values())
    after, _ = run(engine, sdxl_spec, seed=5)
    fresh, _ = run(Engine(), sdxl_spec, seed=5)
    assert after.image.tobytes() == fresh.image.tobytes()


def test_img2img_inpaint_and_strength_map_run_on_sdxl(engine, sdxl_spec):
    source = make_image(W, H)
    img2img, _ = run(engine, sdxl_spec, steps=4, strength=0.5)
    assert img2img.image.size == (W, H)
    assert img2img.record["effective_steps"] == 2
    assert img2img.image.tobytes() != source.tobytes()

    mask = Image.new("L", (W, H), 0)
    mask.paste(255, (32, 24, 96, 72))
    inpaint, _ = run(engine, sdxl_spec, mask=mask, mask_blur=0, steps=4, strength=0.75)
    assert inpaint.record["effective_steps"] == 3
    out, src = np.asarray(inpaint.image), np.asarray(source.convert("RGB"))
    outside = np.asarray(mask) == 0
    assert np.array_equal(out[outside], src[outside])
    assert not np.array_equal(out[~outside], src[~outside])

    strength_map = left_half(204)  # strength 0.8 on the left, 0 on the right
    mapped, _ = run(engine, sdxl_spec, strength_map=strength_map, steps=5)
    assert mapped.record["effective_steps"] == 4
    out = np.asarray(mapped.image)
    assert np.array_equal(out[:, W // 2 :], src[:, W // 2 :])
    assert not np.array_equal(out[:, : W // 2], src[:, : W // 2])
