"""ControlNet on Qwen-Image (tiny model, tiny random QwenImageControlNetModel): diffusers'
text-to-image ``QwenImageControlNetPipeline`` started at the strength
(``core.engine.strength_start``) is the img2img pass itself, byte for byte, when the control adds
nothing; a control changes it; masked passes keep every pixel outside the mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.conditioning.specs import ControlLayer
from core.engine import Engine
from core.engine.family_call import flow_strength
from core.engine.strength_start import started_arguments
from core.errors import ModelError
from core.hashing import pixel_hash
from core.imaging.masks import blur_mask
from core.models import ModelSpec
from core.requests import PassRequest
from tests.core.conditioning_helpers import make_controlnet
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_controlnet import build_tiny_qwen_controlnet
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image

SIZE = 64
PROMPT = "a red cat"


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    return build_tiny_qwen_image(tmp_path_factory.mktemp("models") / "tiny-qwen-image")


@pytest.fixture(scope="module")
def controlnets(qwen_dir, tmp_path_factory):
    """``{"random": …, "zero": …, "inpaint": …}``: ControlNet folders for the tiny model."""
    folder = tmp_path_factory.mktemp("qwen-controlnets")
    return {
        "random": build_tiny_qwen_controlnet(folder / "random", qwen_dir),
        "other": build_tiny_qwen_controlnet(folder / "other", qwen_dir, seed=3),
        "zero": build_tiny_qwen_controlnet(folder / "zero", qwen_dir, zero=True),
        "inpaint": build_tiny_qwen_controlnet(
            folder / "inpaint", qwen_dir, extra_condition_channels=4
        ),
    }


@pytest.fixture(scope="module")
def spec(qwen_dir):
    return ModelSpec(str(qwen_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Engine(previews=False)
    torch.set_num_threads(threads)


def qwen_pass(engine, spec, **kw):
    kw.setdefault("prompt", PROMPT)
    kw.setdefault("seed", 7)
    kw.setdefault("steps", 6)
    kw.setdefault("strength", 0.6)
    request = PassRequest(image=make_image(SIZE, SIZE), work_size="input", **kw)
    return engine.run_pass(request, spec)


def canny(model, **values) -> ControlLayer:
    return ControlLayer(str(model), kind="canny", **values)


@pytest.fixture(scope="module")
def plain(engine, spec):
    return qwen_pass(engine, spec)


def test_scale_zero_is_the_img2img_pass_byte_for_byte_and_a_control_changes_it(
    engine, spec, controlnets, plain
):
    off = qwen_pass(engine, spec, controls=(canny(controlnets["random"], strength=0.0),))
    on = qwen_pass(engine, spec, controls=(canny(controlnets["random"], strength=1.0),))
    assert off.image.tobytes() == plain.image.tobytes()
    assert on.image.tobytes() != plain.image.tobytes()
    assert plain.record["pipeline"] == "QwenImageImg2ImgPipeline"
    assert off.record["pipeline"] == on.record["pipeline"] == "QwenImageControlNetPipeline"
    assert on.effective_steps == on.record["effective_steps"] == int(6 * 0.6) == 3
    (record,) = on.record["controls"]
    assert record["model"] == str(controlnets["random"]) and record["kind"] == "canny"
    assert record["strength"] == 1.0
    (shown,) = on.control_images
    assert shown.size == (SIZE, SIZE) and record["image_hash"] == pixel_hash(shown)


def test_a_zero_initialised_controlnet_adds_exactly_nothing(engine, spec, controlnets, plain):
    """diffusers starts a QwenImageControlNetModel's output projections at zero."""
    result = qwen_pass(engine, spec, controls=(canny(controlnets["zero"], strength=1.0),))
    assert result.image.tobytes() == plain.image.tobytes()


