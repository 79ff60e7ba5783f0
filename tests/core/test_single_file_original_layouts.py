"""Transformer files of FLUX.2 Klein, Chroma and Qwen-Image(-Edit) in the layouts their makers
and ComfyUI share them (tests.tiny_models.original_export, checked against diffusers' own
converters): told as their family, loaded by ``--model FILE`` with the rest from a (fake) HF
cache repo, converted to the tiny model's exact weights, and run."""

from __future__ import annotations

import pytest

from core.cli.main import main
from core.library.detect import detect_file
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from tests.core.single_file_helpers import (
    chroma_converter_at_width,
    fake_hub_cache,
    state_dicts_equal,
)
from tests.tiny_models.images import make_image
from tests.tiny_models.original_export import (
    COMFY_PREFIX,
    QWEN_2511_MARKER,
    TO_ORIGINAL,
    export_original,
)

# family → (the tiny diffusers transformer's class, the repo a user would have cached)
_CLASSES = {
    "zimage": "ZImageTransformer2DModel",
    "flux2-klein": "Flux2Transformer2DModel",
    "chroma": "ChromaTransformer2DModel",
    "qwen-image": "QwenImageTransformer2DModel",
}
_CHROMA_WIDTH = 32  # the tiny Chroma's inner width (the real one: 3072)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.fixture
def tiny_chroma_width(monkeypatch):
    """diffusers' Chroma converter hard-codes the real width (3072): for the tiny model, its
    own code at the tiny width."""
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    converter = chroma_converter_at_width(_CHROMA_WIDTH)
    entry = SINGLE_FILE_LOADABLE_CLASSES["ChromaTransformer2DModel"]
    monkeypatch.setitem(entry, "checkpoint_mapping_fn", converter)


def _diffusers_converter(family: str):
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    return SINGLE_FILE_LOADABLE_CLASSES[_CLASSES[family]]["checkpoint_mapping_fn"]


def _tiny_transformer(family: str):
    from tests.tiny_models import tiny_chroma, tiny_flux2_klein, tiny_zimage

    if family == "qwen-image":
        from tests.tiny_models.qwen_tokenizer import build_qwen_tokenizer
        from tests.tiny_models.tiny_qwen_image import build_qwen_image_components

        return build_qwen_image_components(build_qwen_tokenizer())["transformer"]
    builders = {
        "zimage": tiny_zimage.build_zimage_components,
        "flux2-klein": tiny_flux2_klein.build_flux2_klein_components,
        "chroma": tiny_chroma.build_chroma_components,
    }
    return builders[family]()["transformer"]


@pytest.mark.parametrize("family", sorted(_CLASSES))
def test_each_original_layout_converts_back_exactly(family, tiny_chroma_width):
    """The inverse mappings the tests write files with are diffusers' converters run backwards."""
    import torch

    state = _tiny_transformer(family).state_dict()
    original = TO_ORIGINAL[family](state)
    assert original.keys() != state.keys() or family == "qwen-image"
    back = _diffusers_converter(family)(checkpoint=dict(original), config={})
    assert back.keys() == state.keys()
    assert [key for key in state if not torch.equal(back[key], state[key])] == []


def _generate(file, tmp_path, capsys, *extra: str) -> dict:
    """One pass through the CLI with ``--model FILE``; the pass record."""
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image(64, 64).save(picture)
    args = ["generate", str(picture), "-o", str(out), "--model", str(file), "--device", "cpu"]
    assert main([*args, "--steps", "2", *extra]) == 0, capsys.readouterr().err
    return read_metadata(out)["record"]


def _loads_exactly(file, folder, class_name: str):
    """Load ``file`` as the app does; its transformer equals the folder's."""
    import diffusers

    model = ModelManager().load(ModelSpec(str(file), device="cpu"))
    reference = getattr(diffusers, class_name).from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    return model


@pytest.fixture(scope="module")
def klein(tmp_path_factory):
    from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

    return build_tiny_flux2_klein(tmp_path_factory.mktemp("klein-original") / "klein")


@pytest.mark.parametrize("prefix", ["", COMFY_PREFIX])
def test_klein_in_bfls_layout_loads_exactly_and_edits(
    klein, prefix, hub_cache, tmp_path, capsys
):
    file = export_original(klein, tmp_path / "flux-2-klein-4b-finetune.safetensors",
                           "flux2-klein", prefix)  # fmt: skip
    info = detect_file(file)
    assert (info.kind, info.family) == ("unet", "flux2-klein")
    assert "diffusers layout" not in info.notes
    fake_hub_cache(hub_cache, "black-forest-labs/FLUX.2-klein-4B", klein)
    model = _loads_exactly(file, klein, "Flux2Transformer2DModel")
    assert model.family == "flux2-klein"
    record = _generate(file, tmp_path, capsys, "--prompt", "make it blue")
    assert record["model"]["family"] == "flux2-klein"


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    from tests.tiny_models.tiny_chroma import build_tiny_chroma

    return build_tiny_chroma(tmp_path_factory.mktemp("chroma-original") / "chroma")


@pytest.mark.parametrize("prefix", ["", COMFY_PREFIX])
def test_chroma_in_its_own_layout_loads_exactly_and_runs(
    chroma, prefix, hub_cache, tiny_chroma_width, tmp_path, capsys
):
    file = export_original(chroma, tmp_path / "Chroma1-HD-finetune.safetensors", "chroma", prefix)
    info = detect_file(file)
    assert (info.kind, info.family) == ("unet", "chroma")
    assert "diffusers layout" not in info.notes
    fake_hub_cache(hub_cache, "lodestones/Chroma1-HD", chroma)
    model = _loads_exactly(file, chroma, "ChromaTransformer2DModel")
    assert model.family == "chroma"
    record = _generate(file, tmp_path, capsys, "--strength", "0.6")
    assert record["model"]["family"] == "chroma"


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    """(tiny Qwen-Image folder, tiny Qwen-Image-Edit-Plus folder)."""
    from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image, build_tiny_qwen_image_edit

    root = tmp_path_factory.mktemp("qwen-original")
    return build_tiny_qwen_image(root / "qwen"), build_tiny_qwen_image_edit(root / "edit", plus=True)


def test_qwen_image_as_comfyui_ships_it_loads_exactly_and_runs(qwen, hub_cache, tmp_path, capsys):
    folder = qwen[0]
    file = export_original(folder, tmp_path / "qwen_image_bf16.safetensors", "qwen-image",
                           COMFY_PREFIX)  # fmt: skip
    info = detect_file(file)
    assert (info.kind, info.family) == ("unet", "qwen-image")
    fake_hub_cache(hub_cache, "Qwen/Qwen-Image", folder)
    model = _loads_exactly(file, folder, "QwenImageTransformer2DModel")
    assert model.family == "qwen-image"
    record = _generate(file, tmp_path, capsys, "--strength", "0.6")
    assert record["model"]["family"] == "qwen-image"
