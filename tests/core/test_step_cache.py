"""The Speed setting: diffusers' cache hooks go on a transformer for one pass and come off after
it (the next pass with speed off is byte-identical to one before); UNets run every step."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.models import ModelSpec
from core.models.step_cache import SPEED_MODES, cache_config, step_caching
from tests.core import family_helpers as fh
from tests.tiny_models.step_counting import counting_computed_steps
from tests.tiny_models.tiny_flux import build_tiny_flux

STEPS = 12


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


def _pass(engine, spec, **kw):
    kw.setdefault("strength", 1.0)
    kw.setdefault("steps", STEPS)
    return fh.run(engine, spec, **kw)[0]


def test_fastest_computes_fewer_steps_and_off_afterwards_is_byte_identical(engine, flux_dir):
    off = ModelSpec(str(flux_dir), device="cpu")
    fastest = ModelSpec(str(flux_dir), device="cpu", speed="fastest")
    transformer = engine.models.load(off).base_pipe.transformer
    with counting_computed_steps(transformer) as computed:
        before = _pass(engine, off)
    assert computed[0] == STEPS and before.record["model"]["speed"] == "off"
    with counting_computed_steps(transformer) as computed:
        cached = _pass(engine, fastest)
    assert engine.models.loaded.base_pipe.transformer is transformer  # no reload for speed
    assert 0 < computed[0] < STEPS // 2
    assert cached.record["model"]["speed"] == "fastest (TaylorSeer)"
    assert cached.image.tobytes() != before.image.tobytes()
    assert not transformer.is_cache_enabled
    with counting_computed_steps(transformer) as computed:
        after = _pass(engine, off)
    assert computed[0] == STEPS
    assert after.image.tobytes() == before.image.tobytes()


def test_fast_runs_inpaint_with_the_first_block_cache_and_removes_it(engine, flux_dir):
    spec = ModelSpec(str(flux_dir), device="cpu", speed="fast")
    result = _pass(engine, spec, mask=fh.left_half_mask())
    assert result.record["model"]["speed"] == "fast (First-Block Cache)"
    assert not engine.models.loaded.base_pipe.transformer.is_cache_enabled


def test_hooks_come_off_when_the_pass_fails(flux_dir):
    from diffusers import FluxImg2ImgPipeline

    pipe = FluxImg2ImgPipeline.from_pretrained(flux_dir, local_files_only=True)
    with pytest.raises(RuntimeError), step_caching(pipe, "fast") as used:
        assert used.startswith("fast") and pipe.transformer.is_cache_enabled
        raise RuntimeError("the pass died")
    assert not pipe.transformer.is_cache_enabled


def test_a_unet_model_runs_every_step_and_says_so(tiny_model_dir):
    from diffusers import StableDiffusionImg2ImgPipeline

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(tiny_model_dir, safety_checker=None)
    notes: list[str] = []
    with step_caching(pipe, "fastest", notes.append) as used:
        assert used == "off"
    assert len(notes) == 1 and "UNet" in notes[0]


def test_every_speed_has_a_config_and_unknown_ones_are_refused():
    assert cache_config("off") is None
    assert all(cache_config(speed) is not None for speed in SPEED_MODES[1:])
    with pytest.raises(ValueError):
        cache_config("ludicrous")


def test_fast_on_flux2_klein_runs_every_step_with_a_note_instead_of_failing(tmp_path):
    """diffusers' First-Block Cache breaks on FLUX.2's blocks (a TypeError mid-pass): the pass
    runs without it, says so, and fastest (TaylorSeer) still caches there."""
    from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

    folder = build_tiny_flux2_klein(tmp_path / "tiny-klein")
    engine = Engine(previews=False)
    fast = ModelSpec(str(folder), device="cpu", speed="fast")
    result, events = fh.run(engine, fast, steps=4)
    assert result.record["model"]["speed"] == "off"
    assert any("First-Block Cache" in getattr(event, "message", "") for event in events)
    transformer = engine.models.loaded.base_pipe.transformer
    assert not transformer.is_cache_enabled
    fastest = ModelSpec(str(folder), device="cpu", speed="fastest")
    with counting_computed_steps(transformer) as computed:
        cached = fh.run(engine, fastest, steps=6)[0]
    assert cached.record["model"]["speed"] == "fastest (TaylorSeer)" and computed[0] < 6
