"""Build a tiny random-weight Z-Image model offline.

The components follow diffusers' own Z-Image tests (``get_dummy_components``): a
``ZImageTransformer2DModel`` with two layers and one refiner layer (patch 2), a tiny Qwen3 text
encoder (the pipeline reads its second-to-last hidden state), the offline Qwen tokenizer
(``tests.tiny_models.qwen_tokenizer``), FLUX.1's 16-channel VAE shape with its shift and scaling
(``tests.tiny_models.tiny_sd3``; scale factor 8, so 64 px pictures give 8×8 latents) and the
flow-matching Euler scheduler with Z-Image's shift. Outputs are noise: tests use the model for
structure and invariants (a folder named like ``…-turbo`` is taken for Z-Image Turbo).

Usage: ``python -m tests.tiny_models.tiny_zimage OUT_DIR``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tests.tiny_models.qwen_tokenizer import QWEN_VOCAB, write_qwen_tokenizer
from tests.tiny_models.tiny_sd3 import build_tiny_vae16

TEXT_WIDTH = 16


def build_tiny_qwen3(seed: int) -> Any:
    """A tiny random-weight Qwen3 text encoder for the offline Qwen tokenizer."""
    import torch
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(seed)
    config = Qwen3Config(
        hidden_size=TEXT_WIDTH,
        intermediate_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        vocab_size=QWEN_VOCAB,
        max_position_embeddings=512,
    )
    return Qwen3Model(config)


def build_zimage_components(seed: int = 0) -> dict[str, Any]:
    """Seeded tiny Z-Image components (transformer, VAE, Qwen3 encoder, scheduler)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImageTransformer2DModel

    torch.manual_seed(seed)
    transformer: Any = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        norm_eps=1e-5,
        qk_norm=True,
        cap_feat_dim=TEXT_WIDTH,
        rope_theta=256.0,
        t_scale=1000.0,
        axes_dims=[8, 4, 4],
        axes_lens=[256, 32, 32],
    )
    with torch.no_grad():  # created with torch.empty: give them known values
        transformer.x_pad_token.copy_(torch.ones_like(transformer.x_pad_token))
        transformer.cap_pad_token.copy_(torch.ones_like(transformer.cap_pad_token))
    return {
        "transformer": transformer,
        "vae": build_tiny_vae16(0.1159, 0.3611, seed + 1),
        "text_encoder": build_tiny_qwen3(seed + 2),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
    }


def build_tiny_zimage(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny Z-Image diffusers folder (safetensors) and return its path."""
    from diffusers import ZImagePipeline

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_qwen_tokenizer(folder / "tokenizer")
    pipe: Any = ZImagePipeline(**build_zimage_components(seed), tokenizer=tokenizer)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiny_models.tiny_zimage", description=__doc__
    )
    parser.add_argument("out_dir", help="folder to write the diffusers model into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny Z-Image model: {build_tiny_zimage(args.out_dir, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
