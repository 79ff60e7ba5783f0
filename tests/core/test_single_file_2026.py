"""Transformer-only files of the 2026 families (FLUX.2 Klein, Chroma, Z-Image, Qwen-Image and
-Edit): told apart from their header keys and shapes (their makers' layouts, ComfyUI's prefix,
diffusers' layout), loaded offline with the rest from a (fake) HF cache repo of the family or
``--model-config``, and run; a missing repo, FLUX.2 [dev] and a Klein of another size are
refused in one line."""

from __future__ import annotations

import pytest

from core.cli.main import main
from core.errors import ModelError
from core.library.detect import FileInfo, detect_file
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from core.models.files import checkpoint_info
from tests.core import family_helpers as fh
from tests.core.single_file_helpers import fake_hub_cache, state_dicts_equal, write_header_file
from tests.tiny_models.images import make_image
from tests.tiny_models.ldm_export import export_transformer_file
from tests.tiny_models.original_export import export_original

COMFY = "model.diffusion_model."


def _klein_header(path, text_width: int, prefix: str = "", guidance: bool = False):
    """A FLUX.2 transformer in BFL's layout (what ComfyUI and model sites share)."""
    tensors = {
        f"{prefix}img_in.weight": ("BF16", [3072, 128]),
        f"{prefix}txt_in.weight": ("BF16", [3072, text_width]),
        f"{prefix}time_in.in_layer.weight": ("BF16", [3072, 256]),
        f"{prefix}double_blocks.0.img_attn.qkv.weight": ("BF16", [9216, 3072]),
        f"{prefix}single_blocks.0.linear1.weight": ("BF16", [27648, 3072]),
        f"{prefix}double_stream_modulation_img.lin.weight": ("BF16", [18432, 3072]),
        f"{prefix}single_stream_modulation.lin.weight": ("BF16", [9216, 3072]),
    }
    if guidance:
        tensors[f"{prefix}guidance_in.in_layer.weight"] = ("BF16", [3072, 256])
    return write_header_file(path, tensors)


def test_each_family_is_told_from_its_keys_and_shapes(tmp_path):
    klein4 = _klein_header(tmp_path / "flux-2-klein-4b.safetensors", 7680)
    klein9 = _klein_header(tmp_path / "klein9.safetensors", 12288, prefix=COMFY)
    assert detect_file(klein4) == FileInfo("unet", "flux2-klein", notes=("bf16", "4B"))
    assert detect_file(klein9) == FileInfo("unet", "flux2-klein", notes=("bf16", "9B"))
    chroma = write_header_file(
        tmp_path / "chroma.safetensors",
        {
            f"{COMFY}img_in.weight": ("BF16", [3072, 64]),
            f"{COMFY}double_blocks.0.img_attn.qkv.weight": ("BF16", [9216, 3072]),
            f"{COMFY}distilled_guidance_layer.in_proj.bias": ("BF16", [5120]),
        },
    )  # FLUX.1's block names: it must not be taken for FLUX.1
    assert detect_file(chroma) == FileInfo("unet", "chroma", notes=("bf16",))
    qwen_keys = {
        "img_in.weight": ("BF16", [3072, 64]),
        "txt_norm.weight": ("BF16", [3584]),
        "transformer_blocks.0.img_mod.1.weight": ("BF16", [18432, 3072]),
    }
    for name, family in (
        ("qwen_image_fp8.safetensors", "qwen-image"),
        ("Qwen-Image-Edit_bf16.safetensors", "qwen-image-edit"),
        ("qwen_image_edit_2509_fp8.safetensors", "qwen-image-edit-plus"),
        ("qwen-image-edit-2511.safetensors", "qwen-image-edit-plus"),
    ):
        info = detect_file(write_header_file(tmp_path / name, qwen_keys))
        assert (info.kind, info.family) == ("unet", family)


def test_flux2_dev_is_refused_in_one_line(tmp_path):
    dev = _klein_header(tmp_path / "flux2-dev.safetensors", 15360, guidance=True)
    with pytest.raises(ModelError, match=r"FLUX.2 \[dev\] transformer, which is not supported"):
        checkpoint_info(dev)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.fixture(scope="module")
def zimage(tmp_path_factory):
    """(tiny Z-Image folder, its transformer in Z-Image's own layout under ComfyUI's prefix)."""
    from tests.tiny_models.tiny_zimage import build_tiny_zimage

    root = tmp_path_factory.mktemp("single-zimage")
    folder = build_tiny_zimage(root / "zimage")
    file = export_original(folder, root / "z_image_finetune.safetensors", "zimage", COMFY)
    return folder, file


