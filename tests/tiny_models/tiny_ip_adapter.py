"""Build a tiny random-weight IP-Adapter offline, for the tiny SD 1.x or SDXL model.

The layout follows ``h94/IP-Adapter``: a folder with the adapter's ``.safetensors`` (keys
``image_proj.*`` for the image projection, ``ip_adapter.N.to_k_ip/to_v_ip.weight`` for every
cross-attention layer, N = 1, 3, 5… as diffusers numbers them) and an ``image_encoder/`` folder
holding a tiny ``CLIPVisionModelWithProjection`` and its image-processor config, as in
diffusers' own IP-Adapter tests.

Usage: ``python -m tests.tiny_models.tiny_ip_adapter OUT_DIR [--sdxl]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

IMAGE_EMBED_DIM = 32  # the tiny image encoder's projection size
IMAGE_TOKENS = 4  # image tokens a plain IP-Adapter adds to the text
WEIGHTS_NAME = "ip-adapter_tiny.safetensors"
ENCODER_IMAGE_SIZE = 32


def adapter_state_dict(unet: Any, seed: int = 0) -> dict[str, Any]:
    """A plain IP-Adapter's tensors for ``unet``, keys as in the published files."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    config = unet.config
    cross = int(config.cross_attention_dim)

    def randn(*shape: int) -> Any:
        return torch.randn(shape, generator=generator) * 0.1

    tensors = {
        "image_proj.proj.weight": randn(cross * IMAGE_TOKENS, IMAGE_EMBED_DIM),
        "image_proj.proj.bias": randn(cross * IMAGE_TOKENS),
        "image_proj.norm.weight": 1.0 + randn(cross),
        "image_proj.norm.bias": randn(cross),
    }
    channels = list(config.block_out_channels)
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = randn(hidden, cross)
        tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = randn(hidden, cross)
        key_id += 2
    return tensors


def build_image_encoder(folder: Path, seed: int = 0) -> Path:
    """A tiny CLIP image encoder (with projection) and its image-processor config."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(
        hidden_size=32,
        image_size=ENCODER_IMAGE_SIZE,
        projection_dim=IMAGE_EMBED_DIM,
        intermediate_size=37,
        num_attention_heads=4,
        num_channels=3,
        num_hidden_layers=2,
        patch_size=14,
    )
    CLIPVisionModelWithProjection(config).save_pretrained(folder, safe_serialization=True)
    processor = {
        "image_processor_type": "CLIPImageProcessor",
        "crop_size": {"height": ENCODER_IMAGE_SIZE, "width": ENCODER_IMAGE_SIZE},
        "size": {"shortest_edge": ENCODER_IMAGE_SIZE},
        "do_center_crop": True,
        "do_normalize": True,
        "do_resize": True,
        "do_rescale": True,
        "do_convert_rgb": True,
        "rescale_factor": 1 / 255,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(processor), encoding="utf-8")
    return folder


def build_tiny_ip_adapter(
    out: str | Path, sdxl: bool = False, seed: int = 0, model_dir: str | Path | None = None
) -> Path:
    """Write a tiny IP-Adapter folder (weights file + ``image_encoder/``) for the tiny SD 1.x or
    SDXL model (the one in ``model_dir`` when given); return the weights file's path."""
    from safetensors.torch import save_file

    from tests.tiny_models.tiny_controlnet import tiny_unet

    unet = tiny_unet(sdxl, seed, model_dir)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    build_image_encoder(folder / "image_encoder", seed)
    weights = folder / WEIGHTS_NAME
    tensors = {k: v.contiguous() for k, v in adapter_state_dict(unet, seed + 5).items()}
    save_file(tensors, str(weights))
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_ip_adapter", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the IP-Adapter into")
    parser.add_argument("--sdxl", action="store_true", help="for the tiny SDXL model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny IP-Adapter: {build_tiny_ip_adapter(args.out_dir, args.sdxl, args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
