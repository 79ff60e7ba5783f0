"""SD 2.x v-prediction on a tiny model (tests.tiny_models.tiny_sd2): detected as SD 2.x, every
sampler
keeps the model's v-prediction and timestep spacing, the three pass kinds and the CLI."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.models import ModelSpec
from core.requests import SCHEDULER_NAMES
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_sd2 import build_tiny_sd2


@pytest.fixture(scope="module")
def sd2_dir(tmp_path_factory):
    return build_tiny_sd2(tmp_path_factory.mktemp("models") / "tiny-sd2-v")


@pytest.fixture(scope="module")
def spec(sd2_dir):
    return ModelSpec(str(sd2_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


def test_loads_as_sd2_with_its_pipelines(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "sd2" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "StableDiffusionImg2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "StableDiffusionInpaintPipeline"


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_sampler_keeps_v_prediction(engine, spec, name):
    scheduler = engine.scheduler_for(engine.models.load(spec), name)
    assert scheduler.config.prediction_type == "v_prediction"
    assert scheduler.config.timestep_spacing == "leading"


def test_prediction_type_changes_the_result(engine, spec):
    """The v-prediction setting reaches the denoise: read as epsilon, the result differs."""
    model = engine.models.load(spec)
    v_result, _ = fh.run(engine, spec, scheduler="Euler")
    configs = engine._scheduler_configs
    configs[model.identity] = {**configs[model.identity], "prediction_type": "epsilon"}
    try:
        eps_result, _ = fh.run(engine, spec, scheduler="Euler")
    finally:
        configs[model.identity] = {**configs[model.identity], "prediction_type": "v_prediction"}
    assert eps_result.image.tobytes() != v_result.image.tobytes()


def test_img2img(engine, spec):
    record = fh.check_img2img(engine, spec, "sd2")
    assert "scheduler_note" not in record  # A1111 sampler names apply to SD 2.x


def test_inpaint_keeps_pixels_outside_the_mask(engine, spec):
    fh.check_inpaint(engine, spec, "sd2")


def test_strength_map(engine, spec):
    fh.check_strength_map(engine, spec, "sd2")


@pytest.mark.usefixtures("one_cli_engine")
def test_cli(sd2_dir, tmp_path):
    fh.check_cli(sd2_dir, tmp_path, "sd2")
