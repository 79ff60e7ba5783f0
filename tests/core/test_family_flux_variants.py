"""FLUX.1 Fill and FLUX.1 Kontext on tiny models (tests.tiny_models.tiny_flux): Fill inpaints (and
img2img repaints the whole picture with it); Kontext's img2img is an instruction edit that runs
every step (strength noted as not applying), its inpaint and strength map run its inpaint
pipeline."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_flux import build_tiny_flux


@pytest.fixture(scope="module")
def engine():
    return Engine()  # with previews


@pytest.fixture(scope="module")
def shared_engine(engine):
    """The CLI tests reuse this module's engine."""
    return engine


@pytest.fixture(scope="module")
def fill_dir(tmp_path_factory):
    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux-fill", "fill")


@pytest.fixture(scope="module")
def kontext_dir(tmp_path_factory):
    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux-kontext", "kontext")


def test_fill_loads_as_an_inpainting_model(engine, fill_dir):
    model = engine.models.load(ModelSpec(str(fill_dir), device="cpu"))
    assert model.family == "flux-fill" and model.is_inpaint_model
    assert type(model.inpaint_pipe).__name__ == "FluxFillPipeline"
    assert model.img2img_pipe is None


def test_fill_passes(engine, fill_dir):
    spec = ModelSpec(str(fill_dir), device="cpu")
    fh.check_img2img(engine, spec, "flux-fill", steps_run=2)
    fh.check_inpaint(engine, spec, "flux-fill")
    fh.check_strength_map(engine, spec, "flux-fill")


@pytest.mark.usefixtures("one_cli_engine")
def test_cli_on_fill(fill_dir, tmp_path):
    fh.check_cli(fill_dir, tmp_path, "flux-fill")


def test_kontext_edit_runs_every_step_and_notes_strength(engine, kontext_dir):
    spec = ModelSpec(str(kontext_dir), device="cpu")
    model = engine.models.load(spec)
    assert model.family == "flux-kontext"
    assert type(model.img2img_pipe).__name__ == "FluxKontextPipeline"
    record = fh.check_img2img(engine, spec, "flux-kontext", steps_run=fh.STEPS)
    assert "strength did not apply" in record["strength_note"]


def test_kontext_inpaint_and_strength_map(engine, kontext_dir):
    spec = ModelSpec(str(kontext_dir), device="cpu")
    record = fh.check_inpaint(engine, spec, "flux-kontext")
    assert "strength_note" not in record
    assert type(engine.models.loaded.inpaint_pipe).__name__ == "FluxKontextInpaintPipeline"
    fh.check_strength_map(engine, spec, "flux-kontext")


@pytest.mark.usefixtures("one_cli_engine")
def test_cli_on_kontext(kontext_dir, tmp_path):
    fh.check_cli(kontext_dir, tmp_path, "flux-kontext")