@pytest.mark.parametrize(("steps", "strength"), [(6, 0.6), (7, 0.3), (4, 1.0), (10, 0.95)])
def test_the_started_controlnet_pipeline_is_a_bare_img2img_call(
    qwen_dir, controlnets, steps, strength
):
    """Against diffusers alone: QwenImageImg2ImgPipeline at the strength the engine gives it
    and QwenImageControlNetPipeline with ``started_arguments`` (a zero-output ControlNet) make
    the same schedule and the same bytes, running int(steps × strength) steps."""
    import diffusers
    import torch

    img2img = diffusers.QwenImageImg2ImgPipeline.from_pretrained(qwen_dir)
    controlnet = diffusers.QwenImageControlNetModel.from_pretrained(controlnets["zero"])
    started = diffusers.QwenImageControlNetPipeline(**img2img.components, controlnet=controlnet)
    for pipe in (img2img, started):
        pipe.set_progress_bar_config(disable=True)
    picture = make_image(SIZE, SIZE)
    to_run = int(steps * strength)
    common = {"prompt": PROMPT, "negative_prompt": " ", "true_cfg_scale": 4.0}
    common.update(num_inference_steps=steps, output_type="np")
    expected = img2img(
        image=picture,
        strength=flow_strength(steps, to_run),
        generator=torch.Generator().manual_seed(3),
        height=SIZE,
        width=SIZE,
        **common,
    ).images[0]
    img2img_sigmas = img2img.scheduler.sigmas.clone()[-(to_run + 1) :]
    arguments = started_arguments(
        img2img,
        img2img.scheduler,
        {"image": picture, "strength": strength, "generator": torch.Generator().manual_seed(3)},
        steps,
        to_run,
    )
    got = started(control_image=picture, **arguments, **common).images[0]
    assert len(arguments["sigmas"]) == to_run
    assert torch.equal(started.scheduler.sigmas, img2img_sigmas)
    assert np.array_equal(got, expected)


def test_masked_passes_keep_every_pixel_outside_the_mask(engine, spec, controlnets):
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (0, 0, SIZE // 2, SIZE))
    outside = np.asarray(blur_mask(mask, 4)) == 0
    before = np.asarray(make_image(SIZE, SIZE))
    layer = canny(controlnets["random"], strength=1.0)
    plain = qwen_pass(engine, spec, mask=mask, mask_blur=4)
    for area in ("whole", "masked"):
        result = qwen_pass(
            engine, spec, mask=mask, mask_blur=4, inpaint_area=area, controls=(layer,)
        )
        pixels = np.asarray(result.image)
        assert np.array_equal(pixels[outside], before[outside])
        assert (pixels[~outside] != before[~outside]).any()
        assert result.record["pipeline"] == "QwenImageControlNetPipeline"
        assert result.record["kind"] == "inpaint" and result.record["controls"]
        if area == "whole":
            assert result.image.tobytes() != plain.image.tobytes()


def test_a_strength_map_with_control_keeps_strength_zero_pixels(engine, spec, controlnets):
    strength_map = Image.new("L", (SIZE, SIZE), 0)
    strength_map.paste(204, (0, 0, SIZE // 2, SIZE))
    layer = canny(controlnets["random"], strength=1.0)
    result = qwen_pass(engine, spec, strength_map=strength_map, controls=(layer,))
    before = np.asarray(make_image(SIZE, SIZE))
    pixels = np.asarray(result.image)
    assert np.array_equal(pixels[:, SIZE // 2 :], before[:, SIZE // 2 :])
    assert (pixels[:, : SIZE // 2] != before[:, : SIZE // 2]).any()
    assert result.record["kind"] == "differential" and result.record["effective_steps"] == 4


def test_two_layers_share_one_controlnet_and_two_controlnets_are_refused(
    engine, spec, controlnets, plain
):
    both = (
        canny(controlnets["random"], strength=0.7, end=0.5),
        ControlLayer(str(controlnets["random"]), kind="scribble", strength=0.5),
    )
    result = qwen_pass(engine, spec, controls=both)
    assert len(result.record["controls"]) == 2 and len(result.control_images) == 2
    assert result.image.tobytes() != plain.image.tobytes()
    mixed = (canny(controlnets["random"]), canny(controlnets["other"]))
    with pytest.raises(ModelError, match="^Qwen-Image takes one ControlNet per pass: "):
        qwen_pass(engine, spec, controls=mixed)


def test_a_controlnet_for_another_family_or_for_inpainting_is_refused_in_one_line(
    engine, spec, controlnets, tiny_model_dir, tmp_path_factory
):
    sd_controlnet = make_controlnet(tmp_path_factory, tiny_model_dir)
    with pytest.raises(ModelError) as caught:
        qwen_pass(engine, spec, controls=(canny(sd_controlnet),))
    message = str(caught.value)
    assert message == (
        f"{sd_controlnet} is a ControlNetModel, not a ControlNet for Qwen-Image models "
        "(QwenImageControlNetModel)"
    )
    with pytest.raises(ModelError, match="is an inpainting ControlNet") as caught:
        qwen_pass(engine, spec, controls=(canny(controlnets["inpaint"]),))
    assert "\n" not in str(caught.value)
