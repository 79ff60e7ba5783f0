"""Live mode with the edit models on the real window (Qwen-Image-Edit-Plus has its own test in
tests/gui/test_edit_model_window.py): the tiny Qwen-Image-Edit (tests.tiny_models.tiny_qwen_image
--edit), which takes no references, edits the whole picture and, with a mask, repaints under it
with its own inpaint pipeline and the strength; the tiny FLUX.2 Klein
(tests.tiny_models.tiny_flux2_klein) with and without references, and with a mask, where its own
inpaint pipeline uses the strength. Live results are never filed.

As in tests/core/test_family_qwen_image_edit.py, the edit pipeline's ~1 MP target area is made
64×64 here."""

from __future__ import annotations

import numpy as np
import pytest

from core.hashing import pixel_hash
from core.imaging.masks import blur_mask
from core.requests import effective_steps
from tests.gui.session_helpers import TIMEOUT, drag
from tests.tiny_models.images import make_textured_image
from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image_edit


@pytest.fixture(scope="module", autouse=True)
def small_edit_area():
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as edit_module

    original = edit_module.calculate_dimensions
    edit_module.calculate_dimensions = lambda area, ratio: original(64 * 64, ratio)
    yield
    edit_module.calculate_dimensions = original


@pytest.fixture(scope="module")
def qwen_edit_dir(tmp_path_factory):
    return build_tiny_qwen_image_edit(tmp_path_factory.mktemp("models") / "tiny-qwen-edit")


@pytest.fixture(scope="module")
def klein_dir(tmp_path_factory):
    return build_tiny_flux2_klein(tmp_path_factory.mktemp("models") / "tiny-klein")


def _window(qtbot, model_dir, input_png):
    import main

    window = main.build_window([str(input_png), "--model", str(model_dir)])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.state.update(steps=3, strength=0.5, prompt="make it red", seed_locked=True, seed=1)
    window.state.update(device="cpu", work_size="input")
    return window


@pytest.fixture
def qwen_window(qtbot, qwen_edit_dir, input_png):
    window = _window(qtbot, qwen_edit_dir, input_png)
    yield window
    window.close()


@pytest.fixture
def klein_window(qtbot, klein_dir, input_png):
    window = _window(qtbot, klein_dir, input_png)
    yield window
    window.close()


def _frame(qtbot, live, after=None):
    """The next finished live frame (another than ``after``)."""
    controller = live.controller
    qtbot.waitUntil(
        lambda: (
            controller.frame is not None
            and controller.frame is not after
            and not controller.loop.busy
        ),
        timeout=TIMEOUT,
    )
    return controller.frame


def _kept_outside(window, result) -> bool:
    """Whether every pixel outside the pass's blurred mask keeps the input's bytes."""
    outside = np.asarray(blur_mask(result.request.mask, window.state.mask_blur)) == 0
    root = np.asarray(window.tree.get("root").image.convert("RGB"))
    assert outside.any() and not outside.all()
    return np.array_equal(np.asarray(result.image.convert("RGB"))[outside], root[outside])


def test_live_qwen_image_edit_runs_every_step_and_a_mask_inpaints_with_the_strength(
    qwen_window, qtbot
):
    window, live = qwen_window, qwen_window.live
    assert window.state.model_family == "qwen-image-edit"
    live.set_live(True)
    whole = _frame(qtbot, live)
    assert whole.result.request.mask is None and whole.result.request.edit_references == ()
    assert whole.result.effective_steps == whole.result.request.steps == 3  # every step
    assert whole.result.record["pipeline"] == "QwenImageEditPipeline"
    assert live.view.note_label.text() == "Qwen-Image-Edit edit: 3 steps, every one runs"

    drag(window.canvas, [(20, 20), (50, 40)])  # a mask: its own inpaint pipeline, strength
    masked = _frame(qtbot, live, after=whole)
    result = masked.result
    assert result.request.mask is not None and result.record["pipeline"] == (
        "QwenImageEditInpaintPipeline"
    )
    assert result.effective_steps == int(3 * result.request.strength) >= 1
    assert "alignment" not in result.record  # repainted in place: nothing to align
    assert live.view.note_label.text() == (
        "Qwen-Image-Edit inpaint under the mask: 3 steps × the strength"
    )
    assert _kept_outside(window, result)
    assert len(window.tree) == 1  # live results are not filed
    live.set_live(False)


def test_live_qwen_image_edit_refuses_a_reference_in_one_line(qwen_window, qtbot):
    window, live = qwen_window, qwen_window.live
    assert window.control_panel.edit_references.add_picture(make_textured_image(48, 40), "r.png")
    live.set_live(True)
    label = live.view.error_label
    qtbot.waitUntil(lambda: label.isVisible() and not live.controller.loop.busy, timeout=TIMEOUT)
    assert "takes no reference pictures" in label.text() and "\n" not in label.text()
    assert live.controller.frame is None and len(window.tree) == 1
    live.set_live(False)


def test_live_klein_with_and_without_references(klein_window, qtbot):
    window, live = klein_window, klein_window.live
    assert window.state.model_family == "flux2-klein"
    live.set_live(True)
    alone = _frame(qtbot, live)
    assert alone.result.request.edit_references == ()
    assert alone.result.effective_steps == 3  # no strength: every step
    assert alone.result.record["pipeline"] == "Flux2KleinPipeline"
    assert live.view.note_label.text() == "FLUX.2 Klein edit: 3 steps, every one runs"

    references = [make_textured_image(72, 64, seed=seed) for seed in (1, 2)]
    section = window.control_panel.edit_references
    for number, picture in enumerate(references):
        assert section.add_picture(picture, f"ref{number}.png")  # each an edit live mode follows
    with_refs = _frame(qtbot, live, after=alone)
    assert with_refs.result.request.edit_references == tuple(references)
    hashes = [item["hash"] for item in with_refs.result.record["edit_references"]]
    assert hashes == [pixel_hash(picture) for picture in references]
    assert not np.array_equal(np.asarray(with_refs.result.image), np.asarray(alone.result.image))
    assert len(window.tree) == 1
    live.set_live(False)


def test_live_klein_with_a_mask_inpaints_with_the_strength(klein_window, qtbot):
    window, live = klein_window, klein_window.live
    window.state.steps = 4
    assert window.control_panel.edit_references.add_picture(make_textured_image(72, 64), "r")
    live.set_live(True)
    whole = _frame(qtbot, live)
    assert live.view.note_label.text() == "FLUX.2 Klein edit: 4 steps, every one runs"
    drag(window.canvas, [(20, 20), (50, 40)])  # painted while live: the note follows
    result = _frame(qtbot, live, after=whole).result
    assert result.request.mask is not None and len(result.request.edit_references) == 1
    assert result.record["pipeline"] == "Flux2KleinInpaintPipeline"
    assert result.effective_steps == effective_steps(4, 0.5) == 2  # the strength applies
    note = live.view.note_label.text()
    assert note == "FLUX.2 Klein inpaint under the mask: 4 steps × the strength"
    assert _kept_outside(window, result)
    assert len(window.tree) == 1
    live.set_live(False)
