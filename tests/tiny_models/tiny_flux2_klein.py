"""Build a tiny random-weight FLUX.2 Klein model offline.

A ``Flux2Transformer2DModel`` with one double and one single block (128 input channels: the
VAE's 32 patchified 2×2), an ``AutoencoderKLFlux2`` with four 8-channel blocks (scale factor 8,
as the real one), a tiny Qwen3 causal-LM text encoder with 28 layers (the pipeline reads its
hidden states 9, 18 and 27, so the transformer's text width is three times the encoder's), the
offline Qwen tokenizer (``tests.tiny_models.qwen_tokenizer``) and the flow-matching Euler scheduler.
Distilled (``is_distilled``): no CFG. Outputs are noise: tests use it for structure and
invariants.

Usage: ``python -m tests.tiny_models.tiny_flux2_klein OUT_DIR``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.qwen_tokenizer import QWEN_VOCAB, write_qwen_tokenizer

TEXT_WIDTH = 16
TEXT_LAYERS = 28  # the pipeline's text_encoder_out_layers default: (9, 18, 27)


def build_flux2_klein_components(seed: int = 0) -> dict[str, Any]:
    """Seeded tiny FLUX.2 Klein components (transformer, VAE, Qwen3 encoder, scheduler)."""
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=128, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=3 * TEXT_WIDTH, timestep_guidance_channels=32,
        axes_dims_rope=(2, 2, 2, 2), guidance_embeds=False,
    )  # fmt: skip
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLFlux2(
        block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4,
        latent_channels=32, mid_block_add_attention=False,
    )  # fmt: skip
    torch.manual_seed(seed + 2)
    text_encoder = Qwen3ForCausalLM(
        Qwen3Config(
            hidden_size=TEXT_WIDTH, intermediate_size=16, num_hidden_layers=TEXT_LAYERS,
            num_attention_heads=2, num_key_value_heads=2, head_dim=8, vocab_size=QWEN_VOCAB,
            max_position_embeddings=512,
        )
    )  # fmt: skip
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
    }


def build_tiny_flux2_klein(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny FLUX.2 Klein diffusers folder (safetensors) and return its path."""
    from diffusers import Flux2KleinPipeline

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_qwen_tokenizer(folder / "tokenizer")
    components = build_flux2_klein_components(seed)
    pipe: Any = Flux2KleinPipeline(**components, tokenizer=tokenizer, is_distilled=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_flux2_klein", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny FLUX.2 Klein: {build_tiny_flux2_klein(args.out_dir, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
