"""The compile warm-up (core.engine.compile_warm): after a load with regional compilation, one
throw-away pass of one step at the size the next pass will run compiles the kernels there; a
model that was not compiled runs nothing."""

from __future__ import annotations

import pytest
from PIL import Image

from core.conditioning.specs import LoraSpec
from core.engine import CancelToken, Engine
from core.engine.compile_warm import compile_warm_request, warm_compiled
from core.errors import PassCancelled
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image


def _user_request() -> PassRequest:
    """A pass as a user would ask for it: masked, only-masked, a prompt, a LoRA, many steps."""
    mask = Image.new("L", (200, 152), 0)
    mask.paste(255, (40, 40, 120, 100))
    return PassRequest(
        image=make_image(200, 152),
        prompt="a castle",
        negative_prompt="blurry",
        strength=0.35,
        steps=30,
        cfg=5.5,
        seed=1234,
        mask=mask,
        inpaint_area="masked",
        loras=(LoraSpec("style.safetensors", 0.8),),
        work_size="input",
    )


def test_the_warm_request_keeps_the_shapes_and_drops_the_rest():
    user = _user_request()
    warm = compile_warm_request(user).validate()
    assert warm.image.size == user.image.size and warm.output_size() == user.output_size()
    assert (warm.cfg, warm.work_size, warm.scheduler) == (user.cfg, "input", user.scheduler)
    assert (warm.steps, warm.strength, warm.effective_steps) == (1, 1.0, 1)
    assert warm.mask is None and warm.loras == () and warm.prompt == "" and warm.seed == 0
    assert warm.image.getextrema() == ((128, 128),) * 3


@pytest.fixture
def engine_runs(monkeypatch):
    """An engine whose run_pass records each (request, result)."""
    engine = Engine(previews=False)
    runs: list[tuple[PassRequest, object]] = []
    real = engine.run_pass

    def run_pass(request, spec, on_event=None, cancel=None):
        result = real(request, spec, on_event, cancel)
        runs.append((request, result))
        return result

    monkeypatch.setattr(engine, "run_pass", run_pass)
    return engine, runs


def test_a_model_that_was_not_compiled_runs_nothing(tiny_model_dir, engine_runs):
    engine, runs = engine_runs
    spec = ModelSpec(str(tiny_model_dir), device="cpu", compile=True)
    engine.models.load(spec)
    assert engine.models.loaded.compiled == "off"  # a CPU: compile is CUDA only
    assert warm_compiled(engine, _user_request(), spec) == ""
    assert runs == []


def test_a_compiled_model_runs_one_step_at_the_pass_size(tiny_model_dir, engine_runs, monkeypatch):
    import core.models.loading as loading

    monkeypatch.setattr(loading, "compile_repeated_blocks", lambda *a, **k: "regional")
    engine, runs = engine_runs
    spec = ModelSpec(str(tiny_model_dir), device="cpu", compile=True)
    engine.models.load(spec)
    assert engine.models.loaded.compiled == "regional"

    note = warm_compiled(engine, _user_request(), spec)
    assert note.startswith("compiled for 200×152 in ") and note.endswith(" s")
    [(request, result)] = runs
    assert request.steps == 1 and request.mask is None
    assert result.image.size == (200, 152) and result.effective_steps == 1
    assert result.record["model"]["compile"] == "regional"

    token = CancelToken()
    token.cancel()  # a pass on another model cancels the warm-up: nothing more runs
    with pytest.raises(PassCancelled):
        warm_compiled(engine, _user_request(), spec, token)
    assert len(runs) == 1
