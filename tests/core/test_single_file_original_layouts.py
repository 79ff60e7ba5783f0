"""Transformer files of FLUX.2 Klein, Chroma and Qwen-Image(-Edit) in the layouts their makers
and ComfyUI share them (tests.tiny_models.original_export, checked against diffusers' own
converters): told as their family, loaded by ``--model FILE`` with the rest from a (fake) HF
cache repo, converted to the tiny model's exact weights, and run; an Edit-Plus file runs as its
own release (2509/2511) whatever Edit-Plus repo is cached; the layouts diffusers cannot convert
(Chroma1-Radiance, weights stored with per-layer scales) are refused in one line."""

from __future__ import annotations

import pytest

from core.cli.main import main
from core.errors import ModelError
from core.library.detect import detect_file
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from tests.core import family_helpers as fh
from tests.core.single_file_helpers import (
    chroma_converter_at_width,
    fake_hub_cache,
    state_dicts_equal,
    write_header_file,
)
from tests.tiny_models.images import make_image
from tests.tiny_models.original_export import (
    COMFY_PREFIX,
    QWEN_2511_MARKER,
    TO_ORIGINAL,
    export_original,
)

# family → its diffusers transformer class (whose single-file converter the layout is)
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


def _load_and_run(file, folder, class_name: str, **request):
    """Load ``file`` as ``--model FILE`` does (its transformer must equal the folder's), then
    run a pass with it; (the loaded model, the pass record)."""
    import diffusers

    from core.engine import Engine

    engine, spec = Engine(), ModelSpec(str(file), device="cpu")
    model = engine.models.load(spec)
    reference = getattr(diffusers, class_name).from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    result, _ = fh.run(engine, spec, steps=2, **request)
    return model, result.record


@pytest.fixture(scope="module")
def klein(tmp_path_factory):
    from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

    return build_tiny_flux2_klein(tmp_path_factory.mktemp("klein-original") / "klein")


@pytest.mark.parametrize("prefix", ["", COMFY_PREFIX])
def test_klein_in_bfls_layout_loads_exactly_and_edits(klein, prefix, hub_cache, tmp_path):
    file = export_original(klein, tmp_path / "flux-2-klein-4b-finetune.safetensors",
                           "flux2-klein", prefix)  # fmt: skip
    info = detect_file(file)
    assert (info.kind, info.family) == ("unet", "flux2-klein")
    assert "diffusers layout" not in info.notes
    fake_hub_cache(hub_cache, "black-forest-labs/FLUX.2-klein-4B", klein)
    model, record = _load_and_run(file, klein, "Flux2Transformer2DModel", prompt="make it blue")
    assert model.family == record["model"]["family"] == "flux2-klein"


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
    model, _ = _load_and_run(file, chroma, "ChromaTransformer2DModel", strength=0.6)
    assert model.family == "chroma"
    record = _generate(file, tmp_path, capsys, "--strength", "0.6")  # from the command line
    assert record["model"]["family"] == "chroma"


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    """(tiny Qwen-Image folder, tiny Qwen-Image-Edit-Plus folder)."""
    from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image, build_tiny_qwen_image_edit

    root = tmp_path_factory.mktemp("qwen-original")
    edit_plus = build_tiny_qwen_image_edit(root / "edit", plus=True)
    return build_tiny_qwen_image(root / "qwen"), edit_plus


@pytest.mark.parametrize("prefix", ["", COMFY_PREFIX])
def test_qwen_image_as_comfyui_ships_it_loads_exactly_and_runs(qwen, prefix, hub_cache, tmp_path):
    folder = qwen[0]
    file = export_original(folder, tmp_path / "qwen_image_bf16.safetensors", "qwen-image", prefix)
    info = detect_file(file)
    assert (info.kind, info.family) == ("unet", "qwen-image")
    fake_hub_cache(hub_cache, "Qwen/Qwen-Image", folder)
    model, record = _load_and_run(file, folder, "QwenImageTransformer2DModel")
    assert model.family == record["model"]["family"] == "qwen-image"


def _with_zero_cond_t(folder, out, value: bool):
    """A copy of the Edit-Plus ``folder`` whose transformer config says ``zero_cond_t``."""
    import json
    import shutil

    shutil.copytree(folder, out)
    config_file = out / "transformer" / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config_file.write_text(json.dumps({**config, "zero_cond_t": value}), encoding="utf-8")
    return out


_PLUS = "qwen-image-edit-plus"


