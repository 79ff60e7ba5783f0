"""Live mode on every family that is not an edit model (SD 2.x, SDXL, SD 3.5, FLUX.1, Fill,
Kontext, Z-Image, Chroma, Qwen-Image; SD 1.x: tests/gui/test_live_mode.py, the edit models:
tests/gui/test_live_edit_models.py), each on its tiny model in the real window: turning it on
renders the picture at the live step count (``int(steps × strength)`` steps where the
whole-picture pass takes a strength), a stroke re-renders with the mask as an inpaint pass that
leaves every pixel beyond the mask's blur byte-identical, and nothing is filed."""

from __future__ import annotations

import numpy as np
import pytest

from core.imaging.masks import blur_mask
from tests.gui.session_helpers import TIMEOUT, drag
from tests.tiny_models.tiny_chroma import build_tiny_chroma
from tests.tiny_models.tiny_flux import build_tiny_flux
from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image
from tests.tiny_models.tiny_sd2 import build_tiny_sd2
from tests.tiny_models.tiny_sd3 import build_tiny_sd3
from tests.tiny_models.tiny_sdxl import build_tiny_sdxl
from tests.tiny_models.tiny_zimage import build_tiny_zimage

BUILDERS = {
    "sd2": build_tiny_sd2,
    "sdxl": build_tiny_sdxl,
    "sd3": build_tiny_sd3,
    "flux": build_tiny_flux,
    "flux-fill": lambda folder: build_tiny_flux(folder, "fill"),
    "flux-kontext": lambda folder: build_tiny_flux(folder, "kontext"),
    "zimage": build_tiny_zimage,
    "chroma": build_tiny_chroma,
    "qwen-image": build_tiny_qwen_image,
}
# Whole-picture passes that do not run int(steps × strength) steps: Fill fills the whole
# picture, Kontext edits it.
NO_STRENGTH_STEPS = {"flux-fill", "flux-kontext"}


@pytest.fixture(params=list(BUILDERS))
def family_window(request, qtbot, tmp_path_factory, input_png):
    import main

    family = request.param
    folder = BUILDERS[family](tmp_path_factory.mktemp("models") / f"tiny-{family}")
    window = main.build_window([str(input_png), "--model", str(folder)])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.state.update(steps=4, strength=0.5, prompt="a test", seed_locked=True, seed=1)
    window.state.device = "cpu"
    window.state.work_size = "input"  # auto would run Qwen-Image at its ~1.7 MP (tiny or not)
    yield family, window
    window.live.set_live(False)
    window.close()


def _next_frame(qtbot, live, after=None):
    qtbot.waitUntil(
        lambda: (
            live.controller.frame is not None
            and live.controller.frame is not after
            and not live.controller.loop.busy
        ),
        timeout=TIMEOUT,
    )
    return live.controller.frame


def test_live_mode_renders_and_a_stroke_inpaints_leaving_the_rest_exact(family_window, qtbot):
    family, window = family_window
    live = window.live
    assert window.state.model_family == family  # the window tells SD 2.x by its UNet too
    live.set_live(True)
    first = _next_frame(qtbot, live)
    assert first.result.record["model"]["family"] == family
    assert first.result.request.mask is None
    steps = first.result.request.steps
    if family not in NO_STRENGTH_STEPS:
        assert first.result.effective_steps == int(steps * 0.5) >= 1
    assert first.result.effective_steps >= 1

    drag(window.canvas, [(10, 10), (30, 20), (40, 30)])
    frame = _next_frame(qtbot, live, after=first)
    result = frame.result
    assert result.request.mask is not None and result.request.is_inpaint
    source = np.asarray(window.tree.current.image.convert("RGB"))
    out = np.asarray(result.image.convert("RGB"))
    assert out.shape == source.shape
    # Where the blurred mask the result is pasted back through is 0: untouched.
    away = np.asarray(blur_mask(result.request.mask, result.request.mask_blur)) == 0
    assert away.sum() > source.shape[0] * source.shape[1] // 4
    assert np.array_equal(out[away], source[away])  # byte-identical
    assert not np.array_equal(out, source)  # and the masked area did change
    assert len(window.tree) == 1  # live results are not filed
