"""The curated catalog and which of its models the HF cache holds (read from disk only)."""

from __future__ import annotations

import pytest

from core.library import catalog
from core.library.catalog import CATALOG, DEFAULT_MODEL_ID, cached_path, cached_size, entry
from core.models.families import FAMILIES

REQUIRED = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "stable-diffusion-v1-5/stable-diffusion-inpainting",
    "stabilityai/sd-turbo",
    "stabilityai/stable-diffusion-xl-base-1.0",
    "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    "stabilityai/sdxl-turbo",
    "black-forest-labs/FLUX.1-schnell",
    "black-forest-labs/FLUX.1-Fill-dev",
    "Tongyi-MAI/Z-Image-Turbo",
    "lodestones/Chroma1-HD",
    "Qwen/Qwen-Image",
    "Qwen/Qwen-Image-Edit",
    "Qwen/Qwen-Image-Edit-2509",
    "black-forest-labs/FLUX.2-klein-4B",
    "black-forest-labs/FLUX.2-klein-9B",
}


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_the_catalog_has_the_required_models_with_what_the_manager_shows():
    assert {e.id for e in CATALOG} >= REQUIRED
    assert len({e.id for e in CATALOG}) == len(CATALOG)
    for item in CATALOG:
        assert item.family in FAMILIES, item
        assert item.size_bytes > 1_000_000_000 and item.licence and item.good_for, item
        assert "\n" not in item.good_for
    assert entry("black-forest-labs/FLUX.1-Fill-dev").inpaint
    assert entry("black-forest-labs/FLUX.1-Fill-dev").gated
    assert entry("stable-diffusion-v1-5/stable-diffusion-inpainting").inpaint
    assert not entry("black-forest-labs/FLUX.1-schnell").gated


def test_edit_models_are_told_before_they_load_and_offer_what_their_family_takes():
    """The model manager's edit models: the hub id alone tells an edit model (the panel's edit
    mode before any download), and the reference count offered is the family's limit."""
    import re

    from core.models.families import is_edit_reference

    for item in CATALOG:
        info = FAMILIES[item.family]
        assert is_edit_reference(item.id) == info.edit, item.id
        offered = re.search(r"up to (\d+) reference", item.good_for)
        assert (int(offered.group(1)) if offered else 0) == info.max_references, item.id
    assert entry("black-forest-labs/FLUX.2-klein-4B").family == "flux2-klein"
    assert entry("Qwen/Qwen-Image-Edit-2509").family == "qwen-image-edit-plus"


def test_klein_9b_is_listed_gated_and_non_commercial_with_its_bf16_size():
    """FLUX.2 Klein 9B: its hub licence (non-commercial), gated (the licence is accepted on
    huggingface.co first), a ~9B transformer and Qwen3-8B in bf16: about 34.6 GB, twice 4B's."""
    nine = entry("black-forest-labs/FLUX.2-klein-9B")
    four = entry("black-forest-labs/FLUX.2-klein-4B")
    assert nine is not None and four is not None
    assert nine.family == "flux2-klein" and nine.name == "FLUX.2 Klein 9B"
    assert nine.licence == "FLUX Non-Commercial License v2.1" and nine.gated
    assert "Non-Commercial" in entry("black-forest-labs/FLUX.1-dev").licence  # said the same way
    assert 33_000_000_000 < nine.size_bytes < 36_000_000_000
    assert nine.size_bytes > 2 * four.size_bytes
    assert not four.gated and four.licence == "Apache-2.0"


def test_the_default_is_small_open_and_serves_img2img_and_inpaint():
    default = entry(DEFAULT_MODEL_ID)
    assert default is not None and not default.gated and not default.inpaint
    assert default.size_bytes < 3_000_000_000  # fits a laptop


def test_entry_ignores_case_and_knows_nothing_else():
    assert entry("StabilityAI/SD-Turbo") is entry("stabilityai/sd-turbo")
    assert entry("someone/else") is None


def _snapshot(cache, repo_id: str, files: dict[str, bytes]):
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = folder / "snapshots" / "c0ffee"
    for name, data in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(data)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text("c0ffee")
    (folder / "blobs").mkdir(exist_ok=True)
    (folder / "blobs" / "b1").write_bytes(b"x" * 1234)
    return snapshot


PIPELINE = {
    "model_index.json": b'{"_class_name": "StableDiffusionPipeline", '
    b'"unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"], '
    b'"scheduler": ["diffusers", "EulerDiscreteScheduler"], "safety_checker": [null, null]}',
    "unet/config.json": b"{}",
    "unet/diffusion_pytorch_model.fp16.safetensors": b"w",
    "vae/config.json": b"{}",
    "vae/diffusion_pytorch_model.safetensors": b"w",
    "scheduler/scheduler_config.json": b"{}",
}


def test_a_complete_snapshot_is_cached(hub_cache):
    assert cached_path("stabilityai/sd-turbo") is None  # nothing there yet
    snapshot = _snapshot(hub_cache, "stabilityai/sd-turbo", PIPELINE)
    assert cached_path("stabilityai/sd-turbo") == snapshot
    assert cached_size("stabilityai/sd-turbo") == 1234


def test_a_snapshot_missing_weights_is_not_cached(hub_cache):
    files = dict(PIPELINE)
    del files["unet/diffusion_pytorch_model.fp16.safetensors"]  # still downloading
    _snapshot(hub_cache, "stabilityai/sd-turbo", files)
    assert cached_path("stabilityai/sd-turbo") is None


def test_a_snapshot_missing_a_component_is_not_cached(hub_cache):
    files = {k: v for k, v in PIPELINE.items() if not k.startswith("vae/")}
    _snapshot(hub_cache, "stabilityai/sd-turbo", files)
    assert cached_path("stabilityai/sd-turbo") is None


def test_a_single_model_repo_is_cached_with_its_config_and_weights(hub_cache):
    files = {"config.json": b"{}", "diffusion_pytorch_model.safetensors": b"w"}
    snapshot = _snapshot(hub_cache, "madebyollin/sdxl-vae-fp16-fix", files)
    assert cached_path("madebyollin/sdxl-vae-fp16-fix") == snapshot


def test_cached_status_never_touches_the_network(hub_cache, monkeypatch):
    import huggingface_hub
    import huggingface_hub.file_download
    import huggingface_hub.hf_api
    import huggingface_hub.utils  # all imported before the patch: none keeps the fake

    def no_network(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(huggingface_hub.utils, "get_session", no_network)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", no_network)
    _snapshot(hub_cache, "stabilityai/sd-turbo", PIPELINE)
    assert [e.id for e in CATALOG if catalog.cached_path(e.id)] == ["stabilityai/sd-turbo"]
