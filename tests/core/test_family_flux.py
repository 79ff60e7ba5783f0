"""FLUX.1 (dev-like) on a tiny model (tests.tiny_models.tiny_flux): detection, the three pass kinds,
packed latents (previews, the differential filter, the fp32 re-decode), distilled guidance
(the negative prompt is noted, not used) and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine import Engine
from core.engine.vae import decode_fp32
from core.models import ModelSpec
from core.sampling.latent_layout import LatentLayout, layout_for
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_flux import build_tiny_flux


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="module")
def spec(flux_dir):
    return ModelSpec(str(flux_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI test reuses this module's engine (the model is loaded once)."""
    return engine


def test_packing_round_trips_like_diffusers():
    from diffusers import FluxPipeline

    latents = torch.randn(1, 16, 8, 6)
    layout = layout_for(True, 8, (48, 64))
    assert layout == LatentLayout(True, (8, 6))
    packed = layout.pack(latents)
    assert torch.equal(packed, FluxPipeline._pack_latents(latents, 1, 16, 8, 6))
    assert torch.equal(layout.unpack(packed), latents)
    assert torch.equal(FluxPipeline._unpack_latents(packed, 64, 48, 8), latents)
    assert layout_for(False, 8, (48, 64)).unpack(latents) is latents


def test_loads_as_flux_with_its_pipelines(engine, spec):
    model = engine.models.load(spec)
    assert model.family == "flux" and not model.is_inpaint_model
    assert type(model.img2img_pipe).__name__ == "FluxImg2ImgPipeline"
    assert type(model.inpaint_pipe).__name__ == "FluxInpaintPipeline"
    assert model.inpaint_pipe.transformer is model.img2img_pipe.transformer  # from_pipe
    assert model.size_multiple == 16  # VAE scale 8 × the 2×2 packing


def test_img2img_runs_the_engines_step_count_with_latent_size_previews(engine, spec):
    # 3 steps × 0.7: the pipeline's own arithmetic would run 3, the engine's count is 2.
    record = fh.check_img2img(engine, spec, "flux", steps_run=2)
    assert record["scheduler_ran"] == "Euler (flow matching)"


def test_negative_prompt_is_ignored_with_a_note(engine, spec):
    plain, _ = fh.run(engine, spec)
    negative, _ = fh.run(engine, spec, negative_prompt="blurry photo")
    assert negative.image.tobytes() == plain.image.tobytes()
    assert "negative prompt was not used" in negative.record["negative_prompt_note"]
    assert "negative_prompt_note" not in plain.record


def test_final_latents_come_unpacked_and_decode_to_the_result(engine, spec):
    from core.engine.cancel import CancelToken
    from core.engine.pass_run import PassRun
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    model = engine.models.load(spec)
    request = PassRequest(image=make_image(64, 64), prompt="a red cat", steps=3, strength=0.7)
    captured = {}

    class Keep(PassRun):
        def call(self, pipe, latent_filter=None, **kwargs):
            def spy(pipe_, step, t, latents):
                captured["latents"] = latents
                return latents

            return super().call(pipe, latent_filter=spy, **kwargs)

    scheduler = engine.scheduler_for(model, "Euler")
    run = Keep(model, request, 5, CancelToken(), lambda e: None, 2, (64, 64), scheduler, None)
    image = run.img2img(request.image)
    latents = captured["latents"]
    assert latents.shape == (1, 16, 8, 8)
    redone = decode_fp32(model.img2img_pipe, latents)
    assert np.abs(np.asarray(redone, int) - np.asarray(image, int)).max() <= 1


def test_inpaint_keeps_pixels_outside_the_mask(engine, spec):
    fh.check_inpaint(engine, spec, "flux")


def test_inpaint_only_the_masked_area_snaps_to_the_packing(engine, spec):
    """The crop around a small mask is generated at a multiple of 16 and pasted back."""
    from PIL import Image

    from core.imaging.masks import blur_mask

    mask = Image.new("L", (fh.SIZE, fh.SIZE), 0)
    mask.paste(255, (20, 24, 36, 40))
    result, _ = fh.run(engine, spec, mask=mask, mask_blur=2, inpaint_area="masked", padding=6)
    diff = fh.changed(result)
    assert not diff[np.asarray(blur_mask(mask, 2)) == 0].any()
    assert diff[24:40, 20:36].mean() > 0.5


def test_strength_map(engine, spec):
    fh.check_strength_map(engine, spec, "flux")


@pytest.mark.usefixtures("one_cli_engine")
def test_cli(flux_dir, tmp_path):
    fh.check_cli(flux_dir, tmp_path, "flux")
