"""Hub downloads (faked): only the files the pipeline uses, fp16 variants on CUDA, byte progress."""

from __future__ import annotations

import pytest

from core.events import ModelLoading
from core.models import ModelManager, ModelSpec
from core.library.download import download_model
from tests.core.fake_hub import FakeHub

CPU_FILES = {
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
}


@pytest.fixture
def hub(tiny_model_dir, tmp_path, monkeypatch):
    return FakeHub(tiny_model_dir, tmp_path / "hub").install(monkeypatch)


def _downloaded(hub: FakeHub) -> set[str]:
    files: set[str] = set()
    for call in hub.calls:
        files |= hub.selected(call["allow_patterns"])
    return files


def test_a_cpu_download_fetches_only_what_the_pipeline_loads(hub):
    events: list = []
    model = ModelManager().load(ModelSpec("tester/tiny-sd", device="cpu"), events.append)
    assert _downloaded(hub) == CPU_FILES & set(hub.files)
    assert model.name == "tiny-sd" and model.base_pipe.feature_extractor is None


def test_fp16_weights_are_preferred_where_the_repo_has_them(hub):
    download_model("tester/tiny-sd", lambda event: None, fp16=True)
    files = _downloaded(hub)
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in files
    assert "vae/diffusion_pytorch_model.fp16.safetensors" in files
    assert "text_encoder/model.fp16.safetensors" in files
    assert "unet/diffusion_pytorch_model.safetensors" not in files
    assert not any(name.endswith((".bin", ".ckpt", ".pt")) for name in files)
    assert not any(name.startswith(("safety_checker/", "feature_extractor/")) for name in files)
    assert "unet/diffusion_pytorch_model.non_ema.safetensors" not in files


def test_a_component_without_fp16_files_falls_back_to_the_full_ones(hub):
    del hub.files["vae/diffusion_pytorch_model.fp16.safetensors"]
    download_model("tester/tiny-sd", lambda event: None, fp16=True)
    files = _downloaded(hub)
    assert "vae/diffusion_pytorch_model.safetensors" in files
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in files


def test_download_progress_is_the_fraction_of_bytes(hub):
    events: list[ModelLoading] = []
    download_model("tester/tiny-sd", events.append)
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert len(fractions) >= 4
    assert all(b > a for a, b in zip(fractions, fractions[1:], strict=False)), fractions
    assert fractions[-1] == pytest.approx(1.0)
    halfway = next(e for e in events if e.fraction and 0.3 < e.fraction < 0.8)
    assert halfway.message.startswith("Downloading tester/tiny-sd: ")
    assert halfway.message.endswith(" of 4.2 GB"), halfway.message


def test_a_repo_with_only_pickled_weights_is_refused(hub):
    from core.errors import ModelError

    del hub.files["unet/diffusion_pytorch_model.safetensors"]
    del hub.files["unet/diffusion_pytorch_model.fp16.safetensors"]
    del hub.files["unet/diffusion_pytorch_model.non_ema.safetensors"]
    with pytest.raises(ModelError, match="unet.*pickle"):
        download_model("tester/tiny-sd", lambda event: None)
