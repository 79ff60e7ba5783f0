"""An edit model in the window, on the tiny Qwen-Image-Edit-Plus model
(tests.tiny_models.tiny_qwen_image --edit-plus): the prompt box becomes the instruction and the
strength says it is not used; a pass with two edit references runs and records them; a third
is refused by the engine in one line on the banner, and no pass is filed.

As in tests/core/test_family_qwen_image_edit_plus.py, the pipeline's ~1 MP target area is made
64×64 here."""

from __future__ import annotations

import pytest

from core.hashing import pixel_hash
from tests.gui.session_helpers import TIMEOUT, generate
from tests.tiny_models.images import make_textured_image
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image_edit


@pytest.fixture(scope="module", autouse=True)
def small_edit_area():
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus_module

    original = plus_module.calculate_dimensions
    plus_module.calculate_dimensions = lambda area, ratio: original(64 * 64, ratio)
    yield
    plus_module.calculate_dimensions = original


@pytest.fixture(scope="module")
def plus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-qwen-edit-plus"
    return build_tiny_qwen_image_edit(folder, plus=True)


@pytest.fixture
def edit_window(qtbot, plus_dir, input_png):
    import main

    window = main.build_window([str(input_png), "--model", str(plus_dir)])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.state.update(steps=2, cfg=1.0, prompt="put image 2 in", seed_locked=True, seed=1)
    window.state.device = "cpu"
    yield window
    window.close()


def test_the_prompt_becomes_the_instruction_with_an_edit_model(edit_window, tiny_model_dir):
    window, panel = edit_window, edit_window.panel
    assert window.state.model_family == "qwen-image-edit-plus"
    assert panel.prompt_group.title() == "Instruction"
    assert "make the sky stormy" in panel.prompt_edit.placeholderText()
    assert not panel.strength_slider.isEnabled() and not panel.strength_spin.isEnabled()
    assert panel.steps_label.text().startswith("Not used: Qwen-Image-Edit-Plus edits")
    assert "takes up to 2 edit references" in panel.references_note.text()
    assert not panel.references_note.isHidden()

    window.state.model = str(tiny_model_dir)  # an SD 1.x folder: the usual words
    assert window.state.model_family == "sd1"
    assert panel.prompt_group.title() == "Prompt"
    assert panel.strength_slider.isEnabled() and panel.references_note.isHidden()
    assert panel.steps_label.text().endswith("of 30 steps will run")  # SD 1.x's default steps

    window.state.model = "someone/unknown-model"  # a hub id nobody knows: unknown, usual words
    assert window.state.model_family == "" and panel.prompt_group.title() == "Prompt"


def test_a_pass_with_two_references_runs_and_a_third_is_refused_on_the_banner(edit_window, qtbot):
    window = edit_window
    section = window.control_panel.edit_references
    references = [make_textured_image(48, 40, seed=seed) for seed in (1, 2, 3)]
    for number, picture in enumerate(references[:2]):
        assert section.add_picture(picture, f"ref{number}.png")

    record = generate(qtbot, window)
    assert record.params["edit_references"] == [
        {"hash": pixel_hash(picture), "width": 48, "height": 40} for picture in references[:2]
    ]
    assert record.image.size == window.tree.get("root").image.size
    tooltip = window.history.item(record.id).toolTip(0)
    assert "Edit reference: image 3 (48×40)" in tooltip

    assert section.add_picture(references[2], "ref2.png")
    count = len(window.tree)
    assert window.generate()  # the engine refuses it on the worker thread
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT)
    text = window.error_label.text()
    assert "Qwen-Image-Edit-Plus takes at most 2 reference pictures, got 3" in text
    assert "\n" not in text and window.error_banner.isVisible()
    assert len(window.tree) == count


def test_live_mode_with_an_edit_model_runs_every_step_with_the_references(edit_window, qtbot):
    window, live = edit_window, edit_window.live
    reference = make_textured_image(48, 40, seed=5)
    assert window.control_panel.edit_references.add_picture(reference, "ref.png")
    window.state.steps = 3
    live.set_live(True)
    qtbot.waitUntil(
        lambda: live.controller.frame is not None and not live.controller.loop.busy,
        timeout=TIMEOUT,
    )
    result = live.controller.frame.result
    assert result.request.edit_references == (reference,)
    assert result.effective_steps == result.request.steps == 3  # no strength: every step
    assert result.record["edit_references"][0]["hash"] == pixel_hash(reference)
    assert live.view.note_label.text() == "Qwen-Image-Edit-Plus edit: 3 steps, every one runs"
    assert len(window.tree) == 1  # live results are not filed
    live.set_live(False)


def test_a_model_that_takes_no_references_refuses_them_in_one_line(main_window, qtbot):
    window = main_window  # the tiny SD 1.x model
    assert window.state.model_family == "sd1"
    assert window.control_panel.edit_references.add_picture(make_textured_image(32, 32), "x")
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT)
    text = window.error_label.text()
    assert "takes no reference pictures" in text and "Qwen-Image-Edit-Plus" in text
    assert "\n" not in text and len(window.tree) == 1
