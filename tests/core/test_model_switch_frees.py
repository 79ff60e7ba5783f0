"""Switching models frees the previous one completely: nothing keeps its modules alive (not the
engine's caches, a quantized inpaint pipeline, nor the step-cache hooks of its last pass)."""

from __future__ import annotations

import gc
import weakref

import pytest

from core.engine import Engine
from core.models import ModelSpec
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_flux import build_tiny_flux


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


def test_the_previous_model_is_gone_after_a_switch(tiny_model_dir, tiny_inpaint_dir, flux_dir):
    pytest.importorskip("torchao")
    engine = Engine(previews=False)
    quantized = ModelSpec(str(tiny_model_dir), device="cpu", quantize="int8")
    fh.run(engine, quantized, mask=fh.left_half_mask())  # builds the shared inpaint pipeline
    old = engine.models.loaded
    gone = [weakref.ref(m) for m in (old.base_pipe, old.base_pipe.unet, old.inpaint_pipe)]
    del old
    cached = ModelSpec(str(flux_dir), device="cpu", speed="fastest")
    fh.run(engine, cached, steps=6, strength=1.0)
    transformer = weakref.ref(engine.models.loaded.base_pipe.transformer)
    fh.run(engine, ModelSpec(str(tiny_inpaint_dir), device="cpu"), mask=fh.left_half_mask())
    gc.collect()
    assert all(ref() is None for ref in gone)
    assert transformer() is None
