"""Build tiny random-weight FLUX.1 models offline: dev-like, Fill and Kontext.

The components follow diffusers' own FLUX tests (``get_dummy_components``): a
``FluxTransformer2DModel`` with one double and one single block and guidance embedding (like
FLUX.1-dev), a CLIP text encoder, a T5 encoder with an offline tokenizer
(``tests.tiny_models.tiny_sd3``), a 16-channel VAE with FLUX's shift and scaling factors (scale
factor 8; latents are packed 2×2 into 64 channels) and the flow-matching Euler scheduler with
dynamic shifting. The Fill variant's transformer takes 384 input channels (latents, masked
image latents and the 8×8 packed mask), as FLUX.1 Fill does.

Usage: ``python -m tests.tiny_models.tiny_flux OUT_DIR [--variant flux|fill|kontext]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.tiny_model import tiny_text_config, write_tokenizer
from tests.tiny_models.tiny_sd3 import T5_WIDTH, build_tiny_t5, build_tiny_vae16, write_t5_tokenizer

VARIANTS = {  # variant → (pipeline saved as, transformer input channels)
    "flux": ("FluxPipeline", 64),
    "fill": ("FluxFillPipeline", 384),
    "kontext": ("FluxKontextPipeline", 64),
}


def build_flux_components(variant: str = "flux", seed: int = 0) -> dict[str, Any]:
    """Seeded tiny FLUX components (transformer, VAE, CLIP and T5 encoders, scheduler)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=VARIANTS[variant][1],
        out_channels=64,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=T5_WIDTH,
        pooled_projection_dim=32,
        guidance_embeds=True,
        axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(tiny_text_config(num_hidden_layers=2, hidden_act="gelu"))
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    return {
        "transformer": transformer,
        "vae": build_tiny_vae16(0.1159, 0.3611, seed + 2),
        "text_encoder": text_encoder,
        "text_encoder_2": build_tiny_t5(seed + 3),
        "scheduler": scheduler,
    }


def build_tiny_flux(out: str | Path, variant: str = "flux", seed: int = 0) -> Path:
    """Write a tiny FLUX.1 diffusers folder (safetensors) of ``variant`` and return its path."""
    import diffusers
    from transformers import CLIPTokenizer, T5Tokenizer

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder / "tokenizer")
    write_t5_tokenizer(folder / "tokenizer_2")
    pipeline_cls = getattr(diffusers, VARIANTS[variant][0])
    pipe: Any = pipeline_cls(
        **build_flux_components(variant, seed),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        tokenizer_2=T5Tokenizer.from_pretrained(folder / "tokenizer_2"),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_flux", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="flux")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny FLUX.1 model: {build_tiny_flux(args.out_dir, args.variant, args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
