"""Build a tiny random-weight SDXL img2img model offline.

The components follow diffusers' own SDXL img2img test (``get_dummy_components``): a two-level
UNet with ``text_time`` added conditioning, two CLIP text encoders (the second with a projection)
whose hidden states concatenate to the UNet's 64-dim cross-attention, and a VAE with scale
factor 8. Everything runs in well under a second per pass on a CPU; the output is noise, so
tests use it for structure and invariants of the SDXL code paths.

Usage: ``python -m tests.tiny_models.tiny_sdxl OUT_DIR``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_model import build_tiny_vae, tiny_text_config, write_tokenizer


def build_sdxl_components(seed: int = 0) -> dict[str, Any]:
    """Seeded tiny SDXL components (UNet, VAE, both text encoders, scheduler), no tokenizers."""
    import torch
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        # 6 time ids × 8 + the 32-dim pooled projection of text_encoder_2
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = build_tiny_vae(layers_per_block=1)
    text_config = tiny_text_config(num_hidden_layers=5, hidden_act="gelu")
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(text_config)
    torch.manual_seed(seed + 3)
    text_encoder_2 = CLIPTextModelWithProjection(text_config)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
        "scheduler": scheduler,
    }


def build_tiny_sdxl(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny SDXL img2img diffusers folder (safetensors) and return its path."""
    from diffusers import StableDiffusionXLImg2ImgPipeline
    from transformers import CLIPTokenizer

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder / "tokenizer")
    write_tokenizer(folder / "tokenizer_2")
    pipe: Any = StableDiffusionXLImg2ImgPipeline(
        **build_sdxl_components(seed),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(folder / "tokenizer_2"),
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_sdxl", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny SDXL model: {build_tiny_sdxl(args.out_dir, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
