"""ControlNet layers on the tiny SD 1.x model: img2img, inpaint, only-masked, strength map."""

from __future__ import annotations

import gc
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from core.conditioning import control_models
from core.conditioning.context import PassContext
from core.conditioning.control import control_call
from core.conditioning.preprocess import control_image
from core.conditioning.specs import ControlLayer
from core.engine import Engine
from core.errors import ModelError
from core.events import ModelLoading
from core.hashing import pixel_hash
from core.models import ModelSpec
from core.models.families import family
from tests.core.conditioning_helpers import (
    base_request,
    cpu_spec,
    drawing,
    make_controlnet,
    pixels,
    square_mask,
)


@pytest.fixture(scope="module")
def controlnet_dir(tiny_model_dir, tmp_path_factory):
    return make_controlnet(tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="module")
def sd1_spec(tiny_model_dir):
    return cpu_spec(tiny_model_dir)


@pytest.fixture(scope="module")
def baseline(engine, sd1_spec):
    return engine.run_pass(base_request(), sd1_spec)


def layer(model, **values) -> ControlLayer:
    return ControlLayer(str(model), **values)


def test_scale_zero_equals_no_controlnet_and_a_scale_changes_the_output(
    engine, sd1_spec, controlnet_dir, baseline
):
    off = engine.run_pass(base_request(controls=(layer(controlnet_dir, strength=0.0),)), sd1_spec)
    on = engine.run_pass(base_request(controls=(layer(controlnet_dir, strength=1.0),)), sd1_spec)
    assert np.array_equal(pixels(off.image), pixels(baseline.image))
    assert not np.array_equal(pixels(on.image), pixels(baseline.image))
    (record,) = on.record["controls"]
    assert record["model"] == str(controlnet_dir) and record["kind"] == "canny"
    assert (record["low_threshold"], record["high_threshold"]) == (100, 200)
    (shown,) = on.control_images
    assert shown.size == (64, 64) and record["image_hash"] == pixel_hash(shown)
    assert "controls" not in baseline.record and baseline.control_images == ()


def test_a_switched_off_layer_changes_nothing(engine, sd1_spec, controlnet_dir, baseline):
    off = layer(controlnet_dir, enabled=False)
    result = engine.run_pass(base_request(controls=(off,)), sd1_spec)
    assert np.array_equal(pixels(result.image), pixels(baseline.image))
    assert "controls" not in result.record


def test_two_layers_with_ranges_are_recorded_and_the_controlnet_loads_once(
    engine, sd1_spec, controlnet_dir, baseline
):
    layers = (
        layer(controlnet_dir, strength=0.8, start=0.0, end=0.6),
        layer(controlnet_dir, kind="scribble", image=drawing(), invert=True, start=0.2, end=1.0),
    )
    first = engine.run_pass(base_request(controls=layers), sd1_spec)
    again = engine.run_pass(base_request(controls=layers), sd1_spec)
    assert np.array_equal(pixels(first.image), pixels(again.image))
    assert not np.array_equal(pixels(first.image), pixels(baseline.image))
    canny, scribble = first.record["controls"]
    assert (canny["start"], canny["end"], canny["strength"]) == (0.0, 0.6, 0.8)
    assert (scribble["kind"], scribble["invert"], scribble["start"]) == ("scribble", True, 0.2)
    assert "low_threshold" not in scribble
    cache = control_models.cache_for(engine.models.loaded)
    assert cache.loads == 1  # one ControlNet file, kept between passes and layers


def test_inpaint_with_controlnet_keeps_pixels_outside_the_mask(engine, sd1_spec, controlnet_dir):
    request = base_request(mask=square_mask(), mask_blur=0, controls=(layer(controlnet_dir),))
    result = engine.run_pass(request, sd1_spec)
    outside = np.asarray(square_mask()) == 0
    assert np.array_equal(pixels(result.image)[outside], pixels(request.image)[outside])
    plain = engine.run_pass(request.replace(controls=()), sd1_spec)
    assert not np.array_equal(pixels(result.image), pixels(plain.image))
    zero = engine.run_pass(request.replace(controls=(layer(controlnet_dir, strength=0),)), sd1_spec)
    assert np.array_equal(pixels(zero.image), pixels(plain.image))


