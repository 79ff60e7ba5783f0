"""IP-Adapter references on the tiny SD 1.x model: scale 0, unloading, the shared image encoder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from core.conditioning import ip_adapter
from core.conditioning.ip_adapter_files import resolve_adapter
from core.conditioning.specs import ControlLayer, Reference
from core.errors import InvalidRequest, ModelError
from core.hashing import pixel_hash
from tests.core.conditioning_helpers import (
    base_request,
    cpu_spec,
    make_controlnet,
    make_ip_adapter,
    pixels,
    square_mask,
)
from tests.tiny_models.images import make_image


@pytest.fixture(scope="module")
def adapter(tiny_model_dir, tmp_path_factory):
    return make_ip_adapter(tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="module")
def sd1_spec(tiny_model_dir):
    return cpu_spec(tiny_model_dir)


@pytest.fixture(scope="module")
def baseline(engine, sd1_spec):
    return engine.run_pass(base_request(), sd1_spec)


REFERENCE = make_image(48, 40, seed=3)


def test_scale_zero_equals_no_reference_and_a_scale_changes_the_output(
    engine, sd1_spec, adapter, baseline
):
    zero = engine.run_pass(
        base_request(references=(Reference(str(adapter), REFERENCE, 0.0),)), sd1_spec
    )
    used = engine.run_pass(
        base_request(references=(Reference(str(adapter), REFERENCE, 1.0),)), sd1_spec
    )
    assert np.array_equal(pixels(zero.image), pixels(baseline.image))
    assert not np.array_equal(pixels(used.image), pixels(baseline.image))
    assert used.record["references"] == [
        {
            "model": str(adapter),
            "scale": 1.0,
            "mode": "standard",
            "image_hash": pixel_hash(REFERENCE),
        }
    ]
    after = engine.run_pass(base_request(), sd1_spec)  # the adapter is unloaded again
    assert np.array_equal(pixels(after.image), pixels(baseline.image))
    assert "references" not in after.record


def test_the_image_encoder_loads_once_for_every_pipeline_and_reference(
    engine, sd1_spec, adapter, tiny_model_dir, tmp_path_factory, baseline
):
    controlnet = make_controlnet(tmp_path_factory, tiny_model_dir)
    two = (
        Reference(str(adapter), REFERENCE, 0.8),
        Reference(str(adapter.parent), make_image(32, 32, seed=9), 0.4),
    )
    engine.run_pass(base_request(references=two), sd1_spec)
    engine.run_pass(base_request(references=two[:1], mask=square_mask()), sd1_spec)
    both = engine.run_pass(
        base_request(references=two, controls=(ControlLayer(str(controlnet)),)), sd1_spec
    )
    engine.run_pass(base_request(), sd1_spec)
    engine.run_pass(base_request(references=two[1:]), sd1_spec)
    state = ip_adapter.state_for(engine.models.loaded)
    assert state.encoder_loads == 1
    assert [r["scale"] for r in both.record["references"]] == [0.8, 0.4]
    assert len(both.record["controls"]) == 1


def test_style_and_composition_need_sdxl(engine, sd1_spec, adapter):
    request = base_request(references=(Reference(str(adapter), REFERENCE, mode="style"),))
    with pytest.raises(ModelError, match="need an SDXL model") as caught:
        engine.run_pass(request, sd1_spec)
    assert "\n" not in str(caught.value)


def test_the_image_encoder_is_found_by_its_embedding_size(adapter, tmp_path):
    files = resolve_adapter(str(adapter), "sd1")
    assert files.weights == adapter and files.encoder == adapter.parent / "image_encoder"
    # h94 layout: sdxl_models/<adapter> with the ViT-H encoder in models/image_encoder, while
    # sdxl_models/image_encoder is another size.
    repo = tmp_path / "repo"
    (repo / "sdxl_models").mkdir(parents=True)
    shutil.copy(adapter, repo / "sdxl_models" / adapter.name)
    shutil.copytree(adapter.parent / "image_encoder", repo / "models" / "image_encoder")
    other = repo / "sdxl_models" / "image_encoder"
    other.mkdir()
    config = json.loads((adapter.parent / "image_encoder" / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "projection_dim": 1280}))
    found = resolve_adapter(str(repo / "sdxl_models" / adapter.name), "sdxl")
    assert found.encoder == repo / "models" / "image_encoder"


def test_missing_adapters_and_encoders_are_one_line_errors(adapter, tmp_path):
    with pytest.raises(ModelError, match="no IP-Adapter at"):
        resolve_adapter(str(tmp_path / "none.safetensors"), "sd1")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(adapter, lonely / adapter.name)
    with pytest.raises(ModelError, match="image encoder of the IP-Adapter") as caught:
        resolve_adapter(str(lonely), "sd1")
    assert "\n" not in str(caught.value)
    with pytest.raises(ModelError, match="not in the Hugging Face cache"):
        resolve_adapter("h94/IP-Adapter", "sd1")


def test_regional_prompts_and_references_are_refused_together(engine, sd1_spec, adapter):
    from core.conditioning.regions import Region

    request = base_request(
        references=(Reference(str(adapter), REFERENCE),),
        regions=(Region(square_mask(), "a red door"),),
    )
    with pytest.raises(InvalidRequest, match="cannot be combined"):
        engine.run_pass(request, sd1_spec)


def test_an_ip_adapter_is_found_by_its_name_in_the_scanned_folders(adapter, tmp_path):
    from core.library.registry import ModelLibrary

    models = tmp_path / "models"
    shutil.copytree(adapter.parent, models / "ipadapter")
    ModelLibrary().scan(models, hashes=False)
    files = resolve_adapter(adapter.stem, "sd1")
    assert files.weights == models / "ipadapter" / adapter.name
    assert files.encoder == models / "ipadapter" / "image_encoder"
