"""Out of memory with --oom-retry: the pass runs once more in the next lighter memory mode."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.engine.memory import OutOfMemory
from core.engine.pass_run import PassRun
from core.models import ModelSpec
from core.models.memory_choice import next_lighter_mode
from tests.core import family_helpers as fh


@pytest.fixture
def fail_once(monkeypatch):
    """The first denoise of the test raises CUDA's out-of-memory error."""
    real = PassRun.img2img
    calls: list[str] = []

    def img2img(self, source):
        calls.append(self.model.memory_mode)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, source)

    monkeypatch.setattr(PassRun, "img2img", img2img)
    return calls


def test_a_pass_that_runs_out_of_memory_retries_once_lighter(tiny_model_dir, fail_once):
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cpu", memory="none", oom_retry=True)
    result, events = fh.run(engine, spec)
    assert fail_once == ["none", "tiling"]
    assert result.record["model"]["memory"] == "tiling"
    assert any("retrying once with tiling" in getattr(e, "message", "") for e in events)


def test_without_the_setting_it_fails_in_one_line(tiny_model_dir, fail_once):
    engine = Engine(previews=False)
    spec = ModelSpec(str(tiny_model_dir), device="cpu", memory="none")
    with pytest.raises(OutOfMemory):
        fh.run(engine, spec)
    assert fail_once == ["none"]


def test_the_lighter_modes_run_out_after_sequential():
    chain = ["none"]
    while (lighter := next_lighter_mode(chain[-1])) is not None:
        chain.append(lighter)
    assert chain == ["none", "tiling", "offload", "group", "sequential"]
    assert next_lighter_mode("group+fp8") == "sequential"
