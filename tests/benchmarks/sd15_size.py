"""An SD 1.5-architecture pipeline (bundled config) with random weights, saved as a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_sd15_size(folder: Path, dtype: Any = None, device: str = "cpu") -> Path:
    """UNet (860 M parameters), VAE and CLIP text encoder of SD 1.5's shapes, seeded; no
    downloads (configs from ``resources/model_configs/sd15``)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from core.models.files import BUNDLED_CONFIGS

    config = BUNDLED_CONFIGS / "sd15"
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(config / "unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(config / "vae"))
        text = CLIPTextModel(CLIPTextConfig.from_pretrained(config / "text_encoder"))
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=CLIPTokenizer.from_pretrained(config / "tokenizer"),
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_pretrained(config / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(dtype=dtype or torch.float32).save_pretrained(folder, safe_serialization=True)
    return folder
