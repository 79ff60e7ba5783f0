"""LoRA checks on the tiny SD 1.x model: the text-encoder part counts, the kohya layout loads,
and a missing, pickled or wrong-family LoRA is a one-line error before any denoising."""

from __future__ import annotations

import numpy as np
import pytest

from core.conditioning.lora_files import LoraFile, check_lora_suits
from core.conditioning.specs import LoraSpec
from core.errors import ModelError
from core.events import StepPreview
from tests.core import lora_helpers
from tests.core.lora_helpers import lora_pass

lora_dir = lora_helpers.lora_dir
lora_engine = lora_helpers.lora_engine


@pytest.fixture(scope="module")
def sdxl_lora(tmp_path_factory):
    from tests.tiny_models.tiny_lora import build_tiny_lora
    from tests.tiny_models.tiny_sdxl import build_tiny_sdxl

    folder = tmp_path_factory.mktemp("sdxl")
    model = build_tiny_sdxl(folder / "tiny-sdxl")
    return build_tiny_lora(model, folder / "xl.safetensors", text_encoder=True)


def pixels(result):
    return np.asarray(result.image)


def test_the_text_encoder_part_changes_the_output(lora_engine, tiny_model_dir, lora_dir):
    from tests.tiny_models.tiny_lora import build_tiny_lora

    # Same seed: the same UNet layers, with and without the text-encoder layers.
    unet_only = build_tiny_lora(tiny_model_dir, lora_dir / "both-unet-only.safetensors", seed=3)
    both = lora_pass(
        lora_engine, tiny_model_dir, loras=(LoraSpec(str(lora_dir / "both.safetensors")),)
    )
    pipe = lora_engine.models.loaded.base_pipe
    with_te = _encode(pipe)
    unet = lora_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(str(unet_only)),))
    without_te = _encode(pipe)
    assert not np.array_equal(pixels(both), pixels(unet))
    assert not np.allclose(with_te, without_te)
    lora_pass(lora_engine, tiny_model_dir)
    assert np.array_equal(_encode(pipe), without_te)  # no LoRA: the text encoder as loaded


def _encode(pipe):
    import torch

    ids = pipe.tokenizer(["a red house"], padding="max_length", return_tensors="pt").input_ids
    with torch.no_grad():
        return pipe.text_encoder(ids)[0].numpy()


def test_the_kohya_layout_loads_like_the_diffusers_one(lora_engine, tiny_model_dir, lora_dir):
    diffusers = lora_pass(
        lora_engine, tiny_model_dir, loras=(LoraSpec(str(lora_dir / "both.safetensors")),)
    )
    kohya = lora_pass(
        lora_engine, tiny_model_dir, loras=(LoraSpec(str(lora_dir / "kohya.safetensors")),)
    )
    plain = lora_pass(lora_engine, tiny_model_dir)
    assert not np.array_equal(pixels(kohya), pixels(plain))
    difference = np.abs(pixels(kohya).astype(int) - pixels(diffusers).astype(int))
    assert difference.max() <= 2  # the same weights in the other layout


def _failing_pass(engine, model_dir, **kw):
    events: list = []
    kw.setdefault("prompt", "a red house")
    from core.models import ModelSpec
    from core.requests import PassRequest
    from tests.tiny_models.images import make_image

    request = PassRequest(image=make_image(64, 64), steps=4, strength=0.75, seed=5, **kw)
    with pytest.raises(ModelError) as error:
        engine.run_pass(request, ModelSpec(str(model_dir), device="cpu"), on_event=events.append)
    assert not any(isinstance(e, StepPreview) for e in events)  # before any denoising
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_missing_lora_is_named(lora_engine, tiny_model_dir):
    message = _failing_pass(lora_engine, tiny_model_dir, prompt="a house <lora:nowhere:0.5>")
    assert message == "no LoRA named 'nowhere' in the scanned folders or as a file"


def test_a_pickled_lora_is_refused(lora_engine, tiny_model_dir, tmp_path):
    pickled = tmp_path / "old.ckpt"
    pickled.write_bytes(b"\x80\x04not really")
    message = _failing_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(str(pickled)),))
    assert message.startswith("old.ckpt is a Python pickle")


def test_an_sdxl_lora_on_an_sd1_model_is_a_clear_message(lora_engine, tiny_model_dir, sdxl_lora):
    plain = lora_pass(lora_engine, tiny_model_dir)
    message = _failing_pass(lora_engine, tiny_model_dir, loras=(LoraSpec(str(sdxl_lora)),))
    assert message == "xl.safetensors is an SDXL LoRA; the loaded model is SD 1.x"
    assert np.array_equal(pixels(lora_pass(lora_engine, tiny_model_dir)), pixels(plain))


def test_a_lora_for_another_cross_attention_width(lora_dir):
    lora = LoraFile("style", lora_dir / "style.safetensors", 1.0)
    check_lora_suits(lora, "sd1", 32)
    with pytest.raises(ModelError, match=r"cross-attention width 32; the loaded SDXL model has 64"):
        check_lora_suits(lora, "sdxl", 64)
    with pytest.raises(ModelError, match="is a LoRA for a UNet model .* the loaded model is FLUX"):
        check_lora_suits(lora, "flux", None)
