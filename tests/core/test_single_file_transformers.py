"""SD 3.5 checkpoints and FLUX transformer files load offline: SD 3.5 with or without T5, FLUX
with its text encoders and VAE from a (fake) HF cache, or a one-line error naming what is
missing and where it comes from."""

from __future__ import annotations

import shutil

import pytest

from core.cli.main import main
from core.errors import ModelError
from core.library.detect import FileInfo, detect_file
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from tests.core.single_file_helpers import (
    build_sd3_for_single_file,
    fake_hub_cache,
    state_dicts_equal,
)
from tests.tiny_models.images import make_image
from tests.tiny_models.ldm_export import export_sd3_single_file, export_transformer_file


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    """(folder, checkpoint with T5, checkpoint without T5, config folder without T5)."""
    root = tmp_path_factory.mktemp("single-sd3")
    folder = build_sd3_for_single_file(root / "sd3")
    with_t5 = export_sd3_single_file(folder, root / "sd35-t5.safetensors", with_t5=True)
    without_t5 = export_sd3_single_file(folder, root / "sd35.safetensors")
    no_t5_config = root / "config-no-t5"
    shutil.copytree(folder, no_t5_config, ignore=shutil.ignore_patterns("*_3"))
    return folder, with_t5, without_t5, no_t5_config


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    """(tiny FLUX.1-dev folder, its transformer alone as one file)."""
    from tests.tiny_models.tiny_flux import build_tiny_flux

    root = tmp_path_factory.mktemp("single-flux")
    folder = build_tiny_flux(root / "flux")
    return folder, export_transformer_file(folder, root / "flux1-dev-finetune.safetensors")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


def test_detection_on_the_exports(sd3, flux):
    _, with_t5, without_t5, _ = sd3
    assert detect_file(with_t5) == FileInfo("checkpoint", "sd3", notes=("sd3",))
    assert detect_file(without_t5) == FileInfo("checkpoint", "sd3", notes=("sd3", "no T5"))
    assert detect_file(flux[1]) == FileInfo("unet", "flux", notes=("dev", "diffusers layout"))


def test_sd3_checkpoint_loads_every_weight_with_t5(sd3, hub_cache):
    from diffusers import StableDiffusion3Img2ImgPipeline

    folder, with_t5, _, _ = sd3
    model = ModelManager().load(ModelSpec(str(with_t5), config=str(folder), device="cpu"))
    reference = StableDiffusion3Img2ImgPipeline.from_pretrained(folder)
    for name in ("transformer", "vae", "text_encoder_2", "text_encoder_3"):
        assert state_dicts_equal(getattr(model.base_pipe, name), getattr(reference, name)) == []
    # CLIP-L's projection is not in SD 3.5 files: diffusers makes it the identity
    skip = ("text_projection.weight",)
    assert state_dicts_equal(model.base_pipe.text_encoder, reference.text_encoder, skip) == []
    assert model.family == "sd3" and model.weights_file == with_t5


def test_sd3_checkpoint_without_t5_runs_through_the_cli(sd3, hub_cache, tmp_path, capsys):
    _, _, without_t5, no_t5_config = sd3
    model = ModelManager().load(ModelSpec(str(without_t5), config=str(no_t5_config), device="cpu"))
    assert model.base_pipe.text_encoder_3 is None and model.base_pipe.tokenizer_3 is None
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image(64, 64).save(picture)
    args = ["generate", str(picture), "-o", str(out), "--model", str(without_t5)]
    args += ["--model-config", str(no_t5_config), "--steps", "2", "--strength", "0.6"]
    assert main(args) == 0, capsys.readouterr().err
    assert read_metadata(out)["record"]["model"]["family"] == "sd3"


def test_flux_transformer_without_a_cached_repo_says_what_is_missing(flux, hub_cache):
    with pytest.raises(ModelError) as err:
        ModelManager().load(ModelSpec(str(flux[1])))
    message = str(err.value)
    assert "\n" not in message
    assert "flux1-dev-finetune.safetensors is a FLUX.1 transformer alone" in message
    assert "T5-XXL" in message and "black-forest-labs/FLUX.1-dev" in message


def test_flux_transformer_takes_the_rest_from_the_hf_cache(flux, hub_cache, tmp_path, capsys):
    from diffusers import FluxTransformer2DModel

    folder, transformer_file = flux
    snapshot = fake_hub_cache(hub_cache, "black-forest-labs/FLUX.1-dev", folder)
    shutil.rmtree(snapshot / "vae")  # an incomplete repo is named, not used
    with pytest.raises(ModelError, match="black-forest-labs/FLUX.1-dev lacks vae"):
        ModelManager().load(ModelSpec(str(transformer_file), device="cpu"))
    shutil.copytree(folder / "vae", snapshot / "vae")
    model = ModelManager().load(ModelSpec(str(transformer_file), device="cpu"))
    reference = FluxTransformer2DModel.from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    assert model.family == "flux" and type(model.base_pipe).__name__ == "FluxImg2ImgPipeline"
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image(64, 64).save(picture)
    args = ["generate", str(picture), "-o", str(out), "--model", str(transformer_file)]
    assert main([*args, "--steps", "2", "--strength", "0.6"]) == 0, capsys.readouterr().err
    assert read_metadata(out)["record"]["model"]["family"] == "flux"


def test_sd3_transformer_alone_takes_the_rest_from_model_config(sd3, tmp_path):
    from diffusers import SD3Transformer2DModel

    folder = sd3[0]
    file = export_transformer_file(folder, tmp_path / "sd35-transformer.safetensors")
    assert detect_file(file) == FileInfo("unet", "sd3", notes=("sd3", "diffusers layout"))
    model = ModelManager().load(ModelSpec(str(file), config=str(folder), device="cpu"))
    reference = SD3Transformer2DModel.from_pretrained(folder / "transformer")
    assert state_dicts_equal(model.base_pipe.transformer, reference) == []
    assert model.family == "sd3" and model.base_pipe.text_encoder_3 is not None
