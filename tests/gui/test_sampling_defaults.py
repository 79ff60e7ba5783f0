"""The steps and CFG follow the chosen model (gui.params.sampling_defaults): a family's
defaults when its kind changes, the values last used with a kind when it comes back, nothing
when another model of the same kind is picked; CFG greyed out, with the reason, for a
distilled or few-step model. On the real window with the tiny FLUX.2 Klein
(tests.tiny_models.tiny_flux2_klein) and a tiny Z-Image named like Z-Image-Turbo."""

from __future__ import annotations

import json
import shutil

import pytest

from gui.params.sampling_defaults import (
    FAMILY_SAMPLING,
    SamplingMemory,
    sampling_defaults,
)
from gui.params.state import GenerationParams
from tests.gui.session_helpers import generate


def test_family_defaults_match_the_engine():
    from core.models.families import FAMILIES

    engine = {key: (f.default_steps, f.default_cfg) for key, f in FAMILIES.items()}
    assert engine == FAMILY_SAMPLING


def test_defaults_by_family_few_step_name_and_klein_base(tmp_path):
    klein = sampling_defaults("flux2-klein", "black-forest-labs/FLUX.2-klein-4B")
    assert klein is not None and (klein.steps, klein.cfg) == (4, 1.0)
    assert klein.cfg_unused.startswith("Not used: FLUX.2 Klein is distilled")
    base = sampling_defaults("flux2-klein", "black-forest-labs/FLUX.2-klein-base-9B")
    assert base is not None and (base.steps, base.cfg, base.cfg_unused) == (50, 4.0, "")
    folder = tmp_path / "my-klein"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"is_distilled": False}))
    assert sampling_defaults("flux2-klein", str(folder)).cfg_unused == ""  # a base, by its index

    turbo = sampling_defaults("zimage", "Tongyi-MAI/Z-Image-Turbo")
    assert turbo is not None and (turbo.kind, turbo.steps, turbo.cfg) == ("zimage/turbo", 8, 0.0)
    assert turbo.cfg_unused.startswith("Not used: a Turbo model runs with guidance off")
    sd_turbo = sampling_defaults("sd2", "stabilityai/sd-turbo")
    assert sd_turbo is not None and (sd_turbo.steps, sd_turbo.cfg) == (4, 0.0)
    plain = sampling_defaults("sdxl", "/models/pony.safetensors")
    assert plain is not None and (plain.kind, plain.steps, plain.cfg, plain.cfg_unused) == (
        "sdxl", 30, 6.0, "",
    )  # fmt: skip
    assert sampling_defaults("", "someone/unknown") is None


def test_a_kind_brings_its_defaults_and_a_hand_set_value_comes_back_with_it():
    state = GenerationParams()
    sdxl = sampling_defaults("sdxl", "/m/pony.safetensors")
    klein = sampling_defaults("flux2-klein", "/m/klein")
    state.follow_model_defaults(sdxl)
    assert (state.steps, state.cfg) == (30, 6.0)
    state.update(steps=42, cfg=5.5)  # set by hand for SDXL
    state.follow_model_defaults(sampling_defaults("sdxl", "/m/other-sdxl.safetensors"))
    assert (state.steps, state.cfg) == (42, 5.5)  # the same kind: nothing trampled
    state.follow_model_defaults(klein)
    assert (state.steps, state.cfg) == (4, 1.0) and state.cfg_unused.startswith("Not used")
    state.follow_model_defaults(None)  # a model nobody knows: values stay
    assert (state.steps, state.cfg, state.cfg_unused) == (4, 1.0, "")
    state.follow_model_defaults(sdxl)
    assert (state.steps, state.cfg) == (42, 5.5)  # SDXL's hand-set values are back
    memory = SamplingMemory()
    assert memory.follow(None, 7, 2.0) == (7, 2.0)


