"""Regional denoise (differential diffusion) with a strength map."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine import Engine
from core.engine.latent_hold import latent_start_steps
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image, make_mask


@pytest.fixture(scope="module")
def engine():
    return Engine()


def half_map(value: int) -> Image.Image:
    strength_map = Image.new("L", (128, 64), 0)
    strength_map.paste(value, (0, 0, 64, 64))
    return strength_map


@pytest.mark.parametrize("variant", ["tiny_model_dir", "tiny_inpaint_dir"])
@pytest.mark.parametrize("scheduler", ["Euler a", "DPM++ 2M", "DDIM"])
def test_zero_strength_regions_are_byte_identical(engine, request, variant, scheduler):
    spec = ModelSpec(str(request.getfixturevalue(variant)))
    image = make_image(128, 64)
    result = engine.run_pass(
        PassRequest(
            image, "a cat", steps=10, seed=3, scheduler=scheduler, strength_map=half_map(204)
        ),
        spec,
    )
    before, after = np.asarray(image), np.asarray(result.image)
    assert np.array_equal(before[:, 64:], after[:, 64:])
    assert (before[:, :64] != after[:, :64]).mean() > 0.5
    assert result.effective_steps == 8 and result.record["kind"] == "differential"


@pytest.mark.parametrize("scheduler", ["Euler a", "DPM++ 2M"])
def test_uniform_map_equals_a_global_pass(engine, tiny_model_dir, scheduler):
    spec, image = ModelSpec(str(tiny_model_dir)), make_image(128, 64)
    regional = engine.run_pass(
        PassRequest(
            image,
            "a cat",
            steps=10,
            seed=3,
            scheduler=scheduler,
            strength_map=Image.new("L", (128, 64), 204),
        ),
        spec,
    )
    global_pass = engine.run_pass(
        PassRequest(image, "a cat", strength=0.8, steps=10, seed=3, scheduler=scheduler), spec
    )
    assert regional.image.tobytes() == global_pass.image.tobytes()


def test_mask_limits_the_strength_map(engine, tiny_model_dir):
    image = make_image(128, 64)
    mask = make_mask(128, 64, box=(0, 0, 31, 63))
    result = engine.run_pass(
        PassRequest(image, "x", steps=10, seed=3, strength_map=half_map(255), mask=mask),
        ModelSpec(str(tiny_model_dir)),
    )
    before, after = np.asarray(image), np.asarray(result.image)
    assert np.array_equal(before[:, 32:], after[:, 32:])
    assert (before[:, :32] != after[:, :32]).mean() > 0.5


def test_all_zero_map_runs_nothing(engine, tiny_model_dir):
    image = make_image(128, 64)
    result = engine.run_pass(
        PassRequest(image, "x", steps=10, strength_map=Image.new("L", (128, 64), 0)),
        ModelSpec(str(tiny_model_dir)),
    )
    assert result.skipped and result.image.tobytes() == image.tobytes()


def test_start_steps_follow_each_regions_strength():
    strength_map = Image.new("L", (4, 1))
    strength_map.putdata([0, 51, 128, 255])  # 0, 0.2, ~0.5, 1.0
    start = latent_start_steps(strength_map, (4, 1), steps=10, steps_to_run=10)
    assert start.tolist() == [[10, 8, 5, 0]]