def test_only_masked_inpaint_cuts_the_control_image_like_the_picture(
    engine, sd1_spec, controlnet_dir
):
    own = drawing().resize((128, 128))  # any size: placed over the request's picture
    control = layer(controlnet_dir, kind="lineart", image=own, invert=True)
    request = base_request(
        mask=square_mask((24, 24, 36, 36)),
        mask_blur=0,
        inpaint_area="masked",
        padding=4,
        controls=(control,),
    )
    result = engine.run_pass(request, sd1_spec)
    (shown,) = result.control_images
    box = (20, 20, 41, 41)  # the mask's box (24–36 inclusive) grown by the padding
    expected = control_image(
        control, own.resize((64, 64), Image.Resampling.LANCZOS).crop(box), shown.size
    )
    assert np.array_equal(pixels(shown), pixels(expected))
    outside = np.asarray(square_mask((24, 24, 36, 36))) == 0
    assert np.array_equal(pixels(result.image)[outside], pixels(request.image)[outside])


def test_strength_map_with_controlnet(engine, sd1_spec, controlnet_dir):
    strength_map = Image.new("L", (64, 64), 0)
    strength_map.paste(204, (0, 0, 32, 64))  # the left half at 0.8, the right half kept
    request = base_request(strength_map=strength_map, controls=(layer(controlnet_dir),))
    result = engine.run_pass(request, sd1_spec)
    plain = engine.run_pass(request.replace(controls=()), sd1_spec)
    assert result.record["kind"] == "differential" and len(result.record["controls"]) == 1
    right = np.s_[:, 40:]
    assert np.array_equal(pixels(result.image)[right], pixels(request.image)[right])
    assert not np.array_equal(pixels(result.image), pixels(plain.image))


def test_a_family_without_controlnet_gives_a_one_line_error():
    model = SimpleNamespace(family="sd2", family_info=family("sd2"), identity="x")
    context = PassContext(model, base_request(controls=(layer("cn"),)), lambda event: None)
    with pytest.raises(ModelError, match="not available for SD 2.x") as caught:
        control_call(context, object(), {"image": Image.new("RGB", (64, 64))})
    assert "\n" not in str(caught.value)


def test_a_missing_controlnet_is_a_one_line_error(engine, sd1_spec, tmp_path):
    request = base_request(controls=(layer(tmp_path / "nowhere.safetensors"),))
    with pytest.raises(ModelError, match="no ControlNet at"):
        engine.run_pass(request, sd1_spec)
    with pytest.raises(ModelError, match="not a diffusers ControlNet"):
        engine.run_pass(base_request(controls=(layer(tmp_path),)), sd1_spec)


def test_loading_is_reported_and_the_controlnets_go_with_their_model(sd1_spec, controlnet_dir):
    engine, events = Engine(previews=False), []
    engine.run_pass(base_request(controls=(layer(controlnet_dir),)), sd1_spec, events.append)
    messages = [e.message for e in events if isinstance(e, ModelLoading)]
    assert f"Loading ControlNet {controlnet_dir.name}…" in messages
    identity = engine.models.loaded.identity
    assert identity in control_models._CACHE
    engine.models.unload()
    gc.collect()
    assert identity not in control_models._CACHE  # nothing holds the old model's modules


def test_a_controlnet_is_found_by_its_name_in_the_scanned_folders(controlnet_dir, tmp_path):
    from core.library.registry import ModelLibrary

    models = tmp_path / "models"
    shutil.copytree(controlnet_dir, models / "controlnet" / "ink-lines")
    ModelLibrary().scan(models, hashes=False)
    controlnet = control_models.load_controlnet("ink-lines")
    assert type(controlnet).__name__ == "ControlNetModel"
    assert control_models.find_in_library("ink-lines", "lora") is None


def test_the_controlnet_pipeline_shares_the_modules_and_keeps_their_precision(
    tiny_model_dir, controlnet_dir
):
    import torch

    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cpu", dtype="bf16")
    request = base_request(controls=(layer(controlnet_dir),), steps=2, strength=1.0)
    engine.run_pass(request, spec)
    model = engine.models.loaded
    (variant,) = control_models.cache_for(model).pipelines.values()
    assert variant.unet is model.base_pipe.unet and variant.vae is model.base_pipe.vae
    assert model.base_pipe.unet.dtype == torch.bfloat16 == variant.controlnet.dtype
