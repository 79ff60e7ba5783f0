"""GGUF transformer files: a tiny FLUX transformer written as Q8_0 GGUF loads with the base's
encoders and VAE (--model-config), stays quantized, runs img2img and inpaint, and is recorded."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.errors import ModelError
from core.models import ModelSpec
from core.models.gguf_files import gguf_info
from core.models.quantize import is_quantized
from tests.core import family_helpers as fh
from tests.tiny_models.tiny_flux import build_tiny_flux

pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="module")
def gguf_file(flux_dir, tmp_path_factory):
    from tests.tiny_models.tiny_gguf import write_gguf_transformer

    return write_gguf_transformer(flux_dir, tmp_path_factory.mktemp("gguf") / "tiny-Q8_0.gguf")


def test_the_family_and_quant_type_come_from_the_file(gguf_file):
    assert gguf_info(gguf_file).family == "flux"
    assert gguf_info(gguf_file).quant_type == "Q8_0"


def test_a_gguf_transformer_runs_img2img_and_inpaint(gguf_file, flux_dir):
    engine = Engine(previews=False)
    spec = ModelSpec(str(gguf_file), str(flux_dir), "cpu")
    result, _ = fh.run(engine, spec, steps=3)
    transformer = engine.models.loaded.base_pipe.transformer
    assert is_quantized(transformer)
    assert type(transformer.transformer_blocks[0].attn.to_q.weight).__name__ == "GGUFParameter"
    assert result.record["model"]["quantize"] == "gguf Q8_0"
    assert result.record["model"]["family"] == "flux" and fh.changed(result).any()
    inpainted, _ = fh.run(engine, spec, steps=3, mask=fh.left_half_mask())
    assert inpainted.record["kind"] == "inpaint"
    assert engine.models.loaded.inpaint_pipe.transformer is transformer


def test_a_file_that_is_not_gguf_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    with pytest.raises(ModelError) as caught:
        gguf_info(bad)
    assert "broken.gguf" in str(caught.value) and "\n" not in str(caught.value)
