"""Family facts without running a model: detection from model_index.json and the denoiser's
config, preview factors and TAESD variants per latent space, the scheduler each family runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ModelError
from core.library.index_family import family_from_index
from core.models.families import FAMILIES
from core.sampling.previews import LatentPreviewer, find_taesd, latent_channels, make_previewer
from core.sampling.schedulers import make_scheduler, ran_label, scheduler_note

SD15_UNET = {"cross_attention_dim": 768, "in_channels": 4}
SD21_UNET = {"cross_attention_dim": 1024, "in_channels": 4, "use_linear_projection": True}


@pytest.mark.parametrize(
    ("class_name", "config", "expected"),
    [
        ("StableDiffusionPipeline", SD15_UNET, ("sd1", False)),
        ("StableDiffusionInpaintPipeline", {**SD15_UNET, "in_channels": 9}, ("sd1", True)),
        ("StableDiffusionPipeline", SD21_UNET, ("sd2", False)),
        ("StableDiffusionInpaintPipeline", {**SD21_UNET, "in_channels": 9}, ("sd2", True)),
        ("StableDiffusionPipeline", {"cross_attention_dim": 1024}, ("sd2", False)),
        ("StableDiffusionXLPipeline", {"cross_attention_dim": 2048}, ("sdxl", False)),
        ("StableDiffusionXLInpaintPipeline", {"in_channels": 9}, ("sdxl", True)),
        ("StableDiffusion3Pipeline", {"in_channels": 16}, ("sd3", False)),
        ("FluxPipeline", {"in_channels": 64}, ("flux", False)),
        ("FluxFillPipeline", {"in_channels": 384}, ("flux-fill", True)),
        ("FluxPipeline", {"in_channels": 384}, ("flux-fill", True)),
        ("FluxKontextPipeline", {"in_channels": 64}, ("flux-kontext", False)),
        ("ZImagePipeline", {"in_channels": 16, "all_patch_size": [2]}, ("zimage", False)),
        ("ZImageImg2ImgPipeline", {"in_channels": 16}, ("zimage", False)),
        ("ChromaPipeline", {"in_channels": 64}, ("chroma", False)),
        ("ChromaInpaintPipeline", {"in_channels": 64}, ("chroma", False)),
        ("QwenImagePipeline", {"in_channels": 64}, ("qwen-image", False)),
        ("QwenImageInpaintPipeline", {"in_channels": 64}, ("qwen-image", False)),
        ("QwenImageEditPipeline", {"in_channels": 64}, ("qwen-image-edit", False)),
        ("QwenImageEditInpaintPipeline", {"in_channels": 64}, ("qwen-image-edit", False)),
        ("QwenImageEditPlusPipeline", {"in_channels": 64}, ("qwen-image-edit-plus", False)),
        ("Flux2KleinPipeline", {"in_channels": 128}, ("flux2-klein", False)),
    ],
)
def test_family_from_model_index(class_name, config, expected):
    assert family_from_index({"_class_name": class_name}, config) == expected


def test_unknown_pipeline_is_a_one_line_error():
    with pytest.raises(ModelError, match="unsupported pipeline 'WanPipeline'"):
        family_from_index({"_class_name": "WanPipeline", "transformer": ["x", "y"]}, {})


def test_flux2_folders_are_refused_not_taken_for_flux1():
    with pytest.raises(ModelError, match="FLUX.2 models .* are not supported yet"):
        family_from_index({"_class_name": "Flux2Pipeline"}, {"in_channels": 128})


def test_edit_models_are_known_before_they_load(tmp_path):
    import json

    from core.models.families import is_edit_reference

    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "QwenImageEditPipeline"}))
    assert is_edit_reference(str(tmp_path))
    assert is_edit_reference("Qwen/Qwen-Image-Edit")
    assert not is_edit_reference("Qwen/Qwen-Image")
    assert is_edit_reference("Qwen/Qwen-Image-Edit-2509")
    assert is_edit_reference("Qwen/Qwen-Image-Edit-2511")
    assert is_edit_reference("black-forest-labs/FLUX.2-klein-4B")
    assert is_edit_reference("black-forest-labs/FLUX.2-klein-base-9B")
    # masked: Klein and Qwen-Image-Edit inpaint with a strength (their own pipelines);
    # Edit-Plus (2509, 2511) has none: its masked pass is the crop edit, every step, no strength
    assert not is_edit_reference("black-forest-labs/FLUX.2-klein-4B", masked=True)
    assert not is_edit_reference("Qwen/Qwen-Image-Edit", masked=True)
    assert not is_edit_reference(str(tmp_path), masked=True)
    assert is_edit_reference("Qwen/Qwen-Image-Edit-2509", masked=True)
    assert is_edit_reference("Qwen/Qwen-Image-Edit-2511", masked=True)
    for name, masked_edit in (
        ("QwenImageEditPlusPipeline", True),
        ("QwenImageEditInpaintPipeline", False),
    ):
        (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": name}))
        assert is_edit_reference(str(tmp_path)), name
        assert is_edit_reference(str(tmp_path), masked=True) == masked_edit, name
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    assert not is_edit_reference(str(tmp_path))
    (tmp_path / "model_index.json").write_text("{not json")
    assert not is_edit_reference(str(tmp_path))


def test_qwen_image_pipelines_it_cannot_run_are_refused_in_one_line():
    with pytest.raises(ModelError, match="QwenImageLayeredPipeline models are not supported"):
        family_from_index({"_class_name": "QwenImageLayeredPipeline"}, {"in_channels": 64})


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_every_family_has_preview_factors_for_its_latent_channels(key):
    channels = FAMILIES[key].latent_channels
    assert latent_channels(key) == channels
    image = LatentPreviewer(key)(torch.randn(1, channels, 8, 6))
    assert image.shape == (8, 6, 3) and image.dtype == np.uint8


def _tiny_taesd(folder, channels: int) -> None:
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=channels,
    ).save_pretrained(folder)


def test_taesd_is_used_only_for_its_own_latent_channels(tmp_path, monkeypatch):
    _tiny_taesd(tmp_path / "taef1", 16)
    monkeypatch.setenv("IMG2IMG_STUDIO_TAESD", str(tmp_path / "taef1"))
    previewer = make_previewer("flux-kontext", "cpu", torch.float32)
    assert previewer.kind == "taesd"
    assert previewer(torch.randn(1, 16, 8, 6)).shape == (64, 48, 3)
    assert make_previewer("sd1", "cpu", torch.float32).kind == "linear"  # 16 ≠ 4 channels


def test_taesd_variant_is_found_in_the_hf_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("IMG2IMG_STUDIO_TAESD", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--madebyollin--taesd3"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc")
    _tiny_taesd(repo / "snapshots" / "abc", 16)
    assert find_taesd("sd3") == repo / "snapshots" / "abc"
    assert find_taesd("flux") is None  # taef1 is not in this cache


def test_flow_matching_configs_build_their_own_scheduler_whatever_the_name():
    from diffusers import FlowMatchEulerDiscreteScheduler

    own = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True)
    config = {**own.config, "_class_name": "FlowMatchEulerDiscreteScheduler"}
    scheduler = make_scheduler("DPM++ 2M Karras", config)
    assert type(scheduler) is FlowMatchEulerDiscreteScheduler
    assert scheduler.config.shift == 3.0 and scheduler.config.use_dynamic_shifting
    assert ran_label("DPM++ 2M Karras", scheduler) == "Euler (flow matching)"
    assert scheduler_note("DDIM", scheduler)["scheduler_ran"] == "Euler (flow matching)"


def test_auto_precision_avoids_fp16_for_families_that_cannot_run_it():
    from core.models.loading import dtype_for_family

    zimage, flux = FAMILIES["zimage"], FAMILIES["flux"]
    assert dtype_for_family(zimage, "auto", torch.float16) is torch.bfloat16
    assert dtype_for_family(FAMILIES["qwen-image"], "auto", torch.float16) is torch.bfloat16
    assert dtype_for_family(zimage, "fp16", torch.float16) is torch.float16  # asked for
    assert dtype_for_family(zimage, "auto", torch.float32) is torch.float32  # CPU
    assert dtype_for_family(flux, "auto", torch.float16) is torch.float16