@pytest.mark.parametrize(("name", "marker", "donor", "family", "zero_cond_t"), [
    # ComfyUI's 2511 under any name: its marker says 2511, whatever the cached Edit-Plus repo
    ("qwen_edit_finetune.safetensors", True, "Qwen/Qwen-Image-Edit-2509", _PLUS, True),
    # a 2509 file, or the first Edit's, with only 2511 cached: their own conditioning
    ("qwen_image_edit_2509_finetune.safetensors", False, "Qwen/Qwen-Image-Edit-2511", _PLUS, False),
    ("Qwen-Image-Edit_finetune.safetensors", False, "Qwen/Qwen-Image-Edit-2511", "qwen-image-edit",
     False),
])  # fmt: skip
def test_qwen_edit_files_run_as_their_own_release(
    qwen, name, marker, donor, family, zero_cond_t, hub_cache, tmp_path
):
    folder = _with_zero_cond_t(qwen[1], tmp_path / "donor", not zero_cond_t)
    extra = {QWEN_2511_MARKER: _empty_tensor()} if marker else None
    file = export_original(qwen[1], tmp_path / name, "qwen-image", COMFY_PREFIX, extra)
    info = detect_file(file)
    assert (info.kind, info.family) == ("unet", family)
    fake_hub_cache(hub_cache, donor, folder)
    model, record = _load_and_run(file, qwen[1], "QwenImageTransformer2DModel", prompt="blue")
    assert model.base_pipe.transformer.config.zero_cond_t is zero_cond_t
    assert record["model"]["family"] == family


def _empty_tensor():
    import torch

    return torch.empty(0)


_QKV = ("BF16", [9216, 3072])
_UNCONVERTIBLE = {
    # Chroma1-Radiance: Chroma's blocks, a pixel-space head diffusers has no class for
    "Chroma1-Radiance-v0.4.safetensors": (
        {"distilled_guidance_layer.in_proj.bias": ("BF16", [5120]),
         "double_blocks.0.img_attn.qkv.weight": _QKV,
         "img_in_patch.weight": ("BF16", [3072, 3, 16, 16]),
         "nerf_blocks.0.norm.scale": ("BF16", [64])},
        "Chroma1-Radiance (pixel-space) transformer, which diffusers cannot load yet",
    ),
    # ComfyUI's scaled fp8 (the scaled_fp8 marker, a scale beside each weight)
    "chroma_fp8_scaled.safetensors": (
        {f"{COMFY_PREFIX}distilled_guidance_layer.in_proj.bias": ("BF16", [5120]),
         f"{COMFY_PREFIX}double_blocks.0.img_attn.qkv.weight": ("F8_E4M3", [9216, 3072]),
         f"{COMFY_PREFIX}double_blocks.0.img_attn.qkv.scale_weight": ("F32", [1]),
         "scaled_fp8": ("F8_E4M3", [0])},
        "quantised with per-layer scales",
    ),
    # BFL's and ComfyUI's newer fp8 / NVFP4 files: weight_scale, input_scale, comfy_quant
    "flux-2-klein-4b-fp8.safetensors": (
        {"img_in.weight": ("F8_E4M3", [3072, 128]),
         "txt_in.weight": ("F8_E4M3", [3072, 7680]),
         "txt_in.weight_scale": ("F32", []),
         "txt_in.input_scale": ("F32", []),
         "single_stream_modulation.lin.weight": ("F8_E4M3", [9216, 3072])},
        "quantised with per-layer scales",
    ),
    "qwen_image_edit_2511_fp8mixed.safetensors": (
        {f"{COMFY_PREFIX}txt_norm.weight": ("BF16", [3584]),
         f"{COMFY_PREFIX}transformer_blocks.0.img_mod.1.weight": ("F8_E4M3", [18432, 3072]),
         f"{COMFY_PREFIX}transformer_blocks.0.img_mod.1.weight_scale": ("F32", []),
         f"{COMFY_PREFIX}transformer_blocks.0.img_mod.1.comfy_quant": ("U8", [60]),
         f"{COMFY_PREFIX}{QWEN_2511_MARKER}": ("F32", [0])},
        "quantised with per-layer scales",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_UNCONVERTIBLE))
def test_layouts_diffusers_cannot_convert_are_refused_in_one_line(name, tmp_path, capsys):
    tensors, reason = _UNCONVERTIBLE[name]
    file = write_header_file(tmp_path / name, tensors)
    with pytest.raises(ModelError) as err:
        ModelManager().load(ModelSpec(str(file), device="cpu"))
    assert reason in str(err.value) and "\n" not in str(err.value)
    picture = tmp_path / "in.png"
    make_image(64, 64).save(picture)
    args = ["generate", str(picture), "-o", str(tmp_path / "out.png"), "--model", str(file)]
    assert main(args) != 0
    assert not (tmp_path / "out.png").exists()
    assert reason in capsys.readouterr().err
