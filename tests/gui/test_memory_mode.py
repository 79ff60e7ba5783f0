"""The memory mode: a combo bound to GenerationParams.memory that reaches the engine's ModelSpec,
and a label with the mode and family the last pass really used."""

from __future__ import annotations

from PIL import ImageOps

from core.events import PassResult
from core.history import PassTree
from core.requests import MEMORY_MODES, SPEED_MODES
from gui.params.memory_mode import NOT_RUN_YET, MemoryModeBox, in_use_text
from gui.params.state import GenerationParams
from tests.tiny_models.images import make_image


def test_the_combo_offers_every_mode_and_binds_both_ways(qtbot):
    state = GenerationParams()
    box = MemoryModeBox(state)
    qtbot.addWidget(box)
    combo = box.combo
    assert [combo.itemText(i) for i in range(combo.count())] == list(MEMORY_MODES)
    assert combo.currentText() == "auto"
    combo.setCurrentText("sequential")
    assert state.memory == "sequential"
    assert state.model_spec().memory == "sequential"
    state.memory = "tiling"
    assert combo.currentText() == "tiling"
    state.restore({"memory": "no-such-mode"})
    assert combo.currentText() == "tiling"


def test_the_label_shows_the_mode_of_each_new_pass(qtbot):
    tree = PassTree()
    box = MemoryModeBox(GenerationParams(), tree)
    qtbot.addWidget(box)
    root = tree.set_root(make_image(64, 64), "Original")
    assert box.in_use_label.text() == NOT_RUN_YET
    model = {"name": "tiny", "family": "sdxl", "memory": "offload"}
    tree.add(root.id, make_image(64, 64), params={"strength": 0.5, "model": model})
    assert box.in_use_label.text() == "Last pass: CPU offload, SDXL model"
    # A record without a memory mode (an old project, a fake engine) leaves the label alone.
    tree.add(root.id, make_image(64, 64), params={"strength": 0.4})
    assert box.in_use_label.text() == "Last pass: CPU offload, SDXL model"
    assert (
        in_use_text({"model": {"memory": "none", "family": ""}})
        == "Last pass: whole model on the device"
    )
    assert in_use_text({"model": "tiny"}) is None


class RecordingEngine:
    """Returns the inverted picture with a record naming the memory mode it was asked for."""

    def __init__(self) -> None:
        self.specs: list = []

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.specs.append(spec)
        mode = "offload" if spec.memory == "auto" else spec.memory
        record = {"strength": request.strength, "model": {"family": "sd1", "memory": mode}}
        image = ImageOps.invert(request.image.convert("RGB"))
        return PassResult(image, request, 1, 2, 0.01, "fake", "", record)


def test_the_window_sends_the_mode_and_shows_the_one_in_use(qtbot, fake_window, monkeypatch):
    from gui.run import worker as worker_module
    from tests.gui.session_helpers import generate

    engine = RecordingEngine()
    monkeypatch.setattr(worker_module, "shared_engine", lambda: engine)
    window = fake_window
    combo = window.memory_box.combo
    assert combo.objectName() == "memoryCombo"
    generate(qtbot, window)
    assert engine.specs[-1].memory == "auto"
    assert window.memory_box.in_use_label.text() == "Last pass: CPU offload, SD 1.x model"
    combo.setCurrentText("sequential")
    generate(qtbot, window)
    assert engine.specs[-1].memory == "sequential"
    assert window.memory_box.in_use_label.text() == "Last pass: sequential offload, SD 1.x model"


