"""LoRAs and ControlNet on the 2026 families, each on its tiny model: Z-Image, Chroma,
Qwen-Image, Qwen-Image-Edit, Qwen-Image-Edit-Plus and FLUX.2 Klein.

LoRAs go through diffusers' own LoRA loader: a LoRA changes the result, weight 0 is
byte-identical to no LoRA (before and after weight 1), the record and the infotext name it; a
LoRA made for another family is refused in one line before it loads, and a family or pipeline
without a LoRA loader is refused in one line naming those that have one. Control layers on the
families without ControlNet (all but Z-Image and Qwen-Image here:
tests/core/test_controlnet_started.py) are refused in one line, before any ControlNet loads,
saying why and naming the families that have ControlNet."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import core.models.families as families
from core.conditioning.lora import check_lora_support
from core.conditioning.specs import ControlLayer, LoraSpec
from core.errors import ModelError
from core.metadata.infotext import build_infotext, parse_infotext
from tests.core import lora_helpers
from tests.core.lora_helpers import lora_pass
from tests.tiny_models.tiny_lora_transformer import build_tiny_transformer_lora

lora_engine = lora_helpers.lora_engine

BUILDERS = {
    "zimage": ("tests.tiny_models.tiny_zimage", "build_tiny_zimage", {}),
    "chroma": ("tests.tiny_models.tiny_chroma", "build_tiny_chroma", {}),
    "qwen-image": ("tests.tiny_models.tiny_qwen_image", "build_tiny_qwen_image", {}),
    "qwen-image-edit": ("tests.tiny_models.tiny_qwen_image", "build_tiny_qwen_image_edit", {}),
    "qwen-image-edit-plus": (
        "tests.tiny_models.tiny_qwen_image", "build_tiny_qwen_image_edit", {"plus": True},
    ),
    "flux2-klein": ("tests.tiny_models.tiny_flux2_klein", "build_tiny_flux2_klein", {}),
}  # fmt: skip


def _build(family: str, folder: Path) -> Path:
    import importlib

    module, name, kw = BUILDERS[family]
    return Path(getattr(importlib.import_module(module), name)(folder / family, **kw))


@pytest.fixture(scope="module", autouse=True)
def small_edit_area():
    """The Qwen edit pipelines resize the edited picture to about 1 MP before the VAE sees it
    (minutes a pass on the tiny model): here the target area is 64×64, as in the edit
    families' own tests."""
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as edit_module
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus_module

    with pytest.MonkeyPatch.context() as patch:
        for module in (edit_module, plus_module):
            original = module.calculate_dimensions
            patch.setattr(
                module,
                "calculate_dimensions",
                lambda area, ratio, original=original: original(64 * 64, ratio),
            )
        yield


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """``{family: (model folder, its LoRA)}``, built once for the module."""
    folder = tmp_path_factory.mktemp("family-loras")
    built = {}
    for family in BUILDERS:
        model = _build(family, folder)
        lora = build_tiny_transformer_lora(model, folder / f"{family}.safetensors")
        built[family] = (model, lora)
    return built


def pixels(result) -> np.ndarray:
    return np.asarray(result.image)


@pytest.mark.parametrize("family", list(BUILDERS))
def test_a_lora_acts_weight_zero_is_none_and_the_record_names_it(lora_engine, tiny_models, family):
    model, lora = tiny_models[family]
    plain = lora_pass(lora_engine, model, steps=3)
    assert plain.record["model"]["family"] == family
    zero = lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 0.0),))
    assert np.array_equal(pixels(zero), pixels(plain)), "the first LoRA loaded at 0 acted"
    one = lora_pass(lora_engine, model, steps=3, prompt=f"a red house <lora:{lora}:1>")
    assert not np.array_equal(pixels(one), pixels(plain)), "weight 1 did nothing"
    (entry,) = one.record["loras"]
    assert entry["name"] == lora.stem and entry["weight"] == 1.0 and len(entry["hash"]) == 12
    parsed = parse_infotext(build_infotext(one.record))
    assert parsed["lora_hashes"] == {lora.stem: entry["hash"]}
    assert parsed["prompt"].endswith(f"<lora:{lora}:1>")  # as A1111 keeps it
    again = lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 0.0),))
    assert np.array_equal(pixels(again), pixels(plain)), "weight 0 after weight 1 acted"


