"""Model folders registered in place: fake AUTOMATIC1111 and ComfyUI trees of tiny synthetic
.safetensors files, rescans, the registry file (atomic, survives corruption), forgetting."""

from __future__ import annotations

import hashlib
import json

import pytest

from core.errors import ModelError
from core.library import registry
from core.library.registry import ModelLibrary
from tests.core.library_helpers import a1111_tree, comfyui_tree, write_model


def _by_name(items):
    return {item.name: item for item in items}


def _short_sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def test_an_a1111_folder_is_registered_in_place_with_kind_family_and_hash(tmp_path):
    root = a1111_tree(tmp_path / "webui")
    library = ModelLibrary(tmp_path / "library.json")
    seen = []
    found = _by_name(library.scan(root, on_item=seen.append))

    assert set(found) == {"dreamy_v1", "ponyish", "InkStyle", "control_canny", "vae-ft-mse"}
    assert [i.name for i in seen] == [i.name for i in library.scan(root)]  # reported as found
    expected = {
        "dreamy_v1": ("checkpoint", "sd1"),
        "ponyish": ("checkpoint", "sdxl"),
        "InkStyle": ("lora", "sd1"),
        "control_canny": ("controlnet", "sd1"),
        "vae-ft-mse": ("vae", ""),
    }
    for name, (kind, family) in expected.items():
        item = found[name]
        assert (item.kind, item.family, item.source) == (kind, family, "a1111"), name
        assert item.path.is_file() and root.resolve() in item.path.parents  # not copied
        assert item.hash == _short_sha(item.path) and item.size_bytes == item.path.stat().st_size
    problems = {p.path.name: p.reason for p in library.problems}
    assert set(problems) == {"old.ckpt", "broken.safetensors"}  # ESRGAN/ is not a model folder
    assert "refused" in problems["old.ckpt"] and "pickle" in problems["old.ckpt"]
    assert "broken.safetensors" in problems["broken.safetensors"]
    assert library.folders() == [root.resolve()]


def test_a_comfyui_folder_is_registered_with_every_kind(tmp_path):
    root = comfyui_tree(tmp_path)
    library = ModelLibrary(tmp_path / "library.json")
    found = _by_name(library.scan(root))
    kinds = {name: (item.kind, item.family) for name, item in found.items()}
    assert kinds == {
        "sdxl_base": ("checkpoint", "sdxl"),
        "detail": ("lora", "sd1"),
        "canny": ("controlnet", "sd1"),
        "ae": ("vae", ""),
        "flux1-schnell": ("unet", "flux"),
        "clip_l": ("text_encoder", ""),
    }
    assert {item.source for item in found.values()} == {"comfyui"}
    assert not library.problems
    models = _by_name(library.scan(root / "models"))  # its models/ folder alone works too
    assert set(models) == set(found) and {i.source for i in models.values()} == {"comfyui"}


def test_a_plain_folder_lists_a_diffusers_model_as_one_item(tmp_path):
    folder = tmp_path / "models" / "tiny-xl"
    (folder / "unet").mkdir(parents=True)
    index = {
        "_class_name": "StableDiffusionXLPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
    }
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "unet" / "config.json").write_text('{"cross_attention_dim": 2048}')
    write_model(folder / "unet" / "diffusion_pytorch_model.safetensors", "sdxl_checkpoint")
    write_model(tmp_path / "models" / "loose.safetensors", "sd1_checkpoint")
    library = ModelLibrary(tmp_path / "library.json")
    found = _by_name(library.scan(tmp_path / "models"))
    assert set(found) == {"tiny-xl", "loose"}  # the folder's own files are not listed
    assert (found["tiny-xl"].kind, found["tiny-xl"].family) == ("diffusers", "sdxl")
    assert found["tiny-xl"].source == "folder" and found["tiny-xl"].size_bytes > 1000


def test_rescans_read_only_new_or_changed_files_and_drop_missing_ones(tmp_path, monkeypatch):
    root = a1111_tree(tmp_path / "webui")
    library = ModelLibrary(tmp_path / "library.json")
    library.scan(root)
    read: list[str] = []
    real_detect = registry.detect_file
    monkeypatch.setattr(registry, "detect_file", lambda p: read.append(p.name) or real_detect(p))

    assert len(library.scan(root)) == 5 and read == ["broken.safetensors"]  # problems retried
    read.clear()
    write_model(root / "models" / "Lora" / "NewLora.safetensors", "sd1_lora")
    (root / "models" / "VAE" / "vae-ft-mse.safetensors").unlink()
    names = {item.name for item in library.scan(root)}
    assert read == ["NewLora.safetensors", "broken.safetensors"]
    assert "NewLora" in names and "vae-ft-mse" not in names
    assert "vae-ft-mse" not in {item.name for item in ModelLibrary(library.path).items()}


