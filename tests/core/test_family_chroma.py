"""Chroma on a tiny model (tests.tiny_models.tiny_chroma): detection, the three pass kinds through
diffusers' Chroma pipelines, FLUX-packed latents (previews, the differential filter), real CFG
with a negative prompt (unlike FLUX.1's distilled guidance), only-masked inpainting on the
packing grid, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine import Engine
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_chroma import build_tiny_chroma


@pytest.fixture(scope="module")
def chroma_dir(tmp_path_factory):
    return build_tiny_chroma(tmp_path_factory.mktemp("models") / "tiny-chroma")


@pytest.fixture(scope="module")
def spec(chroma_dir):
    return ModelSpec(str(chroma_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


def test_loads_as_chroma_with_its_pipelines(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "chroma" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "ChromaImg2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "ChromaInpaintPipeline"
    assert model.inpaint_pipe.transformer is model.img2img_pipe.transformer  # from_pipe
    assert model.size_multiple == 16  # VAE scale 8 × the 2×2 packing


def test_img2img_runs_the_engines_step_count_with_latent_size_previews(engine, spec):
    record = fh.check_img2img(engine, spec, "chroma", steps_run=2)
    assert record["scheduler_ran"] == "Euler (flow matching)"


def test_negative_prompt_is_used_with_real_cfg(engine, spec):
    plain, _ = fh.run(engine, spec, cfg=4.0)
    negative, _ = fh.run(engine, spec, cfg=4.0, negative_prompt="blurry photo")
    assert negative.image.tobytes() != plain.image.tobytes()
    assert "negative_prompt_note" not in negative.record


def test_inpaint_keeps_pixels_outside_the_mask(engine, spec):
    fh.check_inpaint(engine, spec, "chroma")


def test_inpaint_only_the_masked_area_snaps_to_the_packing(engine, spec):
    from PIL import Image

    from core.imaging.masks import blur_mask

    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (20, 24, 36, 40))
    result, _ = fh.run(engine, spec, mask=mask, mask_blur=2, inpaint_area="masked", padding=6)
    diff = fh.changed(result)
    assert not diff[np.asarray(blur_mask(mask, 2)) == 0].any()
    assert diff[24:40, 20:36].mean() > 0.5


def test_strength_map(engine, spec):
    fh.check_strength_map(engine, spec, "chroma")


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region
    from core.errors import InvalidRequest

    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not Chroma:"):
        fh.run(engine, spec, regions=(region,))


@pytest.mark.usefixtures("one_cli_engine")
def test_cli(chroma_dir, tmp_path):
    fh.check_cli(chroma_dir, tmp_path, "chroma")