@pytest.mark.parametrize(
    ("lora_family", "model_family", "expected"),
    [
        ("qwen-image", "zimage", "is a Qwen-Image LoRA; the loaded model is Z-Image"),
        ("zimage", "chroma", "is a Z-Image LoRA; the loaded model is Chroma"),
        ("flux2-klein", "qwen-image-edit",
         "is a FLUX.2 Klein LoRA; the loaded model is Qwen-Image-Edit"),
        ("chroma", "flux2-klein", None),  # FLUX-layout names: the loader's shape check decides
    ],
)  # fmt: skip
def test_a_lora_for_another_family_is_refused_before_it_loads(
    lora_engine, tiny_models, lora_family, model_family, expected
):
    model = tiny_models[model_family][0]
    lora = tiny_models[lora_family][1]
    with pytest.raises(ModelError) as caught:
        lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 1.0),))
    message = str(caught.value)
    assert "\n" not in message
    if expected is not None:
        assert message == f"{lora.name} {expected}"
    else:
        assert message.startswith(f"{lora.name} does not fit this model's layers")
    loaded = lora_engine.models.loaded.img2img_pipe.get_list_adapters()
    assert not any(loaded.values()), "the refused LoRA left adapters behind"


def test_an_edit_lora_suits_qwen_image_and_its_edit_models(lora_engine, tiny_models):
    """Qwen-Image LoRAs and Qwen-Image-Edit LoRAs share one architecture."""
    model = tiny_models["qwen-image-edit-plus"][0]
    lora = tiny_models["qwen-image"][1]
    result = lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 0.5),))
    assert result.record["loras"][0]["weight"] == 0.5


def test_a_family_without_a_lora_loader_is_refused_in_one_line(
    lora_engine, tiny_models, monkeypatch
):
    model, lora = tiny_models["zimage"]
    without = dataclasses.replace(families.FAMILIES["zimage"], lora=False)
    monkeypatch.setitem(families.FAMILIES, "zimage", without)
    with pytest.raises(ModelError) as caught:
        lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 1.0),))
    message = str(caught.value)
    assert message.startswith("Z-Image models cannot use LoRAs; LoRAs work on SD 1.x, SD 2.x")
    assert "Chroma" in message and "\n" not in message
    pipe = lora_engine.models.loaded.img2img_pipe
    assert not any(pipe.get_list_adapters().values()), "the LoRA loaded before the refusal"


def test_a_pipeline_without_a_loader_is_refused_naming_it():
    class NoLoaderPipeline:
        pass

    with pytest.raises(ModelError, match=r"\(diffusers' NoLoaderPipeline has no LoRA loader\)"):
        check_lora_support("chroma", NoLoaderPipeline())


@pytest.mark.parametrize("family", list(families.FAMILIES))
def test_the_lora_flag_matches_diffusers_loaders(family):
    """A family claims LoRAs exactly when each of its diffusers pipelines has a LoRA loader."""
    import diffusers

    info = families.FAMILIES[family]
    names = [n for n in (info.img2img_pipeline, info.inpaint_pipeline) if n]
    loaders = [hasattr(getattr(diffusers, name), "load_lora_weights") for name in names]
    assert info.lora == all(loaders)


WITHOUT_CONTROLNET = [f for f in BUILDERS if not families.FAMILIES[f].controlnet]


def test_z_image_and_qwen_image_are_the_2026_families_with_controlnet():
    """Their ControlNet passes: tests/core/test_controlnet_started.py."""
    assert [f for f in BUILDERS if f not in WITHOUT_CONTROLNET] == ["zimage", "qwen-image"]


@pytest.mark.parametrize("family", WITHOUT_CONTROLNET)
def test_control_layers_are_refused_in_one_line_saying_why(lora_engine, tiny_models, family):
    """Before the ControlNet loads: the one named here does not exist."""
    model = tiny_models[family][0]
    layer = ControlLayer(model=str(model.parent / "no-such-controlnet"), kind="canny")
    with pytest.raises(ModelError) as caught:
        lora_pass(lora_engine, model, steps=3, controls=(layer,))
    message = str(caught.value)
    label = families.FAMILIES[family].label
    assert message.startswith(f"ControlNet control layers are not available for {label} models (")
    having = "SD 1.x, SDXL, SD 3.5, FLUX.1, Z-Image, Qwen-Image"
    assert message.endswith(f"; ControlNet works on {having}")
    assert "\n" not in message
    assert "diffusers" in message
