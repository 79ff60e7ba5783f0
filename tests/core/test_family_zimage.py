"""Z-Image on a tiny model (tests.tiny_models.tiny_zimage): detection, the three pass kinds through
diffusers' Z-Image pipelines, the flow-matching scheduler, the negative prompt (real CFG),
Z-Image Turbo as a few-step model, previews, the CLI."""

from __future__ import annotations

import shutil

import pytest

from core.engine import Engine
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_zimage import build_tiny_zimage


@pytest.fixture(scope="module")
def zimage_dir(tmp_path_factory):
    return build_tiny_zimage(tmp_path_factory.mktemp("models") / "tiny-zimage")


@pytest.fixture(scope="module")
def spec(zimage_dir):
    return ModelSpec(str(zimage_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


def test_loads_as_zimage_with_its_pipelines(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "zimage" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "ZImageImg2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "ZImageInpaintPipeline"
    assert model.inpaint_pipe.transformer is model.img2img_pipe.transformer  # from_pipe
    assert model.native_size == 64  # the tiny VAE's sample size
    assert model.size_multiple == 16  # the pipeline checks sides against VAE scale 8 × 2


def test_img2img_runs_the_engines_step_count_with_latent_size_previews(engine, spec):
    record = fh.check_img2img(engine, spec, "zimage", steps_run=2)
    assert record["scheduler_ran"] == "Euler (flow matching)"


def test_negative_prompt_is_used(engine, spec):
    plain, _ = fh.run(engine, spec, cfg=4.0)
    negative, _ = fh.run(engine, spec, cfg=4.0, negative_prompt="blurry photo")
    assert negative.image.tobytes() != plain.image.tobytes()
    assert "negative_prompt_note" not in negative.record


def test_inpaint_keeps_pixels_outside_the_mask(engine, spec):
    fh.check_inpaint(engine, spec, "zimage")


def test_strength_map(engine, spec):
    fh.check_strength_map(engine, spec, "zimage")


def test_a_work_size_off_the_grid_is_snapped_not_refused(engine, spec):
    """The pipeline refuses sides that are not multiples of 16; the engine snaps to them."""
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    request = PassRequest(
        image=make_image(72, 56), prompt="a red cat", steps=3, strength=0.7, seed=1,
        work_size="input",
    )  # fmt: skip
    result = engine.run_pass(request, spec)
    assert result.image.size == (72, 56)
    width, height = map(int, result.record["work_size"].split("x"))
    assert width % 16 == 0 and height % 16 == 0


def test_turbo_runs_as_a_few_step_model(engine, zimage_dir, tmp_path):
    """Z-Image Turbo (named so) runs without CFG and at least one step at low strength."""
    turbo = shutil.copytree(zimage_dir, tmp_path / "Z-Image-Turbo")
    result, _ = fh.run(engine, ModelSpec(str(turbo), device="cpu"), steps=4, strength=0.2, cfg=4.0)
    few = result.record["few_step"]
    assert few["kind"] == "turbo" and few["cfg_asked"] == 4.0
    assert result.record["cfg"] == 0.0 and result.effective_steps >= 1
    assert result.record["model"]["family"] == "zimage"


def test_turbo_is_known_from_its_model_card(tmp_path):
    from core.models.few_step import few_step_for_reference

    (tmp_path / "README.md").write_text("# Z-Image-Turbo\n\n8 NFEs, no CFG.\n", encoding="utf-8")
    few = few_step_for_reference(str(tmp_path))
    assert few is not None and few.kind == "turbo" and few.cfg == 0.0


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region
    from core.errors import InvalidRequest

    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not Z-Image:"):
        fh.run(engine, spec, regions=(region,))


@pytest.mark.usefixtures("one_cli_engine")
def test_cli(zimage_dir, tmp_path):
    fh.check_cli(zimage_dir, tmp_path, "zimage")
