"""The README model table's cells for the older families that no other test backed, each on the
family's tiny random-weight model: a LoRA acts on SD 2.x, SD 3.5 and the FLUX.1 families
(weight 0 is byte-identical to no LoRA), regional prompts act on SD 2.x, SDXL Turbo, SD 3.5
Turbo and FLUX.1 schnell are known by name and run without CFG, and what these families
cannot do is refused in one line before anything loads: ControlNet on SD 3.5 and the FLUX.1
families, IP-Adapter references on SD 2.x, SD 3.5 and the FLUX.1 families, regional prompts on
the FLUX.1 families."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.conditioning.regions import Region
from core.conditioning.specs import ControlLayer, LoraSpec, Reference
from core.engine import Engine
from core.errors import InvalidRequest, ModelError
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.core import lora_helpers
from tests.core.lora_helpers import lora_pass
from tests.tiny_models.images import make_image
from tests.tiny_models.tiny_flux import build_tiny_flux
from tests.tiny_models.tiny_lora import build_tiny_lora
from tests.tiny_models.tiny_lora_transformer import build_tiny_transformer_lora
from tests.tiny_models.tiny_sd2 import build_tiny_sd2
from tests.tiny_models.tiny_sd3 import build_tiny_sd3
from tests.tiny_models.tiny_sdxl import build_tiny_sdxl

lora_engine = lora_helpers.lora_engine

BUILDERS = {
    "sd2": lambda folder: build_tiny_sd2(folder),
    "sd3": lambda folder: build_tiny_sd3(folder),
    "flux": lambda folder: build_tiny_flux(folder),
    "flux-fill": lambda folder: build_tiny_flux(folder, "fill"),
    "flux-kontext": lambda folder: build_tiny_flux(folder, "kontext"),
}
LABELS = {
    "sd2": "SD 2.x",
    "sd3": "SD 3.5",
    "flux": "FLUX.1",
    "flux-fill": "FLUX.1 Fill",
    "flux-kontext": "FLUX.1 Kontext",
}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("older-families")
    return {family: Path(build(folder / family)) for family, build in BUILDERS.items()}


def left_half_mask() -> Image.Image:
    """The left half of lora_pass's 64×64 picture."""
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    return mask


def pixels(result) -> np.ndarray:
    return np.asarray(result.image)


@pytest.mark.parametrize("family", ["sd2", "sd3", "flux", "flux-fill", "flux-kontext"])
def test_a_lora_acts_and_weight_zero_is_none(lora_engine, tiny_models, tmp_path, family):
    """FLUX.1 Fill has only its inpaint pipeline: its passes are masked."""
    model = tiny_models[family]
    masked = {"mask": left_half_mask()} if family == "flux-fill" else {}
    lora = tmp_path / f"{family}.safetensors"
    if family == "sd2":
        build_tiny_lora(model, lora, seed=1)
    else:
        build_tiny_transformer_lora(model, lora)
    plain = lora_pass(lora_engine, model, steps=3, **masked)
    assert plain.record["model"]["family"] == family
    zero = lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 0.0),), **masked)
    assert np.array_equal(pixels(zero), pixels(plain)), "a LoRA at weight 0 acted"
    one = lora_pass(lora_engine, model, steps=3, loras=(LoraSpec(str(lora), 1.0),), **masked)
    assert not np.array_equal(pixels(one), pixels(plain)), "weight 1 did nothing"
    assert one.record["loras"][0]["name"] == lora.stem


def test_regional_prompts_act_on_sd2(lora_engine, tiny_models):
    spec = ModelSpec(str(tiny_models["sd2"]), device="cpu")
    plain, _ = fh.run(lora_engine, spec)
    region = Region(fh.left_half_mask(), "a blue ocean with many fish")
    other, _ = fh.run(lora_engine, spec, regions=(region,))
    assert other.image.tobytes() != plain.image.tobytes()
    assert other.record["regions"]


@pytest.mark.parametrize("family", ["flux-fill", "flux-kontext"])  # SD 3.5, FLUX.1: they run
def test_control_layers_are_refused_in_one_line(lora_engine, tiny_models, family):
    """Before the ControlNet loads: the one named here does not exist."""
    model = tiny_models[family]
    layer = ControlLayer(model=str(model.parent / "no-such-controlnet"), kind="canny")
    with pytest.raises(ModelError) as caught:
        fh.run(lora_engine, ModelSpec(str(model), device="cpu"), controls=(layer,))
    message = str(caught.value)
    assert message.startswith(
        f"ControlNet control layers are not available for {LABELS[family]} models"
    )
    assert "\n" not in message


@pytest.mark.parametrize("family", ["sd2", "sd3", "flux", "flux-fill", "flux-kontext"])
def test_an_ip_adapter_reference_is_refused_in_one_line(tiny_models, family):
    reference = Reference("h94/IP-Adapter", make_image(32, 32), scale=0.6)
    spec = ModelSpec(str(tiny_models[family]), device="cpu")
    with pytest.raises(ModelError) as refused:
        fh.run(Engine(previews=False), spec, references=(reference,))
    assert (
        str(refused.value) == f"IP-Adapter references are not available for {LABELS[family]} models"
    )


@pytest.mark.parametrize("family", ["flux", "flux-fill", "flux-kontext"])
def test_regional_prompts_are_refused_in_one_line(lora_engine, tiny_models, family):
    region = Region(fh.left_half_mask(), "a blue sea")
    spec = ModelSpec(str(tiny_models[family]), device="cpu")
    with pytest.raises(InvalidRequest, match=f"regional prompts work with .* not {LABELS[family]}"):
        fh.run(lora_engine, spec, regions=(region,))


@pytest.mark.parametrize(
    ("family", "name", "kind"),
    [("sdxl", "tiny-sdxl-turbo", "turbo"), ("sd3", "tiny-sd3.5-large-turbo", "turbo"),
     ("flux", "tiny-FLUX.1-schnell", "schnell")],
    ids=["sdxl", "sd3", "flux"],
)  # fmt: skip
def test_a_few_step_model_is_known_by_its_name_and_runs_without_cfg(
    lora_engine, tiny_models, tmp_path, family, name, kind
):
    if family == "sdxl":
        model = build_tiny_sdxl(tmp_path / name)
    else:
        model = shutil.copytree(tiny_models[family], tmp_path / name)
    result = lora_pass(lora_engine, model, strength=0.5, steps=4, cfg=7.0)
    record = result.record
    assert record["model"]["family"] == family
    assert record["few_step"]["kind"] == kind and record["cfg"] == 0.0
    assert not result.skipped and result.effective_steps >= 1
