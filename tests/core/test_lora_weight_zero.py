"""A LoRA at weight 0 is no LoRA in every case: on a freshly loaded model (its first LoRA ever
loaded at 0), after weight 1, before weight 1, with text-encoder layers, on SD 1.x and SDXL, and
through the CLI in a fresh process (``generate --lora FILE:0``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.conditioning.specs import LoraSpec
from core.engine import Engine
from tests.core import lora_helpers
from tests.core.lora_helpers import lora_pass
from tests.tiny_models.images import make_image

lora_dir = lora_helpers.lora_dir
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_engine():
    """A new engine for each test: the model is loaded anew and has never had a LoRA."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Engine(previews=False)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sdxl_model_and_lora(tmp_path_factory):
    from tests.tiny_models.tiny_lora import build_tiny_lora
    from tests.tiny_models.tiny_sdxl import build_tiny_sdxl

    folder = tmp_path_factory.mktemp("sdxl-zero")
    model = build_tiny_sdxl(folder / "tiny-sdxl")
    return model, build_tiny_lora(model, folder / "xl.safetensors", text_encoder=True)


def pixels(result) -> np.ndarray:
    return np.asarray(result.image)


def _zero_then_one_then_zero(engine: Engine, model: Path, lora: Path) -> None:
    plain = pixels(lora_pass(engine, model))
    zero = lora_pass(engine, model, loras=(LoraSpec(str(lora), 0.0),))
    assert np.array_equal(pixels(zero), plain), "the first LoRA loaded at 0 acted"
    assert zero.record["loras"][0]["weight"] == 0.0
    one = pixels(lora_pass(engine, model, loras=(LoraSpec(str(lora), 1.0),)))
    assert not np.array_equal(one, plain), "weight 1 after weight 0 did nothing"
    again = lora_pass(engine, model, loras=(LoraSpec(str(lora), 0.0),))
    assert np.array_equal(pixels(again), plain), "weight 0 after weight 1 acted"


def test_sd1_first_lora_at_zero_then_one_then_zero(fresh_engine, tiny_model_dir, lora_dir):
    """UNet and text-encoder layers alike."""
    _zero_then_one_then_zero(fresh_engine, tiny_model_dir, lora_dir / "both.safetensors")


def test_sd1_zero_on_a_fresh_model_equals_a_model_without_loras(
    fresh_engine, tiny_model_dir, lora_dir
):
    """The very first pass of the model carries the LoRA at 0 (nothing ran before it)."""
    zero = lora_pass(
        fresh_engine, tiny_model_dir, loras=(LoraSpec(str(lora_dir / "style.safetensors"), 0),)
    )
    plain = lora_pass(Engine(previews=False), tiny_model_dir)
    assert np.array_equal(pixels(zero), pixels(plain))


def test_sd1_a_new_lora_at_zero_beside_an_active_one(fresh_engine, tiny_model_dir, lora_dir):
    style = LoraSpec(str(lora_dir / "style.safetensors"), 0.8)
    alone = pixels(lora_pass(fresh_engine, tiny_model_dir, loras=(style,)))
    character = LoraSpec(str(lora_dir / "character.safetensors"), 0.0)
    both = lora_pass(fresh_engine, tiny_model_dir, loras=(style, character))
    assert np.array_equal(pixels(both), alone)


def test_sdxl_first_lora_at_zero_then_one_then_zero(fresh_engine, sdxl_model_and_lora):
    model, lora = sdxl_model_and_lora
    _zero_then_one_then_zero(fresh_engine, model, lora)


def test_cli_lora_at_zero_in_a_fresh_process_equals_no_lora(tmp_path, tiny_model_dir, lora_dir):
    source = tmp_path / "in.png"
    make_image(64, 64).save(source)
    lora = lora_dir / "style.safetensors"
    common = ["--model", str(tiny_model_dir), "--steps", "4", "--strength", "0.75", "--seed", "5"]
    outputs = {}
    for label, extra in (("none", []), ("zero", ["--lora", f"{lora}:0"])):
        out = tmp_path / f"{label}.png"
        command = [sys.executable, "main.py", "generate", str(source), "-o", str(out)]
        run = subprocess.run(
            [*command, *common, "--device", "cpu", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        outputs[label] = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(outputs["zero"], outputs["none"])
