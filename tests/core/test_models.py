"""Model references: folders, single files, hub ids (offline cache), pickles, bundled configs."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from core.errors import ModelError
from core.models import ModelManager, ModelSpec, classify_reference, resolve_device, resolve_dtype
from core.models.files import BUNDLED_CONFIGS, bundled_config_for, detect_single_file_family


def test_classify_references(tiny_model_dir, tiny_single_file, tmp_path):
    assert classify_reference(str(tiny_model_dir)) == "folder"
    assert classify_reference(str(tiny_single_file)) == "single_file"
    assert classify_reference("stable-diffusion-v1-5/stable-diffusion-v1-5") == "hub"
    with pytest.raises(ModelError, match="no such model"):
        classify_reference(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ModelError, match="model_index.json"):
        classify_reference(str(tmp_path))
    with pytest.raises(ModelError, match="no model given"):
        classify_reference("  ")


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth"])
def test_pickle_checkpoints_are_refused_with_the_reason(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="pickles that can run code"):
        classify_reference(str(path))


def test_single_file_family_detection(tiny_single_file, tiny_inpaint_dir, tmp_path):
    from tests.tiny_models.ldm_export import export_single_file

    assert detect_single_file_family(tiny_single_file) == ("sd1", False)
    inpaint_file = export_single_file(tiny_inpaint_dir, tmp_path / "inpaint.safetensors")
    assert detect_single_file_family(inpaint_file) == ("sd1", True)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="broken.safetensors"):
        detect_single_file_family(broken)


def test_single_file_loads_like_its_folder(tiny_model_dir, tiny_single_file):
    import torch

    manager = ModelManager()
    folder = manager.load(ModelSpec(str(tiny_model_dir)))
    folder_weights = {k: v.clone() for k, v in folder.base_pipe.unet.state_dict().items()}
    single = manager.load(ModelSpec(str(tiny_single_file), config=str(tiny_model_dir)))
    assert single.weights_file == tiny_single_file
    for key, value in single.base_pipe.unet.state_dict().items():
        assert torch.equal(value, folder_weights[key]), key
    expected = hashlib.sha256(tiny_single_file.read_bytes()).hexdigest()[:10]
    assert single.wait_for_hash(timeout=30) == expected == single.hash


def test_model_stays_loaded_between_passes(tiny_model_dir):
    manager = ModelManager()
    spec = ModelSpec(str(tiny_model_dir))
    assert manager.load(spec) is manager.load(spec)


def test_hub_id_offline_and_not_cached_names_the_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="someone/not-cached"):
        ModelManager().load(ModelSpec("someone/not-cached"))


def test_hub_id_loads_from_the_cache_offline(monkeypatch, tmp_path, tiny_model_dir):
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--tester--tiny-sd"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    model = ModelManager().load(ModelSpec("tester/tiny-sd"))
    assert model.name == "tiny-sd" and not model.is_inpaint_model


def test_broken_folder_gives_one_line_error(tmp_path):
    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(ModelError) as err:
        ModelManager().load(ModelSpec(str(tmp_path)))
    assert "\n" not in str(err.value)


def test_device_and_dtype_resolution():
    import torch

    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.float16
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ModelError):
        resolve_dtype("fp8", "cpu")


def test_bundled_sd15_config_is_the_real_architecture():
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTokenizer

    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(BUNDLED_CONFIGS / "sd15" / "unet")
        )
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(BUNDLED_CONFIGS / "sd15" / "vae"))
    assert sum(p.numel() for p in unet.parameters()) == 859_520_964
    assert sum(p.numel() for p in vae.parameters()) == 83_653_863
    tokenizer = CLIPTokenizer.from_pretrained(BUNDLED_CONFIGS / "sd15" / "tokenizer")
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_bundled_inpaint_config_is_assembled():
    import json

    folder = bundled_config_for("sd1", is_inpaint=True)
    assert json.loads((folder / "unet" / "config.json").read_text())["in_channels"] == 9
    assert (folder / "tokenizer" / "vocab.json").is_file()
    assert bundled_config_for("kandinsky", is_inpaint=False) is None