def test_restoring_saved_parameters_with_a_model_keeps_the_saved_steps_and_cfg():
    """restore() sets the model first, so the defaults it brings give way to the saved values."""
    state = GenerationParams()
    families = {"/m/klein": "flux2-klein", "/m/sd": "sd1"}

    def on_model(model: str) -> None:  # what the model picker does
        state.model_family = families.get(model, "")
        state.follow_model_defaults(sampling_defaults(state.model_family, model))

    state.subscribe("model", on_model)
    state.model = "/m/sd"
    state.restore({"steps": 9, "cfg": 2.0, "model": "/m/klein"})
    assert (state.model, state.steps, state.cfg) == ("/m/klein", 9, 2.0)


# -- the real window ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def klein_dir(tmp_path_factory):
    from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

    return build_tiny_flux2_klein(tmp_path_factory.mktemp("models") / "tiny-klein")


@pytest.fixture(scope="module")
def zimage_turbo_dir(tmp_path_factory):
    from tests.tiny_models.tiny_zimage import build_tiny_zimage

    return build_tiny_zimage(tmp_path_factory.mktemp("models") / "tiny-Z-Image-Turbo")


def _pick(window, reference) -> None:
    """Pick a model in the model panel as a user does: its reference in the picker's box."""
    window.panel.model_picker.combo.setEditText(str(reference))
    assert window.state.model == str(reference)


def test_picking_klein_moves_steps_and_cfg_and_greys_cfg_with_the_reason(
    main_window, qtbot, klein_dir, tiny_model_dir, tmp_path
):
    window, panel = main_window, main_window.panel  # the tiny SD 1.x model
    window.state.update(steps=5, work_size="input")  # set by hand
    assert panel.cfg_spin.isEnabled() and panel.cfg_note.isHidden()
    _pick(window, klein_dir)
    assert window.state.model_family == "flux2-klein"
    assert (panel.steps_spin.value(), panel.cfg_spin.value()) == (4, 1.0)
    assert not panel.cfg_spin.isEnabled() and not panel.cfg_note.isHidden()
    assert panel.cfg_note.text().startswith("Not used: FLUX.2 Klein is distilled")
    assert panel.cfg_spin.toolTip() == panel.cfg_note.text()

    record = generate(qtbot, window)  # the pass Generate files runs with Klein's defaults
    assert (record.params["steps"], record.params["cfg"]) == (4, 1.0)
    assert record.params["model"]["family"] == "flux2-klein"

    panel.steps_spin.setValue(6)  # set by hand, then another Klein model: kept
    other = shutil.copytree(klein_dir, tmp_path / "other-klein")
    _pick(window, other)
    assert panel.steps_spin.value() == 6

    _pick(window, tiny_model_dir)
    assert (panel.steps_spin.value(), panel.cfg_spin.value()) == (5, 7.0)  # SD 1.x's, as left
    assert panel.cfg_spin.isEnabled() and panel.cfg_note.isHidden()


def test_picking_a_turbo_model_runs_few_steps_without_cfg(main_window, qtbot, zimage_turbo_dir):
    window, panel = main_window, main_window.panel
    window.state.work_size = "input"
    _pick(window, zimage_turbo_dir)
    assert window.state.model_family == "zimage"
    assert (panel.steps_spin.value(), panel.cfg_spin.value()) == (8, 0.0)
    assert not panel.cfg_spin.isEnabled()
    assert panel.cfg_note.text().startswith("Not used: a Turbo model runs with guidance off")

    record = generate(qtbot, window)
    assert (record.params["steps"], record.params["cfg"]) == (8, 0.0)
    few_step = record.params["few_step"]  # the engine had nothing to change
    assert few_step["kind"] == "turbo" and not {"steps_asked", "cfg_asked"} & set(few_step)


def test_the_next_run_keeps_the_saved_steps_of_a_klein_model(qtbot, klein_dir):
    """Saved settings put the model in first: its defaults give way to the saved values."""
    import main

    first = main.build_window(["--model", str(klein_dir)])
    qtbot.addWidget(first)
    assert (first.state.steps, first.state.cfg) == (4, 1.0)
    first.state.steps = 6  # set by hand
    first.close()

    second = main.build_window([])
    qtbot.addWidget(second)
    assert second.state.model == str(klein_dir)
    assert (second.panel.steps_spin.value(), second.state.cfg) == (6, 1.0)
    assert not second.panel.cfg_spin.isEnabled()
    second.close()
