"""ControlNet on FLUX.1 (the tiny FLUX model, tiny random ControlNets): diffusers'
``FluxControlNetImg2ImgPipeline`` / ``FluxControlNetInpaintPipeline`` (which take a strength) on
the loaded weights. When the control adds nothing the pass is the plain img2img pass byte for
byte with an XLabs-style ControlNet (it reads the control image's pixels); an InstantX-style one
is VAE-encoded by the pipeline with the pass's generator before the picture's latents and noise
are drawn, so its pass differs from the plain one in the noise, not in the schedule. A control
changes the result; masked passes keep every pixel outside the blurred mask; a ControlNet for
another family is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.conditioning.specs import ControlLayer
from core.engine import Engine
from core.errors import ModelError
from core.events import StepPreview
from core.hashing import pixel_hash
from core.imaging.masks import blur_mask
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_controlnet import build_tiny_controlnet, build_tiny_flux_controlnet
from tests.tiny_models.tiny_flux import build_tiny_flux
from tests.tiny_models.tiny_sdxl import build_tiny_sdxl

SIZE = 64
PROMPT = "a red cat"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``{"flux": model, "sdxl": model, <ControlNet name>: folder}``."""
    folder = tmp_path_factory.mktemp("flux-controlnets")
    flux = build_tiny_flux(folder / "flux")
    sdxl = build_tiny_sdxl(folder / "sdxl")
    return {
        "flux": flux,
        "sdxl": sdxl,
        "random": build_tiny_flux_controlnet(folder / "random", flux),
        "zero": build_tiny_flux_controlnet(folder / "zero", flux, zero=True),
        "hint": build_tiny_flux_controlnet(folder / "hint", flux, hint=True),
        "sdxl-net": build_tiny_controlnet(folder / "sdxl-net", sdxl=True, model_dir=sdxl),
    }


@pytest.fixture(scope="module")
def engine():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Engine(previews=False)
    torch.set_num_threads(threads)


def run(engine, built, model="flux", **kw):
    kw.setdefault("prompt", PROMPT)
    kw.setdefault("seed", 7)
    kw.setdefault("steps", 6)
    kw.setdefault("strength", 0.6)
    request = PassRequest(image=make_image(SIZE, SIZE), work_size="input", **kw)
    return engine.run_pass(request, ModelSpec(str(built[model]), device="cpu"))


def canny(built, net="random", **values) -> ControlLayer:
    return ControlLayer(str(built[net]), kind="canny", **values)


@pytest.fixture(scope="module")
def plain(engine, built):
    return run(engine, built)


def test_scale_zero_is_the_img2img_pass_byte_for_byte_and_a_control_changes_it(
    engine, built, plain
):
    off = run(engine, built, controls=(canny(built, "hint", strength=0.0),))
    on = run(engine, built, controls=(canny(built, "hint", strength=1.0),))
    assert off.image.tobytes() == plain.image.tobytes()
    assert on.image.tobytes() != plain.image.tobytes()
    assert plain.record["pipeline"] == "FluxImg2ImgPipeline"
    assert off.record["pipeline"] == on.record["pipeline"] == "FluxControlNetImg2ImgPipeline"
    assert on.effective_steps == on.record["effective_steps"] == int(6 * 0.6) == 3
    (record,) = on.record["controls"]
    assert record["model"] == str(built["hint"]) and record["kind"] == "canny"
    assert record["strength"] == 1.0
    (shown,) = on.control_images
    assert shown.size == (SIZE, SIZE) and record["image_hash"] == pixel_hash(shown)


def test_an_instantx_controlnet_at_scale_zero_only_changes_the_noise(engine, built, plain):
    """The pipeline samples the control image's VAE latents with the pass's generator first, so
    the picture's latents and noise come later in the stream: the same pass as a plain one run
    with that draw taken first (the zero ControlNet and scale 0 agree byte for byte), and a
    different one from the plain pass."""
    off = run(engine, built, controls=(canny(built, strength=0.0),))
    zero = run(engine, built, controls=(canny(built, "zero", strength=1.0),))
    on = run(engine, built, controls=(canny(built, strength=1.0),))
    assert off.image.tobytes() == zero.image.tobytes()
    assert off.image.tobytes() != plain.image.tobytes()
    assert on.image.tobytes() != off.image.tobytes()
    assert on.effective_steps == 3 and on.record["pipeline"] == "FluxControlNetImg2ImgPipeline"


