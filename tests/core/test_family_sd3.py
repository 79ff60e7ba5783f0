"""SD 3.5 on a tiny model (tests.tiny_models.tiny_sd3): detection, the three pass kinds, the
flow-matching scheduler whatever sampler is asked, regions refused, previews, the CLI."""

from __future__ import annotations

import pytest

from core.conditioning.regions import Region
from core.engine import Engine
from core.errors import InvalidRequest
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_sd3 import build_tiny_sd3


@pytest.fixture(scope="module")
def sd3_dir(tmp_path_factory):
    return build_tiny_sd3(tmp_path_factory.mktemp("models") / "tiny-sd3")


@pytest.fixture(scope="module")
def spec(sd3_dir):
    return ModelSpec(str(sd3_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


def test_loads_as_sd3_with_its_pipelines(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "sd3" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "StableDiffusion3Img2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "StableDiffusion3InpaintPipeline"
    assert model.inpaint_pipe.transformer is model.img2img_pipe.transformer  # from_pipe
    assert model.native_size == 64  # the tiny VAE's sample size
    assert model.size_multiple == 16  # VAE scale 8 × patch size 2


def test_img2img_runs_the_flow_matching_scheduler_whatever_is_asked(engine, spec):
    record = fh.check_img2img(engine, spec, "sd3")
    assert record["scheduler"] == "DPM++ 2M"  # what was asked stays recorded
    assert record["scheduler_ran"] == "Euler (flow matching)"
    assert "does not apply" in record["scheduler_note"]
    result, _ = fh.run(engine, spec, scheduler="DDIM")
    assert result.record["scheduler_ran"] == "Euler (flow matching)"


def test_negative_prompt_is_used(engine, spec):
    plain, _ = fh.run(engine, spec)
    negative, _ = fh.run(engine, spec, negative_prompt="blurry photo")
    assert negative.image.tobytes() != plain.image.tobytes()
    assert "negative_prompt_note" not in negative.record


def test_inpaint_keeps_pixels_outside_the_mask(engine, spec):
    fh.check_inpaint(engine, spec, "sd3")


def test_strength_map(engine, spec):
    fh.check_strength_map(engine, spec, "sd3")


def test_regions_are_refused_in_one_line(engine, spec):
    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not SD 3.5"):
        fh.run(engine, spec, regions=(region,))


@pytest.mark.usefixtures("one_cli_engine")
def test_cli(sd3_dir, tmp_path):
    fh.check_cli(sd3_dir, tmp_path, "sd3")


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine
