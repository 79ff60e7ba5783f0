"""Quantized weights: torchao int8 weight-only on the tiny models (folder and single file) runs
img2img and inpaint and is recorded; CUDA-only modes are refused in one line on a CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli.main import main
from core.engine import Engine
from core.errors import ModelError
from core.metadata import read_metadata
from core.models import ModelManager, ModelSpec
from core.models.quantize import check_quantize, is_quantized
from tests.core import family_helpers as fh
from tests.tiny_models.images import make_image

pytest.importorskip("torchao")


@pytest.fixture(scope="module")
def engine():
    return Engine(previews=False)


def test_int8_folder_runs_img2img_and_inpaint_and_records_it(engine, tiny_model_dir):
    plain = ModelSpec(str(tiny_model_dir), device="cpu")
    int8 = ModelSpec(str(tiny_model_dir), device="cpu", quantize="int8")
    before, _ = fh.run(engine, plain)
    assert not is_quantized(engine.models.loaded.base_pipe.unet)
    result, _ = fh.run(engine, int8)
    model = engine.models.loaded
    assert is_quantized(model.base_pipe.unet) and not is_quantized(model.base_pipe.vae)
    assert result.record["model"]["quantize"] == "int8"
    assert before.record["model"]["quantize"] == "none"
    ours, theirs = np.asarray(result.image, float), np.asarray(before.image, float)
    assert 0 < np.abs(ours - theirs).mean() < 8  # close to the full weights, not the same
    inpainted, _ = fh.run(engine, int8, mask=fh.left_half_mask())
    assert inpainted.record["kind"] == "inpaint" and inpainted.record["model"]["quantize"] == "int8"
    assert is_quantized(model.inpaint_pipe.unet) and model.inpaint_pipe.unet is model.base_pipe.unet


def test_int8_single_file_is_quantized_after_loading(tiny_single_file, tiny_model_dir):
    events: list = []
    spec = ModelSpec(str(tiny_single_file), str(tiny_model_dir), "cpu", quantize="int8")
    model = ModelManager().load(spec, events.append)
    assert is_quantized(model.base_pipe.unet) and model.quantize == "int8"
    assert events[-1].message.endswith("weights: int8)")


@pytest.mark.parametrize("mode", ["fp8", "nf4"])
def test_cuda_only_modes_are_refused_on_a_cpu_in_one_line(mode):
    with pytest.raises(ModelError) as caught:
        check_quantize(mode, "cpu")
    assert "needs a CUDA GPU" in str(caught.value) and "\n" not in str(caught.value)


def test_the_cli_records_int8_and_refuses_fp8_on_a_cpu(tiny_model_dir, tmp_path, capsys):
    picture, out = tmp_path / "in.png", tmp_path / "out.png"
    make_image().save(picture)
    argv = ["generate", str(picture), "-o", str(out), "--model", str(tiny_model_dir)]
    argv += ["--steps", "2", "--strength", "0.5", "--seed", "1", "--device", "cpu"]
    assert main([*argv, "--quantize", "fp8"]) != 0
    assert "needs a CUDA GPU" in capsys.readouterr().err and not out.exists()
    assert main([*argv, "--quantize", "int8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(out)
    assert read_metadata(out)["record"]["model"]["quantize"] == "int8"


def test_the_measured_size_of_int8_weights_is_about_half_of_bf16():
    import torch
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    from core.models.memory_modes import module_bytes

    layer = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.Linear(256, 256))
    layer.to(torch.bfloat16)
    before = module_bytes(layer)
    quantize_(layer, Int8WeightOnlyConfig())
    assert is_quantized(layer)
    assert 0.45 < module_bytes(layer) / before < 0.6  # int8 weights, bf16 scales and biases


def test_int8_quantizes_a_flux_transformer_and_its_t5_encoder_but_not_clip(tmp_path):
    from tests.tiny_models.tiny_flux import build_tiny_flux

    folder = build_tiny_flux(tmp_path / "tiny-flux")
    engine = Engine(previews=False)
    result, _ = fh.run(engine, ModelSpec(str(folder), device="cpu", quantize="int8"), steps=3)
    pipe = engine.models.loaded.base_pipe
    assert is_quantized(pipe.transformer) and is_quantized(pipe.text_encoder_2)  # T5
    assert not is_quantized(pipe.text_encoder)  # CLIP: small and sensitive
    assert result.record["model"]["quantize"] == "int8" and fh.changed(result).any()