@pytest.mark.parametrize(("steps", "strength"), [(7, 0.3), (4, 1.0), (10, 0.95)])
def test_int_steps_times_strength_steps_run(engine, built, steps, strength):
    seen = []
    request = PassRequest(
        image=make_image(SIZE, SIZE),
        work_size="input",
        prompt=PROMPT,
        seed=1,
        steps=steps,
        strength=strength,
        controls=(canny(built, "hint"),),
    )
    result = engine.run_pass(request, ModelSpec(str(built["flux"]), device="cpu"), seen.append)
    steps_seen = [e.step for e in seen if isinstance(e, StepPreview)]  # one per pipeline step
    assert result.effective_steps == int(steps * strength)
    assert len(steps_seen) == int(steps * strength)


def test_masked_passes_keep_every_pixel_outside_the_mask(engine, built):
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (0, 0, SIZE // 2, SIZE))
    outside = np.asarray(blur_mask(mask, 4)) == 0
    before = np.asarray(make_image(SIZE, SIZE))
    plain = run(engine, built, mask=mask, mask_blur=4)
    for net in ("random", "hint"):
        for area in ("whole", "masked"):
            layer = canny(built, net, strength=1.0)
            result = run(
                engine, built, mask=mask, mask_blur=4, inpaint_area=area, controls=(layer,)
            )
            pixels = np.asarray(result.image)
            assert np.array_equal(pixels[outside], before[outside])
            assert (pixels[~outside] != before[~outside]).any()
            assert result.record["pipeline"] == "FluxControlNetInpaintPipeline"
            assert result.record["kind"] == "inpaint" and result.record["controls"]
            assert result.effective_steps == 3
            if area == "whole":
                assert result.image.tobytes() != plain.image.tobytes()


def test_two_layers_run_as_flux_multi_controlnet(engine, built, plain):
    """Before, diffusers' multi ControlNet ran no ControlNet without a mode per image
    (UnboundLocalError)."""
    both = (canny(built, "hint", strength=0.7, end=0.5), canny(built, "hint", strength=0.4))
    result = run(engine, built, controls=both)
    assert len(result.record["controls"]) == 2 and len(result.control_images) == 2
    assert result.image.tobytes() != plain.image.tobytes()
    zero = (canny(built, "hint", strength=0.0), canny(built, "hint", strength=0.0, end=0.5))
    assert run(engine, built, controls=zero).image.tobytes() == plain.image.tobytes()


def test_both_kinds_of_flux_controlnet_in_one_pass_are_refused_in_one_line(engine, built):
    with pytest.raises(ModelError, match="^XLabs-style and InstantX-style FLUX.1 ControlNets "):
        run(engine, built, controls=(canny(built, "hint"), canny(built)))


def test_a_union_flux_controlnet_is_refused_in_one_line(engine, built, tmp_path):
    from diffusers import FluxControlNetModel

    net = FluxControlNetModel.from_pretrained(built["random"])
    union = FluxControlNetModel.from_config({**net.config, "num_mode": 7})
    union.save_pretrained(tmp_path / "union", safe_serialization=True)
    with pytest.raises(ModelError, match="is a union FLUX.1 ControlNet") as caught:
        run(engine, built, controls=(ControlLayer(str(tmp_path / "union"), kind="canny"),))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("model", "net", "message"),
    [("flux", "sdxl-net", "is a ControlNetModel, not a ControlNet for FLUX.1 models "
      "(FluxControlNetModel)"),
     ("sdxl", "random", "is a FluxControlNetModel, not a ControlNet for SDXL models "
      "(ControlNetModel or ControlNetUnionModel)")],
)  # fmt: skip
def test_a_controlnet_for_another_family_is_refused_in_one_line(engine, built, model, net, message):
    with pytest.raises(ModelError) as caught:
        run(engine, built, model, controls=(canny(built, net),))
    assert str(caught.value) == f"{built[net]} {message}"


def test_the_refusal_elsewhere_names_flux_among_the_families_with_controlnet():
    from core.conditioning.control_support import controlnet_refusal
    from core.models.families import FAMILIES

    message = str(controlnet_refusal(FAMILIES["chroma"]))
    assert "FLUX.1" in message.split("ControlNet works on ")[1]
    assert "\n" not in message
