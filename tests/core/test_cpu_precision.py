"""CPU precision: bf16 UNet with an fp32 VAE where the CPU has fast bf16; threads for the GUI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine import Engine
from core.models import ModelManager, ModelSpec
from core.models import device as device_module
from core.requests import PassRequest
from tests.tiny_models.images import make_image, make_mask

AMX_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n"
OLD_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"


def test_fast_bf16_is_read_from_the_cpu_flags():
    assert device_module.fast_cpu_bf16(AMX_CPUINFO)
    assert device_module.fast_cpu_bf16("flags : avx512f avx512_bf16\n")
    assert not device_module.fast_cpu_bf16(OLD_CPUINFO)


def test_gui_threads_leave_one_core_and_the_environment_overrides(monkeypatch):
    monkeypatch.delenv("IMG2IMG_STUDIO_THREADS", raising=False)
    assert device_module.gui_cpu_threads(2) == 1
    assert device_module.gui_cpu_threads(1) == 1
    assert device_module.gui_cpu_threads(16) == 15
    monkeypatch.setenv("IMG2IMG_STUDIO_THREADS", "2")
    assert device_module.gui_cpu_threads(2) == 2


@pytest.fixture(scope="module")
def split_models(tiny_model_dir):
    """The tiny model loaded twice: fp32, and ``auto`` as if the CPU had AMX and the UNet were
    real-size (the size threshold lowered)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(device_module, "fast_cpu_bf16", lambda cpuinfo=None: True)
        patch.setattr(device_module, "SPLIT_MIN_PARAMS", 0)
        split = Engine(ModelManager(), previews=True)
        spec = ModelSpec(str(tiny_model_dir), device="cpu", dtype="auto")
        split.models.load(spec)
    reference = Engine(ModelManager(), previews=False)
    reference_spec = ModelSpec(str(tiny_model_dir), device="cpu", dtype="fp32")
    reference.models.load(reference_spec)
    return split, spec, reference, reference_spec


def test_auto_on_a_fast_bf16_cpu_runs_the_unet_in_bf16_and_the_vae_in_fp32(split_models):
    split, spec, reference, reference_spec = split_models
    pipe = split.models.loaded.base_pipe
    assert pipe.unet.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32 and pipe.text_encoder.dtype == torch.float32
    request = PassRequest(make_image(64, 64), "a house", strength=0.7, steps=4, seed=3)
    result = split.run_pass(request, spec)
    expected = reference.run_pass(request, reference_spec)
    assert result.image.size == (64, 64)
    difference = np.abs(
        np.asarray(result.image, np.float32) - np.asarray(expected.image, np.float32)
    )
    assert 0 < difference.mean() < 12  # close to fp32, yet really computed in bf16


def test_the_inpaint_pipeline_keeps_the_split(split_models):
    split, spec, *_ = split_models
    request = PassRequest(
        make_image(64, 64), "a house", strength=0.7, steps=3, seed=3, mask=make_mask(64, 64)
    )
    split.run_pass(request, spec)
    inpaint = split.models.loaded.inpaint_pipe
    assert inpaint.unet.dtype == torch.bfloat16 and inpaint.vae.dtype == torch.float32


def test_explicit_precision_and_small_models_are_left_alone(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(device_module, "fast_cpu_bf16", lambda cpuinfo=None: True)
    models = ModelManager()
    model = models.load(ModelSpec(str(tiny_model_dir), device="cpu", dtype="auto"))
    assert model.base_pipe.unet.dtype == torch.float32  # tiny: below the size threshold
    monkeypatch.setattr(device_module, "SPLIT_MIN_PARAMS", 0)
    assert not device_module.split_cpu_precision(model.base_pipe, "fp32", "cpu")
    assert model.base_pipe.unet.dtype == torch.float32