def test_the_weights_and_speed_choices_reach_the_engine(qtbot, fake_window, monkeypatch):
    from gui.run import worker as worker_module
    from tests.gui.session_helpers import generate

    engine = RecordingEngine()
    monkeypatch.setattr(worker_module, "shared_engine", lambda: engine)
    box = fake_window.memory_box
    assert box.quantize_combo.objectName() == "quantizeCombo"
    assert box.speed_combo.objectName() == "speedCombo"
    assert [box.speed_combo.itemText(i) for i in range(box.speed_combo.count())] == list(
        SPEED_MODES
    )
    generate(qtbot, fake_window)
    assert (engine.specs[-1].quantize, engine.specs[-1].speed) == ("none", "off")
    box.quantize_combo.setCurrentText("int8")
    box.speed_combo.setCurrentText("fastest")
    generate(qtbot, fake_window)
    assert (engine.specs[-1].quantize, engine.specs[-1].speed) == ("int8", "fastest")
    fake_window.state.restore({"quantize": "int3", "speed": "warp"})  # a bad saved value
    assert box.quantize_combo.currentText() == "int8"


def test_the_label_tooltip_says_why_auto_chose_the_mode(qtbot):
    box = MemoryModeBox(GenerationParams())
    qtbot.addWidget(box)
    reason = "model 34.0 GB exceeds 12.0 GB free: one block group at a time"
    box.show_pass({"model": {"memory": "group+fp8", "family": "flux", "memory_reason": reason}})
    assert box.in_use_label.text() == "Last pass: group offload, fp8 weights, FLUX.1 model"
    assert reason in box.in_use_label.toolTip()


def test_out_of_memory_retry_is_a_window_setting_that_reaches_a_real_pass(
    qtbot, main_window, monkeypatch
):
    """The checkbox turns the engine's retry on: a real pass on the tiny model whose first
    denoise runs out of memory is filed once, run in the next lighter mode; unticked, the same
    failure is one line in the banner and nothing is filed."""
    from core.engine.pass_run import PassRun
    from gui.window.settings import Settings
    from tests.gui.session_helpers import TIMEOUT

    real = PassRun.img2img
    modes: list[str] = []

    def img2img(self, source):
        modes.append(self.model.memory_mode)
        if len(modes) % 2 == 1:  # every first try of a pass
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, source)

    monkeypatch.setattr(PassRun, "img2img", img2img)
    window = main_window
    window.state.update(device="cpu", memory="none", steps=2, strength=0.5)
    check = window.memory_box.oom_retry_check
    assert check.objectName() == "oomRetryCheck" and not check.isChecked()

    count = len(window.tree)
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT)
    assert len(window.tree) == count and "memory" in window.error_label.text().lower()
    modes.clear()

    check.setChecked(True)
    assert window.state.model_spec().oom_retry
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT)
    assert len(window.tree) == count + 1, window.error_label.text()
    assert modes == ["none", "tiling"]
    assert window.shown_record().params["model"]["memory"] == "tiling"

    window.save_settings()  # kept between sessions with the other model settings
    assert Settings.load().last_params["oom_retry"] is True


def test_the_compile_box_is_offered_only_where_it_can_run(qtbot, monkeypatch):
    from gui.params import memory_mode

    monkeypatch.setattr(memory_mode, "nvidia_driver_present", lambda: False)
    state = GenerationParams()
    box = MemoryModeBox(state)
    qtbot.addWidget(box)
    check = box.compile_check
    assert check.objectName() == "compileCheck"
    assert not check.isEnabled() and check.toolTip() == memory_mode.NO_NVIDIA

    monkeypatch.setattr(memory_mode, "nvidia_driver_present", lambda: True)
    gpu_box = MemoryModeBox(state)
    qtbot.addWidget(gpu_box)
    check = gpu_box.compile_check
    assert check.isEnabled() and check.toolTip() == memory_mode.COMPILE_HINT
    check.setChecked(True)
    assert state.compile and state.model_spec().compile
    state.device = "cpu"  # the engine would only note "compile: off on cpu"
    assert not check.isEnabled() and check.toolTip() == memory_mode.NOT_ON_DEVICE
    state.device = "cuda"
    assert check.isEnabled()
    state.restore({"compile": False})
    assert not check.isChecked()
