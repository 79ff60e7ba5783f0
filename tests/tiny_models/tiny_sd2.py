"""Build a tiny random-weight SD 2.x model offline (v-prediction, like SD 2.1-768).

The UNet has SD 2.x's traits at toy widths: linear attention projections and a text encoder
wider than SD 1.x's tiny one (64 here, 32 there; 1024 vs 768 in the real models), which is how a
folder is told apart from SD 1.x. The scheduler predicts ``v_prediction`` with trailing-free
"leading" spacing as in SD 2.1's config; ``--epsilon`` builds the SD 2.1-base flavour.

Usage: ``python -m tests.tiny_models.tiny_sd2 OUT_DIR [--epsilon] [--inpaint]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_model import build_tiny_vae, save_sd_folder, tiny_text_config

SD2_TEXT_WIDTH = 64  # the tiny SD 1.x model's is 32


def build_sd2_components(
    v_prediction: bool = True, inpaint: bool = False, seed: int = 0
) -> dict[str, Any]:
    """Seeded tiny SD 2.x components (UNet, VAE, CLIP text encoder, scheduler)."""
    import torch
    from diffusers import DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=9 if inpaint else 4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=SD2_TEXT_WIDTH,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = build_tiny_vae(layers_per_block=1)
    torch.manual_seed(seed + 2)
    text_config = tiny_text_config(num_hidden_layers=2, hidden_act="gelu")
    text_config.hidden_size = SD2_TEXT_WIDTH
    text_config.projection_dim = SD2_TEXT_WIDTH
    text_encoder = CLIPTextModel(text_config)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="v_prediction" if v_prediction else "epsilon",
        timestep_spacing="leading",
    )
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "scheduler": scheduler}


def build_tiny_sd2(
    out: str | Path, v_prediction: bool = True, inpaint: bool = False, seed: int = 0
) -> Path:
    """Write a tiny SD 2.x diffusers folder (safetensors) and return its path."""
    return save_sd_folder(out, build_sd2_components(v_prediction, inpaint, seed), inpaint)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_sd2", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--epsilon", action="store_true", help="epsilon prediction (2.1-base)")
    parser.add_argument("--inpaint", action="store_true", help="9-channel inpainting UNet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = build_tiny_sd2(args.out_dir, not args.epsilon, args.inpaint, args.seed)
    print(f"tiny SD 2.x model: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
