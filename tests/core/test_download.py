"""Hub downloads against a local fake hub (real huggingface_hub calls over HTTP): only the files
the pipeline uses, fp16 variants on CUDA, byte progress, cancel and resume, gated and offline
one-liners, removing a cached model."""

from __future__ import annotations

import pytest

from core.errors import ModelError, PassCancelled
from core.events import ModelLoading
from core.library import download
from core.library.catalog import cached_path
from core.library.download import download_model
from core.library.hub_cache import remove_cached
from core.models import ModelManager, ModelSpec
from tests.core.fake_hub import REPO, FakeHub

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
    fake = FakeHub(tiny_model_dir, tmp_path / "hub").install(monkeypatch)
    yield fake
    fake.close()


def _cpu_files(hub: FakeHub) -> set[str]:
    return CPU_FILES & set(hub.files)  # the tiny tokenizer has fewer files


class _Token:
    cancelled = False


def test_a_cpu_download_fetches_only_what_the_pipeline_loads(hub):
    events: list = []
    model = ModelManager().load(ModelSpec(REPO, device="cpu"), events.append)
    assert hub.fetched() == _cpu_files(hub)
    assert model.name == "tiny-sd" and model.base_pipe.feature_extractor is None
    assert cached_path(REPO) == hub.snapshot()


def test_fp16_weights_are_preferred_where_the_repo_has_them(hub):
    download_model(REPO, lambda event: None, fp16=True)
    files = hub.fetched()
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in files
    assert "vae/diffusion_pytorch_model.fp16.safetensors" in files
    assert "text_encoder/model.fp16.safetensors" in files
    assert "unet/diffusion_pytorch_model.safetensors" not in files
    assert not any(name.endswith((".bin", ".ckpt", ".pt")) for name in files)
    assert not any(name.startswith(("safety_checker/", "feature_extractor/")) for name in files)
    assert "unet/diffusion_pytorch_model.non_ema.safetensors" not in files


def test_a_component_without_fp16_files_falls_back_to_the_full_ones(hub):
    del hub.files["vae/diffusion_pytorch_model.fp16.safetensors"]
    download_model(REPO, lambda event: None, fp16=True)
    files = hub.fetched()
    assert "vae/diffusion_pytorch_model.safetensors" in files
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in files


def test_download_progress_is_the_fraction_of_bytes(hub, monkeypatch):
    monkeypatch.setattr(download, "CHUNK_BYTES", 4096)
    events: list[ModelLoading] = []
    download_model(REPO, events.append)
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert len(fractions) >= 4
    assert all(b > a for a, b in zip(fractions, fractions[1:], strict=False)), fractions
    assert fractions[-1] == pytest.approx(1.0)
    total = sum(len(hub.files[name]) for name in _cpu_files(hub))
    assert events[-1].message == f"Downloading {REPO}: {download.size_text(total, total)}"


def test_a_cancelled_download_resumes_where_it_stopped(hub, monkeypatch):
    monkeypatch.setattr(download, "CHUNK_BYTES", 1024)
    token = _Token()

    def cancel_halfway(event: ModelLoading) -> None:
        if event.fraction is not None and event.fraction > 0.4:
            token.cancelled = True

    with pytest.raises(PassCancelled):
        download_model(REPO, cancel_halfway, token)
    partial = list(hub.snapshot().parent.parent.glob("blobs/*.incomplete"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0
    kept = partial[0].stat().st_size
    assert cached_path(REPO) is None  # not complete enough to load

    hub.bytes_served, hub.requests = 0, []
    folder = download_model(REPO, lambda event: None)
    resumed = [r for m, _, r in hub.requests if m == "GET" and r]
    assert resumed == [f"bytes={kept}-"]
    total = sum(len(hub.files[name]) for name in _cpu_files(hub))
    done_before = total - hub.bytes_served  # bytes not served again: files kept + the partial
    assert done_before >= kept
    unet = "unet/diffusion_pytorch_model.safetensors"
    assert (hub.snapshot() / unet).read_bytes() == hub.files[unet]
    assert folder == str(hub.snapshot()) and cached_path(REPO) == hub.snapshot()
    for name in _cpu_files(hub):
        assert (hub.snapshot() / name).read_bytes() == hub.files[name], name


def test_a_partial_file_is_continued_not_restarted(hub, monkeypatch):
    """Bytes served on the second try = the file's size minus the partial file's."""
    monkeypatch.setattr(download, "CHUNK_BYTES", 1024)
    download_model(REPO, lambda event: None)
    unet = "unet/diffusion_pytorch_model.safetensors"
    blob = (hub.snapshot() / unet).resolve()
    data = hub.files[unet]
    remove_cached(REPO)
    blob.parent.mkdir(parents=True)
    blob.with_name(blob.name + ".incomplete").write_bytes(data[:5000])
    others = sum(len(hub.files[n]) for n in _cpu_files(hub) if n != unet)

    hub.bytes_served = 0
    download_model(REPO, lambda event: None)
    assert hub.bytes_served == others + len(data) - 5000
    assert (hub.snapshot() / unet).read_bytes() == data


def test_a_gated_repo_says_it_needs_a_token(hub):
    hub.gated = True
    with pytest.raises(ModelError) as caught:
        download_model(REPO, lambda event: None)
    message = str(caught.value)
    assert "gated" in message and "HF_TOKEN" in message and "\n" not in message


def test_offline_without_the_model_is_one_line(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the Hugging Face cache.*offline") as caught:
        download_model(REPO, lambda event: None)
    assert "\n" not in str(caught.value)


def test_no_network_without_the_model_is_one_line(hub, monkeypatch):
    from huggingface_hub import constants

    hub.close()  # nothing answers at the endpoint any more
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelError, match="not in the Hugging Face cache.*no network") as caught:
        download_model(REPO, lambda event: None)
    assert "\n" not in str(caught.value)


def test_offline_a_cached_model_is_found(hub, monkeypatch):
    download_model(REPO, lambda event: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_model(REPO, lambda event: None) == str(hub.snapshot())


def test_remove_cached_deletes_the_model_and_says_what_it_freed(hub):
    download_model(REPO, lambda event: None)
    freed = remove_cached(REPO)
    assert freed >= len(hub.files["unet/diffusion_pytorch_model.safetensors"])
    assert cached_path(REPO) is None and not hub.snapshot().exists()
    with pytest.raises(ModelError, match="not in the Hugging Face cache"):
        remove_cached(REPO)


def test_a_repo_with_only_pickled_weights_is_refused(hub):
    del hub.files["unet/diffusion_pytorch_model.safetensors"]
    del hub.files["unet/diffusion_pytorch_model.fp16.safetensors"]
    del hub.files["unet/diffusion_pytorch_model.non_ema.safetensors"]
    with pytest.raises(ModelError, match="unet.*pickle"):
        download_model(REPO, lambda event: None)


def test_a_partial_file_that_is_already_whole_is_not_fetched_again(hub):
    download_model(REPO, lambda event: None)
    unet = "unet/diffusion_pytorch_model.safetensors"
    blob = (hub.snapshot() / unet).resolve()
    remove_cached(REPO)
    blob.parent.mkdir(parents=True)
    blob.with_name(blob.name + ".incomplete").write_bytes(hub.files[unet])
    hub.requests = []
    download_model(REPO, lambda event: None)
    assert unet not in hub.fetched()
    assert (hub.snapshot() / unet).read_bytes() == hub.files[unet]