def test_zimage_file_without_a_cached_repo_says_what_is_missing(zimage, hub_cache):
    with pytest.raises(ModelError) as err:
        ModelManager().load(ModelSpec(str(zimage[1])))
    message = str(err.value)
    assert "\n" not in message
    assert "z_image_finetune.safetensors is a Z-Image transformer alone" in message
    assert "Tongyi-MAI/Z-Image-Turbo" in message


@pytest.mark.parametrize("prefix", ["", COMFY])
def test_zimage_original_layout_loads_exactly_and_runs(zimage, prefix, hub_cache, tmp_path, capsys):
    from diffusers import ZImageTransformer2DModel

    folder = zimage[0]
    file = export_original(folder, tmp_path / "z_image_finetune.safetensors", "zimage", prefix)
    assert detect_file(file) == FileInfo("unet", "zimage")
    fake_hub_cache(hub_cache, "Tongyi-MAI/Z-Image-Turbo", folder)
    model = ModelManager().load(ModelSpec(str(file), device="cpu"))
    reference = ZImageTransformer2DModel.from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    assert model.family == "zimage" and type(model.base_pipe).__name__ == "ZImageImg2ImgPipeline"
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image(64, 64).save(picture)
    args = ["generate", str(picture), "-o", str(out), "--model", str(file), "--device", "cpu"]
    assert main([*args, "--steps", "2", "--strength", "0.6"]) == 0, capsys.readouterr().err
    assert read_metadata(out)["record"]["model"]["family"] == "zimage"


def test_klein_file_loads_from_a_cached_klein_repo_and_inpaints(tmp_path, hub_cache):
    from diffusers import Flux2Transformer2DModel

    from core.engine import Engine
    from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

    folder = build_tiny_flux2_klein(tmp_path / "klein")
    file = export_transformer_file(folder, tmp_path / "klein-finetune.safetensors")
    assert detect_file(file).family == "flux2-klein"  # diffusers' layout
    fake_hub_cache(hub_cache, "black-forest-labs/FLUX.2-klein-4B", folder)
    spec = ModelSpec(str(file), device="cpu")
    engine = Engine()
    model = engine.models.load(spec)
    reference = Flux2Transformer2DModel.from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    assert model.family == "flux2-klein" and model.base_pipe.config.is_distilled
    result, _ = fh.run(engine, spec, mask=fh.left_half_mask(), steps=2)
    assert result.record["pipeline"] == "Flux2KleinInpaintPipeline"
    assert result.record["model"]["family"] == "flux2-klein"


def test_a_klein_of_another_size_does_not_serve(tmp_path, hub_cache):
    from tests.tiny_models.tiny_flux2_klein import build_tiny_flux2_klein

    fake_hub_cache(
        hub_cache, "black-forest-labs/FLUX.2-klein-9B", build_tiny_flux2_klein(tmp_path / "k")
    )
    klein4 = _klein_header(tmp_path / "flux-2-klein-4b.safetensors", 7680)
    with pytest.raises(
        ModelError, match="FLUX.2-klein-4B or black-forest-labs/FLUX.2-klein-base-4B"
    ):
        ModelManager().load(ModelSpec(str(klein4), device="cpu"))


def test_chroma_file_loads_with_model_config_and_inpaints(tmp_path):
    from diffusers import ChromaTransformer2DModel

    from core.engine import Engine
    from tests.tiny_models.tiny_chroma import build_tiny_chroma

    folder = build_tiny_chroma(tmp_path / "chroma")
    file = export_transformer_file(folder, tmp_path / "chroma-finetune.safetensors", prefix=COMFY)
    assert detect_file(file).family == "chroma"
    spec = ModelSpec(str(file), config=str(folder), device="cpu")
    engine = Engine()
    model = engine.models.load(spec)
    reference = ChromaTransformer2DModel.from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    fh.check_inpaint(engine, spec, "chroma")  # the ChromaInpaintPipeline shim applies here too


@pytest.mark.parametrize(("name", "family"), [
    ("qwen_image_finetune.safetensors", "qwen-image"),
    ("qwen_image_edit_2509_finetune.safetensors", "qwen-image-edit-plus"),
])  # fmt: skip
def test_qwen_files_load_under_comfyuis_prefix(tmp_path, name, family):
    from diffusers import QwenImageTransformer2DModel

    from tests.tiny_models.tiny_qwen_image import build_tiny_qwen_image_edit

    folder = build_tiny_qwen_image_edit(tmp_path / "qwen-edit", plus=True)
    file = export_transformer_file(folder, tmp_path / name, prefix=COMFY)
    assert detect_file(file).family == family
    model = ModelManager().load(ModelSpec(str(file), config=str(folder), device="cpu"))
    reference = QwenImageTransformer2DModel.from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    assert model.family == family
    if family != "qwen-image":
        assert model.base_pipe.processor is not None  # built without torchvision
