"""The cyclic collector around model loads (core/models/collector.py) and background threads.

Stall lengths are measured by tests/benchmarks/bench_gui.py; here: what the policy does."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref

import pytest

from core.models import ModelManager, ModelSpec
from core.models.collector import forget_frozen, loading_quietly
from core.models.torch_preload import preload_torch_library
from core.threads import BACKGROUND_NICENESS, run_in_background


@pytest.fixture(autouse=True)
def _thaw():
    yield
    gc.unfreeze()
    gc.enable()


def test_loading_quietly_pauses_the_collector_and_freezes_what_it_loaded():
    gc.unfreeze()
    assert gc.isenabled()
    with loading_quietly():
        assert not gc.isenabled()
        with loading_quietly():  # nested loads: still paused after the inner one
            pass
        assert not gc.isenabled()
        loaded = [object() for _ in range(10)]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    del loaded


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    with loading_quietly():
        pass
    assert not gc.isenabled()


def test_a_failing_load_still_restores_the_collector():
    with pytest.raises(RuntimeError), loading_quietly():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_forget_frozen_gives_everything_back_and_collects_cycles():
    class Node:
        pass

    gc.unfreeze()
    with loading_quietly():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle only the collector can free
    probe = weakref.ref(a)
    del a, b
    gc.collect()
    assert probe() is not None  # frozen: full collections skip it
    forget_frozen()
    assert gc.get_freeze_count() == 0 and probe() is None


def test_a_model_load_freezes_and_an_unload_frees_the_pipeline(tiny_model_dir):
    gc.unfreeze()
    manager = ModelManager()
    model = manager.load(ModelSpec(str(tiny_model_dir), device="cpu"))
    assert gc.isenabled() and gc.get_freeze_count() > 0
    unet = weakref.ref(model.img2img_pipe.unet)
    del model
    manager.unload()
    assert unet() is None  # nothing of the old model is kept by the freeze
    assert gc.get_freeze_count() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_torch_library_is_loaded_ahead_of_the_import_in_a_fresh_process():
    assert preload_torch_library() is False  # torch is imported here already: nothing to do
    code = (
        "import sys\n"
        "from core.models.torch_preload import preload_torch_library\n"
        "def mapped():\n"
        "    return 'libtorch_cpu' in open('/proc/self/maps').read()\n"
        "before = mapped()\n"
        "loaded = preload_torch_library()\n"
        "print(before, loaded, mapped(), 'torch' in sys.modules)\n"
        "import torch\n"
        "print(torch.ones(2).sum().item())\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    # loaded by ctypes' libc dlopen (which releases the GIL), torch not imported yet; then the
    # import finds the library in place and works
    assert out == ["False", "True", "True", "False", "2.0"]


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="POSIX scheduling priorities")
def test_background_threads_run_at_a_lower_priority_than_the_gui():
    seen: list[tuple[bool, int]] = []

    def background() -> None:
        done = run_in_background()
        seen.append((done, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen[0] == (True, max(BACKGROUND_NICENESS, os.getpriority(os.PRIO_PROCESS, 0)))
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < BACKGROUND_NICENESS