def test_the_registry_persists_and_forgetting_never_deletes_files(tmp_path):
    root = a1111_tree(tmp_path / "webui")
    comfy = comfyui_tree(tmp_path / "comfy")
    library = ModelLibrary(tmp_path / "library.json")
    library.scan(root)
    library.scan(comfy)

    again = ModelLibrary(tmp_path / "library.json")
    assert again.folders() == sorted([root.resolve(), comfy.resolve()])
    assert [i.name for i in again.items("lora")] == ["detail", "InkStyle"]
    assert (
        again.find_lora("inkstyle") == root.resolve() / "models" / "Lora" / "InkStyle.safetensors"
    )
    assert again.find_lora("nothing") is None

    lora = again.find("InkStyle")
    again.remove(lora.id)
    assert again.find_lora("InkStyle") is None and lora.path.is_file()
    again.remove(str(comfy))
    assert again.folders() == [root.resolve()]
    assert not [i for i in again.items() if comfy.resolve() in i.path.parents]
    assert (comfy / "models" / "checkpoints" / "sdxl_base.safetensors").is_file()
    with pytest.raises(ModelError, match="nothing in the model library"):
        again.remove("no-such-thing")


def test_the_registry_file_is_written_atomically(tmp_path, monkeypatch):
    import core.atomic

    root = a1111_tree(tmp_path / "webui")
    library = ModelLibrary(tmp_path / "library.json")
    library.scan(root)
    before = library.path.read_bytes()

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.atomic.os, "replace", fail)
    write_model(root / "models" / "Lora" / "More.safetensors", "sd1_lora")
    with pytest.raises(ModelError, match="cannot write .*library.json: No space left"):
        library.scan(root)
    assert library.path.read_bytes() == before
    assert [p.name for p in library.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_corrupt_registry_starts_empty_with_a_warning(tmp_path):
    path = tmp_path / "library.json"
    path.write_text('{"folders": [{"path": ')
    library = ModelLibrary(path)
    assert library.items() == [] and library.folders() == []
    assert len(library.warnings) == 1 and "starting with an empty library" in library.warnings[0]
    assert (tmp_path / "library.json.corrupt").is_file()
    library.scan(a1111_tree(tmp_path / "webui"))
    assert json.loads(path.read_text())["version"] == 1


def test_a_cancelled_scan_keeps_what_it_found(tmp_path):
    root = a1111_tree(tmp_path / "webui")
    library = ModelLibrary(tmp_path / "library.json")

    class Cancel:
        cancelled = False

    cancel = Cancel()

    def stop_after_first(item):
        cancel.cancelled = True

    found = library.scan(root, on_item=stop_after_first, cancel=cancel)
    assert len(found) == 1 and [i.name for i in library.items()] == [found[0].name]


def test_the_default_registry_lives_in_the_user_data_folder(tmp_path):
    from core.user_dirs import user_data_dir

    library = ModelLibrary()
    library.scan(comfyui_tree(tmp_path))
    assert library.path == user_data_dir() / "library.json" and library.path.is_file()


def test_a_hugging_face_cache_lists_its_snapshots_by_repo_id(tmp_path):
    snapshot = tmp_path / "hub" / "models--org--tiny-xl" / "snapshots" / "c0ffee"
    (snapshot / "unet").mkdir(parents=True)
    index = {"_class_name": "StableDiffusionXLPipeline"}
    (snapshot / "model_index.json").write_text(json.dumps(index))
    (tmp_path / "hub" / "models--org--tiny-xl" / "blobs").mkdir()
    (tmp_path / "hub" / "models--org--tiny-xl" / "blobs" / "a1b2").write_bytes(b"w" * 10)
    library = ModelLibrary(tmp_path / "library.json")
    (item,) = library.scan(tmp_path / "hub")
    assert (item.name, item.kind, item.family, item.source) == (
        "org/tiny-xl", "diffusers", "sdxl", "hub-cache",
    )  # fmt: skip


def test_a_dangling_link_is_reported_not_fatal(tmp_path):
    root = tmp_path / "models"
    write_model(root / "good.safetensors", "vae")
    (root / "gone.safetensors").symlink_to(tmp_path / "nowhere.safetensors")
    library = ModelLibrary(tmp_path / "library.json")
    assert [i.name for i in library.scan(root)] == ["good"]
    assert [p.path.name for p in library.problems] == ["gone.safetensors"]


@pytest.mark.parametrize(
    ("class_name", "family"),
    [
        ("ZImagePipeline", "zimage"),
        ("ChromaPipeline", "chroma"),
        ("QwenImagePipeline", "qwen-image"),
        ("QwenImageEditPipeline", "qwen-image-edit"),
        ("QwenImageEditInpaintPipeline", "qwen-image-edit"),
        ("FluxPipeline", "flux"),
        ("WanPipeline", ""),  # unsupported: listed without a family, not a failed scan
    ],
)
def test_scanned_transformer_folders_get_the_loaders_family(tmp_path, class_name, family):
    folder = tmp_path / "models" / "model"
    (folder / "transformer").mkdir(parents=True)
    index = {"_class_name": class_name, "transformer": ["diffusers", "SomeTransformer"]}
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "transformer" / "config.json").write_text('{"in_channels": 64}')
    library = ModelLibrary(tmp_path / "library.json")
    found = _by_name(library.scan(tmp_path / "models"))
    assert (found["model"].kind, found["model"].family) == ("diffusers", family)
