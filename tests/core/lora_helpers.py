"""Tiny LoRA files for the LoRA tests, built once per test session from the tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engine import Engine
from core.models import ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image


@pytest.fixture(scope="session")
def lora_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """UNet-only and UNet + text-encoder LoRAs, diffusers and kohya layouts, for the tiny SD1."""
    from tests.tiny_models.tiny_lora import build_tiny_lora

    folder = tmp_path_factory.mktemp("loras")
    build_tiny_lora(tiny_model_dir, folder / "style.safetensors", seed=1)
    build_tiny_lora(tiny_model_dir, folder / "character.safetensors", seed=2)
    build_tiny_lora(tiny_model_dir, folder / "both.safetensors", text_encoder=True, seed=3)
    build_tiny_lora(
        tiny_model_dir, folder / "kohya.safetensors", text_encoder=True, layout="kohya", seed=3
    )
    return folder


@pytest.fixture(scope="module")
def lora_engine():
    """An engine for the module; torch on one thread meanwhile (the tiny model's convolutions
    gain nothing from more, and lose a lot when other processes share the cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Engine(previews=False)
    torch.set_num_threads(threads)


def lora_pass(engine: Engine, model_dir: Path, **kw):
    """One small, seeded img2img pass (64×64, 4 steps) on the tiny model."""
    kw.setdefault("prompt", "a red house")
    kw.setdefault("steps", 4)
    kw.setdefault("strength", 0.75)
    kw.setdefault("seed", 5)
    image = kw.pop("image", None) or make_image(64, 64)
    request = PassRequest(image=image, **kw)
    return engine.run_pass(request, ModelSpec(str(model_dir), device="cpu"))
