"""Qwen-Image on a tiny model (tests.tiny_models.tiny_qwen_image): detection, the three pass kinds
through diffusers' Qwen-Image pipelines, packed latents (previews, the differential filter and
the fp32 re-decode through its per-channel normalised video VAE), CFG as ``true_cfg_scale``,
the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine import Engine
from core.engine.vae import decode_fp32, encode
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    return build_tiny_qwen_image(tmp_path_factory.mktemp("models") / "tiny-qwen-image")


@pytest.fixture(scope="module")
def spec(qwen_dir):
    return ModelSpec(str(qwen_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


def test_loads_as_qwen_image_with_its_pipelines(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "qwen-image" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "QwenImageImg2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "QwenImageInpaintPipeline"
    assert model.inpaint_pipe.transformer is model.img2img_pipe.transformer  # from_pipe
    assert model.size_multiple == 16  # VAE scale 8 × the 2×2 packing
    assert model.native_size == 1328  # the family's: its VAE config has no sample size


def test_the_video_vae_round_trips_through_model_space(engine, spec):
    """encode/decode_fp32 use the per-channel normalisation and the frame axis."""
    pipe = engine.models.load(spec).img2img_pipe
    latents = encode(pipe, make_image(64, 64))
    assert tuple(latents.shape) == (1, 16, 8, 8)
    assert decode_fp32(pipe, latents).size == (64, 64)


def test_the_cuda_fast_path_leaves_the_video_vae_as_it_is(engine, spec):
    """channels_last is for 4-D tensors: on the 3-D-conv VAE, ``.to()`` would raise at load."""
    from types import SimpleNamespace

    from core.models.device import tune_pipeline

    pipe = engine.models.load(spec).img2img_pipe
    done = tune_pipeline(SimpleNamespace(vae=pipe.vae), "fp32", "cuda")
    assert "vae channels_last" not in done


def test_img2img_runs_the_engines_step_count_with_latent_size_previews(engine, spec):
    record = fh.check_img2img(engine, spec, "qwen-image", steps_run=2)
    assert record["scheduler_ran"] == "Euler (flow matching)"


def test_cfg_is_true_cfg_and_the_negative_prompt_is_used(engine, spec):
    plain, _ = fh.run(engine, spec, cfg=4.0)
    negative, _ = fh.run(engine, spec, cfg=4.0, negative_prompt="blurry photo")
    off, _ = fh.run(engine, spec, cfg=1.0)
    assert negative.image.tobytes() != plain.image.tobytes()
    assert off.image.tobytes() != plain.image.tobytes()  # CFG 4 ran (with a blank negative)
    assert "negative_prompt_note" not in negative.record


def test_inpaint_keeps_pixels_outside_the_mask(engine, spec):
    fh.check_inpaint(engine, spec, "qwen-image")


def test_strength_map(engine, spec):
    fh.check_strength_map(engine, spec, "qwen-image")


def test_inpaint_only_the_masked_area_snaps_to_the_packing(engine, spec):
    from PIL import Image

    from core.imaging.masks import blur_mask

    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (20, 24, 36, 40))
    result, _ = fh.run(engine, spec, mask=mask, mask_blur=2, inpaint_area="masked", padding=6)
    diff = fh.changed(result)
    assert not diff[np.asarray(blur_mask(mask, 2)) == 0].any()
    assert diff[24:40, 20:36].mean() > 0.5


def test_regions_are_refused_in_one_line(engine, spec):
    from core.conditioning.regions import Region
    from core.errors import InvalidRequest

    region = Region(fh.left_half_mask(), "a blue sea")
    with pytest.raises(InvalidRequest, match="regional prompts work with .* not Qwen-Image:"):
        fh.run(engine, spec, regions=(region,))


@pytest.mark.usefixtures("one_cli_engine")
def test_cli(qwen_dir, tmp_path):
    fh.check_cli(qwen_dir, tmp_path, "qwen-image")
