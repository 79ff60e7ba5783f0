"""ControlNet (single-type and union) and IP-Adapter style/composition on the tiny SDXL model."""

from __future__ import annotations

import numpy as np
import pytest

from core.conditioning.specs import ControlLayer, Reference
from core.errors import ModelError
from core.models import ModelSpec
from tests.core.conditioning_helpers import base_request, drawing, pixels, square_mask
from tests.tiny_models.images import make_image


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory):
    from tests.tiny_models.tiny_sdxl import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="module")
def sdxl_spec(sdxl_dir):
    return ModelSpec(str(sdxl_dir), device="cpu")


@pytest.fixture(scope="module")
def controlnets(sdxl_dir, tmp_path_factory):
    from tests.tiny_models.tiny_controlnet import build_tiny_controlnet

    folder = tmp_path_factory.mktemp("controlnets")
    single = build_tiny_controlnet(folder / "single", sdxl=True, model_dir=sdxl_dir)
    union = build_tiny_controlnet(folder / "union", sdxl=True, union=True, model_dir=sdxl_dir)
    return single, union


@pytest.fixture(scope="module")
def baseline(engine, sdxl_spec):
    return engine.run_pass(base_request(cfg=5.0), sdxl_spec)


def run(engine, spec, **changes):
    return engine.run_pass(base_request(cfg=5.0, **changes), spec)


def test_sdxl_controlnet_scale_zero_equals_none_and_a_scale_changes_it(
    engine, sdxl_spec, controlnets, baseline
):
    single, _ = controlnets
    zero = run(engine, sdxl_spec, controls=(ControlLayer(str(single), strength=0.0),))
    used = run(engine, sdxl_spec, controls=(ControlLayer(str(single), strength=1.0),))
    assert np.array_equal(pixels(zero.image), pixels(baseline.image))
    assert not np.array_equal(pixels(used.image), pixels(baseline.image))


def test_union_controlnet_layers_with_their_control_modes(engine, sdxl_spec, controlnets, baseline):
    single, union = controlnets
    layers = (
        ControlLayer(str(union), kind="canny"),
        ControlLayer(str(union), kind="scribble", image=drawing(), invert=True, end=0.5),
    )
    result = run(engine, sdxl_spec, controls=layers)
    assert not np.array_equal(pixels(result.image), pixels(baseline.image))
    assert [c["kind"] for c in result.record["controls"]] == ["canny", "scribble"]
    mixed = (ControlLayer(str(union)), ControlLayer(str(single)))
    with pytest.raises(ModelError, match="union and single-type"):
        run(engine, sdxl_spec, controls=mixed)
    depth_map = make_image(64, 64, seed=4)
    with pytest.raises(ModelError, match="cannot tell what a type 'image'"):
        run(engine, sdxl_spec, controls=(ControlLayer(str(union), kind="image", image=depth_map),))


def test_style_and_composition_references_act_in_their_own_blocks(
    engine, sdxl_spec, sdxl_dir, tmp_path_factory, baseline
):
    from tests.tiny_models.tiny_ip_adapter import build_tiny_ip_adapter

    folder = tmp_path_factory.mktemp("ip-adapter-sdxl")
    adapter = str(build_tiny_ip_adapter(folder, sdxl=True, model_dir=sdxl_dir))
    picture = make_image(40, 40, seed=8)
    results = {
        mode: run(engine, sdxl_spec, references=(Reference(adapter, picture, 1.0, mode),))
        for mode in ("standard", "style", "composition")
    }
    images = {mode: pixels(result.image) for mode, result in results.items()}
    for mode in images:
        assert not np.array_equal(images[mode], pixels(baseline.image)), mode
    assert not np.array_equal(images["style"], images["composition"])
    assert not np.array_equal(images["style"], images["standard"])
    assert results["style"].record["references"][0]["mode"] == "style"


def test_sdxl_inpaint_with_a_controlnet_keeps_pixels_outside_the_mask(
    engine, sdxl_spec, controlnets
):
    single, _ = controlnets
    request = base_request(cfg=5.0, mask=square_mask(), mask_blur=0)
    plain = engine.run_pass(request, sdxl_spec)
    used = engine.run_pass(request.replace(controls=(ControlLayer(str(single)),)), sdxl_spec)
    outside = np.asarray(square_mask()) == 0
    assert np.array_equal(pixels(used.image)[outside], pixels(request.image)[outside])
    assert not np.array_equal(pixels(used.image), pixels(plain.image))
