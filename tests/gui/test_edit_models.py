"""The window's word on edit models agrees with the engine's families, and the chosen model's
family is found without loading torch: from the picker's entries, a diffusers folder's
``model_index.json``, or the catalog; anything else is unknown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gui.params.edit_models import (
    EDIT_FAMILIES,
    MASKED_WITH_STRENGTH,
    model_family,
    strength_unused,
)
from gui.params.model_entries import PickerEntry


def test_edit_families_match_the_engine():
    from core.models.families import FAMILIES

    engine = {key: f.max_references for key, f in FAMILIES.items() if f.edit}
    assert engine == EDIT_FAMILIES
    for key, family in FAMILIES.items():  # the strength note follows the engine's rule
        for masked in (False, True):
            assert strength_unused(key, masked) == family.runs_without_strength(masked), key
    with_inpaint = {key for key, f in FAMILIES.items() if f.edit and f.inpaint_pipeline}
    assert MASKED_WITH_STRENGTH == with_inpaint == {"qwen-image-edit", "flux2-klein"}


@pytest.mark.parametrize("family", ["flux2-klein", "qwen-image-edit"])
def test_a_masked_pass_with_an_inpaint_pipeline_uses_the_strength_slider(qtbot, family):
    from gui.params.generation_panel import GenerationPanel
    from gui.params.state import GenerationParams

    state = GenerationParams()
    panel = GenerationPanel(state)
    qtbot.addWidget(panel)
    state.model_family = family
    assert not panel.strength_slider.isEnabled()
    assert panel.steps_label.text().startswith("Not used")
    assert panel.steps_label.text().endswith("(a masked pass inpaints with this strength).")
    panel.set_mask_present(True)
    assert panel.strength_slider.isEnabled()
    assert panel.steps_label.text().endswith("steps will run")
    state.model_family = "qwen-image-edit-plus"  # the crop edit: no strength, mask or not
    assert not panel.strength_slider.isEnabled()
    assert not panel.steps_label.text().endswith("inpaints with this strength).")


def test_a_models_family_from_entries_a_folder_the_catalog_or_unknown(tmp_path):
    entry = PickerEntry("/models/klein.safetensors", "klein", "flux2-klein", "installed")
    assert model_family("/models/klein.safetensors", [entry]) == "flux2-klein"
    folder = tmp_path / "edit-plus"
    folder.mkdir()
    (folder / "model_index.json").write_text(
        json.dumps({"_class_name": "QwenImageEditPlusPipeline"})
    )
    assert model_family(str(folder)) == "qwen-image-edit-plus"
    (folder / "model_index.json").write_text("{not json")
    assert model_family(str(folder)) == ""
    layered = {"_class_name": "QwenImageLayeredPipeline"}
    (folder / "model_index.json").write_text(json.dumps(layered))
    assert model_family(str(folder)) == ""  # one the engine refuses: not taken for an edit model
    assert model_family("stabilityai/sd-turbo") == "sd2"  # in the catalog
    sd2 = tmp_path / "sd2"
    (sd2 / "unet").mkdir(parents=True)
    (sd2 / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    assert model_family(str(sd2)) == "sd1"  # no UNet config: SD 1.x's pipeline class
    (sd2 / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": 1024}))
    assert model_family(str(sd2)) == "sd2"  # told by its UNet's text width, as the engine does
    assert model_family("someone/not-listed") == "" and model_family("  ") == ""


def test_finding_the_family_loads_no_torch(tmp_path):
    code = (
        "import sys; from gui.params.edit_models import model_family; "
        f"model_family({str(tmp_path)!r}); model_family('stabilityai/sd-turbo'); "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
